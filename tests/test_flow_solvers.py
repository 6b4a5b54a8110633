"""A flow model's samplers against exact oracles: on Gaussian data the optimal velocity is
affine, so every fixed-step solver maps its starting noise by an affine map computed in
float64 by tests/oracles.py, and the exact ODE maps ``x_1`` to ``μ + c x_1``."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from oracles import flow_solver_affine, flow_velocity_apply

from jaxdiff.ddpm import schedules
from jaxdiff.engine import likelihood, sampler_settings, samplers
from jaxdiff.flow import flow_solvers

T = 1000


@functools.cache
def _sched():
    """The test schedule, made on first use: a module that computes with JAX when it is
    imported starts JAX's threads in the process that collects the tests, which
    scripts/mutation.py's mutmut then forks (and the forks deadlock)."""
    return schedules.cosine_schedule(T)


MU, C = 0.7, 0.4


def _run(method, steps, x):
    opts = sampler_settings.SamplerOptions(method=method, steps=steps, target="velocity")
    apply_fn = flow_velocity_apply(T, MU, C)
    return np.asarray(
        samplers.sample(jax.random.key(0), apply_fn, None, _sched(), x.shape, opts, x_T=x)
    )


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun"])
@pytest.mark.parametrize("steps", [1, 2, 3, 8])
def test_fixed_step_solvers_are_their_exact_affine_maps(x64_standard, method, steps):
    x = jax.random.normal(jax.random.key(1), (64, 2), jnp.float64)
    a, b = flow_solver_affine(method, steps, MU, C)
    np.testing.assert_allclose(_run(method, steps, x), a * np.asarray(x) + b, atol=1e-12)


def _wrong_midpoint(v, x, t, h):  # the slope at the start of the step, not its middle
    return x + h * v(x + 0.5 * h * v(x, t), t)


def _wrong_heun(v, x, t, h):  # the corrector's slope taken at the starting time
    d = v(x, t)
    return x + 0.5 * h * (d + v(x + h * d, t))


@pytest.mark.parametrize(
    "method, name, wrong",
    [("midpoint", "_midpoint", _wrong_midpoint), ("heun", "_heun", _wrong_heun)],
)
def test_the_oracle_catches_a_solver_off_in_its_time(
    x64_standard, monkeypatch, method, name, wrong
):
    monkeypatch.setattr(flow_solvers, name, wrong)
    x = jax.random.normal(jax.random.key(1), (64, 2), jnp.float64)
    a, b = flow_solver_affine(method, 2, MU, C)
    assert np.max(np.abs(_run(method, 2, x) - (a * np.asarray(x) + b))) > 1e-3


def test_solvers_converge_to_the_exact_transport(x64_standard):
    """With more steps each fixed-step solver tends to ``x_0 = μ + c x_1``, at least at its
    order: doubling the steps cuts Euler's error about 2×, midpoint's and Heun's at least
    4× (measured 2.0, 7.95 and 4.1: on this ODE midpoint's second-order term is small)."""
    x = jax.random.normal(jax.random.key(2), (256, 1), jnp.float64)
    exact = MU + C * np.asarray(x)
    for method, order in (("euler", 1), ("midpoint", 2), ("heun", 2)):
        e16, e32 = (np.max(np.abs(_run(method, k, x) - exact)) for k in (16, 32))
        assert e16 / e32 > 2**order * 0.8, (method, e16 / e32)
        assert e32 < 0.1


