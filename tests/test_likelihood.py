"""Likelihoods on Gaussian data, where the optimal model and every density are known."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from oracles import (
    ddpm_moments,
    eps_star_apply,
    flow_velocity_coefficients,
    star_output,
    vlb_expected,
)

from jaxdiff.core import apply, models
from jaxdiff.ddpm import schedules, vlb
from jaxdiff.engine import likelihood

MU, C = 0.3, 0.5


def _gaussian_log_density(x, mu, var):
    return -0.5 * np.log(2 * np.pi * var) - (x - mu) ** 2 / (2 * var)


def _star_continuous(schedule, mu, c, target="eps"):
    """The optimal output for ``target`` (ε*, x₀* or v*) for Gaussian data at continuous
    step ``u``, with ``ᾱ(u)`` interpolated log-linearly between the steps in float64 numpy
    (independent of the library's)."""
    log_abar = np.concatenate(
        [[0.0], np.log(np.cumprod(1 - np.asarray(schedule.betas, np.float64)))]
    )
    grid = np.arange(-1, len(log_abar) - 1, dtype=np.float64)

    def apply_fn(params, x, u):
        abar = jnp.exp(jnp.interp(u, grid, log_abar))
        return star_output(jnp.sqrt(abar), jnp.sqrt(1.0 - abar), x, mu, c, target)

    return apply_fn


def test_alpha_bar_at_matches_the_schedule_at_integer_steps(x64):
    sched = schedules.cosine_schedule(50)
    u = jnp.arange(-1, 50, dtype=jnp.float64)
    got = likelihood.alpha_bar_at(sched, u)
    np.testing.assert_allclose(got[1:], sched.alphas_cumprod, rtol=1e-12)
    assert float(got[0]) == 1.0
    mid = likelihood.alpha_bar_at(sched, jnp.float64(9.5))
    assert float(mid) == pytest.approx(
        float(jnp.sqrt(sched.alphas_cumprod[9] * sched.alphas_cumprod[10]))
    )


@pytest.mark.parametrize("solver, substeps", [("rk4", 1), ("heun", 2), ("heun", 1)])
def test_ode_log_likelihood_matches_the_gaussian_density(x64, solver, substeps):
    """Within 0.001 nats/dim of the exact log-density, for every target (measured: 2.9e-4
    RK4, 4.1e-4 Heun with 2 substeps, 8.9e-4 Heun with 1)."""
    sched = schedules.cosine_schedule(1000)
    x0 = MU + C * jax.random.normal(jax.random.key(0), (256, 2), jnp.float64)
    want = _gaussian_log_density(np.asarray(x0), MU, C**2).mean(axis=1)
    by_target = {}
    for target in ("eps", "x0", "v"):
        got = likelihood.ode_log_likelihood(
            _star_continuous(sched, MU, C, target),
            None,
            sched,
            x0,
            target=target,
            solver=solver,
            substeps=substeps,
        )
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-3, err_msg=target)
        by_target[target] = np.asarray(got)
    # The three parameterisations of one model are one model: the same density.
    np.testing.assert_allclose(by_target["x0"], by_target["eps"], atol=1e-6)
    np.testing.assert_allclose(by_target["v"], by_target["eps"], atol=1e-6)


def test_ode_log_likelihood_sees_a_wrong_model(x64):
    sched = schedules.cosine_schedule(1000)
    x0 = MU + C * jax.random.normal(jax.random.key(0), (64, 2), jnp.float64)
    wrong = likelihood.ode_log_likelihood(_star_continuous(sched, MU, 0.8), None, sched, x0)
    want = _gaussian_log_density(np.asarray(x0), MU, C**2).mean()
    assert float(jnp.mean(wrong)) < want - 0.05  # the cross-entropy of N(μ, 0.8²) is worse


