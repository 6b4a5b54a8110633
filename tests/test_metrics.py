"""Metrics against plain numpy / scipy on small arrays, and against their own floor."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import spatial, stats

from jaxdiff.core import data, metrics


def _directions(key, num, dim):
    theta = np.asarray(jax.random.normal(key, (num, dim), jnp.float32), np.float64)
    return theta / np.linalg.norm(theta, axis=1, keepdims=True)


@pytest.mark.parametrize("n, m", [(40, 40), (37, 53)])
def test_sliced_w1_is_scipy_per_projection(n, m):
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(n, 2)), rng.normal(1.0, 2.0, size=(m, 2))
    key = jax.random.key(3)
    want = np.mean([stats.wasserstein_distance(x @ th, y @ th) for th in _directions(key, 16, 2)])
    got = metrics.sliced_wasserstein(
        key, jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), num_projections=16, p=1
    )
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_sliced_w2_unequal_sizes_equals_replicated_equal_sizes():
    # The empirical law of n points is that of each point repeated lcm/n times: equal
    # sizes then, where W2² is the mean squared gap of sorted values.
    n, m = 12, 18
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(n, 3)), rng.uniform(-1, 2, size=(m, 3))
    key = jax.random.key(5)
    theta = _directions(key, 8, 3)
    L = math.lcm(n, m)
    px = np.sort(np.repeat(x @ theta.T, L // n, axis=0), axis=0)
    py = np.sort(np.repeat(y @ theta.T, L // m, axis=0), axis=0)
    want = np.sqrt(np.mean((px - py) ** 2))
    got = metrics.sliced_wasserstein(
        key, jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), num_projections=8
    )
    np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_energy_distance_is_scipy_squared_in_1d():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(50, 1)), rng.normal(0.5, 1.5, size=(70, 1))
    want = stats.energy_distance(x[:, 0], y[:, 0]) ** 2
    got = metrics.energy_distance(
        jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), block=16
    )
    np.testing.assert_allclose(float(got), want, rtol=1e-4)


def test_energy_distance_brute_force_2d():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(45, 2)), rng.normal(size=(33, 2)) * 1.3
    d = spatial.distance.cdist
    want = 2 * d(x, y).mean() - d(x, x).mean() - d(y, y).mean()
    got = metrics.energy_distance(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), block=8)
    np.testing.assert_allclose(float(got), want, rtol=1e-4)


def test_mmd2_brute_force():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(41, 2)), rng.normal(0.3, 1.0, size=(29, 2))
    bws = (0.3, 1.0, 3.0)

    def gram(a, b):
        d2 = spatial.distance.cdist(a, b, "sqeuclidean")
        return sum(np.exp(-d2 / (2 * h * h)) for h in bws)

    kxx, kyy, kxy = gram(x, x), gram(y, y), gram(x, y)
    n, m = len(x), len(y)
    want = (
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.mean()
    )
    got = metrics.mmd2(
        jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), bandwidths=bws, block=8
    )
    np.testing.assert_allclose(float(got), want, rtol=1e-4, atol=1e-6)


def test_precision_recall_brute_force():
    rng = np.random.default_rng(7)
    real, fake = rng.normal(size=(60, 2)), rng.normal(0.8, 0.6, size=(45, 2))
    k = 3

    def radii(a):
        d = np.sort(spatial.distance.cdist(a, a), axis=1)
        return d[:, k]  # column 0 is the point itself

    def covered(q, ref):
        return np.mean((spatial.distance.cdist(q, ref) <= radii(ref)[None]).any(axis=1))

    p, r = metrics.precision_recall(
        jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32), k=k, block=16
    )
    assert float(p) == pytest.approx(covered(fake, real), abs=1e-6)
    assert float(r) == pytest.approx(covered(real, fake), abs=1e-6)
    assert 0.2 < float(p) < 1.0 and 0.0 < float(r) < 0.9  # the check is not trivial


def test_precision_recall_rejects_bad_k():
    """The bound named is one less than the smaller set's rows (3 columns, so that a
    column count in its place shows)."""
    x, y = jnp.zeros((5, 3)), jnp.zeros((8, 3))
    with pytest.raises(ValueError, match=r"^k must be in \[1, 4\], got 5\b"):
        metrics.precision_recall(x, y, k=5)
    with pytest.raises(ValueError, match=r"^k must be in \[1, 4\], got 9\b"):
        metrics.precision_recall(y, x, k=9)


def test_the_defaults_are_the_papers_256_directions_and_k_3():
    """sliced W2 over 256 directions (Bonneel et al. 2015's count here) and k = 3
    (Kynkäänniemi et al. 2019) by default."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(60, 2)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(50, 2)) + 0.3, jnp.float32)
    key = jax.random.key(0)
    assert metrics.sliced_wasserstein(key, x, y) == metrics.sliced_wasserstein(
        key, x, y, num_projections=256
    )
    assert metrics.sliced_wasserstein(key, x, y) != metrics.sliced_wasserstein(
        key, x, y, num_projections=257
    )
    got, three, four = (metrics.precision_recall(x, y, **kw) for kw in ({}, {"k": 3}, {"k": 4}))
    assert got == three and got != four


def test_metrics_sit_at_their_floor_for_one_distribution_and_rise_for_another():
    a, b = jnp.asarray(data.s_curve(1, 2000)), jnp.asarray(data.s_curve(2, 2000))
    # 0.7 standard deviations of the first feature; a third wider.
    shifted, scaled = b + jnp.array([0.05, 0.0]), b * 1.33
    key = jax.random.key(0)

    def scores(y):
        p, r = metrics.precision_recall(a, y)
        return dict(
            sw=float(metrics.sliced_wasserstein(key, a, y)),
            mmd=float(metrics.mmd2(a, y)),
            energy=float(metrics.energy_distance(a, y)),
            recall=float(r),
            precision=float(p),
        )

    floor = scores(b)
    for other in (scores(shifted), scores(scaled)):
        assert other["sw"] > 2 * floor["sw"]
        assert other["mmd"] > 10 * abs(floor["mmd"]) + 1e-4
        assert other["energy"] > 10 * abs(floor["energy"]) + 1e-5
        assert (
            min(other["precision"], other["recall"])
            < min(floor["precision"], floor["recall"]) - 0.1
        )
    assert floor["precision"] > 0.9 and floor["recall"] > 0.9


def test_a_point_on_a_balls_boundary_is_inside_it():
    """Kynkäänniemi et al. 2019, eq. 1: inside means ‖φ - φ'‖ ≤ the radius, boundary
    included. Real points 0, 1, 3, 6 on a line (k = 1: radii 1, 1, 2, 3); the fake point
    9 lies exactly on the ball of 6, the fake point 20 on none."""
    real = jnp.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [6.0, 0.0]])
    fake = jnp.array([[9.0, 0.0], [20.0, 0.0]])
    precision, _ = metrics.precision_recall(real, fake, k=1)
    assert float(precision) == 0.5


