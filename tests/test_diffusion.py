import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import seed_betas_np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from jaxdiff.ddpm import diffusion, schedules


@pytest.fixture(scope="module")
def sched():
    return schedules.sigmoid_schedule()


@pytest.mark.parametrize("t", [0, 37, 99])
def test_q_sample_moments_and_ks(sched, t):
    n = 200_000
    x0 = jnp.full((n, 2), jnp.array([0.05, -0.12]))
    xt = np.asarray(diffusion.q_sample(jax.random.key(t), sched, x0, jnp.full((n,), t)), np.float64)
    ab = np.cumprod(1 - seed_betas_np())[t]
    mean, var = np.sqrt(ab) * np.array([0.05, -0.12]), 1 - ab
    se = np.sqrt(var / n)
    np.testing.assert_array_less(np.abs(xt.mean(0) - mean), 5 * se)
    np.testing.assert_allclose(xt.var(0), var, rtol=5 * np.sqrt(2 / n))
    z = (xt[:, 0] - mean[0]) / np.sqrt(var)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_q_sample_same_key_same_bits_and_broadcast_t(sched):
    x0 = jax.random.normal(jax.random.key(0), (64, 2))
    t = jnp.arange(64) % 100
    a = diffusion.q_sample(jax.random.key(3), sched, x0, t)
    b = diffusion.q_sample(jax.random.key(3), sched, x0, t)
    c = diffusion.q_sample(jax.random.key(4), sched, x0, t)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    scalar = diffusion.q_sample(jax.random.key(3), sched, x0, 7)
    vector = diffusion.q_sample(jax.random.key(3), sched, x0, jnp.full((64,), 7))
    assert np.array_equal(np.asarray(scalar), np.asarray(vector))
    jitted = jax.jit(diffusion.q_sample)(jax.random.key(3), sched, x0, t)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(a), rtol=1e-6, atol=1e-7)


def test_q_posterior_matches_bayes_rule(x64, sched):
    """Oracle: the product of q(x_{t-1}|x_0) and q(x_t|x_{t-1}), by precisions."""
    sched = schedules.sigmoid_schedule()
    b = seed_betas_np()
    ab = np.cumprod(1 - b)
    rng = np.random.default_rng(0)
    x0, xt = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    for t in (1, 10, 99):
        prec = 1 / (1 - ab[t - 1]) + (1 - b[t]) / b[t]
        var = 1 / prec
        mean = var * (np.sqrt(ab[t - 1]) * x0 / (1 - ab[t - 1]) + np.sqrt(1 - b[t]) * xt / b[t])
        m, v, logv = diffusion.q_posterior(
            sched, jnp.asarray(x0), jnp.asarray(xt), jnp.full((5,), t)
        )
        np.testing.assert_allclose(np.asarray(m), mean, rtol=1e-9)
        np.testing.assert_allclose(np.asarray(v)[:, 0], var, rtol=1e-9)
        np.testing.assert_allclose(np.asarray(logv)[:, 0], np.log(var), rtol=1e-9)
    m, v, _ = diffusion.q_posterior(sched, jnp.asarray(x0), jnp.asarray(xt), jnp.zeros(5, int))
    np.testing.assert_allclose(np.asarray(m), x0, rtol=1e-9)  # x_{-1} = x_0 exactly
    assert float(v[0, 0]) == 0.0


def test_target_conversions_invert_each_other(x64):
    sched = schedules.cosine_schedule(50)
    rng = np.random.default_rng(1)
    x0, eps = jnp.asarray(rng.normal(size=(6, 3))), jnp.asarray(rng.normal(size=(6, 3)))
    t = jnp.array([0, 5, 10, 25, 40, 48])
    ab = np.asarray(sched.alphas_cumprod)[np.asarray(t)][:, None]
    xt = np.sqrt(ab) * np.asarray(x0) + np.sqrt(1 - ab) * np.asarray(eps)
    xt = jnp.asarray(xt)
    np.testing.assert_allclose(diffusion.predict_x0_from_eps(sched, xt, t, eps), x0, atol=1e-9)
    np.testing.assert_allclose(diffusion.predict_eps_from_x0(sched, xt, t, x0), eps, atol=1e-9)
    v = diffusion.predict_v(sched, x0, t, eps)
    np.testing.assert_allclose(v, np.sqrt(ab) * eps - np.sqrt(1 - ab) * x0, atol=1e-12)
    np.testing.assert_allclose(diffusion.predict_x0_from_v(sched, xt, t, v), x0, atol=1e-9)
    np.testing.assert_allclose(diffusion.predict_eps_from_v(sched, xt, t, v), eps, atol=1e-9)
    for target, out in (("eps", eps), ("x0", x0), ("v", v)):
        e, x = diffusion.model_output_to_eps_x0(sched, xt, t, out, target)
        np.testing.assert_allclose(e, eps, atol=1e-8)
        np.testing.assert_allclose(x, x0, atol=1e-8)
    with pytest.raises(ValueError, match="target must be one of"):
        diffusion.model_output_to_eps_x0(sched, xt, t, eps, "score")


