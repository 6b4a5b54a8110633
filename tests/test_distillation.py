"""Progressive distillation (Salimans & Ho 2022, Alg. 2): the target makes one student
DDIM step land where two teacher DDIM steps land (float64 numpy oracle), the grids are
pinned, and a short distillation moves the student's 2-step map towards the teacher's
8-step map (a student left untrained does not)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiff import distillation, fitting, models, samplers, schedules, training


def test_round_grids_are_every_other_teacher_step():
    t, mid, nxt = distillation.round_grids(1000, 4)
    np.testing.assert_array_equal(t, [999, 749, 499, 249])
    np.testing.assert_array_equal(mid, [874, 624, 374, 124])
    np.testing.assert_array_equal(nxt, [749, 499, 249, -1])
    t, mid, nxt = distillation.round_grids(100, 1)
    np.testing.assert_array_equal([t, mid, nxt], [[99], [49], [-1]])
    with pytest.raises(ValueError, match="at most 50"):
        distillation.round_grids(100, 64)


def test_rounds_halve_to_the_steps():
    assert distillation.rounds(64, 4) == [32, 16, 8, 4]
    assert distillation.rounds(8, 4) == [4]
    for start, steps in ((64, 3), (64, 64), (48, 4)):
        with pytest.raises(ValueError, match="halved"):
            distillation.rounds(start, steps)


def test_target_makes_one_step_equal_two_teacher_steps():
    sched = schedules.cosine_schedule(100)
    a = np.asarray(sched.sqrt_alphas_cumprod, np.float64)
    s = np.asarray(sched.sqrt_one_minus_alphas_cumprod, np.float64)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 2))
    t, mid = np.array([99, 80, 60, 40, 20, 9]), np.array([70, 50, 30, 20, 10, 4])
    nxt = np.array([40, 20, 10, 5, 2, -1])

    def teacher(x, step):  # any smooth x0-prediction will do for the identity
        return np.tanh(x) * 0.5 + 0.01 * step[:, None]

    def jump(x, x0, t0, t1):
        a1 = np.where(t1 < 0, 1.0, a[np.maximum(t1, 0)])[:, None]
        s1 = np.where(t1 < 0, 0.0, s[np.maximum(t1, 0)])[:, None]
        return a1 * x0 + s1 * (x - a[t0][:, None] * x0) / s[t0][:, None]

    z1 = jump(z, teacher(z, t), t, mid)
    z2 = jump(z1, teacher(z1, mid), mid, nxt)  # the teacher's two steps, float64
    x_tilde = distillation.teacher_target(
        lambda x, step: jnp.tanh(x) * 0.5 + 0.01 * step[:, None],
        sched, jnp.asarray(z, jnp.float32), t, mid, nxt,
    )  # fmt: skip
    one = jump(z, np.asarray(x_tilde, np.float64), t, nxt)  # the student's one step
    np.testing.assert_allclose(one, z2, atol=2e-4)
    np.testing.assert_allclose(np.asarray(x_tilde)[-1], z2[-1], atol=1e-5)  # t_next = -1


@pytest.mark.slow
def test_distillation_moves_the_student_towards_the_teachers_map():
    sched = schedules.cosine_schedule(100)
    model = models.MLPDenoiser(width=64, time_embedding="sinusoidal", residual=True)
    apply_fn, params = models.functional(model, jax.random.key(0))
    angle = jax.random.uniform(jax.random.key(1), (2048,)) * 2 * jnp.pi
    x = jnp.stack([jnp.cos(angle), jnp.sin(angle)], 1)  # a ring
    opt = training.make_optimizer(2e-3)
    spec = training.TrainSpec(apply_fn, opt, batch_size=256)
    state = training.init_state(jax.random.key(2), params, opt)
    state, _ = fitting.fit(state, x, spec=spec, schedule=sched, epochs=60)
    teacher = state.params

    x_T = jax.random.normal(jax.random.key(3), (512, 2))

    def run(p, k):
        opts = samplers.SamplerOptions(method="ddim", steps=k, eta=0.0, spacing="trailing")
        return samplers.sample(jax.random.key(4), apply_fn, p, sched, (512, 2), opts, x_T=x_T)

    reference = run(teacher, 8)
    student = teacher
    for k in distillation.rounds(8, 2):
        student, losses = distillation.distill_round(
            jax.random.key(k), apply_fn, student, sched, x, k, iterations=300, batch_size=256
        )
        assert float(losses[-30:].mean()) < float(losses[:30].mean())
    gap_teacher = float(jnp.mean(jnp.square(run(teacher, 2) - reference)))
    gap_student = float(jnp.mean(jnp.square(run(student, 2) - reference)))
    assert gap_student < 0.5 * gap_teacher, (gap_student, gap_teacher)
