import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from oracles import ddpm_moments, eps_star_apply

from jaxdiff.core import apply, models
from jaxdiff.ddpm import grids, schedules
from jaxdiff.engine import sampler_settings, samplers


@pytest.fixture(scope="module")
def net():
    return apply.functional(
        models.MLPDenoiser(config=models.NetworkConfig(width=32)), jax.random.key(0)
    )


def test_trajectory_ends_in_sample_and_starts_in_noise(net):
    apply_fn, params = net
    sched = schedules.sigmoid_schedule(15)
    traj = samplers.sample_trajectory(jax.random.key(1), apply_fn, params, sched, (30, 2))
    assert traj.shape == (16, 30, 2)
    x = samplers.sample(jax.random.key(1), apply_fn, params, sched, (30, 2))
    np.testing.assert_allclose(np.asarray(traj[-1]), np.asarray(x), rtol=1e-6, atol=1e-6)
    x_T = jax.random.normal(jax.random.split(jax.random.key(1))[0], (30, 2))
    # The same draw, up to the last bit of the inverse error function: the tests compile
    # with XLA's older CPU emitters (conftest.py), whose fusion may round it differently.
    np.testing.assert_allclose(np.asarray(traj[0]), np.asarray(x_T), rtol=1e-6, atol=1e-7)


def test_same_key_same_bits_and_keys_differ(net):
    apply_fn, params = net
    sched = schedules.sigmoid_schedule(10)
    a = samplers.sample(jax.random.key(1), apply_fn, params, sched, (8, 2))
    b = samplers.sample(jax.random.key(1), apply_fn, params, sched, (8, 2))
    c = samplers.sample(jax.random.key(2), apply_fn, params, sched, (8, 2))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))


@pytest.mark.parametrize(
    "sched_name, c, variance, last",
    [
        ("sigmoid", 0.1, "beta", True),  # the seed's sampler on the seed's data scale
        ("cosine", 0.1, "beta_tilde", False),
        # The other combinations: 400,000 chains each, in the slow tier (CI runs both).
        pytest.param("cosine", 0.1, "beta", False, marks=pytest.mark.slow),
        pytest.param("cosine", 1.0, "beta", True, marks=pytest.mark.slow),
    ],
)
def test_ddpm_matches_exact_affine_gaussian_moments(sched_name, c, variance, last):
    sched = (
        schedules.sigmoid_schedule() if sched_name == "sigmoid" else schedules.cosine_schedule(100)
    )
    mu, n = 0.3, 400_000
    x = np.asarray(
        samplers.sample(
            jax.random.key(11),
            eps_star_apply(sched, mu, c),
            None,
            sched,
            (n, 1),
            sampler_settings.SamplerOptions(variance=variance, last_step_noise=last),
        ),
        np.float64,
    )
    m, v = ddpm_moments(np.asarray(sched.betas, np.float64), mu, c, variance, last)
    assert abs(x.mean() - m) < 5 * np.sqrt(v / n) + 1e-5
    assert x.var() == pytest.approx(v, rel=5 * np.sqrt(2 / n) + 1e-4)


def test_last_step_noise_switch_changes_only_the_last_step(net):
    apply_fn, params = net
    sched = schedules.sigmoid_schedule(10)
    on = samplers.sample_trajectory(jax.random.key(5), apply_fn, params, sched, (20, 2))
    off = samplers.sample_trajectory(
        jax.random.key(5),
        apply_fn,
        params,
        sched,
        (20, 2),
        sampler_settings.SamplerOptions(last_step_noise=False),
    )
    np.testing.assert_allclose(np.asarray(on[:-1]), np.asarray(off[:-1]), rtol=1e-6, atol=1e-6)
    diff = np.asarray(on[-1] - off[-1])
    assert diff.std() == pytest.approx(np.sqrt(float(sched.betas[0])), rel=0.5)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(method="euler"), "method must be one of .*got 'euler'"),
        (dict(variance="big"), "variance must be one of .*got 'big'"),
        (dict(target="score"), "target must be one of .*got 'score'"),
    ],
)
def test_bad_options(net, kw, match):
    apply_fn, params = net
    with pytest.raises(ValueError, match=match):
        opts = sampler_settings.SamplerOptions(**kw)
        samplers.sample(
            jax.random.key(0), apply_fn, params, schedules.sigmoid_schedule(5), (4, 2), opts
        )