@pytest.mark.parametrize("variance", ["beta", "beta_tilde"])
def test_vlb_matches_its_closed_form_on_gaussian_data(x64, variance):
    sched = schedules.cosine_schedule(100)
    x0 = MU + C * jax.random.normal(jax.random.key(1), (20_000, 2), jnp.float64)
    terms = vlb.vlb(
        jax.random.key(2), eps_star_apply(sched, MU, C), None, sched, x0, variance=variance
    )
    total = np.asarray(terms.total)
    want = vlb_expected(np.asarray(sched.betas), MU, C, variance)
    se = total.std() / np.sqrt(total.size)
    assert abs(total.mean() - want) < 4 * se + 1e-6
    assert se < 0.02 * want  # a tight estimate (measured: 0.9% and 0.7% of the bound)
    np.testing.assert_allclose(
        terms.prior + terms.diffusion + terms.decoder, terms.total, rtol=1e-12
    )
    # The x0 and v parameterisations of the same optimal model: the same bound, per example.
    for target in ("x0", "v"):
        other = vlb.vlb(
            jax.random.key(2),
            eps_star_apply(sched, MU, C, target),
            None,
            sched,
            x0,
            target=target,
            variance=variance,
        )
        np.testing.assert_allclose(other.total, terms.total, rtol=1e-6, err_msg=target)


def test_vlb_prior_term_is_the_kl_to_the_standard_normal_per_example(x64):
    """``L_T = KL(q(x_T | x_0) ‖ N(0, I))`` per dimension, ``½ (ᾱ_T x_0² + 1 - ᾱ_T - 1 -
    log(1 - ᾱ_T))`` averaged over coordinates, in float64 numpy, on the seed's schedule of
    10 steps (``ᾱ_T`` far from 0, so the term is not near 0)."""
    sched = schedules.sigmoid_schedule(10, 1e-5, 5e-3)
    x0 = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)))
    terms = vlb.vlb(jax.random.key(0), lambda p, x, t: jnp.zeros_like(x), None, sched, x0)
    abar = np.cumprod(1.0 - np.asarray(sched.betas, np.float64))[-1]
    x = np.asarray(x0, np.float64)
    want = 0.5 * (abar * x**2 + (1.0 - abar) - 1.0 - np.log(1.0 - abar)).mean(axis=1)
    np.testing.assert_allclose(np.asarray(terms.prior), want, rtol=1e-10)
    assert want.min() > 0.01


def test_vlb_bounds_the_models_negative_log_likelihood(x64):
    # Every density is known: the ε* chain with σ² = β and decoder noise β_0 is an affine
    # Gaussian recursion, so its output law N(m, v) is exact (oracles.ddpm_moments).
    for sched in (schedules.cosine_schedule(100), schedules.sigmoid_schedule(100, 1e-5, 5e-3)):
        betas = np.asarray(sched.betas)
        m, v = ddpm_moments(betas, MU, C, "beta", last_step_noise=True)
        cross_entropy = 0.5 * np.log(2 * np.pi * v) + ((MU - m) ** 2 + C**2) / (2 * v)
        entropy = 0.5 * np.log(2 * np.pi * np.e * C**2)
        bound = vlb_expected(betas, MU, C, "beta")
        assert bound >= cross_entropy >= entropy
    # And the seed's schedule, which does not reach noise, pays for it in L_T.
    assert bound > cross_entropy + 0.1


def test_vlb_and_ode_run_on_the_mlp():
    sched = schedules.cosine_schedule(20)
    apply_fn, params = apply.functional(models.MLPDenoiser(num_steps=20), jax.random.key(0))
    x0 = jax.random.normal(jax.random.key(1), (16, 2))
    terms = vlb.vlb(jax.random.key(2), apply_fn, params, sched, x0, target="v")
    assert terms.total.shape == (16,) and np.all(np.isfinite(terms.total))
    ll = likelihood.ode_log_likelihood(apply_fn, params, sched, x0, target="v", solver="heun")
    assert ll.shape == (16,) and np.all(np.isfinite(ll))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target="score"), "target must be one of"),
        (dict(solver="euler"), "solver must be one of"),
        (dict(substeps=0), "substeps must be a positive integer"),
        (dict(x0=np.zeros(2)), r"x0 must have shape \(n, D\), got \(2,\)"),
    ],
)
def test_ode_log_likelihood_rejects_bad_options(kwargs, match):
    sched = schedules.cosine_schedule(10)
    x0 = kwargs.pop("x0", jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match=match):
        likelihood.ode_log_likelihood(None, None, sched, x0, **kwargs)


