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
