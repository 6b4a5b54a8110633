"""Likelihoods of data under a trained model by its ODE, in nats per dimension (a DDPM's
discrete bound is :func:`jaxdiff.ddpm.vlb.vlb`).

* :func:`ode_log_likelihood`: the log-density of the probability-flow ODE (Song et al.
  2021, arXiv:2011.13456, eqs. 13 and 39), with the exact Jacobian trace or Hutchinson's
  estimate of it (:mod:`jaxdiff.core.traces`).
* :func:`flow_log_likelihood`: the same for a flow model's ODE (:mod:`jaxdiff.flow.flows`).

Both take data in the model's units (after any ``Normalizer``); for data units add
``mean(log std)`` to a negative log-likelihood (the change of variables). The compiled
cores are jitted by ``f = jax.jit(f, ...)`` after their definitions (the decorator's
object) so that mutation testing, which skips decorated functions, mutates them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiff.core import conditions, traces, validate
from jaxdiff.ddpm import diffusion
from jaxdiff.ddpm.schedules import Schedule
from jaxdiff.flow import flows

__all__ = ["alpha_bar_at", "flow_log_likelihood", "ode_log_likelihood"]

SOLVERS = ("rk4", "heun")


def _log_alpha_bar_ext(schedule: Schedule) -> jax.Array:
    """``log ᾱ_{i-1}`` for ``i = 0 … T``: a leading 0 (``ᾱ_{-1} = 1``), then the schedule's."""
    return jnp.concatenate(
        [jnp.zeros(1, schedule.alphas_cumprod.dtype), jnp.log(schedule.alphas_cumprod)]
    )


def alpha_bar_at(schedule: Schedule, u: jax.Array) -> jax.Array:
    """``ᾱ(u)`` for continuous ``u ∈ [-1, T-1]``: ``log ᾱ`` interpolated linearly between
    the integer steps, with ``ᾱ(-1) = 1``. Then ``β(u) = -d log ᾱ / du = -log(1-β_i)`` on
    ``(i-1, i)``: the VP SDE whose integer-time marginals are the discrete ones."""
    log_abar = _log_alpha_bar_ext(schedule)
    u = jnp.asarray(u, log_abar.dtype)
    grid = jnp.arange(-1, schedule.num_steps, dtype=log_abar.dtype)
    return jnp.exp(jnp.interp(u, grid, log_abar))


def _add(state, k, h):
    return (state[0] + h * k[0], state[1] + h * k[1])


def _rk4_step(field, state, u, h):
    """One classical Runge-Kutta step of ``(x, trace integral)`` under ``field(state, u)``."""
    k1 = field(state, u)
    k2 = field(_add(state, k1, h / 2), u + h / 2)
    k3 = field(_add(state, k2, h / 2), u + h / 2)
    k4 = field(_add(state, k3, h), u + h)
    return tuple(
        s0 + h / 6 * (a + 2 * b + 2 * c + e)
        for s0, a, b, c, e in zip(state, k1, k2, k3, k4, strict=True)
    )


def _with_trace(f, x, probe, cond):
    """The ODE state's two derivatives ``(dx, d log-density)`` for ``f`` of one row (and
    its condition's row, where ``cond`` is not None): the exact trace (``probe`` None) or
    Hutchinson's estimate with the probes ``probe``."""
    rows = () if cond is None else (cond,)
    if probe is None:
        return traces.exact(f, x, *rows)
    return traces.hutchinson(f, x, probe, *rows)


def _network(apply_fn, params, xi, t, c):
    """The network on one row ``xi`` ``(D,)`` with its condition row (``c``: ``()`` or
    ``(row,)``)."""
    return apply_fn(params, xi[None], t, *(ci[None] for ci in c))[0]


def _rows_of(labels, context, n):
    """The condition of each of ``n`` rows (labels ``(n,)`` or a context ``(n, K)``), or
    None for an unconditional likelihood."""
    cond = conditions.pick(labels, context)
    if cond is None:
        return None
    cond = jnp.asarray(cond)
    if not conditions.is_context(cond):
        cond = cond.astype(jnp.int32)
    return conditions.broadcast(cond, n)


def _per_dim(x_end, trace_integral):
    """``(log N(x_end; 0, I) + ∫ tr) / D`` per example and the variance of that estimate
    (the probes' columns of ``∫ tr``, ``(n, M)``): the change of variables."""
    d = x_end.shape[1]
    log_prior = -0.5 * jnp.sum(jnp.square(x_end), axis=1) - 0.5 * d * jnp.log(2.0 * jnp.pi)
    integral, variance = traces.mean_and_variance(trace_integral)
    return (log_prior + integral) / d, variance / d**2


def _start(x0, probe):
    """The ODE's initial state: the rows and one zero trace integral a probe."""
    columns = 1 if probe is None else probe.shape[1]
    return (x0, jnp.zeros((x0.shape[0], columns), x0.dtype))


