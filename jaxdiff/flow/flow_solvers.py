"""Samplers of a flow model: the ODE ``dx/dt = v_θ(x, t)`` from noise at ``t = 1`` to data
at ``t = 0`` (:mod:`jaxdiff.flow.flows`), with fixed steps (Euler, midpoint, Heun; each one
``lax.scan``) or an adaptive solver (diffrax).

A chain is ``chain(key, apply_fn, params, schedule, x_T, options, trajectory)`` as in
:mod:`jaxdiff.ddpm.solvers`: the model as ``apply_fn(params, x, network time)``, the
``schedule`` fixing only the network's time range, ``options`` a resolved
``sampler_settings.SamplerOptions`` whose ``steps`` ``K`` divide ``[0, 1]`` into equal steps.
The flow ODE is deterministic: ``key`` is not used. Network evaluations: Euler ``K``,
midpoint and Heun ``2K``; adaptive reports its own (:func:`adaptive_solve`). A MeanFlow
model (:mod:`jaxdiff.flow.meanflow`) also has ``mean``: ``K`` steps of its average velocity,
``K`` evaluations.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdiff.core.chains import Clock, scan_steps
from jaxdiff.flow import flows, meanflow

__all__ = [
    "ADAPTIVE_TOLERANCE",
    "CHAINS",
    "EVALUATIONS_PER_STEP",
    "adaptive_chain",
    "adaptive_solve",
    "euler_chain",
    "heun_chain",
    "mean_chain",
    "midpoint_chain",
    "times",
    "velocity",
]

# Relative and absolute tolerance of the adaptive solver.
ADAPTIVE_TOLERANCE = 1e-3
# Times at which the adaptive solver's trajectory is saved.
ADAPTIVE_SAVES = 65


def velocity(apply_fn: Callable, params, schedule: Clock) -> Callable:
    """``v(x, t)`` for flow time ``t`` (scalar), the network fed :func:`flows.network_time`."""

    def v(x, t):
        return apply_fn(params, x, flows.network_time(t, schedule))

    return v


def times(steps: int, dtype=jnp.float32) -> jax.Array:
    """``K + 1`` equally spaced times from 1 (noise) to 0 (data)."""
    return jnp.linspace(1.0, 0.0, steps + 1, dtype=dtype)


def _chain(step_of, apply_fn, params, schedule, x_T, options, trajectory):
    v = velocity(apply_fn, params, schedule)
    ts = times(options.steps, x_T.dtype)

    def step(x, t, t_next):
        return step_of(v, x, t, t_next - t)

    return scan_steps(step, x_T, (ts[:-1], ts[1:]), trajectory)


def euler_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """Euler's method, ``x ← x + h v(x, t)`` with ``h = -1/K`` (Liu et al. 2023, §2.1's
    sampler)."""
    return _chain(
        lambda v, x, t, h: x + h * v(x, t), apply_fn, params, schedule, x_T, options, trajectory
    )


def _midpoint(v, x, t, h):
    return x + h * v(x + 0.5 * h * v(x, t), t + 0.5 * h)


def midpoint_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """The explicit midpoint method: ``x ← x + h v(x + h/2 · v(x, t), t + h/2)``."""
    return _chain(_midpoint, apply_fn, params, schedule, x_T, options, trajectory)


def _heun(v, x, t, h):
    d = v(x, t)
    d_next = v(x + h * d, t + h)
    return x + 0.5 * h * (d + d_next)


def heun_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """Heun's method (the explicit trapezoid): an Euler step to ``t + h``, then the mean of
    the two slopes."""
    return _chain(_heun, apply_fn, params, schedule, x_T, options, trajectory)


def mean_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """``K`` steps of a MeanFlow model's average velocity, ``x ← x - (t - r) u(x, r, t)``
    from ``t`` to ``r = t - 1/K`` (Geng et al. 2025, arXiv:2505.13447, eq. 4; one step:
    Algorithm 2): exact for the exact ``u`` at any ``K``. The model must take an interval
    (:mod:`jaxdiff.flow.meanflow`)."""
    u = meanflow.average_velocity(apply_fn, params, schedule)
    ts = times(options.steps, x_T.dtype)

    def step(x, t, r):
        return x - (t - r) * u(x, r, t)

    return scan_steps(step, x_T, (ts[:-1], ts[1:]), trajectory)


def adaptive_solve(
    apply_fn: Callable,
    params,
    schedule: Clock,
    x_T: jax.Array,
    *,
    tolerance: float = ADAPTIVE_TOLERANCE,
    saves: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """The flow ODE from ``t = 1`` to 0 by diffrax's Tsitouras 5(4) solver (Tsit5) with a
    PID step-size controller at relative and absolute ``tolerance``: one solve for the
    whole batch (the step sizes are the batch's).

    Returns ``x_0`` (or the states at ``saves`` equally spaced times, ``t = 1`` first)
    and the number of network evaluations: Tsit5 evaluates six new stages per attempted
    step (first-same-as-last), plus one at the start.
    """
    import diffrax  # here, not at the top: 0.45 s of every command's start when unused

    v = velocity(apply_fn, params, schedule)
    term = diffrax.ODETerm(lambda t, x, args: v(x, t))
    save = (
        diffrax.SaveAt(t1=True)
        if saves is None
        else diffrax.SaveAt(ts=jnp.linspace(1.0, 0.0, saves, dtype=x_T.dtype))
    )
    sol = diffrax.diffeqsolve(
        term,
        diffrax.Tsit5(),
        # Times in the state's dtype: diffrax promotes the state to its times' dtype, so
        # float64 mode's Python-float times would return a float32 x_T as float64.
        t0=jnp.asarray(1.0, x_T.dtype),
        t1=jnp.asarray(0.0, x_T.dtype),
        dt0=jnp.asarray(-0.05, x_T.dtype),
        y0=x_T,
        saveat=save,
        stepsize_controller=diffrax.PIDController(rtol=tolerance, atol=tolerance),
        max_steps=4096,
    )
    evaluations = 1 + 6 * sol.stats["num_steps"]
    return (sol.ys[-1] if saves is None else sol.ys), evaluations


def adaptive_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """:func:`adaptive_solve` as a chain (its count of evaluations dropped; the trajectory
    is the states at ``ADAPTIVE_SAVES`` equally spaced times)."""
    saves = ADAPTIVE_SAVES if trajectory else None
    x, _ = adaptive_solve(apply_fn, params, schedule, x_T, saves=saves)
    return x


CHAINS: dict[str, Callable] = {
    "euler": euler_chain,
    "midpoint": midpoint_chain,
    "heun": heun_chain,
    "adaptive": adaptive_chain,
    "mean": mean_chain,
}
# Network evaluations per fixed step.
EVALUATIONS_PER_STEP = {"euler": 1, "midpoint": 2, "heun": 2, "mean": 1}
