"""Filling the missing cells of rows with an unconditional model of either family:
RePaint's resampling (Lugmayr et al. 2022, arXiv:2201.09865, Algorithm 1).

At each level of the reverse chain the known cells are drawn from the forward process
``q(x_t | x_0)`` of their own values, the unknown ones by the model's reverse step, and
the joined state is taken back up one level and down again ``resample`` times, so that
the model harmonises the unknown cells with the known ones. At the clean end the known
cells are their values exactly.

A flow model (target ``"velocity"``) runs the same algorithm on its straight path
``x_t = (1 - t) x_0 + t ε``: the path is a Gaussian forward process whose kernel from
``s`` up to ``t > s`` is ``x_t = a x_s + b z`` with ``a = (1-t)/(1-s)`` and
``b² = t² - a² s²`` (the marginals' means and variances fixed), and its reverse step is
that kernel's posterior ``q(x_s | x_t, x̂_0)`` at the velocity's data prediction
``x̂_0 = x_t - t v(x_t, t)``, the ancestral step of the diffusion family written on the
flow's path.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiff.core import validate
from jaxdiff.ddpm import diffusion, solvers
from jaxdiff.ddpm.schedules import Schedule
from jaxdiff.flow import flow_solvers, flows

__all__ = ["RESAMPLE", "repaint"]

# Rounds of RePaint's resampling at each level (the paper's U = 10, jump length 1).
RESAMPLE = 10


def _resample(key, x_known, known, rows, resample, kernels):
    """RePaint's frame, shared by both families: at each level of ``rows`` (its last entry
    the level's index), the unknown cells take the reverse step, the known ones a draw of
    their marginal ``m x_0 + sd z``; then ``resample - 1`` times up by the forward kernel
    ``a x + b z`` and down again. ``kernels(row)`` gives ``(reverse, (m, sd), (a, b))``,
    ``reverse(key, x)`` the family's step down. Noise from ``fold_in(key, level)``."""
    start, levels = jax.random.split(key)
    x0 = jnp.where(known, x_known, 0.0)  # an unknown cell (NaN, say) is never read

    def level(x, row):
        i = row[-1]
        reverse, (m, sd), (a, b) = kernels(row)

        def down(x, u):
            k_step, k_known = jax.random.split(jax.random.fold_in(jax.random.fold_in(levels, i), u))
            unknown = reverse(k_step, x)
            z = jax.random.normal(k_known, x.shape, x.dtype)
            return jnp.where(known, m * x0 + sd * z, unknown)

        def round_trip(x, u):
            x_p = down(x, u)
            k_up = jax.random.fold_in(jax.random.fold_in(levels, i), resample + u)
            return a * x_p + b * jax.random.normal(k_up, x.shape, x.dtype), None

        x, _ = jax.lax.scan(round_trip, x, jnp.arange(resample - 1))
        return down(x, resample - 1), None

    x_T = jax.random.normal(start, x_known.shape, x_known.dtype)
    x, _ = jax.lax.scan(level, x_T, rows)
    return jnp.where(known, x_known, x)


def _repaint(key, apply_fn, params, schedule, x_known, known, ts, resample, target):
    t_prev = jnp.concatenate([ts[1:], jnp.full((1,), -1, ts.dtype)])
    abar = schedule.alphas_cumprod

    def kernels(row):
        t, tp, _ = row
        abar_p = jnp.where(tp >= 0, abar[jnp.maximum(tp, 0)], 1.0).astype(x_known.dtype)
        keep = abar[t] / abar_p  # ᾱ_t / ᾱ_{t_prev}: the forward step from t_prev to t

        def reverse(k, x):
            return solvers.ddim_step(k, apply_fn, params, schedule, x, t, tp, eta=1.0,
                                     target=target)  # fmt: skip

        return (
            reverse,
            (jnp.sqrt(abar_p), jnp.sqrt(1.0 - abar_p)),
            (jnp.sqrt(keep), jnp.sqrt(1.0 - keep)),
        )

    rows = (ts, t_prev, jnp.arange(ts.shape[0]))
    return _resample(key, x_known, known, rows, resample, kernels)


# Jitted after its definition (the same object as the decorator's) so that mutation testing,
# which skips decorated functions, mutates its body; likewise _flow_repaint.
_repaint = jax.jit(_repaint, static_argnames=("apply_fn", "resample", "target"))