@pytest.mark.parametrize("solver, order", [("rk4", 4), ("heun", 2)])
def test_ode_solvers_converge_at_their_order(x64, solver, order):
    """Halving the step divides the error by 2^order (measured: RK4 15.4, Heun 3.9; an RK4
    with a stage at h/3 instead of h/2 falls to 2.2): the library's own solver, against
    its result at 16 substeps, on a short schedule where one substep is coarse."""
    sched = schedules.cosine_schedule(20, max_beta=0.5)
    x0 = MU + C * jax.random.normal(jax.random.key(0), (64, 2), jnp.float64)
    model = _star_continuous(sched, MU, C)

    def ll(substeps):
        return np.asarray(
            likelihood.ode_log_likelihood(model, None, sched, x0, solver=solver, substeps=substeps)
        )

    fine = ll(16)
    ratio = np.abs(ll(1) - fine).max() / np.abs(ll(2) - fine).max()
    assert 2**order * 0.7 < ratio < 2**order * 1.4


def test_likelihood_defaults_are_rk4_with_one_substep(x64):
    sched = schedules.cosine_schedule(20, max_beta=0.5)
    x0 = MU + C * jax.random.normal(jax.random.key(0), (8, 2), jnp.float64)
    model = _star_continuous(sched, MU, C)
    default = np.asarray(likelihood.ode_log_likelihood(model, None, sched, x0))
    given = likelihood.ode_log_likelihood(model, None, sched, x0, solver="rk4", substeps=1)
    np.testing.assert_array_equal(default, np.asarray(given))
    two = likelihood.ode_log_likelihood(model, None, sched, x0, substeps=2)
    assert not np.array_equal(default, np.asarray(two))


def test_float32_stays_float32_in_float64_mode(x64):
    """A float32 schedule and data keep float32 with float64 on (the fixture's strict
    promotion refuses any float64 made along the way)."""
    sched = schedules.cosine_schedule(10, dtype=jnp.float32)
    assert likelihood.alpha_bar_at(sched, jnp.float64(3.5)).dtype == jnp.float32
    x0 = jnp.ones((4, 2), jnp.float32)
    ll = likelihood.ode_log_likelihood(lambda p, x, t: 0.5 * x, None, sched, x0, solver="heun")
    assert ll.dtype == jnp.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(target="score"), r"target must be one of \('eps', 'x0', 'v'\), got 'score'"),
        (dict(variance="big"), "variance must be 'beta' or 'beta_tilde', got 'big'"),
        (dict(steps=1), "the schedule needs at least 2 steps, got 1"),
    ],
)
def test_vlb_rejects_bad_options(kwargs, match):
    sched = schedules.cosine_schedule(kwargs.pop("steps", 10))
    with pytest.raises(ValueError, match=match):
        vlb.vlb(jax.random.key(0), None, None, sched, jnp.zeros((2, 2)), **kwargs)


def test_vlb_takes_a_two_step_schedule():
    sched = schedules.cosine_schedule(2)
    terms = vlb.vlb(
        jax.random.key(0), lambda p, x, t: 0.1 * x, None, sched, jnp.ones((3, 2), jnp.float32)
    )
    assert terms.total.shape == (3,) and np.all(np.isfinite(np.asarray(terms.total)))


def _scaled_velocity(params, x, t):
    """A stand-in flow network that reads its parameters: ``v = w x``."""
    return params["w"] * x


