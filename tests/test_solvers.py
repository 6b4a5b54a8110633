"""The solvers' building blocks: the timestep sequences, written out; one step of each
method against its equation in float64 numpy; the scanned chain against Algorithm 2 as a
float64 loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiff.core import apply, models
from jaxdiff.ddpm import schedules, solvers
from jaxdiff.engine import sampler_settings, samplers


@pytest.fixture(scope="module")
def net():
    return apply.functional(
        models.MLPDenoiser(config=models.NetworkConfig(width=32)), jax.random.key(0)
    )


def _affine_model(params, x, t):
    """A stand-in network that reads its parameters and the timestep: ``w x + b t``."""
    return params["w"] * x + params["b"] * t


PARAMS = {"w": -0.2, "b": 0.01}


def _eps(x, t):
    return PARAMS["w"] * np.asarray(x) + PARAMS["b"] * t


def _abar(sched):
    return np.cumprod(1 - np.asarray(sched.betas, np.float64))


def _ddpm_mean(sched, x, t):
    """Ho et al. 2020 eq. 11's mean in float64: ``(x - β_t/√(1-ᾱ_t) ε) / √(1-β_t)``."""
    b, abar = np.asarray(sched.betas, np.float64), _abar(sched)
    return (np.asarray(x) - b[t] / np.sqrt(1 - abar[t]) * _eps(x, t)) / np.sqrt(1 - b[t])


@pytest.mark.parametrize("t", [7, 0])
def test_ddpm_step_is_eq_11_plus_noise(x64, t):
    sched = schedules.cosine_schedule(20)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 2)))
    key = jax.random.key(3)
    got = solvers.ddpm_step(key, _affine_model, PARAMS, sched, x, t, variance="beta_tilde")
    b, abar = np.asarray(sched.betas, np.float64), _abar(sched)
    var = b[t] * (1 - (abar[t - 1] if t else 1.0)) / (1 - abar[t])
    z = np.asarray(jax.random.normal(key, x.shape, x.dtype))
    want = _ddpm_mean(sched, x, t) + np.sqrt(var) * z
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


@pytest.mark.parametrize("t", [7, 0])
def test_ddpm_step_defaults_are_the_seeds(x64, t):
    """Unset, the variance is β_t and the noise is added at t = 0 too (the seed's sampler)."""
    sched = schedules.cosine_schedule(20)
    x = jnp.asarray(np.random.default_rng(2).normal(size=(5, 2)))
    key = jax.random.key(5)
    got = solvers.ddpm_step(key, _affine_model, PARAMS, sched, x, t)
    b = np.asarray(sched.betas, np.float64)
    z = np.asarray(jax.random.normal(key, x.shape, x.dtype))
    want = _ddpm_mean(sched, x, t) + np.sqrt(b[t]) * z
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def _ddim_want(sched, x, key, t, t_prev, eta):
    """Song et al. 2021 eq. 12 in float64; ``t_prev = -1`` is the clean end, ᾱ = 1."""
    abar = _abar(sched)
    a_t, a_p = abar[t], (abar[t_prev] if t_prev >= 0 else 1.0)
    eps = _eps(x, t)
    x0 = (np.asarray(x) - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t)
    sigma = eta * np.sqrt((1 - a_p) / (1 - a_t)) * np.sqrt(1 - a_t / a_p)
    z = np.asarray(jax.random.normal(key, x.shape, x.dtype))
    return np.sqrt(a_p) * x0 + np.sqrt(1 - a_p - sigma**2) * eps + sigma * z


@pytest.mark.parametrize("t, t_prev, eta", [(15, 9, 0.4), (6, 0, 0.7), (3, -1, 0.0)])
def test_ddim_step_is_song_eq_12(x64, t, t_prev, eta):
    """Between two levels, to level 0 (ᾱ_0, not 1) and to the clean end (t_prev = -1)."""
    sched = schedules.cosine_schedule(20)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(5, 2)))
    key = jax.random.key(4)
    got = solvers.ddim_step(key, _affine_model, PARAMS, sched, x, t, t_prev, eta=eta)
    np.testing.assert_allclose(
        np.asarray(got), _ddim_want(sched, x, key, t, t_prev, eta), rtol=1e-12
    )


def test_ddim_step_default_is_deterministic(x64):
    """Unset, η = 0: the key does not matter and the step is eq. 12 without noise."""
    sched = schedules.cosine_schedule(20)
    x = jnp.asarray(np.random.default_rng(3).normal(size=(5, 2)))
    got = [
        np.asarray(solvers.ddim_step(jax.random.key(k), _affine_model, PARAMS, sched, x, 12, 4))
        for k in (0, 1)
    ]
    want = _ddim_want(sched, x, jax.random.key(0), 12, 4, 0.0)
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    np.testing.assert_array_equal(got[0], got[1])


