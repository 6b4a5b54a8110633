"""PyTorch's default initialisers, as Flax initialisers: the seed's ``init_style="torch"``
(``nn.Linear`` and ``nn.Embedding`` as PyTorch builds them)."""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

__all__ = ["TORCH_EMBED", "TORCH_KERNEL", "torch_bias"]

# U(-1/√fan_in, 1/√fan_in) has variance 1/(3 fan_in): PyTorch's nn.Linear weight init.
TORCH_KERNEL = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
# nn.Embedding's N(0, 1).
TORCH_EMBED = nn.initializers.normal(1.0)


def torch_bias(fan_in: int):
    """PyTorch's ``nn.Linear`` bias init, ``U(-1/√fan_in, 1/√fan_in)``."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init
