"""The discrete variational bound of a DDPM (Ho et al. 2020, eq. 5), in nats per
dimension: an upper bound on ``-log p_θ(x_0)`` of the ancestral sampler's own chain.

It takes data in the model's units (after any ``Normalizer``); for data units add
``mean(log std)``. The compiled core is jitted by ``f = jax.jit(f, ...)`` after its
definition so that mutation testing, which skips decorated functions, mutates it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdiff.ddpm import diffusion
from jaxdiff.ddpm.schedules import Schedule

__all__ = ["VLB", "vlb"]


class VLB(NamedTuple):
    """Per-example terms of the bound, each ``(n,)`` in nats per dimension."""

    total: jax.Array
    prior: jax.Array  # L_T
    diffusion: jax.Array  # Σ_{i≥1} L_{i-1}
    decoder: jax.Array  # L_0


def _vlb(key, apply_fn, params, schedule, x0, target, variance):
    n, d = x0.shape[0], math.prod(x0.shape[1:])

    def sq_err(t):
        """``Σ_d (μ̃ - μ_θ)²`` per example at step ``t``, for one draw ``x_t ~ q(x_t | x_0)``."""
        eps = jax.random.normal(jax.random.fold_in(key, t), x0.shape, x0.dtype)
        xt = diffusion.perturb(schedule, x0, t, eps)
        eps_hat, _ = diffusion.model_output_to_eps_x0(
            schedule, xt, t, apply_fn(params, xt, t), target
        )
        # μ̃(x_0, x_t) - μ_θ(x_t) = c_t (ε̂ - ε) with c_t = β_t / (√(1-β_t) √(1-ᾱ_t)), as
        # μ̃ is eq. 11 evaluated at the true ε; and at t = 0, x_0 - μ_θ is the same.
        c = schedule.sqrt_recip_alphas[t] * schedule.eps_coef[t]
        return jnp.sum(jnp.square(c * (eps_hat - eps)).reshape(n, d), axis=1)

    if variance == "beta":
        variances, dec_var = schedule.betas, schedule.betas[0]
    else:
        variances = schedule.posterior_variance
        dec_var = jnp.exp(schedule.posterior_log_variance_clipped[0])

    def body(acc, t):  # L_{t-1} for t ≥ 1, where β̃_t > 0
        var, post = variances[t], schedule.posterior_variance[t]
        kl = 0.5 * (d * (jnp.log(var / post) + post / var - 1.0) + sq_err(t) / var)
        return acc + kl, None

    zeros = jnp.zeros((n,), x0.dtype)
    diff, _ = jax.lax.scan(body, zeros, jnp.arange(1, schedule.num_steps))
    dec = 0.5 * (d * jnp.log(2.0 * jnp.pi * dec_var) + sq_err(0) / dec_var)
    abar = schedule.alphas_cumprod[-1]
    prior = 0.5 * jnp.sum(
        (
            abar * jnp.square(x0) + (1.0 - abar) - 1.0 - schedule.log_one_minus_alphas_cumprod[-1]
        ).reshape(n, d),
        axis=1,
    )
    return VLB(total=(prior + diff + dec) / d, prior=prior / d, diffusion=diff / d, decoder=dec / d)


_vlb = jax.jit(_vlb, static_argnames=("apply_fn", "target", "variance"))


def vlb(
    key: jax.Array,
    apply_fn,
    params,
    schedule: Schedule,
    x0: jax.Array,
    *,
    target: str = "eps",
    variance: str = "beta",
) -> VLB:
    """The variational bound ``L_T + Σ_{i≥1} L_{i-1} + L_0`` (Ho et al. 2020, eq. 5).

    Every term is evaluated for every example (one draw of ``x_i ~ q(x_i | x_0)`` per step,
    noise from ``fold_in(key, i)``), so the only randomness is those draws. The reverse
    variance ``σ_i²`` is ``β_i`` (``variance="beta"``, the seed's sampler) or ``β̃_i``;
    the Gaussian decoder ``L_0 = -log N(x_0; μ_θ(x_1, 0), σ_0²)`` uses ``β_0``, or the
    clipped ``β̃_1`` (``β̃_0 = 0``). ``L_0`` is a density, so the total can be negative.

    Args:
      key: PRNG key for the forward draws.
      apply_fn, params: the model.
      schedule: its noise schedule.
      x0: data in model units, ``(n, D)``.
      target: what the network predicts (``"eps"``, ``"x0"``, ``"v"``).
      variance: ``"beta"`` or ``"beta_tilde"``.

    Returns:
      :class:`VLB` of per-example arrays in nats per dimension; ``total.mean()`` is the
      bound on the data's negative log-likelihood.
    """
    if target not in diffusion.TARGETS:
        raise ValueError(f"target must be one of {diffusion.TARGETS}, got {target!r}")
    if variance not in ("beta", "beta_tilde"):
        raise ValueError(f"variance must be 'beta' or 'beta_tilde', got {variance!r}")
    if schedule.num_steps < 2:
        raise ValueError(f"the schedule needs at least 2 steps, got {schedule.num_steps}")
    return _vlb(key, apply_fn, params, schedule, jnp.asarray(x0), target, variance)