@pytest.mark.parametrize("shape", [(-4, 2), (4,), (2,), (4, 2, 1), (4, 2.0), (True, 2), ()])
def test_bad_shape(net, shape):
    """Only (n, dim) with integer n >= 0 is a shape (a 1-D shape of the model's width too)."""
    apply_fn, params = net
    with pytest.raises(ValueError, match=r"shape must be \(n, dim\), two non-negative integers"):
        samplers.sample(jax.random.key(0), apply_fn, params, schedules.sigmoid_schedule(5), shape)


def test_zero_samples_and_a_symbolic_count_are_shapes(net):
    """n = 0 draws an empty array; a symbolic n (jax.export's shape polymorphism, as
    `jaxdiff export` uses) traces."""
    apply_fn, params = net
    sched = schedules.sigmoid_schedule(5)
    empty = samplers.sample(jax.random.key(0), apply_fn, params, sched, (0, 2))
    assert empty.shape == (0, 2)
    (n,) = jax.export.symbolic_shape("n")
    out = jax.eval_shape(
        lambda k: samplers.sample(k, apply_fn, params, sched, (n, 2)), jax.random.key(0)
    )
    assert out.shape == (n, 2)


from oracles import ddim_moments, dpm_solver_moments, grid, jump_grid  # noqa: E402


@pytest.mark.parametrize(
    "eta, steps, spacing",
    [
        (0.0, 10, "trailing"),
        (1.0, 10, "leading"),
        (0.5, 25, "linspace"),
        # Every step of the schedule, deterministic and ancestral: in the slow tier.
        pytest.param(0.0, 100, "trailing", marks=pytest.mark.slow),
        pytest.param(1.0, 100, "trailing", marks=pytest.mark.slow),
    ],
)
def test_ddim_matches_exact_moments(eta, steps, spacing):
    sched = schedules.cosine_schedule(100)
    mu, c, n = 0.3, 0.1, 400_000
    x = np.asarray(
        samplers.sample(
            jax.random.key(4),
            eps_star_apply(sched, mu, c),
            None,
            sched,
            (n, 1),
            sampler_settings.SamplerOptions(method="ddim", eta=eta, steps=steps, spacing=spacing),
        ),
        np.float64,
    )
    ts = grid(spacing, sched.betas, steps)  # written out, not the code under test's grid
    m, v = ddim_moments(np.asarray(sched.betas, np.float64), ts, mu, c, eta)
    assert abs(x.mean() - m) < 5 * np.sqrt(v / n) + 1e-5
    assert x.var() == pytest.approx(v, rel=5 * np.sqrt(2 / n) + 2e-4)


@pytest.mark.parametrize("steps, c", [(5, 1.0), (10, 0.1), (20, 1.0), (50, 0.5)])
def test_dpm_solver_matches_exact_moments(steps, c):
    sched = schedules.cosine_schedule(100)
    mu, n = -0.2, 200_000
    x = np.asarray(
        samplers.sample(
            jax.random.key(6),
            eps_star_apply(sched, mu, c),
            None,
            sched,
            (n, 1),
            sampler_settings.SamplerOptions(method="dpm-solver", steps=steps),
        ),
        np.float64,
    )
    ts = jump_grid("trailing", sched.betas, steps)  # written out, not the code's grid
    m, v = dpm_solver_moments(np.asarray(sched.betas, np.float64), ts, mu, c)
    assert abs(x.mean() - m) < 5 * np.sqrt(v / n) + 1e-4
    assert x.var() == pytest.approx(v, rel=5 * np.sqrt(2 / n) + 5e-4)


def test_ddim_eta1_all_steps_is_ddpm_beta_tilde(net):
    apply_fn, params = net
    sched = schedules.cosine_schedule(30)
    a = samplers.sample(
        jax.random.key(8),
        apply_fn,
        params,
        sched,
        (64, 2),
        sampler_settings.SamplerOptions(method="ddim", eta=1.0, steps=30),
    )
    b = samplers.sample(
        jax.random.key(8),
        apply_fn,
        params,
        sched,
        (64, 2),
        sampler_settings.SamplerOptions(
            method="ddpm", variance="beta_tilde", last_step_noise=False
        ),
    )
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-5)