def test_prior_kl_against_gaussian_kl(x64):
    """KL(N(m1, v1) ‖ N(0, 1)) = ½(v1 + m1² - 1 - log v1) per coordinate."""
    sched = schedules.sigmoid_schedule()
    x0 = jnp.asarray(np.random.default_rng(2).normal(scale=0.1, size=(100, 2)))
    ab = np.cumprod(1 - seed_betas_np())[-1]
    m1, v1 = np.sqrt(ab) * np.asarray(x0), 1 - ab
    want = np.mean(0.5 * (v1 + m1**2 - 1 - np.log(v1)))
    assert float(diffusion.prior_kl(sched, x0)) == pytest.approx(want, rel=1e-10)
    # SEED.md: about 0.36 nats per dimension on the seed's data scale
    assert 0.34 < float(diffusion.prior_kl(sched, x0)) < 0.39
    assert float(diffusion.prior_kl(schedules.cosine_schedule(100), x0)) < 1e-3


@settings(max_examples=20, deadline=None)
@given(
    batch=st.integers(1, 5),
    dim=st.integers(1, 4),
    num_steps=st.integers(2, 50),
    seed=st.integers(0, 2**16),
)
def test_target_conversions_invert_each_other_for_random_inputs(batch, dim, num_steps, seed):
    with jax.enable_x64(True):
        s = schedules.cosine_schedule(num_steps)
        rng = np.random.default_rng(seed)
        x0, eps = rng.normal(size=(2, batch, dim))
        t = jnp.asarray(rng.integers(0, num_steps, size=batch))
        a = np.asarray(s.sqrt_alphas_cumprod)[np.asarray(t)][:, None]
        sd = np.asarray(s.sqrt_one_minus_alphas_cumprod)[np.asarray(t)][:, None]
        xt = a * x0 + sd * eps
        v = diffusion.predict_v(s, jnp.asarray(x0), t, jnp.asarray(eps))
        np.testing.assert_allclose(v, a * eps - sd * x0, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(diffusion.predict_x0_from_v(s, xt, t, v), x0, atol=1e-9)
        np.testing.assert_allclose(diffusion.predict_eps_from_v(s, xt, t, v), eps, atol=1e-9)
        np.testing.assert_allclose(diffusion.predict_eps_from_x0(s, xt, t, x0), eps, atol=1e-6)
        np.testing.assert_allclose(
            diffusion.predict_x0_from_eps(s, xt, t, eps), x0, atol=1e-9 / np.min(a)
        )


def test_perturb_is_ho_eq_4_for_given_noise(x64):
    """x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε, written out in float64 numpy (Ho et al. 2020, eq. 4)."""
    sched = schedules.cosine_schedule(50)
    rng = np.random.default_rng(3)
    x0, eps = rng.normal(size=(2, 4, 3))
    t = np.array([0, 7, 30, 49])
    ab = np.asarray(sched.alphas_cumprod)[t][:, None]
    got = diffusion.perturb(sched, jnp.asarray(x0), jnp.asarray(t), jnp.asarray(eps))
    assert got.shape == (4, 3)
    np.testing.assert_allclose(got, np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps, rtol=1e-12)


def test_q_sample_draws_its_noise_from_the_key_in_the_data_dtype():
    sched = schedules.from_betas(np.linspace(1e-3, 0.2, 10), dtype=jnp.bfloat16)
    x0 = jnp.ones((5, 2), jnp.bfloat16)
    t = jnp.arange(5)
    key = jax.random.key(11)
    got = diffusion.q_sample(key, sched, x0, t)
    assert got.dtype == jnp.bfloat16
    eps = jax.random.normal(key, x0.shape, jnp.bfloat16)
    assert np.array_equal(np.asarray(got), np.asarray(diffusion.perturb(sched, x0, t, eps)))


def test_target_value_is_each_targets_own_quantity(x64):
    """ε, x_0, and v = a ε - s x_0 (Salimans & Ho 2022, Sec. 4) in float64 numpy."""
    rng = np.random.default_rng(4)
    x0, eps = rng.normal(size=(2, 3, 2))
    a, s = 0.6, 0.8
    assert np.array_equal(diffusion.target_value("eps", x0, eps, a, s), eps)
    assert np.array_equal(diffusion.target_value("x0", x0, eps, a, s), x0)
    np.testing.assert_allclose(diffusion.target_value("v", x0, eps, a, s), a * eps - s * x0)
    with pytest.raises(ValueError, match=r"target must be one of .*, got 'score'"):
        diffusion.target_value("score", x0, eps, a, s)