def _probes(trace, key, x0, probes):
    """The Hutchinson probes of ``x0``'s rows (None for the exact trace)."""
    if validate.one_of("trace", trace, traces.TRACES) == "exact":
        return None
    if key is None:
        raise ValueError("key is required for trace 'hutchinson' (it draws the probes)")
    return traces.probes(key, x0.shape[0], x0.shape[1], probes, x0.dtype)


def _result(out, return_error):
    """``log p / D`` per example, with its standard error when asked."""
    value, variance = out
    return (value, jnp.sqrt(variance)) if return_error else value


def _ode_loglik(apply_fn, params, schedule, x0, probe, target, solver, substeps, steps, cond):
    log_abar = _log_alpha_bar_ext(schedule).astype(x0.dtype)

    def drift(x, u, i, *c):
        """``f(x, u) = -½ β(u) (x - ε_θ(x, u)/s(u))`` for one example ``x`` ``(D,)`` on
        segment ``[i-1, i]``, where ``log ᾱ`` falls linearly with slope ``-β(u)``."""
        slope = log_abar[i + 1] - log_abar[i]
        log_abar_u = log_abar[i] + slope * (u - (i - 1).astype(u.dtype))
        a, s = jnp.exp(0.5 * log_abar_u), jnp.sqrt(-jnp.expm1(log_abar_u))
        eps, _ = diffusion.output_to_eps_x0(_network(apply_fn, params, x, u, c), x, a, s, target)
        return 0.5 * slope * (x - eps / s)

    def step(state, u, h, segment_of):
        def field(st, v):
            i = segment_of(v, u + h / 2)
            return _with_trace(lambda xi, *c: drift(xi, v, i, *c), st[0], probe, cond)

        if solver == "heun":
            k1 = field(state, u)
            k2 = field(_add(state, k1, h), u + h)
            return (state[0] + 0.5 * h * (k1[0] + k2[0]), state[1] + 0.5 * h * (k1[1] + k2[1]))
        return _rk4_step(field, state, u, h)

    last = schedule.num_steps - 1
    if steps is not None:  # an even grid over [0, T-1]
        h = last / steps
        nudge = 1e-3 * min(h, 1.0)

        def segment_of(v, centre):
            """The segment of stage time ``v``; on a knot, the one toward the step's
            centre (a step's end reads the β it integrated over, not the next one's)."""
            inward = v + nudge * jnp.sign(centre - v)
            return jnp.clip(jnp.floor(inward).astype(jnp.int32) + 1, 1, last)

        def one(state, u):
            return step(state, u, h, segment_of), None

        grid = jnp.arange(steps, dtype=x0.dtype) * h
        end, _ = jax.lax.scan(one, _start(x0, probe), grid)
        return _per_dim(*end)

    h = 1.0 / substeps

    def segment(state, i):
        def sub(st, j):
            return step(st, (i - 1).astype(x0.dtype) + j * h, h, lambda v, centre: i), None

        state, _ = jax.lax.scan(sub, state, jnp.arange(substeps, dtype=x0.dtype))
        return state, None

    end, _ = jax.lax.scan(segment, _start(x0, probe), jnp.arange(1, schedule.num_steps))
    return _per_dim(*end)


_ode_loglik = jax.jit(
    _ode_loglik, static_argnames=("apply_fn", "target", "solver", "substeps", "steps")
)


