"""Sample-quality metrics between two point clouds ``x`` ``(n, D)`` and ``y`` ``(m, D)``.

All are jitted JAX, each by ``f = jax.jit(f, ...)`` after its definition (the decorator's
object, bit for bit) so that mutation testing, which skips decorated functions, mutates
its body (docs/tests.md). Pairwise quantities run over row blocks of ``x`` with ``lax.map``, so
a 10,000 × 10,000 comparison holds ``block × m`` distances at a time, never ``n × m``.
References: Gretton et al. 2012 (MMD), Székely & Rizzo 2013 (energy distance),
Kynkäänniemi et al. 2019 (precision and recall), Bonneel et al. 2015 (sliced Wasserstein).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["energy_distance", "mmd2", "nearest_distance", "precision_recall", "sliced_wasserstein"]


def _wasserstein_1d(px: jax.Array, py: jax.Array, p: int) -> jax.Array:
    """Exact ``W_p^p`` between the empirical laws of sorted columns ``px`` ``(n, L)`` and
    ``py`` ``(m, L)``: ``∫_0^1 |F⁻¹(u) - G⁻¹(u)|^p du`` with both quantile functions
    piecewise constant, integrated over the merged breakpoints ``{i/n} ∪ {j/m}``."""
    n, m = px.shape[0], py.shape[0]
    ends = jnp.sort(jnp.concatenate([jnp.arange(1, n + 1) / n, jnp.arange(1, m + 1) / m]))
    starts = jnp.concatenate([jnp.zeros(1), ends[:-1]])
    mid, width = 0.5 * (starts + ends), ends - starts
    ix = jnp.minimum(jnp.floor(mid * n).astype(jnp.int32), n - 1)
    iy = jnp.minimum(jnp.floor(mid * m).astype(jnp.int32), m - 1)
    gap = jnp.abs(px[ix] - py[iy])
    return jnp.sum(width[:, None] * gap**p, axis=0)


def sliced_wasserstein(
    key: jax.Array, x: jax.Array, y: jax.Array, num_projections: int = 256, p: int = 2
) -> jax.Array:
    """Sliced Wasserstein distance ``(mean_θ W_p^p(θᵀx, θᵀy))^{1/p}``.

    Directions θ are uniform on the sphere, drawn from ``key`` (fixed key: fixed
    directions). Each 1-D ``W_p`` is exact for any ``n`` and ``m`` (see
    :func:`_wasserstein_1d`); ``p = 1`` per direction is ``scipy.stats.wasserstein_distance``.
    """
    theta = jax.random.normal(key, (num_projections, x.shape[1]), x.dtype)
    theta = theta / jnp.linalg.norm(theta, axis=1, keepdims=True)
    px, py = jnp.sort(x @ theta.T, axis=0), jnp.sort(y @ theta.T, axis=0)
    return jnp.mean(_wasserstein_1d(px, py, p)) ** (1.0 / p)


sliced_wasserstein = jax.jit(sliced_wasserstein, static_argnames=("num_projections", "p"))


def _map_rows(f, x: jax.Array, block: int) -> jax.Array:
    """``f`` applied to row blocks of ``x`` (the last block zero-padded), rows concatenated
    and trimmed to ``len(x)``. ``f`` maps ``(block, D)`` to ``(block, ...)``."""
    n = x.shape[0]
    block = min(block, n)
    pad = (-n) % block
    xp = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)])
    out = jax.lax.map(f, xp.reshape(-1, block, *x.shape[1:]))
    return out.reshape(-1, *out.shape[2:])[:n]


def _sq_dist(a: jax.Array, b: jax.Array) -> jax.Array:
    """Squared distances ``(len(a), len(b))``, by differences (no cancellation)."""
    return jnp.sum(jnp.square(a[:, None, :] - b[None, :, :]), axis=-1)


def _pair_sum(f, x, y, block) -> jax.Array:
    """``Σ_i Σ_j f(‖x_i - y_j‖²)``."""
    return jnp.sum(_map_rows(lambda a: jnp.sum(f(_sq_dist(a, y)), axis=1), x, block))


def mmd2(
    x: jax.Array,
    y: jax.Array,
    bandwidths: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0),
    block: int = 512,
) -> jax.Array:
    """Unbiased squared MMD (Gretton et al. 2012, eq. 3) with a sum of RBF kernels.

    ``k(a, b) = Σ_h exp(-‖a-b‖² / (2h²))``; the diagonal ``k(a, a) = len(bandwidths)`` is
    left out of the within-set means. Can be slightly negative when ``x`` and ``y`` come
    from one distribution.
    """

    def k(d2):
        return sum(jnp.exp(-d2 / (2.0 * h * h)) for h in bandwidths)

    n, m, diag = x.shape[0], y.shape[0], len(bandwidths)
    kxx = (_pair_sum(k, x, x, block) - n * diag) / (n * (n - 1))
    kyy = (_pair_sum(k, y, y, block) - m * diag) / (m * (m - 1))
    kxy = _pair_sum(k, x, y, block) / (n * m)
    return kxx + kyy - 2.0 * kxy


mmd2 = jax.jit(mmd2, static_argnames=("bandwidths", "block"))


def energy_distance(x: jax.Array, y: jax.Array, block: int = 512) -> jax.Array:
    """Squared energy distance ``2E‖X-Y‖ - E‖X-X'‖ - E‖Y-Y'‖`` (V-statistic; Székely &
    Rizzo 2013). ``scipy.stats.energy_distance`` (1-D) returns its square root."""

    def dist(d2):
        return jnp.sqrt(d2)

    n, m = x.shape[0], y.shape[0]
    exy = _pair_sum(dist, x, y, block) / (n * m)
    exx = _pair_sum(dist, x, x, block) / (n * n)
    eyy = _pair_sum(dist, y, y, block) / (m * m)
    return 2.0 * exy - exx - eyy


energy_distance = jax.jit(energy_distance, static_argnames=("block",))


def _knn_radius2(x: jax.Array, k: int, block: int) -> jax.Array:
    """Squared distance from each row of ``x`` to its k-th nearest other row."""

    def kth(a):
        # k+1 rounds of "take the row minimum, then remove that one entry": the first
        # removes the point itself (distance 0). Faster than lax.top_k on XLA:CPU, and
        # ties still count once each.
        d2 = _sq_dist(a, x)
        cols = jnp.arange(d2.shape[1])
        for _ in range(k):
            d2 = jnp.where(cols[None] == jnp.argmin(d2, axis=1)[:, None], jnp.inf, d2)
        return jnp.min(d2, axis=1)

    return _map_rows(kth, x, block)


def _covered(q: jax.Array, ref: jax.Array, radius2: jax.Array, block: int) -> jax.Array:
    """Fraction of rows of ``q`` inside at least one ball ``(ref_j, radius_j)``."""
    inside = _map_rows(lambda a: jnp.any(_sq_dist(a, ref) <= radius2[None], axis=1), q, block)
    return jnp.mean(inside.astype(jnp.float32))


def precision_recall(
    real: jax.Array, fake: jax.Array, k: int = 3, block: int = 512
) -> tuple[jax.Array, jax.Array]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, eqs. 1-2).

    Each set's manifold is the union of balls around its points with radius the distance
    to the k-th nearest neighbour in the same set. Precision: the fraction of ``fake``
    inside the real manifold (are samples plausible?). Recall: the fraction of ``real``
    inside the fake manifold (is the data covered?). The paper uses ``k = 3``.
    """
    if not 1 <= k < min(real.shape[0], fake.shape[0]):
        raise ValueError(f"k must be in [1, {min(real.shape[0], fake.shape[0]) - 1}], got {k}")
    precision = _covered(fake, real, _knn_radius2(real, k, block), block)
    recall = _covered(real, fake, _knn_radius2(fake, k, block), block)
    return precision, recall


precision_recall = jax.jit(precision_recall, static_argnames=("k", "block"))


def nearest_distance(x: jax.Array, rows: jax.Array, block: int = 512) -> jax.Array:
    """Euclidean distance ``min_j ‖x_i - rows_j‖`` from each row of ``x`` to its closest
    row of ``rows``, ``(len(x),)``: the distance to the closest record of the privacy and
    memorisation checks of synthetic tables (DCR; e.g. Zhao et al. 2021, CTAB-GAN §4).
    Samples that sit closer to the training rows than held-out rows do copy them."""
    return jnp.sqrt(_map_rows(lambda a: jnp.min(_sq_dist(a, rows), axis=1), x, block))


nearest_distance = jax.jit(nearest_distance, static_argnames=("block",))