def test_ddim_eta0_is_deterministic_in_x_T(net):
    apply_fn, params = net
    sched = schedules.cosine_schedule(30)
    x_T = jax.random.normal(jax.random.key(0), (16, 2))
    a = samplers.sample(
        jax.random.key(1),
        apply_fn,
        params,
        sched,
        (16, 2),
        sampler_settings.SamplerOptions(method="ddim", steps=10),
        x_T=x_T,
    )
    b = samplers.sample(
        jax.random.key(2),
        apply_fn,
        params,
        sched,
        (16, 2),
        sampler_settings.SamplerOptions(method="ddim", steps=10),
        x_T=x_T,
    )
    assert np.array_equal(np.asarray(a), np.asarray(b))
    c = samplers.sample(
        jax.random.key(2),
        apply_fn,
        params,
        sched,
        (16, 2),
        sampler_settings.SamplerOptions(method="ddim", steps=10, eta=1.0),
        x_T=x_T,
    )
    assert not np.allclose(np.asarray(a), np.asarray(c))


def test_dpm_solver_many_steps_agrees_with_ddim_many_steps():
    sched = schedules.cosine_schedule(1000)
    apply_fn = eps_star_apply(sched, 0.3, 0.5)
    x_T = jax.random.normal(jax.random.key(0), (256, 1))
    a = samplers.sample(
        jax.random.key(1),
        apply_fn,
        None,
        sched,
        (256, 1),
        sampler_settings.SamplerOptions(method="ddim", steps=1000),
        x_T=x_T,
    )
    b = samplers.sample(
        jax.random.key(1),
        apply_fn,
        None,
        sched,
        (256, 1),
        sampler_settings.SamplerOptions(method="dpm-solver", steps=1000),
        x_T=x_T,
    )
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=5e-3)


@pytest.mark.parametrize(
    "method", ["ddim", "dpm-solver", "sde-dpm-solver", "dpm-solver-3m", "heun", "restart"]
)
def test_fast_sampler_trajectories(net, method):
    apply_fn, params = net
    sched = schedules.cosine_schedule(40)
    traj = samplers.sample_trajectory(
        jax.random.key(2),
        apply_fn,
        params,
        sched,
        (8, 2),
        sampler_settings.SamplerOptions(method=method, steps=5),
    )
    x = samplers.sample(
        jax.random.key(2),
        apply_fn,
        params,
        sched,
        (8, 2),
        sampler_settings.SamplerOptions(method=method, steps=5),
    )
    assert traj.shape == (6, 8, 2)  # x_T, then one state per grid point
    x_T = jax.random.normal(jax.random.split(jax.random.key(2))[0], (8, 2))  # as documented
    np.testing.assert_array_equal(np.asarray(traj[0]), np.asarray(x_T))
    np.testing.assert_allclose(np.asarray(traj[-1]), np.asarray(x), rtol=1e-5, atol=1e-6)
    assert len({np.asarray(state).tobytes() for state in traj}) == 6  # every state moved


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(method="ddim", steps=31), "steps must be at most the schedule's 30 steps, got 31"),
        (dict(method="ddim", steps=0), "steps must be a positive integer, got 0"),
        (dict(method="ddim", eta=1.5), r"eta must be a number in \[0, 1\], got 1.5"),
        (dict(method="ddim", eta=-0.1), r"eta must be a number in \[0, 1\]"),
        (dict(method="ddpm", steps=10), "steps must be 30 .* for method 'ddpm', got 10"),
        (dict(method="heun", churn=-1.0), r"churn must be >= 0.0, got -1.0"),
        (dict(spacing="random"), "spacing must be one of"),
        (dict(cfg_scale=2.0), "unexpected keyword argument 'cfg_scale'"),
    ],
)
def test_bad_fast_sampler_options(net, kw, match):
    apply_fn, params = net
    with pytest.raises((ValueError, TypeError), match=match):
        opts = sampler_settings.SamplerOptions(**kw)
        samplers.sample(
            jax.random.key(0), apply_fn, params, schedules.cosine_schedule(30), (4, 2), opts
        )


C = 3


@pytest.fixture(scope="module")
def cond():
    apply_fn, params = apply.functional(models.MLPDenoiser(num_classes=C), jax.random.key(0))
    return apply_fn, params, schedules.cosine_schedule(50)


@dataclasses.dataclass(frozen=True)
class _Bound:
    """The test's own conditional apply_fn for fixed labels and weight: the plain sampler
    on it is the reference for the library's guided sampling."""

    apply_fn: object
    labels: tuple
    w: float | None

    def __call__(self, params, x, t):
        c = jnp.asarray(self.labels, jnp.int32)
        cond = self.apply_fn(params, x, t, c)
        if self.w is None:
            return cond
        return (1 + self.w) * cond - self.w * self.apply_fn(params, x, t, jnp.full_like(c, -1))


METHODS = [("ddpm", None), ("ddim", 10), ("dpm-solver", 8)]