def test_scores_keep_float32_inputs_in_float32_with_x64_on(x64_standard):
    """Padded blocks (37 rows, blocks of 16) and the coverage fractions stay in the
    inputs' float32 when float64 is switched on."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(37, 2)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(37, 2)), jnp.float32)
    assert metrics.mmd2(x, y, block=16).dtype == jnp.float32
    precision, recall = metrics.precision_recall(x, y, block=16)
    assert precision.dtype == recall.dtype == jnp.float32


@pytest.mark.parametrize("n, m, block", [(37, 50, 8), (5, 200, 512), (64, 3, 16)])
def test_nearest_distance_is_brute_force_in_float64(n, m, block):
    """Against scipy's float64 distance matrix: the minimum over the rows, not squared,
    for every row of x (the last block padded)."""
    rng = np.random.default_rng(n + m)
    x, rows = rng.normal(size=(n, 3)), rng.normal(size=(m, 3))
    want = spatial.distance.cdist(x, rows).min(axis=1)
    got = metrics.nearest_distance(
        jnp.asarray(x, jnp.float32), jnp.asarray(rows, jnp.float32), block
    )
    assert got.shape == (n,)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


def test_nearest_distance_is_zero_for_copies_and_uses_every_row():
    rng = np.random.default_rng(3)
    rows = jnp.asarray(rng.normal(size=(40, 2)), jnp.float32)
    np.testing.assert_allclose(metrics.nearest_distance(rows[::-1], rows, 7), 0.0, atol=1e-6)
    # The closest row is the last one: a reduction that skips rows would miss it.
    far = jnp.concatenate([jnp.full((39, 2), 100.0), jnp.zeros((1, 2))])
    np.testing.assert_allclose(metrics.nearest_distance(jnp.ones((3, 2)), far), 2**0.5, rtol=1e-6)
