"""Conditioning on a context vector: the network's context input and its null, the dropped
conditions of classifier-free guidance, sampling and likelihoods given a context, and OT
pairing under a context; against the closed-form posterior of Gaussian (θ, x)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from jaxdiff.core import apply, conditions, models
from jaxdiff.ddpm import schedules
from jaxdiff.engine import fitting, likelihood, sampler_settings, samplers, train_spec
from jaxdiff.flow import flows

# θ ~ N(0, I₂), x = A θ + N(0, S2 I₂): the posterior p(θ | x) is N(C Aᵀ x / S2, C) with
# C = (I + Aᵀ A / S2)⁻¹ (Bishop 2006, eq. 2.116-2.117).
A = np.array([[1.0, 0.5], [-0.3, 0.8]])
S2 = 0.25
COV = np.linalg.inv(np.eye(2) + A.T @ A / S2)
FAR = np.array([1.5, -1.0], np.float32)  # an observation away from the prior's mean


def posterior_mean(x):
    return np.asarray(x, np.float64) @ (COV @ A.T / S2).T


def simulate(n, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n, 2))
    x = theta @ A.T + np.sqrt(S2) * rng.normal(size=(n, 2))
    return theta.astype(np.float32), x.astype(np.float32)


def exact_denoiser(schedule):
    """``ε*(θ, t | x) = s (a² C + s² I)⁻¹ (θ - a m(x))`` (float64 constants): the optimal
    noise prediction of the posterior at step ``t``, a context model's ideal; between
    steps (the likelihood's ODE) ``log ᾱ`` linear between its integer steps, ᾱ(-1) = 1."""
    log_abar = np.concatenate([[0.0], np.cumsum(np.log1p(-np.asarray(schedule.betas, np.float64)))])
    grid = np.arange(-1, len(log_abar) - 1, dtype=np.float64)
    vals, vecs = np.linalg.eigh(COV)
    gain = jnp.asarray(COV @ A.T / S2)

    def apply_fn(params, theta, t, x):
        ab = jnp.exp(jnp.interp(jnp.asarray(t, jnp.float32), grid, log_abar))[..., None]
        a, s = jnp.sqrt(ab), jnp.sqrt(1.0 - ab)
        mean = jnp.broadcast_to(x, theta.shape) @ gain.T
        z = (theta - a * mean) @ vecs  # in the eigenbasis of C, one scale per direction
        return params["scale"] * s * (z / (a**2 * vals + s**2)) @ vecs.T

    return apply_fn


def net(context=2, **kw):
    cfg = models.NetworkConfig(
        width=64, depth=2, time_embedding="sinusoidal", residual=True, init_style="flax", **kw
    )
    return models.MLPDenoiser(data_dim=2, num_steps=100, context=context, config=cfg)


# --- the network's context input ----------------------------------------------------------


def test_null_context_is_a_nan_row_or_none():
    apply_fn, params = apply.functional(net(), jax.random.key(0))
    x, t = jnp.ones((3, 2)), jnp.array([1, 5, 9])
    nan = jnp.full((3, 2), jnp.nan)
    none = apply_fn(params, x, t)
    np.testing.assert_array_equal(apply_fn(params, x, t, nan), none)
    c = jnp.array([[0.5, -1.0], [np.nan, 0.0], [2.0, 1.0]])
    mixed = apply_fn(params, x, t, c)
    np.testing.assert_array_equal(mixed[1], none[1])  # a row with any NaN is null
    assert not np.allclose(mixed[0], none[0]) and not np.allclose(mixed[0], mixed[2])


def test_one_context_broadcasts_to_every_row():
    apply_fn, params = apply.functional(net(), jax.random.key(0))
    x, t = jax.random.normal(jax.random.key(1), (4, 2)), jnp.arange(4)
    c = jnp.array([0.3, -0.7])
    np.testing.assert_array_equal(
        apply_fn(params, x, t, c), apply_fn(params, x, t, jnp.tile(c, (4, 1)))
    )


def test_context_model_refuses_what_does_not_fit():
    apply_fn, params = apply.functional(net(), jax.random.key(0))
    x, t = jnp.ones((3, 2)), jnp.zeros(3, jnp.int32)
    with pytest.raises(ValueError, match="context must have 2 columns"):
        apply_fn(params, x, t, jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="not both"):
        apply.functional(
            models.MLPDenoiser(data_dim=2, num_classes=3, context=2), jax.random.key(0)
        )
    with pytest.raises(ValueError, match="context must be floats"):
        apply.check_fits(apply_fn, labels=np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"shape \(2,\) or \(n, 2\)"):
        apply.check_fits(apply_fn, labels=np.ones((3, 5), np.float32))
    with pytest.raises(ValueError, match="needs a context"):
        apply.check_fits(apply_fn, labels=None, context_required=True)
    with pytest.raises(ValueError, match="labels or context, not both"):
        conditions.pick(np.array([0]), np.array([[0.0]]))


# --- dropped conditions -------------------------------------------------------------------


def test_drop_nulls_whole_rows_at_its_rate():
    key = jax.random.key(3)
    c = jax.random.normal(jax.random.key(4), (20_000, 3))
    out = np.asarray(conditions.drop(key, c, 0.3))
    null = np.isnan(out)
    assert (null.all(axis=1) == null.any(axis=1)).all()  # whole rows
    assert abs(null[:, 0].mean() - 0.3) < 0.015
    np.testing.assert_array_equal(out[~null[:, 0]], np.asarray(c)[~null[:, 0]])
    np.testing.assert_array_equal(conditions.drop(key, c, 0.0), c)
    assert np.isnan(np.asarray(conditions.drop(key, c, 1.0))).all()


def test_drop_of_labels_is_the_guidance_recipe():
    """Labels: each replaced by -1 with its own Bernoulli draw (Ho & Salimans 2022,
    Algorithm 1), the draw the losses made before contexts existed."""
    key, labels = jax.random.key(5), jnp.arange(1000) % 7
    expected = jnp.where(jax.random.bernoulli(key, 0.2, labels.shape), -1, labels)
    np.testing.assert_array_equal(conditions.drop(key, labels, 0.2), expected)


# --- sampling and likelihoods given a context, with the exact denoiser --------------------


def _moments_ok(draws, x, tol_mean=0.1, tol_var=0.1):
    """Mean within ``tol_mean`` posterior sd of the closed form; variances within
    ``tol_var`` (relative)."""
    sd = np.sqrt(np.diag(COV))
    mean_ok = np.all(np.abs(draws.mean(0) - posterior_mean(x)) < tol_mean * sd)
    var_ok = np.all(np.abs(np.var(draws, axis=0) / np.diag(COV) - 1.0) < tol_var)
    return bool(mean_ok and var_ok)


def test_sampling_given_each_rows_context_with_the_exact_denoiser():
    sched = schedules.linear_schedule(1000)
    apply_fn = exact_denoiser(sched)
    n = 6000
    x = np.repeat(np.array([[0.0, 0.0], FAR]), n // 2, axis=0)
    opts = sampler_settings.SamplerOptions()  # the ancestral chain over all 1000 steps
    draws = np.asarray(
        samplers.sample(
            jax.random.key(0), apply_fn, {"scale": 1.0}, sched, (n, 2), opts, context=x
        ),
        np.float64,
    )
    assert _moments_ok(draws[: n // 2], x[0]) and _moments_ok(draws[n // 2 :], FAR)
    # the plausible wrong answer: every row given the first row's context
    wrong = samplers.sample(
        jax.random.key(0), apply_fn, {"scale": 1.0}, sched, (n, 2), opts, context=x[0]
    )
    assert not _moments_ok(np.asarray(wrong)[n // 2 :], FAR)


def test_likelihood_given_a_context_with_the_exact_denoiser():
    """The probability-flow ODE of the exact denoiser is the posterior's own density: the
    log-likelihood given each row's context matches the closed form."""
    sched = schedules.linear_schedule(200)
    apply_fn = exact_denoiser(sched)
    rng = np.random.default_rng(1)
    x = np.array([[0.0, 0.0], FAR, [-1.0, 0.5]], np.float32)[rng.integers(0, 3, 60)]
    theta = np.stack([rng.multivariate_normal(posterior_mean(xi), COV) for xi in x])
    exact = np.array(
        [
            multivariate_normal(posterior_mean(xi), COV).logpdf(ti)
            for xi, ti in zip(x, theta, strict=True)
        ]
    )
    got = likelihood.ode_log_likelihood(
        apply_fn, {"scale": 1.0}, sched, jnp.asarray(theta, jnp.float32), context=x
    )
    np.testing.assert_allclose(np.asarray(got) * 2, exact, atol=0.02)
    # given the wrong context (the first row's for all), it is far off
    wrong = likelihood.ode_log_likelihood(
        apply_fn, {"scale": 1.0}, sched, jnp.asarray(theta, jnp.float32), context=x[0]
    )
    assert np.max(np.abs(np.asarray(wrong) * 2 - exact)) > 1.0


# --- OT pairing under a context -----------------------------------------------------------


def test_ot_pairs_keep_the_noise_independent_of_the_context():
    """C2OT's skew (Cheng & Schwing 2025, §3): data that follows its context makes plain
    OT hand each context the noise nearest its data, so the paired noise correlates with
    the context; the context term in the cost keeps it near independent."""
    n = 1024
    c = jax.random.normal(jax.random.key(1), (n, 1))
    x0 = c + 0.3 * jax.random.normal(jax.random.key(2), (n, 1))
    eps = jax.random.normal(jax.random.key(3), (n, 1))

    def corr(perm):
        return np.corrcoef(np.asarray(eps[perm])[:, 0], np.asarray(c)[:, 0])[0, 1]

    assert corr(flows.ot_permutation(x0, eps, c)) < 0.15  # measured 0.053
    assert corr(flows.ot_permutation(x0, eps)) > 0.8  # plain OT: measured 0.94
    paired = eps[flows.ot_permutation(x0, eps, c)]
    assert jnp.mean(jnp.square(x0 - paired)) < 0.9 * jnp.mean(jnp.square(x0 - eps))


# --- trained models: conditioning learned -------------------------------------------------


def _train(objective, pairing="independent", label_drop=0.0, epochs=100):
    theta, x = simulate(4000)
    sched = schedules.cosine_schedule(100)
    apply_fn, params = apply.functional(net(), jax.random.key(0))
    opt = train_spec.make_optimizer(2e-3, 1.0)
    spec = train_spec.TrainSpec(
        apply_fn=apply_fn,
        optimizer=opt,
        batch_size=256,
        target="v",
        objective=objective,
        pairing=pairing,
        t_sampler="uniform" if objective == "flow" else "antithetic",
        label_drop=label_drop,
    )
    state = train_spec.init_state(jax.random.key(1), params, opt)
    state, _ = fitting.fit_state(state, theta, spec=spec, schedule=sched, epochs=epochs, context=x)
    opts = sampler_settings.SamplerOptions(
        method="midpoint" if objective == "flow" else "ddim",
        steps=16 if objective == "flow" else 100,
        eta=0.0 if objective == "flow" else 1.0,
        target=flows.TARGET if objective == "flow" else "v",
    )
    return apply_fn, state.params, sched, opts


@pytest.fixture(scope="module", params=[("ddpm", "independent"), ("flow", "ot")])
def trained(request):  # (the slow tier: two trainings of 100 epochs)
    return _train(*request.param)


def _draw(model, x, n=8000):
    apply_fn, params, sched, opts = model
    out = samplers.sample(jax.random.key(7), apply_fn, params, sched, (n, 2), opts, context=x)
    return np.asarray(out, np.float64)


@pytest.mark.slow
def test_trained_posterior_matches_the_closed_form(trained):
    """Measured (100 epochs of 4,000 simulations, constant rate, no EMA): mean errors
    ≤ 0.24 sd, variances within 13%, at the prior's mean and at an observation 1.8 sd
    away (a DDPM; a flow with OT pairs under the context)."""
    for x in (np.zeros(2, np.float32), FAR):
        assert _moments_ok(_draw(trained, x), x, tol_mean=0.3, tol_var=0.3)


@pytest.mark.slow
def test_a_model_that_ignores_its_context_fails_the_same_check():
    ignoring = _train("ddpm", label_drop=1.0, epochs=10)  # always trained on the null
    assert not _moments_ok(_draw(ignoring, FAR), FAR, tol_mean=0.3, tol_var=0.3)


def test_is_context_reads_arrays_and_plain_sequences():
    assert conditions.is_context([1.5, -2.0]) and conditions.is_context(
        np.zeros((2, 3), np.float32)
    )
    assert not conditions.is_context([1, 0]) and not conditions.is_context(jnp.asarray([2, 1]))


def test_broadcast_gives_each_row_its_condition():
    labels = conditions.broadcast(jnp.asarray(2), 3)
    assert labels.shape == (3,)
    np.testing.assert_array_equal(np.asarray(labels), [2, 2, 2])
    given = conditions.broadcast(jnp.asarray([4, 5, 6]), 3)
    np.testing.assert_array_equal(np.asarray(given), [4, 5, 6])
    context = conditions.broadcast(jnp.asarray([0.5, 1.5]), 3)
    np.testing.assert_array_equal(np.asarray(context), [[0.5, 1.5]] * 3)


def test_pick_returns_the_one_condition_given():
    assert conditions.pick(None, None) is None
    labels = jnp.asarray([1, 0])
    assert conditions.pick(labels, None) is labels
    context = jnp.ones((2, 3))
    assert conditions.pick(None, context) is context  # a JAX array passes through (traced too)
    ints = conditions.pick(None, [[1, 2]])  # a context of integers is a float context
    assert ints.dtype == np.float32
    np.testing.assert_array_equal(ints, [[1.0, 2.0]])
    floats = conditions.pick(None, [[0.25]])
    assert floats.dtype == np.float64 and floats[0, 0] == 0.25
    traced = jax.jit(lambda c: conditions.pick(None, c) * 2)(context)
    np.testing.assert_array_equal(np.asarray(traced), 2 * np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^give labels or context, not both: a model takes"):
        conditions.pick(labels, context)
