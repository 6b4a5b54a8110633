"""Distillation of a diffusion model into a student that samples in a few evaluations.

Two methods:

* **direct** (:func:`distill_endpoints`): the student learns, at each of K noise levels
  (the ``geometric`` grid), the end of its teacher's probability-flow ODE in one
  evaluation: a regression onto endpoints the teacher computes with many deterministic
  DDIM steps (the knowledge distillation of Luhman & Luhman 2021, arXiv:2101.02388, at
  K levels instead of one). It is sampled by ``samplers``' ``restart`` method (Song et
  al. 2023, Alg. 1): jump to clean data, add fresh noise down to the next level, jump
  again. The restarts are what keep it within reach of ancestral sampling where every
  deterministic sampler of the same model loses precision.
* **progressive** (:func:`distill_round`, Salimans & Ho 2022, "Progressive Distillation
  for Fast Sampling of Diffusion Models", Alg. 2): a student that samples in K
  deterministic DDIM steps, trained so that each of its steps lands where two DDIM steps
  of its teacher land. Each round halves K; the student of one round is the teacher of
  the next.

Progressive grids are trailing (:func:`jaxdiff.ddpm.grids.timesteps`): the student's K
steps are every other step of the teacher's 2K, so a round needs ``2K ≤ T``. The last
step of every grid goes to clean data (DDIM's ``t_prev = -1``), as ``samplers`` does for ``ddim``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdiff.core import validate
from jaxdiff.ddpm import grids, students
from jaxdiff.ddpm.schedules import Schedule
from jaxdiff.ddpm.solvers import data_prediction

__all__ = [
    "ddim_jump",
    "distill_endpoints",
    "distill_round",
    "endpoint_grid",
    "endpoint_levels",
    "ode_endpoints",
    "round_grids",
    "rounds",
    "teacher_target",
]


def _coefficients(schedule: Schedule, t):
    """``(a_t, s_t)`` with ``t < 0`` meaning clean data (``a = 1``, ``s = 0``)."""
    clean = t < 0
    i = jnp.maximum(t, 0)
    a = jnp.where(clean, 1.0, schedule.sqrt_alphas_cumprod[i])
    s = jnp.where(clean, 0.0, schedule.sqrt_one_minus_alphas_cumprod[i])
    return a[..., None], s[..., None]


def ddim_jump(schedule: Schedule, x, x0, t, t_next):
    """One deterministic DDIM step (Song et al. 2021, eq. 12 with σ = 0) from ``x`` at
    ``t`` to ``t_next`` given the prediction ``x0``: ``a' x0 + s' (x - a x0)/s``."""
    a, s = _coefficients(schedule, t)
    a_n, s_n = _coefficients(schedule, t_next)
    return a_n * x0 + s_n * (x - a * x0) / s


def teacher_target(x0_teacher, schedule: Schedule, z, t, t_mid, t_next):
    """The student's regression target ``x̃`` (Salimans & Ho 2022, Alg. 2): two teacher
    DDIM steps ``z → z' → z''`` (``t → t_mid → t_next``), then the ``x̃`` for which one
    DDIM step from ``z`` at ``t`` lands on ``z''``:
    ``x̃ = (z'' - (s''/s_t) z) / (a'' - (s''/s_t) a_t)``; at ``t_next < 0``, ``x̃ = z''``."""
    z1 = ddim_jump(schedule, z, x0_teacher(z, t), t, t_mid)
    z2 = ddim_jump(schedule, z1, x0_teacher(z1, t_mid), t_mid, t_next)
    a, s = _coefficients(schedule, t)
    a_n, s_n = _coefficients(schedule, t_next)
    ratio = s_n / s
    return (z2 - ratio * z) / (a_n - ratio * a)


def round_grids(num_steps: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t, t_mid, t_next)`` of a round whose student takes ``k`` steps: the teacher's
    trailing grid of ``2k`` steps split into every other step, ``-1`` closing it."""
    k = validate.positive_int("steps", k)
    if 2 * k > num_steps:
        raise ValueError(f"steps must be at most {num_steps // 2} (half of T), got {k}")
    teacher = grids.timesteps(num_steps, 2 * k, "trailing")
    student = grids.timesteps(num_steps, k, "trailing")
    if not np.array_equal(teacher[::2], student):
        raise ValueError(f"the trailing grid of {k} steps is not every other of {2 * k}")
    closing = np.append(teacher[2::2], -1).astype(np.int32)
    return student, teacher[1::2].astype(np.int32), closing


def rounds(start_steps: int, steps: int) -> list[int]:
    """The students' step counts, halving from ``start_steps // 2`` down to ``steps``
    (both powers of two apart): 64 → 4 is ``[32, 16, 8, 4]``."""
    start_steps = validate.positive_int("start_steps", start_steps)
    steps = validate.positive_int("steps", steps)
    out, k = [], start_steps
    while k > steps:
        k //= 2
        out.append(k)
    if not out or out[-1] != steps or start_steps % steps:
        raise ValueError(
            f"steps must be start_steps ({start_steps}) halved one or more times, got {steps}"
        )
    return out


