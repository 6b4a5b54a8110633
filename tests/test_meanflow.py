"""MeanFlow (jaxdiff.flow.meanflow, flow_solvers.mean_chain, the interval input of the
network) against the exact average velocity of Gaussian data (EQUATIONS.md, "MeanFlow";
tests/oracles.py) and closed forms."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from oracles import (
    flow_average_velocity_apply,
    flow_average_velocity_coefficient,
    flow_velocity_apply,
    meanflow_loss_minimum,
)

from jaxdiff.core import apply, models
from jaxdiff.ddpm import schedules
from jaxdiff.engine import sampler_settings, samplers, train_spec
from jaxdiff.flow import flows, meanflow

T = 1000
MU, C = 0.4, 0.5


@functools.cache
def _sched():
    return schedules.cosine_schedule(T)


def _u(apply_fn):
    return meanflow.average_velocity(apply_fn, None, _sched())


def test_the_identity_holds_for_the_exact_average_velocity(x64_standard):
    """``u = v - (t - r)(v ∂_z u + ∂_t u)`` (Geng et al. 2025, eq. 6, 8) for the exact
    ``u`` and the flow's own velocity ``v``, to float64 rounding; the instantaneous
    velocity in place of ``u`` (what a model without the interval learns) misses it."""
    key = jax.random.key(0)
    n = 64
    z = jax.random.normal(key, (n, 2), jnp.float64)
    a = jax.random.uniform(jax.random.key(1), (2, n), jnp.float64)
    r, t = jnp.min(a, axis=0), jnp.max(a, axis=0)
    v = flow_velocity_apply(T, MU, C)(None, z, flows.network_time(t, _sched()))
    pred, target = meanflow.meanflow_target(_u(flow_average_velocity_apply(T, MU, C)), z, r, t, v)
    np.testing.assert_allclose(pred, target, rtol=0, atol=1e-12)

    def instantaneous(params, x, t_net, interval=0.0):
        return flow_velocity_apply(T, MU, C)(params, x, t_net)

    pred, target = meanflow.meanflow_target(_u(instantaneous), z, r, t, v)
    assert float(jnp.max(jnp.abs(pred - target))) > 0.05


@pytest.mark.parametrize("ratio", [1.0, meanflow.RATIO])
def test_loss_of_the_exact_average_velocity_is_its_closed_form(x64_standard, ratio):
    """With independent pairs the loss of the exact ``u`` is ``c² σ_r²/σ_t⁴`` per
    coordinate at each row's ``(r, t)`` (tests/oracles.py), within 4 standard errors of
    the Monte Carlo mean; the average velocity for the wrong spread (c × 1.3) is caught.
    (The flow's instantaneous velocity is not: these paths are so nearly straight that
    its loss is within 1e-4 of the minimum; the identity test above tells them apart.)"""
    n = 200_000
    x0 = MU + C * jax.random.normal(jax.random.key(2), (n, 2), jnp.float64)
    keys = jax.random.split(jax.random.key(3), 4)

    def loss(apply_fn):
        return np.array(
            [float(meanflow.meanflow_loss(k, apply_fn, None, _sched(), x0, ratio=ratio))
             for k in keys]
        )  # fmt: skip

    per_row = [
        meanflow_loss_minimum(C, *meanflow.time_pairs(jax.random.split(k, 3)[0], n, ratio=ratio))
        for k in keys
    ]
    want = float(np.mean(per_row))
    se = np.sqrt(2.0 * np.mean(np.square(per_row)) / (2 * n * len(keys)))
    got = loss(flow_average_velocity_apply(T, MU, C)).mean()
    assert abs(got - want) < 4 * se, (got, want, se)

    wrong = loss(flow_average_velocity_apply(T, MU, 1.3 * C)).mean()
    assert abs(wrong - want) > 4 * se, (wrong, want, se)


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_mean_chain_with_the_exact_average_velocity_is_the_exact_transport(x64_standard, steps):
    """``K`` steps ``x ← x - (t - r) u(x, r, t)`` of the exact ``u`` carry ``x_1`` to the
    exact ``μ + c x_1`` at any ``K``; one Euler step of the same model (the interval left
    at 0: the instantaneous velocity) does not."""
    x1 = jax.random.normal(jax.random.key(4), (256, 2), jnp.float64)
    apply_fn = flow_average_velocity_apply(T, MU, C)

    def run(method, k):
        opts = sampler_settings.SamplerOptions(method=method, steps=k, target=flows.TARGET)
        return samplers.sample(jax.random.key(0), apply_fn, None, _sched(), x1.shape, opts,
                               x_T=x1)  # fmt: skip

    np.testing.assert_allclose(run("mean", steps), MU + C * x1, rtol=0, atol=1e-12)
    assert sampler_settings.SamplerOptions("mean", steps, target=flows.TARGET).evaluations == steps
    assert float(jnp.max(jnp.abs(run("euler", 1) - (MU + C * x1)))) > 0.1


def test_time_pairs_have_their_law():
    """``r ≤ t``; ``r < t`` on a fraction ``ratio`` of rows (binomial, 4σ; 0.5 caught);
    ``t`` is the larger of two uniform draws on every row (CDF ``t²``, KS; uniform
    caught)."""
    n, ratio = 40_000, 0.3
    r, t = meanflow.time_pairs(jax.random.key(5), n, ratio=ratio)
    r, t = np.asarray(r), np.asarray(t)
    assert np.all(r <= t) and np.all((r >= 0) & (t <= 1))
    apart = np.mean(r < t)
    sd = np.sqrt(ratio * (1 - ratio) / n)
    assert abs(apart - ratio) < 4 * sd and abs(apart - 0.5) > 4 * sd
    assert scipy.stats.kstest(t, lambda q: np.clip(q, 0, 1) ** 2).pvalue > 1e-3
    assert scipy.stats.kstest(t, "uniform").pvalue < 1e-6
    with pytest.raises(ValueError, match="ratio"):
        meanflow.time_pairs(jax.random.key(5), 4, ratio=1.5)


@pytest.mark.parametrize("embedding", ["table", "sinusoidal"])
def test_the_interval_input_of_the_network(embedding):
    """An interval model's output depends on its interval, no interval is interval 0,
    and a model built without one refuses it (one line naming it)."""
    cfg = models.NetworkConfig(time_embedding=embedding, interval=True)
    apply_fn, params = apply.functional(models.MLPDenoiser(num_steps=T, config=cfg),
                                         jax.random.key(0))  # fmt: skip
    x = jax.random.normal(jax.random.key(1), (8, 2))
    t = jnp.full((8,), 700.0)
    base = apply_fn(params, x, t)
    np.testing.assert_array_equal(apply_fn(params, x, t, interval=jnp.zeros(8)), base)
    assert float(jnp.max(jnp.abs(apply_fn(params, x, t, interval=300.0) - base))) > 1e-3
    plain, plain_params = apply.functional(models.MLPDenoiser(num_steps=T), jax.random.key(0))
    with pytest.raises(ValueError, match="interval"):
        plain(plain_params, x, t, interval=1.0)
    with pytest.raises(ValueError, match="interval"):
        models.NetworkConfig(interval="yes")
    opts = sampler_settings.SamplerOptions("mean", 1, target=flows.TARGET)
    with pytest.raises(ValueError, match="method 'mean' needs a MeanFlow model"):
        samplers.sample(jax.random.key(0), plain, plain_params, _sched(), (4, 2), opts)


def test_meanflow_training_refuses_a_model_without_an_interval():
    plain = apply.functional(models.MLPDenoiser(num_steps=100), jax.random.key(0))[0]
    opt = train_spec.make_optimizer(1e-3)
    with pytest.raises(ValueError, match="objective 'meanflow' needs a model that takes an"):
        train_spec.TrainSpec(plain, opt, objective="meanflow")
    with pytest.raises(ValueError, match="pairing is for objectives"):
        train_spec.TrainSpec(plain, opt, objective="ddpm", pairing="ot")


@pytest.mark.slow
def test_meanflow_training_learns():
    """With an interval model, 100 short
    epochs on ``N(1, 0.3²)`` (OT pairs, paired before each epoch; EMA) move one step of the
    mean chain from the untrained model's ``N(0, 1)``-like output to the data's mean
    and spread. (The MeanFlow loss is no measure of progress: its target moves with
    the network, and here it rises as the network's time derivative grows.)"""
    from jaxdiff.engine import fitting

    opt = train_spec.make_optimizer(1e-3)
    # Two steps: the network sees t itself (flows.network_time), whose time derivative
    # the target carries; at t · 999 that derivative is large and training unsettled.
    sched = schedules.cosine_schedule(2)
    cfg = models.NetworkConfig(time_embedding="sinusoidal", interval=True)
    apply_fn, params = apply.functional(
        models.MLPDenoiser(num_steps=2, config=cfg), jax.random.key(0)
    )
    spec = train_spec.TrainSpec(apply_fn, opt, batch_size=64, objective="meanflow",
                              t_sampler="logit_normal", pairing="ot", ema_decay=0.99)  # fmt: skip
    data = jax.random.normal(jax.random.key(2), (512, 2)) * 0.3 + 1.0
    opts = sampler_settings.SamplerOptions("mean", 1, target=flows.TARGET)

    def one_step(p):
        x = samplers.sample(jax.random.key(9), apply_fn, p, sched, (4000, 2), opts)
        return np.asarray(x.mean(0)), np.asarray(x.std(0))

    mean, std = one_step(params)
    assert np.all(np.abs(mean - 1.0) > 0.5) and np.all(std > 0.6)
    state = train_spec.init_state(jax.random.key(1), params, opt, ema=True)
    state, _ = fitting.fit_state(state, data, spec=spec, schedule=sched, epochs=100)
    mean, std = one_step(state.ema_params)
    assert np.all(np.abs(mean - 1.0) < 0.1) and np.all(np.abs(std - 0.3) < 0.1), (mean, std)


MEANS = np.array([-1.0, 1.5])  # each class's mean


def _conditional_u(params, x, t_net, label=None, interval=0.0):
    """The exact average velocity of class-conditional data ``N(MEANS[label], C²)``
    (``label`` None: a model given no class, mean 0); it reads ``params``."""
    mu = 0.0 if label is None else jnp.asarray(MEANS)[label][:, None]
    t = jnp.asarray(t_net, x.dtype) / (T - 1)
    r = t - jnp.asarray(interval, x.dtype) / (T - 1)
    if jnp.ndim(t):
        t, r = t[:, None], r[:, None]
    return params["scale"] * (-mu + flow_average_velocity_coefficient(r, t, C) * (x - (1 - t) * mu))


def test_a_conditional_meanflow_loss_reaches_its_minimum_only_given_the_labels(x64_standard):
    """Two classes: the exact conditional average velocity given each row's label scores
    the closed-form minimum (within 4 standard errors); the same rows trained on the null
    label (label_drop 1) score far above it; no label_drop is label_drop 0; a ratio
    outside [0, 1] is refused by name."""
    n = 100_000
    labels = jnp.asarray(np.repeat([0, 1], n // 2))
    x0 = jnp.asarray(MEANS[np.asarray(labels)][:, None]) + C * jax.random.normal(
        jax.random.key(4), (n, 2), jnp.float64
    )
    key, params = jax.random.key(5), {"scale": 1.0}

    def loss(**kwargs):
        return float(
            meanflow.meanflow_loss(
                key, _conditional_u, params, _sched(), x0, labels=labels, **kwargs
            )
        )

    per_row = meanflow_loss_minimum(C, *meanflow.time_pairs(jax.random.split(key, 3)[0], n))
    want = float(np.mean(per_row))
    se = np.sqrt(2.0 * np.mean(np.square(per_row)) / (2 * n))
    got = loss()
    assert abs(got - want) < 4 * se, (got, want, se)
    assert got == loss(label_drop=0.0)
    assert loss(label_drop=1.0) > want + 100 * se
    with pytest.raises(ValueError, match=r"^ratio must be"):
        meanflow.time_pairs(key, 4, ratio=1.5)
