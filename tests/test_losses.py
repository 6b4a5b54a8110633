import jax
import jax.numpy as jnp
import numpy as np
import pytest
from oracles import eps_star_apply

from jaxdiff.ddpm import losses, schedules


@pytest.mark.parametrize("batch", [1, 2, 7, 16, 127, 128])
def test_antithetic_pairs_up_for_even_and_odd_batches(batch):
    t = np.asarray(losses.antithetic_timesteps(jax.random.key(batch), batch, 100))
    assert t.shape == (batch,)
    assert t.min() >= 0 and t.max() <= 99
    half = (batch + 1) // 2
    for i in range(batch - half):
        assert t[i] + t[i + half] == 99


def test_antithetic_is_uniform_marginally():
    t = np.asarray(losses.antithetic_timesteps(jax.random.key(0), 200_001, 10))
    counts = np.bincount(t, minlength=10)
    assert counts.sum() == 200_001
    np.testing.assert_allclose(counts / counts.sum(), 0.1, atol=0.004)


def test_loss_equals_hand_computation_float64(x64):
    sched = schedules.sigmoid_schedule()
    x0 = jnp.asarray(np.random.default_rng(0).normal(size=(9, 2)))
    w = jnp.asarray([[0.3, -0.2], [0.1, 0.5]])

    def apply_fn(params, x, t):
        return x @ params + 0.01 * t[:, None].astype(x.dtype)

    key = jax.random.key(5)
    got = losses.denoising_loss(key, apply_fn, w, sched, x0)
    t_key, e_key = jax.random.split(key)
    t = np.asarray(losses.antithetic_timesteps(t_key, 9, 100))
    eps = np.asarray(jax.random.normal(e_key, (9, 2)))
    ab = np.cumprod(1 - np.asarray(sched.betas))[t][:, None]
    xt = np.sqrt(ab) * np.asarray(x0) + np.sqrt(1 - ab) * eps
    pred = xt @ np.asarray(w) + 0.01 * t[:, None]
    assert float(got) == pytest.approx(np.mean((eps - pred) ** 2), rel=1e-12)
    v = np.sqrt(ab) * eps - np.sqrt(1 - ab) * np.asarray(x0)
    got_v = losses.denoising_loss(key, apply_fn, w, sched, x0, target="v")
    assert float(got_v) == pytest.approx(np.mean((v - pred) ** 2), rel=1e-12)
    got_x0 = losses.denoising_loss(key, apply_fn, w, sched, x0, target="x0")
    assert float(got_x0) == pytest.approx(np.mean((np.asarray(x0) - pred) ** 2), rel=1e-12)


def test_optimal_predictor_attains_the_bayes_error():
    """With ε*, E‖ε - ε*‖² at step t is a²c²/(a²c² + s²) per coordinate."""
    sched = schedules.sigmoid_schedule()
    mu, c, n = 0.3, 0.5, 400_000
    x0 = mu + c * jax.random.normal(jax.random.key(1), (n, 2))
    loss = losses.denoising_loss(
        jax.random.key(2),
        eps_star_apply(sched, mu, c),
        None,
        sched,
        x0,
        t_sampler=losses.uniform_timesteps,
    )
    ab = np.cumprod(1 - np.asarray(sched.betas, np.float64))
    want = np.mean(ab * c**2 / (ab * c**2 + 1 - ab))
    assert float(loss) == pytest.approx(want, rel=0.01)


def test_jit_and_eager_agree():
    sched = schedules.sigmoid_schedule()
    x0 = jax.random.normal(jax.random.key(0), (33, 2))

    def apply_fn(params, x, t):
        return jnp.tanh(x * params)

    f = lambda k: losses.denoising_loss(k, apply_fn, 0.7, sched, x0)  # noqa: E731
    assert float(f(jax.random.key(1))) == pytest.approx(
        float(jax.jit(f)(jax.random.key(1))), rel=1e-6
    )


def test_unknown_target_is_rejected():
    sched = schedules.sigmoid_schedule()
    with pytest.raises(ValueError, match=r"target must be one of .*got 'score'"):
        losses.denoising_loss(
            jax.random.key(0), lambda p, x, t: x, None, sched, jnp.zeros((4, 2)), target="score"
        )


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_label_drop_replaces_a_fraction_p_of_labels_by_null(p):
    # A "model" that outputs 1 where its label is null and the label itself otherwise; with
    # target x0 = 0 the loss is the mean of its square, i.e. the fraction dropped (labels 0).
    def spy(params, x, t, c):
        return jnp.broadcast_to((c == -1)[:, None].astype(x.dtype), x.shape)

    n = 20_000
    loss = losses.denoising_loss(
        jax.random.key(1),
        spy,
        None,
        schedules.cosine_schedule(10),
        jnp.zeros((n, 1)),
        target="x0",
        labels=jnp.zeros(n, jnp.int32),
        label_drop=p,
    )
    assert abs(float(loss) - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-7, float(loss)


def test_kept_labels_reach_the_model_unchanged():
    def echo(params, x, t, c):
        return jnp.broadcast_to(c[:, None].astype(x.dtype), x.shape)

    y = jnp.arange(1000) % 7
    loss = losses.denoising_loss(
        jax.random.key(2),
        echo,
        None,
        schedules.cosine_schedule(10),
        y[:, None].astype(jnp.float32),
        target="x0",
        labels=y,
        label_drop=0.0,
    )
    assert float(loss) == 0.0


def test_uniform_timesteps_cover_every_step_equally():
    t = np.asarray(losses.uniform_timesteps(jax.random.key(3), 200_000, 10))
    counts = np.bincount(t, minlength=10)
    assert counts.sum() == 200_000 and len(counts) == 10
    np.testing.assert_allclose(counts / counts.sum(), 0.1, atol=0.004)


def test_labels_are_kept_unless_a_drop_rate_is_given():
    """``label_drop`` defaults to 0: no label becomes the null label."""

    def spy(params, x, t, c):
        return jnp.broadcast_to((c == -1)[:, None].astype(x.dtype), x.shape)

    n = 5000
    loss = losses.denoising_loss(
        jax.random.key(1), spy, None, schedules.cosine_schedule(10), jnp.zeros((n, 1)),
        target="x0", labels=jnp.zeros(n, jnp.int32),
    )  # fmt: skip
    assert float(loss) == 0.0


def test_noise_is_drawn_in_the_datas_dtype():
    """With a model that outputs 0, the ε-loss is mean(ε²) of the key's ε in x0's dtype."""
    sched = schedules.from_betas(np.linspace(1e-3, 0.2, 10), dtype=jnp.bfloat16)
    x0 = jnp.ones((64, 2), jnp.bfloat16)
    key = jax.random.key(4)
    loss = losses.denoising_loss(key, lambda p, x, t: jnp.zeros_like(x), None, sched, x0)
    _, e_key = jax.random.split(key)
    eps = jax.random.normal(e_key, x0.shape, jnp.bfloat16)
    assert loss.dtype == jnp.bfloat16
    assert np.array_equal(np.asarray(loss), np.asarray(jnp.mean(jnp.square(eps))))