@pytest.mark.parametrize("method, steps", METHODS)
def test_guidance_zero_is_the_conditional_model_unguided(cond, method, steps):
    apply_fn, params, sched = cond
    labels = (0, 1, 2, 1, 0, 2)
    opts = sampler_settings.SamplerOptions(method=method, steps=steps)
    key = jax.random.key(5)
    got = samplers.sample(key, apply_fn, params, sched, (6, 2), opts, labels=jnp.array(labels))
    want = samplers.sample(key, _Bound(apply_fn, labels, None), params, sched, (6, 2), opts)
    np.testing.assert_array_equal(got, want)
    # And no label at all is the unconditional model: guidance -1 with any labels.
    plain = samplers.sample(key, apply_fn, params, sched, (6, 2), opts)
    minus = samplers.sample(
        key, apply_fn, params, sched, (6, 2), opts.replace(guidance=-1.0), labels=1
    )
    np.testing.assert_allclose(plain, minus, atol=1e-6)


@pytest.mark.parametrize("method, steps", METHODS)
def test_guidance_w_follows_ho_salimans_eq_6(cond, method, steps):
    apply_fn, params, sched = cond
    labels = (2, 0, 1, 1)
    opts = sampler_settings.SamplerOptions(method=method, steps=steps, target="v")
    key = jax.random.key(6)
    got = samplers.sample(
        key, apply_fn, params, sched, (4, 2), opts.replace(guidance=2.5), labels=jnp.array(labels)
    )
    want = samplers.sample(key, _Bound(apply_fn, labels, 2.5), params, sched, (4, 2), opts)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    unguided = samplers.sample(key, apply_fn, params, sched, (4, 2), opts, labels=jnp.array(labels))
    assert not np.allclose(got, unguided)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(guidance=2.0), "guidance 2.0 needs labels"),
        (dict(labels=3), r"labels must be in \[0, 3\) or -1"),
        (dict(labels=np.zeros(5, np.int32)), r"one per sample, shape \(4,\)"),
        (dict(labels=1, guidance=float("nan")), "guidance must be a finite number"),
    ],
)
def test_bad_labels_and_guidance(cond, kw, match):
    apply_fn, params, sched = cond
    with pytest.raises(ValueError, match=match):
        opts = sampler_settings.SamplerOptions(guidance=kw.get("guidance", 0.0))
        samplers.sample(
            jax.random.key(0), apply_fn, params, sched, (4, 2), opts, labels=kw.get("labels")
        )


def test_unconditional_models_refuse_labels():
    apply_fn, params = apply.functional(models.MLPDenoiser(), jax.random.key(0))
    with pytest.raises(ValueError, match="labels were given but the model is unconditional"):
        samplers.sample(
            jax.random.key(0), apply_fn, params, schedules.cosine_schedule(10), (4, 2), labels=0
        )


@pytest.mark.parametrize(
    "method, steps, c, spacing",
    [
        ("sde-dpm-solver", 5, 1.0, "trailing"),
        ("sde-dpm-solver", 10, 0.1, "logsnr"),
        ("dpm-solver-3m", 4, 1.0, "trailing"),
        ("dpm-solver-3m", 10, 0.5, "logsnr"),
        ("heun", 4, 1.0, "karras"),
        ("heun", 10, 0.3, "karras"),
        ("dpm-solver", 8, 0.5, "logsnr"),
    ],
)
def test_higher_order_solvers_match_exact_moments(method, steps, c, spacing):
    from oracles import dpm_3m_moments, heun_moments, jump_grid, sde_dpm_moments

    sched = schedules.cosine_schedule(100)
    mu, n = 0.2, 400_000
    opts = sampler_settings.SamplerOptions(method=method, steps=steps, spacing=spacing)
    x = samplers.sample(jax.random.key(12), eps_star_apply(sched, mu, c), None, sched, (n, 1), opts)
    x = np.asarray(x, np.float64)
    betas = np.asarray(sched.betas, np.float64)
    ts = jump_grid(spacing, betas, steps)  # written out, not the code under test's grid
    oracle = {
        "sde-dpm-solver": sde_dpm_moments,
        "dpm-solver-3m": dpm_3m_moments,
        "heun": heun_moments,
        "dpm-solver": lambda b, ts, mu, c: dpm_solver_moments(b, np.asarray(ts), mu, c),
    }[method]
    m, v = oracle(betas, ts, mu, c)
    assert abs(x.mean() - m) < 5 * np.sqrt(v / n) + 1e-4, (x.mean(), m)
    assert x.var() == pytest.approx(v, rel=5 * np.sqrt(2 / n) + 1e-3), (x.var(), v)