def _flow_repaint(key, apply_fn, params, schedule, x_known, known, ts, resample):
    v = flow_solvers.velocity(apply_fn, params, schedule)

    def kernels(row):
        t, s, _ = row  # from flow time t down to s < t
        a = (1.0 - t) / (1.0 - s)  # the path's kernel from s up to t: x_t = a x_s + b z
        b = jnp.sqrt(jnp.maximum(t**2 - (a * s) ** 2, 0.0))

        def reverse(k, x):
            x0_hat = x - t * v(x, t)
            # q(x_s | x_t, x_0): x_s ~ N((1-s) x_0, s²) and x_t | x_s ~ N(a x_s, b²)
            mean = (1.0 - s) * x0_hat + a * s**2 / t**2 * (x - (1.0 - t) * x0_hat)
            return mean + s * b / t * jax.random.normal(k, x.shape, x.dtype)

        return reverse, (1.0 - s, s), (a, b)

    rows = (ts[:-1], ts[1:], jnp.arange(ts.shape[0] - 1))
    return _resample(key, x_known, known, rows, resample, kernels)


_flow_repaint = jax.jit(_flow_repaint, static_argnames=("apply_fn", "resample"))


def repaint(
    key: jax.Array,
    apply_fn,
    params,
    schedule: Schedule,
    x: jax.Array,
    known: jax.Array,
    *,
    steps: jax.Array | None = None,
    resample: int = RESAMPLE,
    target: str = "eps",
) -> jax.Array:
    """``x`` ``(n, D)`` with its unknown cells (``known`` False) drawn by RePaint.

    A diffusion model: at each level ``t → t_prev`` of the decreasing grid ``steps``
    (default: every step ``T-1 … 0``): the unknown cells take one DDIM step with
    ``η = 1`` (the ancestral step; over every step, Ho et al.'s with ``σ² = β̃``), the
    known ones are drawn from
    ``q(x_{t_prev} | x_0) = N(√ᾱ_{t_prev} x_0, 1 - ᾱ_{t_prev})``; then, ``resample - 1``
    times, the joined state goes back up by the forward step ``N(√(ᾱ_t/ᾱ_{t_prev}) x,
    1 - ᾱ_t/ᾱ_{t_prev})`` and down again (Lugmayr et al. 2022, Algorithm 1, jump length
    1). A flow model (``target="velocity"``): the same on its path (module docstring),
    over the decreasing flow times ``steps`` from 1 to 0 (default: ``T`` equal levels,
    ``T`` the schedule's steps). Noise from ``fold_in(key, level)``; the known cells come
    out exactly as given.

    Args:
      key: PRNG key.
      apply_fn, params: an unconditional (or null-labelled) model of either family.
      schedule: its noise schedule (a flow's: its network's time scale).
      x: rows in the model's units; unknown cells may hold anything (NaN included).
      known: bool ``(n, D)``, True where ``x`` is given.
      steps: the decreasing timesteps visited (integers in ``[0, T)``; a flow's: times
        from 1 down to 0).
      resample: RePaint's U, at least 1 (1: replacement alone, no resampling).
      target: what the network predicts (``"velocity"``: a flow model).

    Returns:
      ``(n, D)``: ``x`` where known, a draw given the known cells elsewhere.
    """
    resample = validate.positive_int("resample", resample)
    validate.one_of("target", target, (*diffusion.TARGETS, flows.TARGET))
    x = jnp.asarray(x)
    known = jnp.asarray(known, bool)
    if x.ndim != 2 or known.shape != x.shape:
        raise ValueError(f"x and known must have the same shape (n, D), got {x.shape} and "
                         f"{known.shape}")  # fmt: skip
    if target == flows.TARGET:
        ts = flow_solvers.times(schedule.num_steps, x.dtype) if steps is None else steps
        ts = jnp.asarray(ts, x.dtype)
        falls = ts.ndim == 1 and ts.shape[0] >= 2 and bool(jnp.all(jnp.diff(ts) < 0))
        if not (falls and ts[0] == 1.0 and ts[-1] == 0.0):
            raise validate.InvalidValue("steps", "flow times falling from 1 to 0", steps)
        return _flow_repaint(key, apply_fn, params, schedule, x, known, ts, resample)
    ts = jnp.arange(schedule.num_steps - 1, -1, -1) if steps is None else jnp.asarray(steps)
    return _repaint(key, apply_fn, params, schedule, x, known, ts, resample, target)