def test_flow_log_likelihood_defaults_and_params():
    """32 RK4 steps unless told; the network is called with the given parameters: for
    ``v = w x`` the flow from 0 to 1 scales by ``e^w`` with trace integral ``D w``."""
    sched = schedules.cosine_schedule(10)
    x0 = jnp.asarray(np.random.default_rng(0).normal(size=(5, 2)), jnp.float32)
    params = {"w": jnp.float32(-0.5)}
    default = likelihood.flow_log_likelihood(_scaled_velocity, params, sched, x0)
    np.testing.assert_array_equal(
        np.asarray(default),
        np.asarray(likelihood.flow_log_likelihood(_scaled_velocity, params, sched, x0, steps=32)),
    )
    assert not np.array_equal(
        np.asarray(default),
        np.asarray(likelihood.flow_log_likelihood(_scaled_velocity, params, sched, x0, steps=3)),
    )
    x1 = np.exp(-0.5) * np.asarray(x0, np.float64)
    want = (-0.5 * np.sum(x1**2, axis=1) - np.log(2 * np.pi) + 2 * -0.5) / 2
    np.testing.assert_allclose(np.asarray(default), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(steps=0), "steps must be a positive integer, got 0"),
        (dict(x0=np.zeros(2)), r"x0 must have shape \(n, D\), got \(2,\)"),
    ],
)
def test_flow_log_likelihood_rejects_bad_options(kwargs, match):
    x0 = kwargs.pop("x0", np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match=match):
        likelihood.flow_log_likelihood(
            _scaled_velocity, {"w": 1.0}, schedules.cosine_schedule(10), x0, **kwargs
        )


def _linear_flow(dim, seed=0):
    """``v = A x`` with a dense ``A`` and its exact answer: the flow from 0 to 1 is
    ``x_1 = expm(A) x_0`` and ``log p_0(x_0) = log N(x_1; 0, I) + tr A`` (Chen et al.
    2018, eq. 4), in float64 numpy."""
    from scipy.linalg import expm

    a = np.random.default_rng(seed).normal(size=(dim, dim)) * 0.4 / np.sqrt(dim)
    x0 = np.random.default_rng(seed + 1).normal(size=(128, dim))
    x1 = x0 @ expm(a).T
    want = (-0.5 * np.sum(x1**2, 1) - 0.5 * dim * np.log(2 * np.pi) + np.trace(a)) / dim

    def apply_fn(params, x, t):
        return x @ jnp.asarray(a, x.dtype).T

    return apply_fn, jnp.asarray(x0), want


def test_flow_hutchinson_is_unbiased_within_its_reported_error_at_64_dimensions(x64):
    """At 64 dimensions the exact trace matches the closed form; Hutchinson's estimate of
    the mean log-likelihood lies within 3 of its reported standard errors of it, over 12
    keys the spread of the estimates matches the reported error (ratio 0.6-1.6), and the
    error is not 0. Probes of the wrong scale (the normalisation dropped) fail it."""
    sched = schedules.cosine_schedule(10)
    apply_fn, x0, want = _linear_flow(64)
    exact = likelihood.flow_log_likelihood(apply_fn, None, sched, x0, steps=8)
    np.testing.assert_allclose(np.asarray(exact), want, atol=1e-6)

    def estimates():
        means, errors = [], []
        for k in range(12):
            value, se = likelihood.flow_log_likelihood(
                apply_fn, None, sched, x0, steps=8, trace="hutchinson",
                key=jax.random.key(k), return_error=True,
            )  # fmt: skip
            means.append(float(jnp.mean(value)))
            errors.append(float(jnp.sqrt(jnp.sum(se**2))) / x0.shape[0])
        return np.array(means), np.array(errors)

    means, errors = estimates()
    assert np.all(errors > 0)
    assert np.all(np.abs(means - want.mean()) < 3 * errors)
    assert 0.6 < means.std(ddof=1) / errors.mean() < 1.6
    real = likelihood.traces.probes
    try:
        likelihood.traces.probes = lambda *a, **k: 1.5 * real(*a, **k)
        wrong, wrong_errors = estimates()
    finally:
        likelihood.traces.probes = real
    assert not np.all(np.abs(wrong - want.mean()) < 3 * wrong_errors)