def test_heun_churn_matches_exact_moments_and_adds_spread():
    """Heun on its default grid, Karras σ spacing: the oracle's grid is written out, so a
    default spacing other than karras fails (trailing does: its moments are the wrong
    answer below)."""
    from oracles import heun_moments, jump_grid

    sched = schedules.cosine_schedule(100)
    mu, c, n = 0.0, 0.1, 400_000
    opts = sampler_settings.SamplerOptions(method="heun", steps=6, churn=4.0)  # the default spacing
    x = np.asarray(
        samplers.sample(jax.random.key(3), eps_star_apply(sched, mu, c), None, sched, (n, 1), opts),
        np.float64,
    )
    betas = np.asarray(sched.betas, np.float64)
    ts = jump_grid("karras", betas, 6)
    _, v_wrong = heun_moments(betas, jump_grid("trailing", betas, 6), mu, c, churn=4.0)
    assert abs(x.var() - v_wrong) > 10 * np.sqrt(2 / n) * v_wrong  # trailing is told apart
    m, v = heun_moments(np.asarray(sched.betas, np.float64), ts, mu, c, churn=4.0)
    _, v0 = heun_moments(np.asarray(sched.betas, np.float64), ts, mu, c)
    assert v > v0 * 1.01  # the churn's noise keeps spread the ODE loses at few steps
    assert abs(x.mean() - m) < 5 * np.sqrt(v / n) + 1e-4
    assert x.var() == pytest.approx(v, rel=5 * np.sqrt(2 / n) + 1e-3)


@pytest.mark.parametrize("steps, churn", [(20, 3.0), (20, 12.0)])
def test_heun_churn_down_to_small_sigma(steps, churn):
    """Churn on a grid whose last steps have σ < 1 (γ = 0.15, then γ at its cap √2 - 1):
    exact moments, told apart from no churn and from γ = churn (not churn / K)."""
    from oracles import heun_moments, jump_grid

    sched = schedules.cosine_schedule(100)
    c, n = 0.1, 400_000
    opts = sampler_settings.SamplerOptions(
        method="heun", steps=steps, churn=churn, spacing="karras"
    )
    x = np.asarray(
        samplers.sample(
            jax.random.key(4), eps_star_apply(sched, 0.0, c), None, sched, (n, 1), opts
        ),
        np.float64,
    )
    betas = np.asarray(sched.betas, np.float64)
    ts = jump_grid("karras", betas, steps)
    _, v = heun_moments(betas, ts, 0.0, c, churn=churn)
    tol = 5 * np.sqrt(2 / n) + 1e-3
    for wrong in (0.0, churn * steps * steps):
        _, v_wrong = heun_moments(betas, ts, 0.0, c, churn=wrong)
        if wrong == 0.0 or churn / steps < np.sqrt(2) - 1:
            assert abs(v_wrong / v - 1) > 3 * tol
    assert x.var() == pytest.approx(v, rel=tol)


@pytest.mark.parametrize("steps, c", [(1, 0.5), (4, 1.0), (4, 0.1), (8, 0.3)])
def test_restart_matches_exact_moments(steps, c):
    from oracles import restart_moments

    sched = schedules.cosine_schedule(100)
    mu, n = 0.2, 400_000
    opts = sampler_settings.SamplerOptions(method="restart", steps=steps, target="x0")
    apply_fn = eps_star_apply(sched, mu, c, target="x0")  # x0 = p x + q, exact at a ≈ 0
    x = samplers.sample(jax.random.key(5), apply_fn, None, sched, (n, 1), opts)
    x = np.asarray(x, np.float64)
    ts = list(opts.for_schedule(sched).grid)
    assert ts == grids.timesteps(100, steps, "geometric").tolist()  # its own spacing
    m, v = restart_moments(np.asarray(sched.betas, np.float64), ts, mu, c)
    assert abs(x.mean() - m) < 5 * np.sqrt(v / n) + 1e-4, (x.mean(), m)
    assert x.var() == pytest.approx(v, rel=5 * np.sqrt(2 / n) + 1e-3), (x.var(), v)
    if steps > 1 and c >= 0.3:  # the test tells the right chain from one that forgets a
        _, wrong = restart_moments(np.asarray(sched.betas, np.float64), ts, mu, c, False)
        assert abs(wrong - v) > 2 * (5 * np.sqrt(2 / n) + 1e-3) * v, (wrong, v)


