"""Data sets. Every generator takes an explicit seed (an int or a JAX key); none draws
from a global random state."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from sklearn import datasets as skdatasets

__all__ = ["DATASETS", "Normalizer", "load", "s_curve"]


def _seed(key_or_seed) -> int:
    """An int seed for numpy/scikit-learn from an int or a JAX PRNG key."""
    if isinstance(key_or_seed, (int, np.integer)) and not isinstance(key_or_seed, bool):
        if key_or_seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {key_or_seed}")
        return int(key_or_seed)
    if isinstance(key_or_seed, jax.Array):
        return int(jax.random.randint(key_or_seed, (), 0, 2**31 - 1))
    raise TypeError(f"key_or_seed must be an int or a JAX PRNG key, got {key_or_seed!r}")


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def s_curve(key_or_seed, n: int = 10_000, noise: float = 0.1) -> np.ndarray:
    """The seed's data: ``make_s_curve(n, noise)``, columns 0 and 2, divided by 10.

    Returns:
      float32 array ``(n, 2)``; with the defaults its std is about (0.071, 0.140).
    """
    points, _ = skdatasets.make_s_curve(_check_n(n), noise=noise, random_state=_seed(key_or_seed))
    return (points[:, [0, 2]] / 10.0).astype(np.float32)


DATASETS = {"s_curve": s_curve}


class Normalizer(NamedTuple):
    """Per-feature standardisation ``(x - mean) / std`` and its inverse.

    Few-step samplers need unit-variance data (EQUATIONS.md: at the seed's scale, std 0.1,
    DDIM over 10 steps returns 64% of the spread).
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x) -> Normalizer:
        x = np.asarray(x, np.float64)
        std = x.std(0)
        if not np.all(std > 0):
            raise ValueError(f"data must vary in every feature to standardise, got std {std}")
        return cls(x.mean(0).astype(np.float32), std.astype(np.float32))

    @classmethod
    def identity(cls, dim: int) -> Normalizer:
        return cls(np.zeros(dim, np.float32), np.ones(dim, np.float32))

    def encode(self, x):
        return (x - self.mean) / self.std

    def decode(self, z):
        return z * self.std + self.mean


def load(name: str, key_or_seed, n: int = 10_000) -> np.ndarray:
    """Draws ``n`` points of the registered data set ``name``."""
    if name not in DATASETS:
        raise ValueError(f"data set must be one of {sorted(DATASETS)}, got {name!r}")
    return DATASETS[name](key_or_seed, n)
