"""Data sets. Every generator takes an explicit seed (an int or a JAX key); none draws
from a global random state.

Generators with classes (``NUM_CLASSES``) return ``(x, labels)`` when called with
``labels=True``. ``digits`` is a fixed set of 1,797 images, not a generator: a seed only
orders it, and a run holds part of it out for evaluation (``split``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxdiff.core import validate

__all__ = [
    "DATASETS",
    "FINITE",
    "NUM_CLASSES",
    "Normalizer",
    "check_array",
    "check_labels",
    "checkerboard",
    "circles",
    "digits",
    "eight_gaussians",
    "load",
    "moons",
    "s_curve",
    "split",
    "swiss_roll",
]


def _sklearn():
    """scikit-learn's data-set generators, imported when a data set is first made: the
    import takes over a second, which every command that makes no data set (``--help``,
    a refused flag, ``sample``) would otherwise pay."""
    from sklearn import datasets

    return datasets


def _seed(key_or_seed) -> int:
    """An int seed for numpy/scikit-learn from an int or a JAX PRNG key."""
    if isinstance(key_or_seed, (int, np.integer)) and not isinstance(key_or_seed, bool):
        return validate.non_negative_int("seed", key_or_seed)
    if isinstance(key_or_seed, jax.Array):
        return int(jax.random.randint(key_or_seed, (), 0, 2**31 - 1))
    raise TypeError(f"key_or_seed must be an int or a JAX PRNG key, got {key_or_seed!r}")


def _check_n(n) -> int:
    return validate.positive_int("n", n)


def check_array(name: str, x) -> np.ndarray:
    """``x`` as a finite, numeric, non-empty ``(n, dim)`` numpy array (integers become
    float32), or a one-line ``ValueError`` naming ``name``."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric (n, dim) array: {err}") from err
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty (n, dim) array, got shape {arr.shape}")
    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise ValueError(f"{name} must be finite, got {bad} NaN or inf values")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32)
    return arr


def check_context(context, n: int) -> np.ndarray | None:
    """``context`` as a finite float ``(n, K)`` array, one row per data row (None stays
    None), or a one-line ``ValueError``."""
    if context is None:
        return None
    arr = check_array("context", context)
    if arr.shape[0] != n:
        raise ValueError(f"context must have one row per data row, {n}, got shape {arr.shape}")
    return arr


def check_labels(labels, n: int) -> np.ndarray | None:
    """``labels`` as int32 ``(n,)`` of classes ``>= 0`` (None stays None), or a one-line
    ``ValueError``."""
    if labels is None:
        return None
    arr = np.asarray(labels)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one per data row, got {arr.shape}")
    if n and arr.min() < 0:
        raise ValueError(f"labels must be classes >= 0, got {arr.min()}")
    return arr.astype(np.int32)


def s_curve(key_or_seed, n: int = 10_000, noise: float = 0.1) -> np.ndarray:
    """The seed's data: ``make_s_curve(n, noise)``, columns 0 and 2, divided by 10.

    Returns:
      float32 array ``(n, 2)``; with the defaults its std is about (0.071, 0.140).
    """
    points, _ = _sklearn().make_s_curve(_check_n(n), noise=noise, random_state=_seed(key_or_seed))
    return (points[:, [0, 2]] / 10.0).astype(np.float32)


def _out(x, y, labels: bool):
    x = x.astype(np.float32)
    return (x, y.astype(np.int32)) if labels else x


def moons(key_or_seed, n: int = 10_000, noise: float = 0.05, *, labels: bool = False):
    """scikit-learn's two interleaving half circles, ``(n, 2)`` float32, x in about
    [-1, 2], y in about [-0.5, 1]; label 0 the upper moon, 1 the lower."""
    points, y = _sklearn().make_moons(_check_n(n), noise=noise, random_state=_seed(key_or_seed))
    return _out(points, y, labels)


def swiss_roll(key_or_seed, n: int = 10_000, noise: float = 0.5) -> np.ndarray:
    """scikit-learn's Swiss roll seen from its axis: columns 0 and 2, divided by 10, as
    the seed does with the S-curve; ``(n, 2)`` float32 within about [-1.2, 1.5]."""
    points, _ = _sklearn().make_swiss_roll(
        _check_n(n), noise=noise, random_state=_seed(key_or_seed)
    )
    return (points[:, [0, 2]] / 10.0).astype(np.float32)


def circles(key_or_seed, n: int = 10_000, noise: float = 0.05, *, labels: bool = False):
    """scikit-learn's two concentric circles, ``(n, 2)`` float32; label 0 the outer
    (radius 1), 1 the inner (radius 0.5)."""
    points, y = _sklearn().make_circles(
        _check_n(n), noise=noise, factor=0.5, random_state=_seed(key_or_seed)
    )
    return _out(points, y, labels)


