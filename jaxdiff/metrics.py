"""Sample-quality metrics between two point clouds ``x`` ``(n, D)`` and ``y`` ``(m, D)``.

All are jitted JAX; pairwise sums run in row blocks (``lax.map``), so 10,000 × 10,000
comparisons take ``block × m`` memory, not ``n × m``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

__all__ = ["energy_distance", "mmd2", "sliced_wasserstein"]


@functools.partial(jax.jit, static_argnames=("num_projections",))
def sliced_wasserstein(key: jax.Array, x: jax.Array, y: jax.Array, num_projections: int = 256):
    """Sliced 2-Wasserstein distance: ``sqrt(mean_θ W2²(θᵀx, θᵀy))``.

    Directions θ are uniform on the sphere (from ``key``); each 1-D W2² compares sorted
    projections at matching quantiles (``n`` and ``m`` may differ: both are interpolated
    onto ``max(n, m)`` quantile levels).
    """
    d = x.shape[1]
    theta = jax.random.normal(key, (num_projections, d), x.dtype)
    theta = theta / jnp.linalg.norm(theta, axis=1, keepdims=True)
    px, py = jnp.sort(x @ theta.T, axis=0), jnp.sort(y @ theta.T, axis=0)
    k = max(x.shape[0], y.shape[0])
    levels = (jnp.arange(k) + 0.5) / k

    def quantiles(p):
        n = p.shape[0]
        grid = (jnp.arange(n) + 0.5) / n
        return jax.vmap(lambda col: jnp.interp(levels, grid, col), in_axes=1, out_axes=1)(p)

    qx = px if x.shape[0] == k else quantiles(px)
    qy = py if y.shape[0] == k else quantiles(py)
    return jnp.sqrt(jnp.mean(jnp.square(qx - qy)))


def _block_sum(f, x, y, block):
    """``Σ_i Σ_j f(x_i, y_j)`` over row blocks of ``x`` (padded rows are masked out)."""
    n = x.shape[0]
    pad = (-n) % block
    xp = jnp.concatenate([x, jnp.zeros((pad, x.shape[1]), x.dtype)])
    mask = jnp.arange(n + pad) < n
    xb, mb = xp.reshape(-1, block, x.shape[1]), mask.reshape(-1, block)
    sums = jax.lax.map(lambda a: jnp.sum(f(a[0][:, None, :], y[None]) * a[1][:, None]), (xb, mb))
    return jnp.sum(sums)


def _sq_dist(a, b):
    return jnp.sum(jnp.square(a - b), axis=-1)


@functools.partial(jax.jit, static_argnames=("bandwidths", "block"))
def mmd2(x, y, bandwidths=(0.01, 0.03, 0.1, 0.3, 1.0), block: int = 512):
    """Unbiased squared MMD (Gretton et al. 2012, eq. 3) with a sum of RBF kernels.

    ``k(a, b) = Σ_h exp(-‖a-b‖² / (2h²))``; diagonal terms are excluded from the
    within-set means.
    """

    def k(a, b):
        d2 = _sq_dist(a, b)
        return sum(jnp.exp(-d2 / (2.0 * h * h)) for h in bandwidths)

    n, m = x.shape[0], y.shape[0]
    kxx = (_block_sum(k, x, x, block) - n * len(bandwidths)) / (n * (n - 1))
    kyy = (_block_sum(k, y, y, block) - m * len(bandwidths)) / (m * (m - 1))
    kxy = _block_sum(k, x, y, block) / (n * m)
    return kxx + kyy - 2.0 * kxy


@functools.partial(jax.jit, static_argnames=("block",))
def energy_distance(x, y, block: int = 512):
    """Squared energy distance ``2E‖X-Y‖ - E‖X-X'‖ - E‖Y-Y'‖`` (V-statistic).

    scipy's ``energy_distance`` (1-D) returns the square root of this.
    """

    def dist(a, b):
        return jnp.sqrt(jnp.maximum(_sq_dist(a, b), 1e-30))

    n, m = x.shape[0], y.shape[0]
    exy = _block_sum(dist, x, y, block) / (n * m)
    exx = _block_sum(dist, x, x, block) / (n * n)
    eyy = _block_sum(dist, y, y, block) / (m * m)
    return 2.0 * exy - exx - eyy
