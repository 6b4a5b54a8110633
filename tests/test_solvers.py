"""The solvers' building blocks: the timestep sequences, written out; one step of each
method against its equation in float64 numpy; the scanned chain against Algorithm 2 as a
float64 loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiff import models, samplers, schedules, solvers


@pytest.fixture(scope="module")
def net():
    return models.functional(
        models.MLPDenoiser(config=models.NetworkConfig(width=32)), jax.random.key(0)
    )


def _linear_model(weight):
    """A stand-in network whose output is ``weight · x`` (any t)."""

    def apply_fn(params, x, t):
        return weight * x

    return apply_fn


def test_ddpm_step_is_eq_11_plus_noise(x64):
    sched = schedules.cosine_schedule(20)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 2)))
    key, t = jax.random.key(3), 7
    got = solvers.ddpm_step(key, _linear_model(0.3), None, sched, x, t, variance="beta_tilde")
    b = np.asarray(sched.betas, np.float64)
    abar = np.cumprod(1 - b)
    eps = 0.3 * np.asarray(x)
    mean = (np.asarray(x) - b[t] / np.sqrt(1 - abar[t]) * eps) / np.sqrt(1 - b[t])
    var = b[t] * (1 - abar[t - 1]) / (1 - abar[t])
    z = np.asarray(jax.random.normal(key, x.shape, x.dtype))
    np.testing.assert_allclose(np.asarray(got), mean + np.sqrt(var) * z, rtol=1e-12)


def test_ddim_step_is_song_eq_12(x64):
    sched = schedules.cosine_schedule(20)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(5, 2)))
    key, t, t_prev, eta = jax.random.key(4), 15, 9, 0.4
    got = solvers.ddim_step(key, _linear_model(-0.2), None, sched, x, t, t_prev, eta=eta)
    abar = np.cumprod(1 - np.asarray(sched.betas, np.float64))
    a_t, a_p = abar[t], abar[t_prev]
    eps = -0.2 * np.asarray(x)
    x0 = (np.asarray(x) - np.sqrt(1 - a_t) * eps) / np.sqrt(a_t)
    sigma = eta * np.sqrt((1 - a_p) / (1 - a_t)) * np.sqrt(1 - a_t / a_p)
    z = np.asarray(jax.random.normal(key, x.shape, x.dtype))
    want = np.sqrt(a_p) * x0 + np.sqrt(1 - a_p - sigma**2) * eps + sigma * z
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


@pytest.mark.parametrize("variance, last", [("beta", True), ("beta", False), ("beta_tilde", False)])
def test_scanned_chain_is_a_loop_of_eq_11_steps(net, variance, last):
    """Oracle: Ho et al.'s Algorithm 2 written as a Python loop in float64 numpy (eq. 11,
    σ_t² = β_t or β̃_t, eq. 7), fed the network's ε and the documented keys (``x_T`` from
    the first half of ``split(key)``, step ``t``'s noise from ``fold_in`` of the second):
    not a loop over the library's own step."""
    apply_fn, params = net
    sched = schedules.sigmoid_schedule(20)
    key = jax.random.key(3)
    opts = samplers.SamplerOptions(variance=variance, last_step_noise=last)
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