def eight_gaussians(key_or_seed, n: int = 10_000, std: float = 0.1, *, labels: bool = False):
    """Eight Gaussians of std ``std`` centred on the circle of radius 2 at angles k·π/4,
    equally likely; ``(n, 2)`` float32; label ``k``."""
    rng = np.random.default_rng(_seed(key_or_seed))
    k = rng.integers(0, 8, _check_n(n))
    centres = 2.0 * np.stack([np.cos(k * np.pi / 4), np.sin(k * np.pi / 4)], axis=1)
    return _out(centres + std * rng.standard_normal((n, 2)), k, labels)


DIGITS_SIZE = 1797


def digits(key_or_seed, n: int = DIGITS_SIZE, *, labels: bool = False):
    """scikit-learn's 1,797 handwritten 8×8 digits (UCI), flattened to ``(n, 64)`` float32
    and scaled from grey levels 0…16 to ``[-1, 1]`` (``g / 8 - 1``); label the digit.

    A fixed set: the seed orders it (a permutation), and ``n ≤ 1797`` takes the first ``n``.
    """
    n = _check_n(n)
    if n > DIGITS_SIZE:
        raise ValueError(f"n must be at most the {DIGITS_SIZE} digits there are, got {n}")
    images, y = _sklearn().load_digits(return_X_y=True)
    order = np.random.default_rng(_seed(key_or_seed)).permutation(DIGITS_SIZE)[:n]
    return _out(images[order] / 8.0 - 1.0, y[order], labels)


def checkerboard(key_or_seed, n: int = 10_000) -> np.ndarray:
    """Uniform on the 8 dark squares of a 4×4 checkerboard over [-2, 2]², ``(n, 2)``
    float32: x uniform, then y uniform on the two unit squares above x that are dark."""
    rng = np.random.default_rng(_seed(key_or_seed))
    n = _check_n(n)
    x = rng.uniform(-2.0, 2.0, n)
    row = 2 * rng.integers(0, 2, n) + (np.floor(x) % 2)  # 0..3, parity fixed by the column
    y = rng.uniform(0.0, 1.0, n) + row - 2.0
    return np.stack([x, y], axis=1).astype(np.float32)


DATASETS = {
    "s_curve": s_curve,
    "moons": moons,
    "swiss_roll": swiss_roll,
    "circles": circles,
    "eight_gaussians": eight_gaussians,
    "checkerboard": checkerboard,
    "digits": digits,
}

# Classes of the data sets that have them; the others are unlabelled.
NUM_CLASSES = {"moons": 2, "circles": 2, "eight_gaussians": 8, "digits": 10}

# Fixed sets (not generators): evaluated against a held-out part, as data files are.
FINITE = {"digits"}


def split(n: int, seed: int, held_out: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, held_out)`` of a fixed set of ``n`` rows: a permutation by
    ``seed``, its last ``round(held_out · n)`` rows (at least 1) held out."""
    order = np.random.default_rng(seed).permutation(n)
    k = min(max(1, round(held_out * n)), n - 1)
    return np.sort(order[: n - k]), np.sort(order[n - k :])


class Normalizer(NamedTuple):
    """Per-feature standardisation ``(x - mean) / std`` and its inverse.

    Few-step samplers need unit-variance data (at the seed's scale, std 0.1,
    DDIM over 10 steps returns 64% of the spread).
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x) -> Normalizer:
        """Mean and std per feature; a constant feature (a digit's blank corner pixel)
        keeps std 1, so it is only shifted."""
        x = np.asarray(x, np.float64)
        std = x.std(0)
        std = np.where(std > 0, std, 1.0)
        return cls(x.mean(0).astype(np.float32), std.astype(np.float32))

    @classmethod
    def identity(cls, dim: int) -> Normalizer:
        return cls(np.zeros(dim, np.float32), np.ones(dim, np.float32))

    def encode(self, x):
        return (x - self.mean) / self.std

    def decode(self, z):
        return z * self.std + self.mean


def load(name: str, key_or_seed, n: int = 10_000, *, labels: bool = False):
    """Draws ``n`` points of the registered data set ``name``; with ``labels``,
    ``(x, labels)`` (only for the data sets in ``NUM_CLASSES``)."""
    if name not in DATASETS:
        raise ValueError(f"data set must be one of {sorted(DATASETS)}, got {name!r}")
    if name in FINITE:
        n = min(n, DIGITS_SIZE)
    if not labels:
        return DATASETS[name](key_or_seed, n)
    if name not in NUM_CLASSES:
        raise ValueError(
            f"data set {name!r} has no labels; labelled ones are {sorted(NUM_CLASSES)}"
        )
    return DATASETS[name](key_or_seed, n, labels=True)