def _anisotropic_eps(schedule, mu, cov):
    """``ε*(x, u) = s (a² Σ + s² I)⁻¹ (x - a μ)`` for data ``N(μ, Σ)`` at continuous step
    ``u`` (``ᾱ(u)`` log-linear between steps, float64 numpy): the optimal denoiser."""
    log_abar = np.concatenate(
        [[0.0], np.log(np.cumprod(1 - np.asarray(schedule.betas, np.float64)))]
    )
    grid = np.arange(-1, len(log_abar) - 1, dtype=np.float64)
    vals, vecs = np.linalg.eigh(cov)

    def apply_fn(params, x, u):
        abar = jnp.exp(jnp.interp(u, grid, log_abar))
        a, s = jnp.sqrt(abar), jnp.sqrt(1.0 - abar)
        inv = (vecs / (a**2 * vals + s**2)) @ vecs.T
        return s * (x - a * mu) @ inv

    return apply_fn


def test_ddpm_ode_hutchinson_matches_the_exact_trace_on_correlated_gaussian_data(x64):
    """Data ``N(μ, Σ)`` of 12 correlated columns: the exact trace gives the closed-form
    density within 0.002 nats/dim; Hutchinson's estimate (same solve, probes from a key)
    lies within 3 reported standard errors of it, and its error is not 0."""
    from scipy.stats import multivariate_normal

    dim = 12
    rng = np.random.default_rng(4)
    root = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    cov, mu = root @ root.T + 0.2 * np.eye(dim), rng.normal(size=dim) * 0.3
    x0 = rng.multivariate_normal(mu, cov, size=64)
    want = multivariate_normal(mu, cov).logpdf(x0) / dim
    sched = schedules.cosine_schedule(200)
    apply_fn = _anisotropic_eps(sched, mu, cov)
    exact = likelihood.ode_log_likelihood(apply_fn, None, sched, jnp.asarray(x0))
    np.testing.assert_allclose(np.asarray(exact), want, atol=2e-3)
    value, se = likelihood.ode_log_likelihood(
        apply_fn, None, sched, jnp.asarray(x0), trace="hutchinson",
        key=jax.random.key(0), probes=4, return_error=True,
    )  # fmt: skip
    assert float(jnp.min(se)) > 0
    total = float(jnp.sqrt(jnp.sum(se**2))) / x0.shape[0]
    assert abs(float(jnp.mean(value) - jnp.mean(exact))) < 3 * total


def test_hutchinson_needs_a_key_and_a_known_trace():
    sched = schedules.cosine_schedule(10)
    x0 = jnp.zeros((2, 2), jnp.float32)
    with pytest.raises(ValueError, match=r"^key is required for trace 'hutchinson'"):
        likelihood.flow_log_likelihood(_scaled_velocity, {"w": 1.0}, sched, x0, trace="hutchinson")
    with pytest.raises(ValueError, match="trace must be one of"):
        likelihood.ode_log_likelihood(lambda p, x, t: x, None, sched, x0, trace="approx")


def test_ode_on_an_even_grid_of_fewer_steps(x64):
    """``steps`` even RK4 steps over ``[0, T-1]``: 999 of them give the segment-aligned
    solve's values; at 50 each row is within 0.005 nats/dim of the Gaussian density and
    their mean within 2e-4 (measured: 0.0029 and 4.2e-5); at 2 the mean is not."""
    sched = schedules.cosine_schedule(1000)
    x0 = MU + C * jax.random.normal(jax.random.key(0), (128, 2), jnp.float64)
    want = _gaussian_log_density(np.asarray(x0), MU, C**2).mean(axis=1)
    apply_fn = _star_continuous(sched, MU, C)
    aligned = likelihood.ode_log_likelihood(apply_fn, None, sched, x0)
    even = likelihood.ode_log_likelihood(apply_fn, None, sched, x0, steps=999)
    np.testing.assert_allclose(np.asarray(even), np.asarray(aligned), atol=1e-9)
    few = np.asarray(likelihood.ode_log_likelihood(apply_fn, None, sched, x0, steps=50))
    np.testing.assert_allclose(few, want, atol=5e-3)
    assert abs(np.mean(few - want)) < 2e-4
    two = np.asarray(likelihood.ode_log_likelihood(apply_fn, None, sched, x0, steps=2))
    assert abs(np.mean(two - want)) > 2e-4