def test_restart_with_the_exact_flow_map_samples_the_data_exactly():
    """With a perfect direct student (the exact ODE end from every level) each restart
    returns exactly N(mu, c²); a chain that renoised x0 without the factor a would not."""
    from oracles import flow_map_apply

    sched = schedules.cosine_schedule(100)
    mu, c, n = 0.7, 0.4, 400_000
    opts = sampler_settings.SamplerOptions(method="restart", steps=4, target="x0")
    traj = samplers.sample_trajectory(
        jax.random.key(6), flow_map_apply(sched, mu, c), None, sched, (n, 1), opts
    )
    assert traj.shape == (5, n, 1)
    for x in np.asarray(traj[1:], np.float64):
        assert abs(x.mean() - mu) < 5 * c / np.sqrt(n)
        assert x.var() == pytest.approx(c**2, rel=5 * np.sqrt(2 / n))
    a = float(sched.sqrt_alphas_cumprod[12])
    s2 = 1.0 - a**2
    wrong = c**2 * (c**2 + s2) / (a**2 * c**2 + s2)  # var after renoising x0 + s z
    assert abs(wrong - c**2) > 2 * 5 * np.sqrt(2 / n) * c**2


@pytest.mark.parametrize(
    "method, target, nfe, steps",
    [
        ("euler", "velocity", 3, 3),
        ("midpoint", "velocity", 4, 2),
        ("heun", "velocity", 8, 4),
        ("ddim", "v", 7, 7),
        ("dpm-solver", "eps", 4, 4),
        ("heun", "eps", 5, 3),
        ("restart", "x0", 2, 2),
    ],
)
def test_an_evaluation_budget_is_the_steps_that_spend_it(method, target, nfe, steps):
    opts = sampler_settings.SamplerOptions(method=method, target=target).with_evaluations(nfe)
    assert opts.steps == steps
    assert opts.for_schedule(schedules.cosine_schedule(50)).evaluations == nfe


@pytest.mark.parametrize(
    "method, target, nfe, spent_by",
    [
        ("midpoint", "velocity", 1, ("euler", 1)),  # odd: Euler, the best measured at 1
        ("midpoint", "velocity", 3, ("euler", 3)),
        ("midpoint", "velocity", 8, ("midpoint", 4)),  # the run's own where it can
        ("heun", "velocity", 5, ("euler", 5)),
        ("adaptive", "velocity", 4, ("midpoint", 2)),
        ("adaptive", "velocity", 1, ("euler", 1)),
        ("mean", "velocity", 2, ("mean", 2)),
        ("ddpm", "eps", 10, ("ddim", 10)),  # the full chain: ancestral on a coarser grid
        ("heun", "eps", 4, ("ddim", 4)),
        ("heun", "eps", 5, ("heun", 3)),
        ("dpm-solver", "v", 6, ("dpm-solver", 6)),
    ],
)
def test_a_budget_without_a_method_is_spent_by_one_that_can(method, target, nfe, spent_by):
    opts = sampler_settings.SamplerOptions(method=method, target=target).at_budget(nfe)
    assert (opts.method, opts.steps) == spent_by
    assert opts.for_schedule(schedules.cosine_schedule(50)).evaluations == nfe
    if spent_by[0] == "ddim":
        assert opts.eta == 1.0  # ancestral, as the full chain is


def test_an_evaluation_budget_a_sampler_cannot_spend_is_refused():
    flow = sampler_settings.SamplerOptions(method="midpoint", target="velocity")
    with pytest.raises(ValueError, match=r"nfe must be even for method 'midpoint'.*got 3"):
        flow.with_evaluations(3)
    with pytest.raises(ValueError, match="nfe must be odd for method 'heun'"):
        sampler_settings.SamplerOptions(method="heun").with_evaluations(4)
    with pytest.raises(
        ValueError,
        match=r"^nfe is chosen by the adaptive solver itself, got nfe=4 with method "
        r"'adaptive'; use euler, midpoint or heun for a fixed budget$",
    ):
        flow.replace(method="adaptive").with_evaluations(4)
    with pytest.raises(ValueError, match="method 'ddpm' evaluates every one"):
        sampler_settings.SamplerOptions().with_evaluations(4)
    with pytest.raises(ValueError, match="nfe must be a positive integer"):
        flow.with_evaluations(0)
    sched = schedules.cosine_schedule(50)
    assert flow.replace(method="adaptive").for_schedule(sched).evaluations is None
    assert sampler_settings.SamplerOptions().for_schedule(sched).evaluations == 50


