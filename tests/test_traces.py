"""Jacobian traces against float64 numpy: the exact trace of a known Jacobian, and
Hutchinson's estimate of it, its variance in closed form and its unbiasedness."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiff.core import traces

D = 6
RNG = np.random.default_rng(0)
W = RNG.normal(size=(D, D))
B = RNG.normal(size=D)


def _tanh_field(x):
    """``tanh(W x + b)`` of one row; Jacobian ``diag(1 - tanh²) W``."""
    return jnp.tanh(jnp.asarray(W, x.dtype) @ x + jnp.asarray(B, x.dtype))


def _tanh_trace(x):
    """Its Jacobian's trace in float64 numpy, for each row of ``x``."""
    h = np.tanh(x @ W.T + B)
    return np.sum((1 - h**2) * np.diag(W), axis=1)


def _rademacher_variance(a):
    """``Var(εᵀ A ε)`` for Rademacher ``ε``: ``Σ_{i<j} (A_ij + A_ji)²`` (the cross terms
    ``ε_i ε_j`` are uncorrelated with unit variance; the diagonal is exact)."""
    s = a + a.T
    return float(np.sum(np.triu(s, 1) ** 2))


def test_exact_trace_matches_numpy(x64):
    x = RNG.normal(size=(9, D))
    fx, tr = traces.exact(_tanh_field, jnp.asarray(x))
    assert tr.shape == (9, 1)
    np.testing.assert_allclose(np.asarray(fx), np.tanh(x @ W.T + B), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(tr[:, 0]), _tanh_trace(x), rtol=1e-12)


def test_each_hutchinson_column_is_the_probes_quadratic_form(x64):
    """``εᵀ J ε`` for every row and probe, against numpy's Jacobian."""
    x = RNG.normal(size=(5, D))
    eps = np.asarray(traces.probes(jax.random.key(3), 5, D, 4, jnp.float64))
    fx, est = traces.hutchinson(_tanh_field, jnp.asarray(x), jnp.asarray(eps))
    h = np.tanh(x @ W.T + B)
    jac = (1 - h**2)[:, :, None] * W[None]  # (n, D, D)
    want = np.einsum("nmi,nij,nmj->nm", eps, jac, eps)
    assert est.shape == (5, 4)
    np.testing.assert_allclose(np.asarray(est), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(fx), h, rtol=1e-12)


def test_probes_are_rademacher_with_identity_second_moment():
    eps = np.asarray(traces.probes(jax.random.key(0), 4000, 3, 2))
    assert eps.shape == (4000, 2, 3) and eps.dtype == np.float32
    assert set(np.unique(eps)) == {-1.0, 1.0}
    flat = eps.reshape(-1, 3)
    np.testing.assert_allclose(flat.T @ flat / len(flat), np.eye(3), atol=0.03)
    other = np.asarray(traces.probes(jax.random.key(1), 4000, 3, 2))
    assert not np.array_equal(eps, other)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian", "unnormalised"])
def test_hutchinson_is_unbiased_with_the_rademacher_variance(x64, probe):
    """Over 20,000 probes of ``f(x) = A x``: the mean is ``tr A`` within 4 standard errors
    and the variance is Rademacher's closed form within 5%. Gaussian probes (unbiased, but
    a larger variance ``2 ‖(A + Aᵀ)/2‖²``) and probes of twice the scale (the normalisation
    dropped: mean ``4 tr A``) both fail it."""
    a = RNG.normal(size=(D, D))
    m = 20_000
    key = jax.random.key(7)
    eps = traces.probes(key, 1, D, m, jnp.float64)
    if probe == "gaussian":
        eps = jax.random.normal(key, eps.shape, jnp.float64)
    elif probe == "unnormalised":
        eps = 2.0 * eps
    _, est = traces.hutchinson(lambda x: jnp.asarray(a) @ x, jnp.zeros((1, D)), eps)
    est = np.asarray(est[0])
    se = est.std(ddof=1) / np.sqrt(m)
    unbiased = abs(est.mean() - np.trace(a)) < 4 * se
    variance_ok = abs(est.var(ddof=1) / _rademacher_variance(a) - 1) < 0.05
    assert (unbiased and variance_ok) == (probe == "rademacher")


def test_mean_and_variance_of_the_columns(x64):
    cols = RNG.normal(size=(7, 3))
    mean, var = traces.mean_and_variance(jnp.asarray(cols))
    np.testing.assert_allclose(np.asarray(mean), cols.mean(1), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(var), cols.var(1, ddof=1) / 3, rtol=1e-12)
    one = jnp.asarray(cols[:, :1])
    mean1, var1 = traces.mean_and_variance(one)
    np.testing.assert_array_equal(np.asarray(mean1), cols[:, 0])
    np.testing.assert_array_equal(np.asarray(var1), np.zeros(7))


def test_the_rule_keeps_the_exact_trace_up_to_eight_columns():
    assert traces.EXACT_UP_TO == 8
    assert [traces.choose(None, d) for d in (1, 2, 8, 9, 64)] == (
        ["exact"] * 3 + ["hutchinson"] * 2
    )
    assert traces.choose("exact", 64) == "exact"
    assert traces.choose("hutchinson", 2) == "hutchinson"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: traces.choose("approx", 3), "trace must be one of"),
        (lambda: traces.choose(None, 0), "dim must be a positive integer, got 0"),
        (lambda: traces.probes(jax.random.key(0), 2, 2, 0), "count must be a positive"),
    ],
)
def test_bad_options_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
