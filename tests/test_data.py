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


def test_generators_are_sklearns_own_draws_with_the_documented_constants():
    """At their default sizes (10,000): moons and circles (noise 0.05, circles' factor 0.5)
    as scikit-learn draws them, the Swiss roll (noise 0.5) columns 0 and 2 over 10."""
    from sklearn import datasets as sk

    moons = sk.make_moons(10_000, noise=0.05, random_state=3)[0]
    assert np.array_equal(data.moons(3), moons.astype(np.float32))
    circles = sk.make_circles(10_000, noise=0.05, factor=0.5, random_state=3)[0]
    assert np.array_equal(data.circles(3), circles.astype(np.float32))
    roll = sk.make_swiss_roll(10_000, noise=0.5, random_state=3)[0][:, [0, 2]] / 10.0
    assert np.array_equal(data.swiss_roll(3), roll.astype(np.float32))
    for name in ("eight_gaussians", "checkerboard", "moons"):
        assert data.load(name, 1).shape == (10_000, 2) == data.DATASETS[name](1).shape


def test_the_checkerboard_fills_its_eight_dark_squares_evenly():
    """x uniform over [-2, 2); each dark unit square (column + row even, counted from the
    corner) holds an eighth of the points, each light one none; y uniform within."""
    x, y = data.checkerboard(5).T.astype(np.float64)
    assert x.min() < -1.99 and x.max() > 1.99
    col, row = np.floor(x) + 2, np.floor(y) + 2
    counts = np.zeros((4, 4))
    np.add.at(counts, (col.astype(int), row.astype(int)), 1)
    dark = (np.add.outer(np.arange(4), np.arange(4)) % 2) == 0
    np.testing.assert_allclose(counts[dark] / len(x), 1 / 8, atol=0.02)  # 6 sd
    assert counts[~dark].sum() == 0
    assert abs(np.std(y - np.floor(y)) - np.sqrt(1 / 12)) < 0.01


def test_keys_give_many_seeds():
    """A JAX key is turned into a seed over a wide range: 64 keys, 64 different sets."""
    firsts = {float(data.s_curve(jax.random.key(k), n=1)[0, 0]) for k in range(64)}
    assert len(firsts) == 64


def test_split_keeps_one_row_on_each_side():
    assert [len(p) for p in data.split(4, 0)] == [3, 1]  # round(0.8) = 1 held out
    assert [len(p) for p in data.split(10, 0, held_out=1.0)] == [1, 9]
    assert [len(p) for p in data.split(10, 0, held_out=0.0)] == [9, 1]


def test_normalizer_sums_in_float64_and_keeps_float32():
    """Float32 rows far from zero: the mean and std are the float64 ones, stored float32
    (float32 sums are off by several units here); the identity is zeros and ones."""
    rng = np.random.default_rng(0)
    x = (1e4 + 0.01 * rng.standard_normal((100_000, 3)) + [0.0, 1e3, -3e3]).astype(np.float32)
    norm = data.Normalizer.fit(x)
    assert norm.mean.dtype == norm.std.dtype == np.float32
    exact = x.astype(np.float64)
    np.testing.assert_array_equal(norm.mean, exact.mean(0).astype(np.float32))
    np.testing.assert_array_equal(norm.std, exact.std(0).astype(np.float32))
    same = data.Normalizer.identity(3)
    assert same.mean.dtype == same.std.dtype == np.float32
    np.testing.assert_array_equal(same.mean, np.zeros(3))
    np.testing.assert_array_equal(same.std, np.ones(3))
    np.testing.assert_array_equal(same.encode(x), x)


@pytest.mark.parametrize(
    "x, message",
    [
        ([[1.0, 2.0], [3.0]], "rows must be a numeric (n, dim) array: "),
        (np.array([["a", "b"]]), "rows must be numeric, got dtype <U1"),
        (np.zeros(3), "rows must be a non-empty (n, dim) array, got shape (3,)"),
        (np.zeros((0, 2)), "rows must be a non-empty (n, dim) array, got shape (0, 2)"),
        (np.zeros((2, 0)), "rows must be a non-empty (n, dim) array, got shape (2, 0)"),
        (np.zeros((1, 1, 1)), "rows must be a non-empty (n, dim) array, got shape (1, 1, 1)"),
        (np.array([[np.nan, 1.0], [np.inf, -np.inf]]), "rows must be finite, got 3 NaN or inf"),
    ],
)
def test_check_array_names_the_argument_and_what_is_wrong(x, message):
    with pytest.raises(ValueError) as err:
        data.check_array("rows", x)
    assert str(err.value).startswith(message)


def test_check_array_context_and_labels_pass_what_fits():
    ints = data.check_array("rows", np.arange(6).reshape(3, 2))
    assert ints.dtype == np.float32 and ints.tolist() == [[0, 1], [2, 3], [4, 5]]
    x64 = np.ones((2, 1))
    assert data.check_array("rows", x64).dtype == np.float64
    assert data.check_array("rows", np.ones((2, 2), np.float32)).dtype == np.float32
    assert data.check_array("rows", [[1, 2]]).shape == (1, 2)
    assert data.check_context(None, 3) is None and data.check_labels(None, 3) is None
    c = data.check_context(np.ones((3, 2)), 3)
    assert c.shape == (3, 2)
    with pytest.raises(ValueError) as err:
        data.check_context(np.ones((2, 2)), 3)
    assert str(err.value) == "context must have one row per data row, 3, got shape (2, 2)"
    with pytest.raises(ValueError, match=r"^context must be finite"):
        data.check_context(np.full((3, 1), np.nan), 3)
    labels = data.check_labels(np.array([0, 2, 1], np.int64), 3)
    assert labels.dtype == np.int32 and labels.tolist() == [0, 2, 1]
    assert data.check_labels(np.zeros(0, np.int64), 0).shape == (0,)
    for bad, message in (
        (np.array([0.0, 1.0]), "labels must be integers, got dtype float64"),
        (np.array([[0, 1]]), "labels must have shape (2,), one per data row, got (1, 2)"),
        (np.array([0, -1]), "labels must be classes >= 0, got -1"),
    ):
        with pytest.raises(ValueError) as err:
            data.check_labels(bad, 2)
        assert str(err.value) == message