@pytest.mark.parametrize("variance, last", [("beta", True), ("beta", False), ("beta_tilde", False)])
def test_scanned_chain_is_a_loop_of_eq_11_steps(net, variance, last):
    """Oracle: Ho et al.'s Algorithm 2 written as a Python loop in float64 numpy (eq. 11,
    σ_t² = β_t or β̃_t, eq. 7), fed the network's ε and the documented keys (``x_T`` from
    the first half of ``split(key)``, step ``t``'s noise from ``fold_in`` of the second):
    not a loop over the library's own step."""
    apply_fn, params = net
    sched = schedules.sigmoid_schedule(20)
    key = jax.random.key(3)
    opts = sampler_settings.SamplerOptions(variance=variance, last_step_noise=last)
    got = samplers.sample(key, apply_fn, params, sched, (50, 2), opts)
    b = np.asarray(sched.betas, np.float64)
    abar = np.cumprod(1 - b)
    abar_prev = np.concatenate([[1.0], abar[:-1]])
    sigma2 = b if variance == "beta" else b * (1 - abar_prev) / (1 - abar)
    init_key, loop_key = jax.random.split(key)
    x = np.asarray(jax.random.normal(init_key, (50, 2)), np.float64)
    for t in range(19, -1, -1):
        eps = np.asarray(apply_fn(params, jnp.asarray(x, jnp.float32), t), np.float64)
        x = (x - b[t] / np.sqrt(1 - abar[t]) * eps) / np.sqrt(1 - b[t])
        if t > 0 or last:
            z = np.asarray(jax.random.normal(jax.random.fold_in(loop_key, t), (50, 2)))
            x = x + np.sqrt(sigma2[t]) * z
    np.testing.assert_allclose(np.asarray(got), x, rtol=2e-4, atol=2e-4)


CHAINS = [
    ("ddpm", None),
    ("ddim", 6),
    ("restart", 4),
    ("dpm-solver", 6),
    ("sde-dpm-solver", 6),
    ("dpm-solver-3m", 6),
    ("heun", 4),
]


@pytest.mark.parametrize("method, steps", CHAINS)
def test_chains_keep_a_float32_state_in_float64_mode(x64, method, steps):
    """Every draw is in the state's dtype: a float32 chain stays float32 with float64 on
    (the fixture's strict promotion refuses a float64 draw added to a float32 state)."""
    sched = schedules.cosine_schedule(20, dtype=jnp.float32)
    x_T = jnp.asarray(np.random.default_rng(4).normal(size=(6, 2)), jnp.float32)
    churn = 1.0 if method == "heun" else 0.0  # churn draws noise too
    eta = 1.0 if method == "ddim" else 0.0
    opts = sampler_settings.SamplerOptions(method=method, steps=steps, eta=eta, churn=churn)
    got = samplers.sample(
        jax.random.key(1), lambda p, x, t: p * x, jnp.float32(-0.2), sched, (6, 2), opts, x_T=x_T
    )
    assert got.dtype == jnp.float32


@pytest.mark.parametrize("method, steps", CHAINS)
def test_chains_read_the_target_and_the_params(net, method, steps):
    """The network read as a data predictor (``target="x0"``, its ε turned into
    ``x̂_0 = (x - s_t ε) / a_t`` here by hand) samples what it samples as an ε predictor,
    from the same key: a chain that ignored the target, or called the network without its
    parameters, would not."""
    apply_fn, params = net
    sched = schedules.cosine_schedule(20)
    abar = _abar(sched)
    a, s = jnp.asarray(np.sqrt(abar), jnp.float32), jnp.asarray(np.sqrt(1 - abar), jnp.float32)

    def as_x0(p, x, t):
        return (x - s[t] * apply_fn(p, x, t)) / a[t]

    key = jax.random.key(7)
    want = samplers.sample(
        key,
        apply_fn,
        params,
        sched,
        (64, 2),
        sampler_settings.SamplerOptions(method=method, steps=steps),
    )
    opts = sampler_settings.SamplerOptions(method=method, steps=steps, target="x0")
    got = samplers.sample(key, as_x0, params, sched, (64, 2), opts)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-3, atol=1e-3)
    with_eps_read_as_x0 = samplers.sample(key, apply_fn, params, sched, (64, 2), opts)
    assert not np.allclose(np.asarray(with_eps_read_as_x0), np.asarray(want), atol=0.1)
