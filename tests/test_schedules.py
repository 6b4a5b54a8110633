import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import seed_betas_np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdiff.ddpm import schedules


def _naive_np(betas):
    """Every coefficient straight from Ho et al. 2020, in float64, without log tricks."""
    b = np.asarray(betas, np.float64)
    ab = np.cumprod(1 - b)
    ab_prev = np.append(1.0, ab[:-1])
    post = b * (1 - ab_prev) / (1 - ab)
    return dict(
        betas=b,
        alphas=1 - b,
        alphas_cumprod=ab,
        alphas_cumprod_prev=ab_prev,
        sqrt_alphas_cumprod=np.sqrt(ab),
        sqrt_one_minus_alphas_cumprod=np.sqrt(1 - ab),
        log_one_minus_alphas_cumprod=np.log(1 - ab),
        sqrt_recip_alphas=1 / np.sqrt(1 - b),
        eps_coef=b / np.sqrt(1 - ab),
        posterior_variance=post,
        posterior_log_variance_clipped=np.log(np.append(post[1], post[1:])),
        posterior_mean_coef1=np.sqrt(ab_prev) * b / (1 - ab),
        posterior_mean_coef2=np.sqrt(1 - b) * (1 - ab_prev) / (1 - ab),
    )


def test_seed_schedule_matches_float64_formula_to_1e6():
    sched = schedules.sigmoid_schedule(100, 1e-5, 5e-3)
    assert sched.num_steps == 100
    expected = _naive_np(seed_betas_np())
    for name, want in expected.items():
        got = np.asarray(getattr(sched, name), np.float64)
        assert got.dtype == np.float64 and got.shape == (100,)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, err_msg=name)


def test_seed_schedule_constants_from_seed_md():
    sched = schedules.sigmoid_schedule()
    b = np.asarray(sched.betas)
    assert b[0] == pytest.approx(2.2e-5 + 0.0e-6, rel=2e-2)
    assert b[-1] == pytest.approx(4.99e-3, rel=1e-3)
    assert float(b.sum()) == pytest.approx(0.25, abs=0.005)
    assert float(sched.alphas_cumprod[-1]) == pytest.approx(0.778, abs=1e-3)
    # 1 - ᾱ_0 ≈ 2.2e-5 must keep its relative precision after the cast to float32
    assert float(sched.sqrt_one_minus_alphas_cumprod[0]) ** 2 == pytest.approx(
        1 - (1 - seed_betas_np()[0]), rel=1e-6
    )


def test_posterior_variance_is_eq7(x64):
    sched = schedules.sigmoid_schedule()
    b = seed_betas_np()
    ab = np.cumprod(1 - b)
    for t in (1, 2, 50, 99):
        want = (1 - ab[t - 1]) / (1 - ab[t]) * b[t]
        assert float(sched.posterior_variance[t]) == pytest.approx(want, rel=1e-12)
    assert float(sched.posterior_variance[0]) == 0.0
    # the seed's σ² = β differs from β̃ by 2x at t=1 and under 2% at t=99 (SEED.md)
    assert float(b[1] / sched.posterior_variance[1]) == pytest.approx(2.0, rel=0.05)
    assert float(b[99] / sched.posterior_variance[99]) < 1.02