def test_steps_and_substeps_are_not_both_given():
    sched = schedules.cosine_schedule(10)
    with pytest.raises(ValueError, match="give steps or substeps, not both"):
        likelihood.ode_log_likelihood(
            lambda p, x, t: x, None, sched, jnp.zeros((2, 2)), steps=4, substeps=2
        )
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        likelihood.ode_log_likelihood(lambda p, x, t: x, None, sched, jnp.zeros((2, 2)), steps=0)


# A conditional model: data N(μ_c, C²) given its condition c, a class label (μ = MEANS[c])
# or a one-column context row (μ = c), with the exact output written from the closed form.
MEANS = np.array([-1.0, 1.5])


def _mean_of(cond):
    if cond is None:  # a condition dropped on the way: the model sees none
        return 0.0
    if jnp.issubdtype(cond.dtype, jnp.integer):
        return jnp.asarray(MEANS)[cond][:, None]
    return cond


def _star_given(schedule):
    """``ε*(x, u | c)`` of the probability-flow ODE at continuous step ``u``."""
    log_abar = np.concatenate(
        [[0.0], np.log(np.cumprod(1 - np.asarray(schedule.betas, np.float64)))]
    )
    grid = np.arange(-1, len(log_abar) - 1, dtype=np.float64)

    def apply_fn(params, x, u, cond=None):
        abar = jnp.exp(jnp.interp(u, grid, log_abar))
        return star_output(jnp.sqrt(abar), jnp.sqrt(1.0 - abar), x, _mean_of(cond), C)

    return apply_fn


def _velocity_given(num_steps):
    """``v*(x, t | c) = p x + q`` on the flow's path (oracles.flow_velocity_coefficients)."""

    def apply_fn(params, x, t_net, cond=None):
        t = jnp.asarray(t_net, x.dtype) / (num_steps - 1)
        p, q = flow_velocity_coefficients(t, _mean_of(cond), C)
        return p * x + q

    return apply_fn


@pytest.mark.parametrize("family", ["ddpm", "flow"])
@pytest.mark.parametrize("given", ["labels", "context"])
def test_a_conditional_likelihood_is_the_density_given_each_rows_condition(x64, family, given):
    """Rows of two conditions, each ``N(μ_c, C²)``: the log-likelihood given each row's
    own condition (labels, or a context row) is the closed-form density within 0.001
    nats/dim, for the diffusion's ODE and the flow's; given the other row's condition, or
    none, it is not."""
    n = 32
    labels = np.repeat([0, 1], n // 2)
    mu = MEANS[labels][:, None]
    x0 = jnp.asarray(mu + C * np.random.default_rng(0).normal(size=(n, 2)))
    want = _gaussian_log_density(np.asarray(x0), mu, C**2).mean(axis=1)

    def loglik(cond):
        kwargs = (
            {} if cond is None else {given: cond if given == "labels" else MEANS[cond][:, None]}
        )
        if family == "ddpm":
            sched = schedules.cosine_schedule(1000)
            return likelihood.ode_log_likelihood(_star_given(sched), None, sched, x0, **kwargs)
        sched = schedules.cosine_schedule(100)
        return likelihood.flow_log_likelihood(
            _velocity_given(100), None, sched, x0, steps=64, **kwargs
        )

    np.testing.assert_allclose(np.asarray(loglik(labels)), want, atol=1e-3)
    swapped = np.asarray(loglik(1 - labels))
    assert np.all(swapped < want - 0.5)
    unconditional = np.asarray(loglik(None))  # the model given no condition: μ = 0
    assert np.all(np.abs(unconditional - want) > 0.05)
