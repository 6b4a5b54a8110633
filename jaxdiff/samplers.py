"""Reverse-process samplers, each one ``jax.lax.scan`` over decreasing timesteps.

Per-step noise comes from ``jax.random.fold_in(key, t)``, so a sampler's output is a
pure function of its key, whatever the batch is split into.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdiff import diffusion
from jaxdiff.schedules import Schedule

__all__ = ["METHODS", "VARIANCES", "ddpm_step", "sample", "sample_trajectory"]

METHODS = ("ddpm",)
VARIANCES = ("beta", "beta_tilde")


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
    out = apply_fn(params, x, t)
    eps, _ = diffusion.model_output_to_eps_x0(schedule, x, t, out, target)
    mean = schedule.sqrt_recip_alphas[t] * (x - schedule.eps_coef[t] * eps)
    var = schedule.betas[t] if variance == "beta" else schedule.posterior_variance[t]
    z = jax.random.normal(key, x.shape, x.dtype)
    if not last_step_noise:
        z = jnp.where(t > 0, z, jnp.zeros_like(z))
    return mean + jnp.sqrt(var) * z


def _check(method, variance, target, shape, schedule):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")
    if target not in diffusion.TARGETS:
        raise ValueError(f"target must be one of {diffusion.TARGETS}, got {target!r}")
    if len(shape) < 1 or any((not isinstance(d, int)) or d < 0 for d in shape):
        raise ValueError(f"shape must be a tuple of non-negative integers, got {shape!r}")
    del schedule


@functools.partial(
    jax.jit,
    static_argnames=(
        "apply_fn",
        "shape",
        "method",
        "variance",
        "last_step_noise",
        "target",
        "trajectory",
    ),
)
def _sample(
    key, apply_fn, params, schedule, shape, *, method, variance, last_step_noise, target, trajectory
):
    init_key, loop_key = jax.random.split(key)
    x_T = jax.random.normal(init_key, shape)
    timesteps = jnp.arange(schedule.num_steps - 1, -1, -1)

    def body(x, t):
        x = ddpm_step(
            jax.random.fold_in(loop_key, t),
            apply_fn,
            params,
            schedule,
            x,
            t,
            variance=variance,
            last_step_noise=last_step_noise,
            target=target,
        )
        return x, (x if trajectory else None)

    x_0, xs = jax.lax.scan(body, x_T, timesteps)
    if trajectory:
        return jnp.concatenate([x_T[None], xs], axis=0)
    return x_0


def sample(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Schedule,
    shape: tuple[int, ...],
    *,
    method: str = "ddpm",
    variance: str = "beta",
    last_step_noise: bool = True,
    target: str = "eps",
) -> jax.Array:
    """Draws samples of ``shape`` by running the reverse chain from ``x_T ~ N(0, I)``.

    Args:
      key: PRNG key; split into one for ``x_T`` and one folded with each ``t`` for noise.
      apply_fn, params: the model, ``apply_fn(params, x, t)``.
      schedule: the noise schedule the model was trained with.
      shape: ``(n, dim)``.
      method: ``"ddpm"``, ancestral sampling (Ho et al. 2020, Algorithm 2).
      variance: ``"beta"`` (seed) or ``"beta_tilde"``.
      last_step_noise: add noise at ``t = 0`` (seed: True).
      target: what the network predicts: ``"eps"``, ``"x0"`` or ``"v"``.

    Returns:
      ``x_0``, of ``shape``.
    """
    shape = tuple(shape)
    _check(method, variance, target, shape, schedule)
    return _sample(
        key,
        apply_fn,
        params,
        schedule,
        shape,
        method=method,
        variance=variance,
        last_step_noise=last_step_noise,
        target=target,
        trajectory=False,
    )


def sample_trajectory(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Schedule,
    shape: tuple[int, ...],
    **options,
) -> jax.Array:
    """As :func:`sample`, returning every state: ``(T+1, *shape)``, ``x_T`` first, ``x_0`` last.

    The last entry equals ``sample(...)`` with the same key and options.
    """
    shape = tuple(shape)
    opts = dict(method="ddpm", variance="beta", last_step_noise=True, target="eps")
    opts.update(options)
    _check(opts["method"], opts["variance"], opts["target"], shape, schedule)
    return _sample(key, apply_fn, params, schedule, shape, trajectory=True, **opts)