def ode_log_likelihood(
    apply_fn,
    params,
    schedule: Schedule,
    x0: jax.Array,
    *,
    target: str = "eps",
    solver: str = "rk4",
    substeps: int = 1,
    steps: int | None = None,
    trace: str = "exact",
    key: jax.Array | None = None,
    probes: int = traces.PROBES,
    return_error: bool = False,
    labels=None,
    context=None,
):
    """Log-likelihood of the probability-flow ODE, per example, in nats per dimension.

    In continuous step time ``u`` (:func:`alpha_bar_at`) the ODE is
    ``dx/du = -½ β(u) (x - ε_θ(x, u) / s(u))`` (Song et al. 2021, eq. 13 for the VP SDE,
    with ``∇ log p = -ε/s``), and ``log p_0(x_0) = log N(x(T-1); 0, I) + ∫ tr(∂f/∂x) du``
    (eq. 39). ``x`` and the trace integral are integrated together from ``u = 0`` to
    ``T-1`` with a fixed-step ``solver`` (``"rk4"`` or ``"heun"``), ``substeps`` steps per
    schedule step so that no step straddles a change of ``β``, or ``steps`` even steps
    over the whole range (a stage reads the ``β`` of the segment it falls on: fewer
    evaluations, at an error ``benchmarks/likelihood.py`` measures). The trace is exact
    (``jax.jacfwd``, ``D`` forward-mode passes an evaluation) or, with
    ``trace="hutchinson"``, Hutchinson's unbiased estimate from ``probes`` Rademacher
    probes a row drawn from ``key`` and held for the whole solve (FFJORD, Grathwohl et al.
    2019, eq. 7: :mod:`jaxdiff.core.traces`). The network is evaluated
    between integer steps by interpolating its step embeddings (``MLPDenoiser`` with a
    float ``t``).

    The integration starts at ``u = 0``, the paper's ``t = 1`` (``ᾱ_0 ≈ 1``): the result
    is the density of the model's least-noisy marginal at ``x_0``.

    Args:
      apply_fn, params: the model; it must accept a float scalar ``t``.
      schedule: its noise schedule.
      x0: data in model units, ``(n, D)``.
      target: what the network predicts.
      solver: ``"rk4"`` (4 evaluations a step) or ``"heun"`` (2).
      substeps: integration steps per schedule step.
      steps: integration steps over ``[0, T-1]`` instead (None: ``substeps`` a step).
      trace: ``"exact"`` or ``"hutchinson"``.
      key: PRNG key of the probes (required for ``"hutchinson"``).
      probes: probes a row (at least 2 for a standard error).
      return_error: also return each estimate's standard error (0 for the exact trace).
      labels, context: a conditional model's condition of each row (one for all, or one
        a row): ``log p(x_0 | c)``.

    Returns:
      ``log p(x_0) / D`` for each example, ``(n,)``; with ``return_error``, the pair
      ``(log p / D, standard error)``.
    """
    if target not in diffusion.TARGETS:
        raise ValueError(f"target must be one of {diffusion.TARGETS}, got {target!r}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    validate.positive_int("substeps", substeps)
    if steps is not None:
        validate.positive_int("steps", steps)
        if substeps != 1:
            raise ValueError(f"give steps or substeps, not both: got {steps} and {substeps}")
    x0 = jnp.asarray(x0)
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape (n, D), got {x0.shape}")
    probe = _probes(trace, key, x0, probes)
    cond = _rows_of(labels, context, x0.shape[0])
    out = _ode_loglik(apply_fn, params, schedule, x0, probe, target, solver, substeps, steps, cond)
    return _result(out, return_error)


def _flow_loglik(apply_fn, params, schedule, x0, probe, steps, cond):
    def field(state, t):
        return _with_trace(
            lambda xi, *c: _network(apply_fn, params, xi, flows.network_time(t, schedule), c),
            state[0],
            probe,
            cond,
        )

    h = 1.0 / steps

    def step(state, t):
        return _rk4_step(field, state, t, h), None

    end, _ = jax.lax.scan(step, _start(x0, probe), jnp.arange(steps, dtype=x0.dtype) * h)
    return _per_dim(*end)


_flow_loglik = jax.jit(_flow_loglik, static_argnames=("apply_fn", "steps"))


def flow_log_likelihood(
    apply_fn,
    params,
    schedule: Schedule,
    x0: jax.Array,
    *,
    steps: int = 32,
    trace: str = "exact",
    key: jax.Array | None = None,
    probes: int = traces.PROBES,
    return_error: bool = False,
    labels=None,
    context=None,
):
    """Log-likelihood of a flow model's ODE, per example, in nats per dimension.

    ``log p_0(x_0) = log N(x_1; 0, I) + ∫_0^1 tr(∂v_θ/∂x)(x_t, t) dt`` along
    ``dx/dt = v_θ(x, t)`` from ``t = 0`` to 1 (Chen et al. 2018, arXiv:1806.07366, eq. 4;
    Lipman et al. 2023, §C), ``x`` and the trace integral integrated together by ``steps``
    fixed RK4 steps (4 evaluations each). The trace is exact (``jax.jacfwd`` per example)
    or Hutchinson's estimate (``trace``, ``key``, ``probes``, ``return_error``: as in
    :func:`ode_log_likelihood`).

    Args:
      apply_fn, params: the flow model, ``apply_fn(params, x, network time)``.
      schedule: fixes the network's time range (:func:`jaxdiff.flow.flows.network_time`).
      x0: data in model units, ``(n, D)``.
      steps: RK4 steps over ``[0, 1]``.
      trace, key, probes, return_error, labels, context: as in
        :func:`ode_log_likelihood`.

    Returns:
      ``log p(x_0) / D`` for each example, ``(n,)`` (and its standard error with
      ``return_error``).
    """
    validate.positive_int("steps", steps)
    x0 = jnp.asarray(x0)
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape (n, D), got {x0.shape}")
    probe = _probes(trace, key, x0, probes)
    cond = _rows_of(labels, context, x0.shape[0])
    return _result(_flow_loglik(apply_fn, params, schedule, x0, probe, steps, cond), return_error)
