import jax
import numpy as np
import pytest
from sklearn.datasets import make_s_curve

from jaxdiff.core import data


def test_s_curve_is_the_seeds_construction():
    x = data.s_curve(7, n=500)
    ref, _ = make_s_curve(500, noise=0.1, random_state=7)
    np.testing.assert_allclose(x, (ref[:, [0, 2]] / 10.0).astype(np.float32))
    assert x.shape == (500, 2) and x.dtype == np.float32


def test_s_curve_scale_and_determinism():
    x = data.s_curve(1234)
    assert x.shape == (10_000, 2)
    np.testing.assert_allclose(x.std(0), [0.071, 0.140], atol=0.004)
    assert np.array_equal(x, data.s_curve(1234))
    assert not np.array_equal(x, data.s_curve(1235))


def test_s_curve_from_a_jax_key_is_deterministic():
    a = data.s_curve(jax.random.key(3), n=100)
    b = data.s_curve(jax.random.key(3), n=100)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (-1, ValueError, "seed must be a non-negative integer, got -1"),
        ("x", TypeError, "key_or_seed must be an int or a JAX PRNG key, got 'x'"),
    ],
)
def test_bad_seed(bad, exc, match):
    with pytest.raises(exc, match=match):
        data.s_curve(bad, n=10)


@pytest.mark.parametrize("n", [0, -5, 2.5])
def test_bad_n(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        data.s_curve(0, n=n)


def test_unknown_dataset():
    with pytest.raises(ValueError, match=r"data set must be one of .*got 'spiral'"):
        data.load("spiral", 0)


TOYS = {
    # name: (lower bounds, upper bounds) every point lies within
    "moons": ((-1.5, -1.0), (2.5, 1.5)),
    "swiss_roll": ((-1.5, -1.5), (1.7, 1.8)),
    "circles": ((-1.4, -1.4), (1.4, 1.4)),
    "eight_gaussians": ((-2.8, -2.8), (2.8, 2.8)),
    "checkerboard": ((-2.0, -2.0), (2.0, 2.0)),
}


@pytest.mark.parametrize("name", sorted(TOYS))
def test_toy_generators_shape_range_and_determinism(name):
    from jaxdiff.core import data

    gen = data.DATASETS[name]
    x = gen(3, 2000)
    assert x.shape == (2000, 2) and x.dtype == np.float32 and np.all(np.isfinite(x))
    lo, hi = TOYS[name]
    assert np.all(x >= lo) and np.all(x <= hi), (x.min(0), x.max(0))
    assert np.array_equal(x, gen(3, 2000)) and not np.array_equal(x, gen(4, 2000))
    assert np.array_equal(x, data.load(name, 3, 2000))


def test_toy_shapes_are_the_named_shapes():
    from jaxdiff.core import data

    board = data.checkerboard(0, 5000)
    assert np.all((np.floor(board[:, 0]) + np.floor(board[:, 1])) % 2 == 0)  # dark squares only
    g = data.eight_gaussians(0, 8000)
    angle = np.arctan2(g[:, 1], g[:, 0]) % (2 * np.pi)
    sector = np.round(angle / (np.pi / 4)) % 8
    assert np.abs(np.linalg.norm(g, axis=1) - 2).mean() < 0.1
    counts = np.bincount(sector.astype(int), minlength=8)
    assert counts.min() > 800  # all eight modes, about equally
    radii = np.linalg.norm(data.circles(0, 4000), axis=1)
    assert np.mean(np.minimum(np.abs(radii - 1), np.abs(radii - 0.5)) < 0.15) > 0.95


@pytest.mark.parametrize("name", sorted(data.NUM_CLASSES))
def test_labelled_sets_return_points_and_their_classes(name):
    n = 600
    x, y = data.load(name, 5, n, labels=True)
    assert np.array_equal(x, data.load(name, 5, n))  # the same points as without labels
    assert y.shape == (n,) and y.dtype == np.int32
    assert set(np.unique(y)) == set(range(data.NUM_CLASSES[name]))
    a, b = data.load(name, 5, n, labels=True)
    assert np.array_equal(a, x) and np.array_equal(b, y)


def test_labels_name_the_right_part_of_each_shape():
    x, y = data.moons(0, 2000, labels=True)
    assert x[y == 0, 1].mean() > 0.4 and x[y == 1, 1].mean() < 0.1  # upper, lower moon
    x, y = data.circles(0, 2000, labels=True)
    r = np.linalg.norm(x, axis=1)
    assert abs(r[y == 0].mean() - 1.0) < 0.05 and abs(r[y == 1].mean() - 0.5) < 0.05
    x, y = data.eight_gaussians(0, 2000, labels=True)
    centres = 2 * np.stack([np.cos(y * np.pi / 4), np.sin(y * np.pi / 4)], axis=1)
    assert np.abs(x - centres).max() < 0.6
    with pytest.raises(ValueError, match="data set 's_curve' has no labels"):
        data.load("s_curve", 0, 10, labels=True)


def test_digits_are_sklearns_images_scaled_and_ordered_by_the_seed():
    from sklearn.datasets import load_digits

    x, y = data.digits(3, labels=True)
    assert x.shape == (1797, 64) and x.dtype == np.float32 and x.min() == -1 and x.max() == 1
    raw = load_digits()
    # Row for row the same images (a permutation of them), grey level g as g / 8 - 1.
    order = np.lexsort(np.c_[raw.data, raw.target].T)
    mine = np.lexsort(np.c_[(x + 1) * 8, y].T)
    np.testing.assert_allclose((x[mine] + 1) * 8, raw.data[order], atol=1e-5)
    assert np.array_equal(y[mine], raw.target[order])
    assert np.array_equal(x, data.digits(3)) and not np.array_equal(x, data.digits(4))
    assert data.load("digits", 3, 50_000).shape == (1797, 64)  # a fixed set: n is capped
    with pytest.raises(ValueError, match="at most the 1797 digits"):
        data.digits(0, 2000)


def test_split_holds_out_a_seeded_fifth():
    train, held = data.split(1797, 7)
    assert len(held) == 359 and len(train) == 1438
    assert np.array_equal(np.sort(np.r_[train, held]), np.arange(1797))
    again = data.split(1797, 7)
    assert np.array_equal(train, again[0]) and not np.array_equal(held, data.split(1797, 8)[1])


def test_normalizer_round_trip_and_unit_variance():
    x = data.s_curve(0, n=2000)
    norm = data.Normalizer.fit(x)
    z = norm.encode(x)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, rtol=1e-4)
    np.testing.assert_allclose(norm.decode(z), x, atol=1e-6)
    # A constant feature is shifted to 0 and keeps its scale (std 1), as digits' blank pixels.
    flat = np.stack([x[:, 0], np.full(len(x), 3.0, np.float32)], axis=1)
    norm = data.Normalizer.fit(flat)
    assert norm.std[1] == 1.0 and norm.mean[1] == 3.0
    np.testing.assert_allclose(norm.encode(flat)[:, 1], 0.0)