def _adam_scan(loss_fn, batch, params, optimizer, iterations: int):
    """``iterations`` optimiser steps on ``loss_fn(params, *batch(i))``, one ``lax.scan``
    (the loop of both distillation methods). Returns ``(params, losses)``."""

    def body(carry, i):
        p, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(p, *batch(i))
        updates, opt_state = optimizer.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), opt_state), loss

    carry = (params, optimizer.init(params))
    (params, _), losses = jax.lax.scan(body, carry, jnp.arange(iterations))
    return params, losses


def _round(key, params, teacher_params, schedule, data, ts, *, apply_fn, optimizer, target,
           iterations, batch_size):  # fmt: skip
    t_grid, mid_grid, next_grid = ts
    teacher_x0 = data_prediction(apply_fn, teacher_params, schedule, target)

    def loss_fn(p, x0, t, t_mid, t_next, noise):
        a, s = _coefficients(schedule, t)
        z = a * x0 + s * noise
        x_tilde = jax.lax.stop_gradient(teacher_target(teacher_x0, schedule, z, t, t_mid, t_next))
        x_hat = data_prediction(apply_fn, p, schedule, target)(z, t)
        weight = jnp.maximum(jnp.square(a / s), 1.0)  # truncated SNR (their §4)
        return jnp.mean(weight * jnp.square(x_hat - x_tilde))

    def batch(i):
        k_rows, k_step, k_noise = jax.random.split(jax.random.fold_in(key, i), 3)
        x0 = data[jax.random.randint(k_rows, (batch_size,), 0, data.shape[0])]
        j = jax.random.randint(k_step, (batch_size,), 0, t_grid.shape[0])
        noise = jax.random.normal(k_noise, x0.shape, x0.dtype)
        return x0, t_grid[j], mid_grid[j], next_grid[j], noise

    return _adam_scan(loss_fn, batch, params, optimizer, iterations)


# Jitted after their definitions (the same objects as the decorator's) so that mutation
# testing, which skips decorated functions, mutates their bodies.
_round = jax.jit(
    _round, static_argnames=("apply_fn", "optimizer", "target", "iterations", "batch_size")
)


def distill_round(
    key: jax.Array,
    apply_fn,
    teacher_params,
    schedule: Schedule,
    data,
    steps: int,
    *,
    iterations: int = 1000,
    batch_size: int = 512,
    learning_rate: float = 3e-4,
    target: str = "eps",
):
    """One round: a student of ``steps`` DDIM steps from a teacher of ``2 steps``.

    The student starts from the teacher's parameters and takes ``iterations`` Adam steps
    (a fresh optimiser, linear decay of ``learning_rate`` to 0, as Salimans & Ho do per
    round) on batches of ``data`` (rows as the model was trained on them). One compiled
    ``lax.scan``. Returns ``(student params, losses)``.
    """
    iterations = validate.positive_int("iterations", iterations)
    batch_size = validate.positive_int("batch_size", batch_size)
    optimizer = optax.adam(optax.linear_schedule(learning_rate, 0.0, iterations))
    ts = tuple(jnp.asarray(g) for g in round_grids(schedule.num_steps, steps))
    return _round(
        key,
        teacher_params,
        teacher_params,
        schedule,
        jnp.asarray(data),
        ts,
        apply_fn=apply_fn,
        optimizer=optimizer,
        target=target,
        iterations=iterations,
        batch_size=batch_size,
    )


def endpoint_levels(num_steps: int, steps: int) -> np.ndarray:
    """The ``steps`` noise levels a direct student learns and the ``restart`` sampler
    visits: the ``geometric`` grid (T = 1000, K = 4: ``999, 342, 117, 40``)."""
    return grids.timesteps(num_steps, steps, "geometric")


def endpoint_grid(t: int, ode_steps: int) -> np.ndarray:
    """The teacher's DDIM grid from level ``t`` to clean data: ``min(ode_steps, t + 1)``
    steps evenly spaced from ``t`` to 0, then ``-1`` (clean)."""
    t = validate.non_negative_int("t", t)
    ode_steps = validate.positive_int("ode_steps", ode_steps)
    m = min(ode_steps, t + 1)
    ts = np.unique(np.round(np.linspace(0, t, m)).astype(np.int32))[::-1]
    return np.append(ts, -1).astype(np.int32)


def ode_endpoints(x0_teacher, schedule: Schedule, x, grid) -> jax.Array:
    """The teacher's deterministic DDIM chain (Song et al. 2021, eq. 12, σ = 0) from
    ``x`` at ``grid[0]`` over ``grid`` (ending at ``-1``, clean data): one ``lax.scan``.
    ``x0_teacher(x, t)`` is the teacher's data prediction."""
    grid = jnp.asarray(grid)

    def body(x, pair):
        t, t_next = pair
        return ddim_jump(schedule, x, x0_teacher(x, t), t, t_next), None

    x, _ = jax.lax.scan(body, x, (grid[:-1], grid[1:]))
    return x