def test_replace_keeps_what_is_not_named_and_drops_a_stale_grid():
    """None leaves a field as it is; a new method without steps keeps the steps (all T for
    ddpm); a change of method, steps or spacing drops the resolved grid, any other change
    keeps it; a grid given with the change is kept."""
    sched = schedules.cosine_schedule(50)
    opts = sampler_settings.SamplerOptions(method="dpm-solver", steps=10, eta=0.3)
    assert opts.replace(eta=None, steps=None, method=None) == opts
    assert opts.replace(method="ddpm").steps is None
    assert opts.replace(method="ddim").steps == 10
    assert opts.replace(method="ddim", steps=4).steps == 4
    resolved = opts.for_schedule(sched)
    assert resolved.grid is not None
    for change in (dict(method="ddim"), dict(steps=5), dict(spacing="linspace")):
        assert resolved.replace(**change).grid is None, change
        assert resolved.replace(**change).for_schedule(sched).grid is not None
    assert resolved.replace(eta=0.0).grid == resolved.grid
    assert resolved.replace(guidance=1.0).grid == resolved.grid
    assert resolved.replace(steps=3, grid=(40, 20, 5)).grid == (40, 20, 5)


def _echo(params, x, t, c):
    """A stand-in conditional network that returns what it was called with: each row's
    step and label, so a test reads how Conditioned calls it."""
    return jnp.stack([jnp.broadcast_to(t, x.shape[:1]).astype(x.dtype), c.astype(x.dtype)], -1)


@pytest.mark.parametrize("t", [np.float32(7.0), np.array([3.0, 5.0, 9.0], np.float32)])
def test_conditioned_calls_the_network_with_the_labels_then_the_null_label(t):
    """Guided: one call on 2B rows, the labels then -1 (the documented null label) with
    each row's own step (a per-row t is repeated for the second half); the output is
    (1 + w) cond - w uncond, Ho & Salimans eq. 6. Unguided: the labels alone."""
    x = jnp.zeros((3, 2), jnp.float32)
    labels, w = jnp.array([0, 2, 1]), 0.5
    got = samplers.Conditioned(_echo, guided=True)((None, labels, w), x, jnp.asarray(t))
    steps = np.broadcast_to(t, (3,))
    want = np.stack([steps, (1 + w) * np.array([0, 2, 1]) - w * -1.0], -1)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
    plain = samplers.Conditioned(_echo, guided=False)((None, jnp.array(2), w), x, jnp.asarray(t))
    np.testing.assert_allclose(np.asarray(plain), np.stack([steps, np.full(3, 2.0)], -1))


def test_trajectory_takes_labels_and_a_given_start(cond):
    """sample_trajectory passes its labels and x_T on: it starts at the x_T given and ends
    where sample with the same labels and x_T ends."""
    apply_fn, params, sched = cond
    opts = sampler_settings.SamplerOptions(method="ddim", steps=5)
    labels = jnp.array([0, 1, 2, 1])
    x_T = jax.random.normal(jax.random.key(8), (4, 2))
    key = jax.random.key(9)
    traj = samplers.sample_trajectory(
        key, apply_fn, params, sched, (4, 2), opts, labels=labels, x_T=x_T
    )
    np.testing.assert_array_equal(np.asarray(traj[0]), np.asarray(x_T))
    end = samplers.sample(key, apply_fn, params, sched, (4, 2), opts, labels=labels, x_T=x_T)
    np.testing.assert_allclose(np.asarray(traj[-1]), np.asarray(end), rtol=1e-6, atol=1e-6)
    other = samplers.sample(
        key, apply_fn, params, sched, (4, 2), opts, labels=jnp.array([2, 2, 0, 0]), x_T=x_T
    )
    assert not np.allclose(np.asarray(traj[-1]), np.asarray(other))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(method="nope"), r"^method must be one of .*got 'nope'"),
        (dict(method="ddim", target="velocity"), r"^method must be one of .* for a flow model"),
        (dict(method="euler"), r"^method must be one of .* for a diffusion model"),
        (
            dict(method="euler", target="velocity", spacing="linspace"),
            r"^spacing is for diffusion samplers; .* got spacing='linspace'",
        ),
        (dict(method="euler", target="velocity", grid=(3, 1)), r"^spacing is for diffusion"),
        (dict(grid=(5, 5, 1)), r"^grid must be strictly decreasing steps >= 0, got \(5, 5, 1\)"),
        (dict(grid=(5, 6, 1)), r"^grid must be strictly decreasing"),
        (dict(grid=(3, 1, -1)), r"^grid must be strictly decreasing"),
        (dict(grid=()), r"^grid must be strictly decreasing"),
    ],
)
def test_options_refuse_what_no_chain_can_run(kw, match):
    with pytest.raises(ValueError, match=match):
        sampler_settings.SamplerOptions(**kw)