def test_linear_and_cosine_against_their_formulas(x64):
    lin = schedules.linear_schedule(1000)
    np.testing.assert_allclose(np.asarray(lin.betas), np.linspace(1e-4, 0.02, 1000), rtol=1e-12)
    assert float(lin.alphas_cumprod[-1]) < 1e-4
    lin100 = schedules.linear_schedule(100)
    np.testing.assert_allclose(np.asarray(lin100.betas), np.linspace(1e-3, 0.2, 100), rtol=1e-12)

    cos = schedules.cosine_schedule(100)
    s, T = 0.008, 100
    f = lambda t: np.cos((t / T + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    i = np.arange(T)
    want_abar = f(i + 1) / f(0)
    want_b = np.minimum(1 - want_abar / np.append(1.0, want_abar[:-1]), 0.999)
    np.testing.assert_allclose(np.asarray(cos.betas), want_b, rtol=1e-10)
    # before the clamp bites, ᾱ is f(i+1)/f(0) exactly
    np.testing.assert_allclose(np.asarray(cos.alphas_cumprod[:-1]), want_abar[:-1], rtol=1e-10)
    assert float(cos.betas[-1]) == pytest.approx(0.999)


def test_float32_default_and_explicit_dtype():
    assert schedules.sigmoid_schedule().betas.dtype == jnp.float32
    assert schedules.from_betas([0.1, 0.2], dtype=jnp.bfloat16).betas.dtype == jnp.bfloat16


@pytest.mark.parametrize(
    "betas, match",
    [
        ([], "at least 1 step"),
        ([0.1, 1.0], "strictly between 0 and 1, got 1.0"),
        ([0.0, 0.1], "strictly between 0 and 1, got 0.0"),
        ([0.1, -0.2], "strictly between 0 and 1, got -0.2"),
        ([0.1, float("nan")], "strictly between 0 and 1, got nan"),
        ([[0.1, 0.2]], r"1-D array, got shape \(1, 2\)"),
        (["a", "b"], "1-D array of numbers"),
        ([0.2, 0.1, 0.3], r"non-decreasing .* got betas\[0\] = 0.2 > betas\[1\] = 0.1$"),
        ([0.1, 0.3, 0.2], r"non-decreasing .* got betas\[1\] = 0.3 > betas\[2\] = 0.2$"),
    ],
)
def test_from_betas_rejects(betas, match):
    with pytest.raises(ValueError, match=match):
        schedules.from_betas(betas)


@pytest.mark.parametrize(
    "ctor", [schedules.sigmoid_schedule, schedules.linear_schedule, schedules.cosine_schedule]
)
@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_num_steps_must_be_positive_int(ctor, steps):
    with pytest.raises(ValueError, match="num_steps must be a positive integer"):
        ctor(steps)


def test_single_step_schedule_works():
    sched = schedules.from_betas([0.5])
    assert sched.num_steps == 1
    assert float(sched.posterior_variance[0]) == 0.0
    assert np.isfinite(np.asarray(sched.posterior_log_variance_clipped)).all()


betas_strategy = st.lists(st.floats(1e-6, 0.5, allow_nan=False), min_size=1, max_size=200).map(
    sorted
)


@settings(max_examples=40, deadline=None)
@given(betas=betas_strategy)
def test_schedule_identities_hold_for_any_valid_betas(betas):
    with jax.enable_x64(True):
        s = schedules.from_betas(betas)
        b = np.asarray(betas, np.float64)
        abar, prev = np.asarray(s.alphas_cumprod), np.asarray(s.alphas_cumprod_prev)
        assert np.all(np.diff(abar) < 0) and np.all((abar > 0) & (abar < 1))
        # 1 - ᾱ_t = (1 - β_t)(1 - ᾱ_{t-1}) + β_t: one forward step composes with q(x_{t-1}|x_0).
        np.testing.assert_allclose(1 - abar, (1 - b) * (1 - prev) + b, rtol=1e-10, atol=1e-15)
        post = np.asarray(s.posterior_variance)
        assert np.all(post <= b * (1 + 1e-12)) and np.all(post >= 0)
        # Posterior mean of a noiseless x_t = a_t x_0 is a_{t-1} x_0.
        c1, c2 = np.asarray(s.posterior_mean_coef1), np.asarray(s.posterior_mean_coef2)
        np.testing.assert_allclose(c1 + c2 * np.sqrt(abar), np.sqrt(prev), rtol=1e-9)


def test_defaults_and_given_endpoints_are_used(x64):
    """Ho et al. 2020 (Sec. 4): T = 1000, β from 1e-4 to 0.02; the cosine schedule's T = 100
    is this library's default; given endpoints replace the scaled ones."""
    lin = schedules.linear_schedule()
    assert lin.num_steps == 1000
    assert (float(lin.betas[0]), float(lin.betas[-1])) == pytest.approx((1e-4, 0.02), rel=1e-12)
    assert schedules.cosine_schedule().num_steps == 100
    given = schedules.linear_schedule(10, beta_start=0.02, beta_end=0.05)  # not 0.01, 2.0
    np.testing.assert_allclose(np.asarray(given.betas), np.linspace(0.02, 0.05, 10), rtol=1e-12)


@pytest.mark.parametrize(
    "ctor", [schedules.sigmoid_schedule, schedules.linear_schedule, schedules.cosine_schedule]
)
def test_each_constructor_stores_the_dtype_asked_for(ctor):
    sched = ctor(dtype=jnp.bfloat16)
    assert sched.betas.dtype == sched.alphas_cumprod.dtype == jnp.bfloat16


def test_two_step_schedule_clips_its_first_log_variance_to_the_second(x64):
    """Ho et al.'s clipped log-variance: β̃_0 = 0 is replaced by β̃_1 whenever T > 1."""
    b = np.array([0.1, 0.2])
    sched = schedules.from_betas(b)
    var1 = b[1] * b[0] / (1.0 - (1.0 - b[0]) * (1.0 - b[1]))  # β̃_1, float64 by hand
    assert float(sched.posterior_log_variance_clipped[0]) == pytest.approx(np.log(var1), rel=1e-12)


def test_a_linear_schedule_too_short_for_its_scaled_end_says_so():
    """β_end = 0.02 · 1000 / T reaches 1 at T = 20: such a schedule is refused with the
    reason, and works with an end given."""
    assert float(schedules.linear_schedule(21).betas[-1]) == pytest.approx(20 / 21, rel=1e-6)
    with pytest.raises(ValueError, match=r"num_steps = 20 scales .* beta_end to 1 >= 1"):
        schedules.linear_schedule(20)
    assert schedules.linear_schedule(10, beta_end=0.5).num_steps == 10
