import jax
import numpy as np
import pytest
from sklearn.datasets import make_s_curve

from jaxdiff import data


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
    from jaxdiff import data

    gen = data.DATASETS[name]
    x = gen(3, 2000)
    assert x.shape == (2000, 2) and x.dtype == np.float32 and np.all(np.isfinite(x))
    lo, hi = TOYS[name]
    assert np.all(x >= lo) and np.all(x <= hi), (x.min(0), x.max(0))
    assert np.array_equal(x, gen(3, 2000)) and not np.array_equal(x, gen(4, 2000))
    assert np.array_equal(x, data.load(name, 3, 2000))


def test_toy_shapes_are_the_named_shapes():
    from jaxdiff import data

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


def test_load_file_reads_npy_and_csv(tmp_path):
    from jaxdiff import data

    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.save(tmp_path / "a.npy", x)
    np.savetxt(tmp_path / "a.csv", x, delimiter=",")
    for name in ("a.npy", "a.csv"):
        got = data.load_file(tmp_path / name)
        assert got.dtype == np.float32 and np.array_equal(got, x)


@pytest.mark.parametrize(
    "name, write, message",
    [
        ("t.csv", lambda p: p.write_text("a,b\nc,d\n"), "cannot read data file"),
        ("n.npy", lambda p: np.save(p, np.array([[1.0, np.nan], [2.0, 3.0]])), "1 NaN or inf"),
        ("o.npy", lambda p: np.save(p, np.arange(5.0)), "2-D array of at least 2 rows"),
        ("e.csv", lambda p: p.write_text(""), "at least 2 rows, got shape (0, 1)"),
        ("s.npy", lambda p: np.save(p, np.array([["x", "y"], ["z", "w"]])), "must hold numbers"),
        ("x.txt", lambda p: p.write_text("1,2"), "must end in .npy or .csv"),
        ("missing.npy", lambda p: None, "does not exist"),
    ],
)
def test_load_file_rejects_bad_files_in_one_line(tmp_path, name, write, message):
    from jaxdiff import data

    path = tmp_path / name
    write(path)
    with pytest.raises(ValueError, match=r"data file|cannot read") as info:
        data.load_file(path)
    assert message in str(info.value) and "\n" not in str(info.value), str(info.value)
