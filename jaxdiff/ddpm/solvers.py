"""The reverse-process solvers of the first kind: ancestral DDPM and DDIM, their steps,
and the pieces every chain shares. The higher-order solvers are in :mod:`jaxdiff.ddpm.fast_solvers`.

A chain is ``chain(key, apply_fn, params, schedule, x_T, options, trajectory)``, the
model seen as ``apply_fn(params, x, t)`` (conditioning, if any, inside it) and
``options`` a resolved ``sampler_settings.SamplerOptions`` (its ``grid`` set). It returns
``x_0``, or every state ``x_T … x_0`` with ``trajectory``; each chain is one
``lax.scan``. Per-step noise comes from ``jax.random.fold_in(key, t)``, so the output is
a pure function of the key, whatever the batch is split into. :mod:`jaxdiff.engine.samplers` is
the public entry point.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core.chains import scan_steps
from jaxdiff.ddpm import diffusion
from jaxdiff.ddpm.schedules import Schedule

__all__ = [
    "data_prediction",
    "ddim_chain",
    "ddim_step",
    "ddpm_chain",
    "ddpm_step",
    "log_snr",
    "restart_chain",
]


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


def ddpm_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """Ancestral sampling over every step ``T-1 … 0`` (Ho et al. 2020, Algorithm 2)."""
    ts = jnp.arange(schedule.num_steps - 1, -1, -1)

    def step(x, t):
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

    return scan_steps(step, x_T, (ts,), trajectory)


def ddim_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """DDIM over the grid's timesteps (Song et al. 2021, eq. 12), then to clean data."""
    ts = np.asarray(options.grid)
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

    return scan_steps(step, x_T, pairs, trajectory)


def restart_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """Jumps to clean data from each level of the grid, restarting with fresh noise.

    ``x̂_0 = x_θ(x_T, t_1)``; then for each later level ``t_k``:
    ``x_{t_k} = a_{t_k} x̂_0 + s_{t_k} z`` (the forward process, Ho et al. 2020 eq. 4) and
    ``x̂_0 = x_θ(x_{t_k}, t_k)``: the multistep sampling of consistency models (Song et al.
    2023, "Consistency Models", Alg. 1), one network evaluation per level. Made for a
    model whose data prediction is the end of the probability-flow ODE from ``(x_t, t)``
    (a distilled student, :func:`jaxdiff.ddpm.distillation.distill_endpoints`): the fresh
    noise of each restart contracts the errors of the jumps before it (Xu et al. 2023,
    "Restart Sampling"). With ``trajectory``: ``x_T`` and each ``x̂_0``.
    """
    ts = np.asarray(options.grid)
    x0_of = data_prediction(apply_fn, params, schedule, options.target)

    def step(x0, t):
        z = jax.random.normal(jax.random.fold_in(key, t), x0.shape, x0.dtype)
        return x0_of(diffusion.perturb(schedule, x0, t, z), t)

    first = x0_of(x_T, jnp.asarray(ts[0]))
    rest = scan_steps(step, first, (jnp.asarray(ts[1:]),), trajectory)
    return jnp.concatenate([x_T[None], rest], axis=0) if trajectory else rest


def log_snr(schedule: Schedule, t):
    """Half the log signal-to-noise ratio, ``λ_t = log(a_t / s_t)`` (DPM-Solver's λ)."""
    return jnp.log(schedule.sqrt_alphas_cumprod[t]) - jnp.log(
        schedule.sqrt_one_minus_alphas_cumprod[t]
    )


def data_prediction(apply_fn, params, schedule: Schedule, target: str) -> Callable:
    """``x0_of(x, t)``: the model's prediction of clean data at step ``t``."""

    def x0_of(x, t):
        return diffusion.model_output_to_eps_x0(schedule, x, t, apply_fn(params, x, t), target)[1]

    return x0_of