def test_adaptive_solver_meets_its_tolerance_and_counts_its_evaluations():
    x = jax.random.normal(jax.random.key(3), (512, 2))
    calls = []
    oracle = flow_velocity_apply(T, MU, C)

    def counted(params, x, t):
        jax.debug.callback(lambda: calls.append(1))
        return oracle(params, x, t)

    got, evaluations = flow_solvers.adaptive_solve(counted, None, _sched(), x)
    jax.block_until_ready(got)
    assert int(evaluations) == len(calls)
    assert 7 <= int(evaluations) < 100
    err = float(jnp.max(jnp.abs(got - (MU + C * x))))
    assert err < 5 * flow_solvers.ADAPTIVE_TOLERANCE
    tight, more = flow_solvers.adaptive_solve(oracle, None, _sched(), x, tolerance=1e-6)
    assert float(jnp.max(jnp.abs(tight - (MU + C * x)))) < 1e-4 < err
    assert int(more) > int(evaluations)
    traj = samplers.sample_trajectory(
        jax.random.key(0), oracle, None, _sched(), x.shape,
        sampler_settings.SamplerOptions(method="adaptive", target="velocity"), x_T=x,
    )  # fmt: skip
    assert traj.shape == (flow_solvers.ADAPTIVE_SAVES, 512, 2)
    np.testing.assert_allclose(traj[0], x, atol=1e-6)
    np.testing.assert_allclose(traj[-1], got, atol=1e-6)


def test_fixed_step_trajectory_starts_in_noise_and_ends_in_the_sample():
    x = jax.random.normal(jax.random.key(4), (32, 2))
    opts = sampler_settings.SamplerOptions(method="midpoint", steps=4, target="velocity")
    oracle = flow_velocity_apply(T, MU, C)
    traj = samplers.sample_trajectory(
        jax.random.key(0), oracle, None, _sched(), x.shape, opts, x_T=x
    )
    assert traj.shape == (5, 32, 2)
    np.testing.assert_array_equal(traj[0], x)
    np.testing.assert_allclose(traj[-1], _run("midpoint", 4, x), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "ddim", "target": "velocity"}, "for a flow model"),
        ({"method": "euler", "target": "v"}, "for a diffusion model"),
        ({"method": "midpoint", "target": "velocity", "spacing": "karras"}, "spacing is for"),
        ({"method": "rk45"}, "method must be one of"),
    ],
)
def test_sampler_options_keep_each_family_to_its_samplers(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sampler_settings.SamplerOptions(**kwargs)


def test_flow_steps_default_to_T_and_heun_is_each_familys_own():
    opts = sampler_settings.SamplerOptions(method="euler", target="velocity").for_schedule(_sched())
    assert opts.steps == T and opts.grid is None
    assert sampler_settings.SamplerOptions(method="heun", target="velocity").method == "heun"
    assert sampler_settings.SamplerOptions(method="heun", target="eps").method == "heun"


@pytest.mark.parametrize("c", [C, 1.6])
def test_flow_log_likelihood_is_the_gaussian_density(x64_standard, c):
    """The flow ODE of ``v*`` carries ``N(μ, c²)`` to ``N(0, 1)``: its likelihood is the
    data's density (within 1e-5 nats/dim with 32 RK4 steps); the velocity of another
    spread is off by far more."""
    x0 = MU + c * jax.random.normal(jax.random.key(5), (200, 2), jnp.float64)
    z = (np.asarray(x0) - MU) / c
    want = np.mean(-0.5 * z**2 - np.log(c) - 0.5 * np.log(2 * np.pi), axis=1)
    got = likelihood.flow_log_likelihood(flow_velocity_apply(T, MU, c), None, _sched(), x0)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)
    wrong = likelihood.flow_log_likelihood(flow_velocity_apply(T, MU, 1.2 * c), None, _sched(), x0)
    assert np.mean(np.abs(np.asarray(wrong) - want)) > 0.05


def _growth(params, x, s):
    """v = p x: the ODE dx/dt = p x, run from t = 1 to 0, maps x_1 to x_1 e^{-p}."""
    return params * x


