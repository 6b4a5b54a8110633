import jax
import numpy as np
import pytest
from oracles import ddpm_moments, eps_star_apply

from jaxdiff import models, samplers, schedules


@pytest.fixture(scope="module")
def net():
    return models.functional(models.MLPDenoiser(width=32), jax.random.key(0))


@pytest.mark.parametrize("variance, last", [("beta", True), ("beta_tilde", False)])
def test_scan_equals_python_loop_over_step(net, variance, last):
    apply_fn, params = net
    sched = schedules.sigmoid_schedule(20)
    key = jax.random.key(3)
    got = samplers.sample(
        key, apply_fn, params, sched, (50, 2), variance=variance, last_step_noise=last
    )
    init_key, loop_key = jax.random.split(key)
    x = jax.random.normal(init_key, (50, 2))
    for t in range(19, -1, -1):
        x = samplers.ddpm_step(
            jax.random.fold_in(loop_key, t),
            apply_fn,
            params,
            sched,
            x,
            t,
            variance=variance,
            last_step_noise=last,
        )
    np.testing.assert_allclose(np.asarray(got), np.asarray(x), rtol=1e-6, atol=1e-6)


def test_trajectory_ends_in_sample_and_starts_in_noise(net):
    apply_fn, params = net
    sched = schedules.sigmoid_schedule(15)
    traj = samplers.sample_trajectory(jax.random.key(1), apply_fn, params, sched, (30, 2))
    assert traj.shape == (16, 30, 2)
    x = samplers.sample(jax.random.key(1), apply_fn, params, sched, (30, 2))
    np.testing.assert_allclose(np.asarray(traj[-1]), np.asarray(x), rtol=1e-6, atol=1e-6)
    x_T = jax.random.normal(jax.random.split(jax.random.key(1))[0], (30, 2))
    np.testing.assert_array_equal(np.asarray(traj[0]), np.asarray(x_T))


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
        ("cosine", 0.1, "beta", False),
        ("cosine", 1.0, "beta", True),
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
            variance=variance,
            last_step_noise=last,
        ),
        np.float64,
    )
    m, v = ddpm_moments(np.asarray(sched.betas, np.float64), mu, c, variance, last)
    assert abs(x.mean() - m) < 5 * np.sqrt(v / n) + 1e-5
    assert x.var() == pytest.approx(v, rel=5 * np.sqrt(2 / n) + 1e-4)


def test_documented_discrete_time_gaps():
    """EQUATIONS.md: cosine, T=100, c=0.1: β̃ gives std 0.087, β gives 0.106."""
    sched = schedules.cosine_schedule(100)
    b = np.asarray(sched.betas, np.float64)
    _, v_tilde = ddpm_moments(b, 0.0, 0.1, "beta_tilde", False)
    _, v_beta = ddpm_moments(b, 0.0, 0.1, "beta", True)
    assert np.sqrt(v_tilde) == pytest.approx(0.087, abs=0.001)
    assert np.sqrt(v_beta) == pytest.approx(0.106, abs=0.001)


def test_last_step_noise_switch_changes_only_the_last_step(net):
    apply_fn, params = net
    sched = schedules.sigmoid_schedule(10)
    on = samplers.sample_trajectory(jax.random.key(5), apply_fn, params, sched, (20, 2))
    off = samplers.sample_trajectory(
        jax.random.key(5), apply_fn, params, sched, (20, 2), last_step_noise=False
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
        samplers.sample(
            jax.random.key(0), apply_fn, params, schedules.sigmoid_schedule(5), (4, 2), **kw
        )


def test_bad_shape(net):
    apply_fn, params = net
    with pytest.raises(ValueError, match="shape must be a tuple of non-negative integers"):
        samplers.sample(jax.random.key(0), apply_fn, params, schedules.sigmoid_schedule(5), (-4, 2))
