"""The input features: sinusoidal and random Fourier features against their formulas in
float64, and the float32 sine and cosine in turns against float64."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import features


def test_sinusoidal_features_equal_their_formula():
    u = np.array([0.0, 0.3, -1.7])
    got = np.asarray(features.sinusoidal(jnp.asarray(u, jnp.float32), 8, 25.0))
    freq = np.exp(-np.log(10_000.0) / 3 * np.arange(4))
    want = np.concatenate([np.sin(25 * u[:, None] * freq), np.cos(25 * u[:, None] * freq)], 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _sincos_error(u: np.ndarray) -> float:
    """Largest error of :func:`features.sincos_turns` on float32 ``u`` against float64."""
    sin, cos = features.sincos_turns(jnp.asarray(u, jnp.float32))
    turns = u.astype(np.float32).astype(np.float64)
    want_sin, want_cos = np.sin(2 * np.pi * turns), np.cos(2 * np.pi * turns)
    return max(np.abs(np.asarray(sin) - want_sin).max(), np.abs(np.asarray(cos) - want_cos).max())


def test_sincos_turns_is_within_float32_rounding_of_float64(monkeypatch):
    rng = np.random.default_rng(0)
    u = np.concatenate(
        [
            rng.normal(scale=30.0, size=200_000),  # the features' range (|x B| up to ~100)
            np.linspace(-3, 3, 4801),  # every eighth, quarter and half turn exactly
            [0.0, 0.5, -0.5, 0.25, -0.25, 1e6 + 0.25, 2.0**22 + 0.5],
        ]
    ).astype(np.float32)
    tol = 5e-7  # about four roundings of a float32 near 1
    assert _sincos_error(u) < tol
    # The tolerance catches plausible mistakes: one Taylor term fewer for the sine or the
    # cosine of the half angle, or no reduction of the argument to [-1/2, 1/2].
    for name in ("SIN_TAYLOR", "COS_TAYLOR"):
        with monkeypatch.context() as m:
            m.setattr(features, name, getattr(features, name)[:-1])
            assert _sincos_error(u) > tol
    with monkeypatch.context() as m:
        m.setattr(jnp, "round", jnp.zeros_like)
        assert _sincos_error(u) > 0.1


def test_sincos_turns_in_float64_is_exact_to_float64(x64):
    u = np.random.default_rng(1).normal(scale=30.0, size=1000)
    sin, cos = features.sincos_turns(jnp.asarray(u))
    np.testing.assert_allclose(np.asarray(sin), np.sin(2 * np.pi * u), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(cos), np.cos(2 * np.pi * u), rtol=0, atol=1e-12)


def test_fourier_features_equal_their_formula():
    x = np.random.default_rng(2).normal(size=(50, 2)).astype(np.float32)
    got = np.asarray(features.fourier(jnp.asarray(x), 8, 3.0))
    b = 3.0 * np.asarray(jax.random.normal(jax.random.key(0), (4,), jnp.float32), np.float64)
    angle = 2 * np.pi * x.astype(np.float64)[..., None] * b
    want = np.concatenate([np.sin(angle), np.cos(angle)], -1).reshape(50, 16)
    # Coordinate 0's four sines, its four cosines, then coordinate 1's.
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)


def test_sinusoidal_default_and_small_sizes_match_the_formula():
    """Scale 1 unless told; ``ω_k = 10000^{-k/(size/2 - 1)}``, with one frequency or two
    (size 2 and 4) where ``size/2 - 1`` is 0 or 1 — float64 numpy."""
    u = np.array([0.0, 0.5, 3.0, 17.0])
    for size in (2, 4, 8):
        half = size // 2
        freq = np.exp(-np.log(10_000.0) / max(half - 1, 1) * np.arange(half))
        angle = u[:, None] * freq[None, :]
        want = np.concatenate([np.sin(angle), np.cos(angle)], axis=-1)
        got = np.asarray(features.sinusoidal(jnp.asarray(u, jnp.float32), size))
        np.testing.assert_allclose(got, want, atol=2e-5, err_msg=str(size))
    # an odd size (a network of odd width): its floor half of sines and of cosines
    assert features.sinusoidal(jnp.asarray(u, jnp.float32), 5).shape == (4, 4)


def test_float32_features_stay_float32_under_x64(x64):
    """With float64 enabled, float32 inputs keep float32 features and frequencies."""
    u = jnp.asarray([0.1, 0.7], jnp.float32)
    assert all(a.dtype == jnp.float32 for a in features.sincos_turns(u))
    assert features.fourier_frequencies(8, 2.0, jnp.float32).dtype == jnp.float32
    x = jnp.ones((3, 2), jnp.float32)
    assert features.fourier(x, 8, 2.0).dtype == jnp.float32