@pytest.mark.parametrize(
    "chain, factor",
    [
        # Euler, h = -1/N: x ← x (1 - p/N).
        (flow_solvers.euler_chain, lambda z: 1 + z),
        # Midpoint and Heun, second-order Runge-Kutta: x ← x (1 + z + z²/2), z = -p/N.
        (flow_solvers.midpoint_chain, lambda z: 1 + z + z * z / 2),
        (flow_solvers.heun_chain, lambda z: 1 + z + z * z / 2),
    ],
)
def test_fixed_step_chains_use_the_networks_parameters_and_return_what_is_asked(chain, factor):
    """On v = p x the N-step chains are the powers of their one-step factors, in float64
    by hand; the parameters (p = 0.5 or 1.5) set the answer, so a chain that dropped them
    fails; with ``trajectory`` the N + 1 states come back, first x_1, last x_0."""
    x = jnp.asarray(np.random.default_rng(1).normal(size=(6, 2)), jnp.float32)
    opts = sampler_settings.SamplerOptions(method="euler", steps=4, target="velocity")
    for p in (0.5, 1.5):
        got = chain(None, _growth, jnp.float32(p), _sched(), x, opts, False)
        want = np.asarray(x, np.float64) * factor(-p / 4) ** 4
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)
    path = chain(None, _growth, jnp.float32(0.5), _sched(), x, opts, True)
    assert path.shape == (5, 6, 2)
    np.testing.assert_array_equal(path[0], x)
    np.testing.assert_allclose(np.asarray(path[-1]), x * factor(-0.125) ** 4, rtol=1e-5)


def test_adaptive_chain_uses_the_parameters_and_saves_only_when_asked():
    x = jnp.ones((3, 2), jnp.float32)
    opts = sampler_settings.SamplerOptions(method="adaptive", target="velocity")
    for p in (0.5, 1.5):
        got = flow_solvers.adaptive_chain(None, _growth, jnp.float32(p), _sched(), x, opts, False)
        assert got.shape == (3, 2)
        np.testing.assert_allclose(np.asarray(got), np.exp(-p), rtol=1e-3)
    path = flow_solvers.adaptive_chain(None, _growth, jnp.float32(0.5), _sched(), x, opts, True)
    assert path.shape == (flow_solvers.ADAPTIVE_SAVES, 3, 2)
    np.testing.assert_allclose(np.asarray(path[-1]), np.exp(-0.5), rtol=1e-3)


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun", "adaptive"])
def test_each_flow_solver_keeps_the_dtype_of_its_starting_noise(method):
    """In float64 mode a float32 x_T is solved in float32: the time grid (and the adaptive
    solver's save times) take x_T's dtype, not the float64 default, which would change the
    scan's carry type."""
    oracle = flow_velocity_apply(T, MU, C)
    x = jax.random.normal(jax.random.key(5), (8, 2), jnp.float32)
    opts = sampler_settings.SamplerOptions(method=method, steps=4, target="velocity")
    with jax.enable_x64(True):
        for draw in (samplers.sample, samplers.sample_trajectory):
            got = draw(jax.random.key(0), oracle, None, _sched(), x.shape, opts, x_T=x)
            assert got.dtype == jnp.float32, (draw.__name__, got.dtype)


def _ripple(params, x, s):
    """v = cos(40 s) on every coordinate, s the network's time in 0 … T - 1: thousands of
    periods between noise and data, so a tight solve needs thousands of steps."""
    return jnp.cos(40.0 * s) * jnp.ones_like(x)


def test_the_adaptive_solver_stops_at_its_step_budget_of_4096():
    """A solve that needs more than 4096 steps ends with diffrax's error; the same solve
    at a coarser tolerance (fewer steps) finishes, and its evaluations count its steps."""
    x = jnp.zeros((4, 2))
    got, evaluations = flow_solvers.adaptive_solve(_ripple, None, _sched(), x, tolerance=1e-3)
    assert 6 * 300 < int(evaluations) - 1 <= 6 * 4096
    with pytest.raises(Exception, match="maximum number of solver steps"):
        got, _ = flow_solvers.adaptive_solve(_ripple, None, _sched(), x, tolerance=1e-5)
        jax.block_until_ready(got)