def _endpoints(key, params, schedule, data, *, n, apply_fn, target, grid):
    k_rows, k_noise = jax.random.split(key)
    x0 = data[jax.random.randint(k_rows, (n,), 0, data.shape[0])]
    t = jnp.full((n,), grid[0], jnp.int32)
    a, s = _coefficients(schedule, t)
    z = a * x0 + s * jax.random.normal(k_noise, x0.shape, x0.dtype)
    teacher = data_prediction(apply_fn, params, schedule, target)
    return z, ode_endpoints(teacher, schedule, z, np.asarray(grid))


_endpoints = jax.jit(_endpoints, static_argnames=("apply_fn", "target", "grid", "n"))


def _fit_endpoints(key, params, schedule, z, t, y, *, apply_fn, optimizer, target, iterations,
                   batch_size):  # fmt: skip
    def loss_fn(p, z, t, y):
        return jnp.mean(jnp.square(data_prediction(apply_fn, p, schedule, target)(z, t) - y))

    def batch(i):
        rows = jax.random.randint(jax.random.fold_in(key, i), (batch_size,), 0, z.shape[0])
        return z[rows], t[rows], y[rows]

    return _adam_scan(loss_fn, batch, params, optimizer, iterations)


_fit_endpoints = jax.jit(
    _fit_endpoints, static_argnames=("apply_fn", "optimizer", "target", "iterations", "batch_size")
)


def distill_endpoints(
    key: jax.Array,
    apply_fn,
    teacher_params,
    schedule: Schedule,
    data,
    steps: int,
    *,
    pairs: int = 20_000,
    ode_steps: int = 64,
    iterations: int = 6000,
    batch_size: int = 512,
    learning_rate: float = 1e-3,
    target: str = "eps",
    student=None,
):
    """A direct student for the ``restart`` sampler over ``steps`` levels.

    For each level ``t`` of :func:`endpoint_levels`, ``pairs`` points
    ``z = a_t x_0 + s_t ε`` (rows of ``data`` as the model was trained on them) and their
    teacher endpoints, :func:`ode_endpoints` over :func:`endpoint_grid` with
    ``max(16, ⌈ode_steps (t+1)/T⌉)`` steps (64 from ``T-1``: fewer below, where the
    ODE is nearly straight). The student, ``student = (student_fn, student_params)`` or
    by default the teacher's own ``(apply_fn, teacher_params)``, starts from those
    parameters (a cheaper network started near the teacher: :func:`jaxdiff.ddpm.students.lighten`)
    and takes ``iterations`` Adam steps (linear decay of ``learning_rate`` to 0) on the
    mean squared error of its data prediction ``x_θ(z, t)`` against the endpoint, levels
    mixed in every batch (a student with step tables trains only its tables' rows at the
    levels, :func:`jaxdiff.ddpm.students.on_steps`: the same parameters at less cost per step).
    One compiled ``lax.scan``. Returns ``(student params, losses)``.
    """
    steps = validate.positive_int("steps", steps)
    pairs = validate.positive_int("pairs", pairs)
    ode_steps = validate.positive_int("ode_steps", ode_steps)
    iterations = validate.positive_int("iterations", iterations)
    batch_size = validate.positive_int("batch_size", batch_size)
    num_steps = schedule.num_steps
    data = jnp.asarray(data)
    zs, ts, ys = [], [], []
    levels = endpoint_levels(num_steps, steps)
    for i, level in enumerate(levels.tolist()):
        m = max(16, -(-ode_steps * (level + 1) // num_steps))
        grid = tuple(endpoint_grid(level, m).tolist())
        z, y = _endpoints(jax.random.fold_in(key, i), teacher_params, schedule, data,
                          n=pairs, apply_fn=apply_fn, target=target, grid=grid)  # fmt: skip
        zs.append(z)
        ys.append(y)
        ts.append(jnp.full((pairs,), level, jnp.int32))
    optimizer = optax.adam(optax.linear_schedule(learning_rate, 0.0, iterations))
    student_fn, student_params = student or (apply_fn, teacher_params)
    restore = None
    if students.has_step_tables(student_fn):
        # Only the levels' rows of its step tables train (the same parameters, cheaper).
        student_fn, student_params, restore = students.on_steps(student_fn, student_params, levels)
    params, losses = _fit_endpoints(
        jax.random.fold_in(key, steps + 1),
        student_params,
        schedule,
        jnp.concatenate(zs),
        jnp.concatenate(ts),
        jnp.concatenate(ys),
        apply_fn=student_fn,
        optimizer=optimizer,
        target=target,
        iterations=iterations,
        batch_size=batch_size,
    )
    return (restore(params) if restore else params), losses
