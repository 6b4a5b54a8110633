"""The reverse-process solvers: one step function each, and each chain one ``lax.scan``.

A chain is ``chain(key, apply_fn, params, schedule, x_T, options, trajectory)``, the
model seen as ``apply_fn(params, x, t)`` (conditioning, if any, inside it) and
``options`` a resolved ``samplers.SamplerOptions``. It
returns ``x_0``, or every state ``x_T … x_0`` with ``trajectory``. Per-step noise comes
from ``jax.random.fold_in(key, t)``, so the output is a pure function of the key,
whatever the batch is split into. :mod:`jaxdiff.samplers` is the public entry point.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff import diffusion, validate
from jaxdiff.schedules import Schedule

__all__ = ["CHAINS", "SPACINGS", "ddim_step", "ddpm_step", "timesteps"]

SPACINGS = ("leading", "trailing", "linspace")


def timesteps(num_steps: int, steps: int, spacing: str = "trailing") -> np.ndarray:
    """A decreasing subsequence of ``steps`` timesteps out of ``0 … T-1``.

    ``"leading"``: ``0, T/K, 2T/K, …`` (DDIM's original choice, starts below ``T-1``);
    ``"trailing"``: ``T-1, T-1-T/K, …`` (always starts at ``T-1``, where sampling starts);
    ``"linspace"``: ``round(linspace(T-1, 0, K))``, both ends included.
    Computed in numpy: it is static, part of the compiled program's shape.
    """
    steps = validate.positive_int("steps", steps)
    if steps > num_steps:
        raise ValueError(f"steps must be at most the schedule's {num_steps} steps, got {steps}")
    if spacing == "leading":
        ts = np.arange(steps) * (num_steps // steps)
    elif spacing == "trailing":
        ts = np.round(np.arange(num_steps, 0, -num_steps / steps)).astype(int)[::-1] - 1
    elif spacing == "linspace":
        ts = np.round(np.linspace(0, num_steps - 1, steps)).astype(int)
    else:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    return np.ascontiguousarray(ts[::-1]).astype(np.int32)


def ddpm_step(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Schedule,
    x: jax.Array,
    t,
    *,
    variance: str = "beta",
    last_step_noise: bool = True,
    target: str = "eps",
) -> jax.Array:
    """One ancestral step ``x_t → x_{t-1}`` (Ho et al. 2020, Algorithm 2).

    ``x_{t-1} = (x_t - β_t/√(1-ᾱ_t) ε̂) / √(1-β_t) + σ_t z`` (eq. 11), with ``σ_t² = β_t``
    (``variance="beta"``, the seed) or ``β̃_t`` (``"beta_tilde"``, eq. 7). At ``t = 0``
    the noise is added only if ``last_step_noise`` (the seed adds it; Algorithm 2 does not).

    Args:
      key: PRNG key for ``z``.
      apply_fn, params: the model, ``apply_fn(params, x, t)``.
      schedule: the noise schedule.
      x: the current state ``x_t``, ``(batch, dim)``.
      t: scalar integer timestep (may be traced).
      variance, last_step_noise, target: static switches, as above.

    Returns:
      ``x_{t-1}``, shaped like ``x``.
    """
    eps, _ = diffusion.model_output_to_eps_x0(schedule, x, t, apply_fn(params, x, t), target)
    mean = schedule.sqrt_recip_alphas[t] * (x - schedule.eps_coef[t] * eps)
    var = schedule.betas[t] if variance == "beta" else schedule.posterior_variance[t]
    z = jax.random.normal(key, x.shape, x.dtype)
    if not last_step_noise:
        z = jnp.where(t > 0, z, jnp.zeros_like(z))
    return mean + jnp.sqrt(var) * z


def ddim_step(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Schedule,
    x: jax.Array,
    t,
    t_prev,
    *,
    eta=0.0,
    target: str = "eps",
) -> jax.Array:
    """One DDIM step from ``t`` to ``t_prev < t`` (Song et al. 2021, eq. 12).

    ``x_prev = √ᾱ_prev x̂_0 + √(1 - ᾱ_prev - σ²) ε̂ + σ z`` with
    ``σ = η √((1-ᾱ_prev)/(1-ᾱ_t)) √(1 - ᾱ_t/ᾱ_prev)``; ``t_prev = -1`` means the clean
    end, ``ᾱ_prev = 1``. ``η = 1`` over every step is DDPM with ``σ² = β̃``; ``η = 0`` is
    deterministic.
    """
    eps, x0 = diffusion.model_output_to_eps_x0(schedule, x, t, apply_fn(params, x, t), target)
    abar = schedule.alphas_cumprod[t]
    abar_prev = jnp.where(t_prev >= 0, schedule.alphas_cumprod[jnp.maximum(t_prev, 0)], 1.0)
    sigma = eta * jnp.sqrt((1.0 - abar_prev) / (1.0 - abar)) * jnp.sqrt(1.0 - abar / abar_prev)
    direction = jnp.sqrt(jnp.maximum(1.0 - abar_prev - sigma**2, 0.0))
    z = jax.random.normal(key, x.shape, x.dtype)
    return jnp.sqrt(abar_prev) * x0 + direction * eps + sigma * z


def _scan_steps(step, x_T, pairs, trajectory):
    """``x ← step(x, t, t_prev)`` over ``pairs``; the states too with ``trajectory``."""

    def body(x, pair):
        x = step(x, *pair)
        return x, (x if trajectory else None)

    x_0, xs = jax.lax.scan(body, x_T, pairs)
    if trajectory:
        return jnp.concatenate([x_T[None], xs], axis=0)
    return x_0


def ddpm_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """Ancestral sampling over every step ``T-1 … 0`` (Ho et al. 2020, Algorithm 2)."""
    ts = jnp.arange(schedule.num_steps - 1, -1, -1)

    def step(x, t, t_prev):
        return ddpm_step(
            jax.random.fold_in(key, t),
            apply_fn,
            params,
            schedule,
            x,
            t,
            variance=options.variance,
            last_step_noise=options.last_step_noise,
            target=options.target,
        )

    return _scan_steps(step, x_T, (ts, ts - 1), trajectory)


def ddim_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """DDIM over ``options.steps`` timesteps (Song et al. 2021, eq. 12)."""
    ts = timesteps(schedule.num_steps, options.steps, options.spacing)
    pairs = (jnp.asarray(ts), jnp.asarray(np.append(ts[1:], -1)))

    def step(x, t, t_prev):
        return ddim_step(
            jax.random.fold_in(key, t),
            apply_fn,
            params,
            schedule,
            x,
            t,
            t_prev,
            eta=options.eta,
            target=options.target,
        )

    return _scan_steps(step, x_T, pairs, trajectory)


def _lambda(schedule, t):
    """DPM-Solver's half log-SNR, ``λ_t = log(a_t / s_t)``."""
    return jnp.log(schedule.sqrt_alphas_cumprod[t]) - jnp.log(
        schedule.sqrt_one_minus_alphas_cumprod[t]
    )


def dpm_solver_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095, Alg. 2) with data prediction.

    Updates ``x`` from ``ts[k-1]`` to ``ts[k]``; the first update is first order. The last
    step, from ``ts[-1]`` to clean data (``s → 0``, ``λ → ∞``), is ``x_0 = x_θ(x, ts[-1])``:
    the first-order update's limit. Deterministic: ``key`` is unused.
    """
    target = options.target
    ts = timesteps(schedule.num_steps, options.steps, options.spacing)

    def x0_of(x, t):
        return diffusion.model_output_to_eps_x0(schedule, x, t, apply_fn(params, x, t), target)[1]

    def body(carry, pair):
        x, x0_prev, h_prev, k = carry
        t, t_next = pair
        x0 = x0_of(x, t)
        h = _lambda(schedule, t_next) - _lambda(schedule, t)
        r = h_prev / h
        second = (1.0 + 0.5 / r) * x0 - (0.5 / r) * x0_prev
        d = jnp.where(k > 0, second, x0)
        s_ratio = (
            schedule.sqrt_one_minus_alphas_cumprod[t_next]
            / (schedule.sqrt_one_minus_alphas_cumprod[t])
        )
        x = s_ratio * x - schedule.sqrt_alphas_cumprod[t_next] * jnp.expm1(-h) * d
        return (x, x0, h, k + 1), (x if trajectory else None)

    ts = jnp.asarray(ts)
    one = jnp.ones((), x_T.dtype)
    carry = (x_T, jnp.zeros_like(x_T), one, jnp.zeros((), jnp.int32))
    (x, _, _, _), xs = jax.lax.scan(body, carry, (ts[:-1], ts[1:]))
    x_0 = x0_of(x, ts[-1])
    if trajectory:
        return jnp.concatenate([x_T[None], xs, x_0[None]], axis=0)
    return x_0


CHAINS: dict[str, Callable] = {
    "ddpm": ddpm_chain,
    "ddim": ddim_chain,
    "dpm-solver": dpm_solver_chain,
}