def test_a_given_grid_is_kept_as_a_tuple_of_ints_and_resolves_to_its_length():
    opts = sampler_settings.SamplerOptions(method="ddim", grid=[np.int64(40), 20, 5])
    assert opts.grid == (40, 20, 5) and all(type(t) is int for t in opts.grid)
    hash(opts)  # a static argument of the compiled chains
    sched = schedules.cosine_schedule(50)
    resolved = opts.for_schedule(sched)
    assert (resolved.steps, resolved.spacing, resolved.grid) == (3, "trailing", (40, 20, 5))
    heun = sampler_settings.SamplerOptions(method="heun", grid=(49, 10)).for_schedule(sched)
    assert (heun.steps, heun.spacing) == (2, "karras")
    with pytest.raises(ValueError, match=r"^grid must hold steps below 50, got \(50, 20, 3\)"):
        sampler_settings.SamplerOptions(method="ddim", grid=(50, 20, 3)).for_schedule(sched)


@pytest.mark.parametrize(
    "method, steps, spacing",
    [("ddim", 7, "trailing"), ("dpm-solver", 7, "trailing"), ("heun", 5, "karras"),
     ("restart", 3, "geometric"), ("ddpm", None, "trailing")],
)  # fmt: skip
def test_for_schedule_resolves_steps_and_the_methods_own_spacing(method, steps, spacing):
    sched = schedules.cosine_schedule(50)
    opts = sampler_settings.SamplerOptions(method=method, steps=steps).for_schedule(sched)
    assert opts.steps == (50 if steps is None else steps)
    assert opts.spacing == spacing and len(opts.grid) == opts.steps
    mine = sampler_settings.SamplerOptions(method=method, steps=steps, spacing="linspace")
    assert mine.for_schedule(sched).spacing == "linspace"


def test_a_flow_model_resolves_to_its_own_steps_or_all_of_them():
    sched = schedules.cosine_schedule(50)
    flow = sampler_settings.SamplerOptions(method="euler", target="velocity")
    assert flow.for_schedule(sched).steps == 50
    assert flow.replace(steps=4).for_schedule(sched).steps == 4
    assert flow.replace(steps=4).for_schedule(sched).grid is None


def test_sample_refuses_bad_options_labels_and_start_in_one_line(cond):
    apply_fn, params, sched = cond
    key, shape = jax.random.key(0), (4, 2)
    with pytest.raises(TypeError, match=r"^options must be a SamplerOptions, got str$"):
        samplers.sample(key, apply_fn, params, sched, shape, "ddim")
    with pytest.raises(ValueError, match=r"one per sample, shape \(4,\), got shape \(4, 1\)$"):
        samplers.sample(key, apply_fn, params, sched, shape, labels=np.zeros((4, 1), np.int32))
    with pytest.raises(ValueError, match=r"^x_T must have shape \(4, 2\), got \(3, 2\)$"):
        samplers.sample(key, apply_fn, params, sched, shape, x_T=jnp.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"for method 'ddpm', got 10; use method 'ddim' or "):
        samplers.sample(
            key, apply_fn, params, sched, shape, sampler_settings.SamplerOptions(steps=10)
        )
    with pytest.raises(ValueError, match="data has 3 features but the model was built for 2"):
        samplers.sample(key, apply_fn, params, sched, (4, 3))
    with pytest.raises(ValueError, match="the schedule has 101 steps but the model's step"):
        samplers.sample(key, apply_fn, params, schedules.cosine_schedule(101), shape)


def test_guidance_one_is_guided(cond):
    """w = 1 still guides: 2 ε(x, c) - ε(x, ∅), not the conditional model alone."""
    apply_fn, params, sched = cond
    labels = (2, 0, 1, 1)
    opts = sampler_settings.SamplerOptions(method="ddim", steps=5)
    key = jax.random.key(6)
    guided = opts.replace(guidance=1.0)
    got = samplers.sample(key, apply_fn, params, sched, (4, 2), guided, labels=jnp.array(labels))
    want = samplers.sample(key, _Bound(apply_fn, labels, 1.0), params, sched, (4, 2), opts)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
