"""The Gaussian algebra of DDPM: forward sampling, posteriors, and target conversions.

Shapes: ``x0``, ``xt``, ``eps`` are ``(batch, dim)`` (any trailing shape works);
``t`` is an integer array of shape ``(batch,)`` or a scalar, indexing the schedule.
Write ``a = √ᾱ_t`` and ``s = √(1-ᾱ_t)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiff.ddpm.schedules import Schedule

__all__ = [
    "TARGETS",
    "coefficients",
    "eps_from_v",
    "eps_from_x0",
    "model_output_to_eps_x0",
    "output_to_eps_x0",
    "perturb",
    "predict_eps_from_v",
    "predict_eps_from_x0",
    "predict_v",
    "predict_x0_from_eps",
    "predict_x0_from_v",
    "prior_kl",
    "q_posterior",
    "q_sample",
    "target_value",
    "v_from_eps_x0",
    "x0_from_eps",
    "x0_from_v",
]

TARGETS = ("eps", "x0", "v")


def _at(coef: jax.Array, t, ndim: int) -> jax.Array:
    """``coef[t]`` shaped to broadcast against an array of rank ``ndim``."""
    c = coef[jnp.asarray(t)]
    return c.reshape(c.shape + (1,) * (ndim - c.ndim))


def coefficients(schedule: Schedule, t, ndim: int) -> tuple[jax.Array, jax.Array]:
    """``(a, s) = (√ᾱ_t, √(1-ᾱ_t))`` shaped to broadcast against an array of rank ``ndim``."""
    return (
        _at(schedule.sqrt_alphas_cumprod, t, ndim),
        _at(schedule.sqrt_one_minus_alphas_cumprod, t, ndim),
    )


def perturb(schedule: Schedule, x0: jax.Array, t, eps: jax.Array) -> jax.Array:
    """``x_t = a x_0 + s ε`` for given noise ``ε`` (Ho et al. 2020, eq. 4)."""
    a, s = coefficients(schedule, t, x0.ndim)
    return a * x0 + s * eps


def q_sample(key: jax.Array, schedule: Schedule, x0: jax.Array, t) -> jax.Array:
    """Draws ``x_t ~ q(x_t | x_0) = N(a x_0, s² I)`` (Ho et al. 2020, eq. 4).

    Args:
      key: PRNG key; the noise is ``jax.random.normal(key, x0.shape)``.
      schedule: the noise schedule.
      x0: clean data, shape ``(batch, dim)``.
      t: timesteps, shape ``(batch,)`` or scalar, in ``[0, T)``.

    Returns:
      ``x_t`` with the shape and dtype of ``x0``.
    """
    return perturb(schedule, x0, t, jax.random.normal(key, x0.shape, x0.dtype))


def q_posterior(schedule: Schedule, x0: jax.Array, xt: jax.Array, t):
    """Mean and variance of ``q(x_{t-1} | x_t, x_0)`` (Ho et al. 2020, eqs. 6-7).

    Returns:
      ``(mean, variance, log_variance_clipped)``: the mean has the shape of ``xt``;
      the variances ``β̃_t`` broadcast against it (``β̃_0 = 0``; its log is clipped to
      ``log β̃_1``).
    """
    n = xt.ndim
    mean = (
        _at(schedule.posterior_mean_coef1, t, n) * x0
        + _at(schedule.posterior_mean_coef2, t, n) * xt
    )
    return (
        mean,
        _at(schedule.posterior_variance, t, n),
        _at(schedule.posterior_log_variance_clipped, t, n),
    )


# The conversions between ε, x_0 and v at signal and noise scales (a, s): the one place
# each formula is written. The schedule-indexed forms below call these; the probability-
# flow ODE calls them directly at continuous times.


def x0_from_eps(xt, eps, a, s):
    """``x̂_0 = (x_t - s ε̂) / a``, eq. (4) solved for ``x_0``."""
    return (xt - s * eps) / a


def eps_from_x0(xt, x0, a, s):
    """``ε̂ = (x_t - a x̂_0) / s``, eq. (4) solved for ``ε``."""
    return (xt - a * x0) / s


def v_from_eps_x0(x0, eps, a, s):
    """``v = a ε - s x_0`` (Salimans & Ho 2022, arXiv:2202.00512, §4)."""
    return a * eps - s * x0


def x0_from_v(xt, v, a, s):
    """``x_0 = a x_t - s v`` (Salimans & Ho 2022)."""
    return a * xt - s * v


def eps_from_v(xt, v, a, s):
    """``ε = s x_t + a v`` (Salimans & Ho 2022)."""
    return s * xt + a * v


def target_value(target: str, x0, eps, a, s):
    """What a network trained for ``target`` should output for ``x_t = a x_0 + s ε``."""
    if target == "eps":
        return eps
    if target == "x0":
        return x0
    if target == "v":
        return v_from_eps_x0(x0, eps, a, s)
    raise ValueError(f"target must be one of {TARGETS}, got {target!r}")


def output_to_eps_x0(out, xt, a, s, target: str):
    """A network output for ``target`` at scales ``(a, s)`` as the pair ``(ε̂, x̂_0)``."""
    if target == "eps":
        return out, x0_from_eps(xt, out, a, s)
    if target == "x0":
        return eps_from_x0(xt, out, a, s), out
    if target == "v":
        return eps_from_v(xt, out, a, s), x0_from_v(xt, out, a, s)
    raise ValueError(f"target must be one of {TARGETS}, got {target!r}")


def predict_x0_from_eps(schedule: Schedule, xt: jax.Array, t, eps: jax.Array) -> jax.Array:
    """``x̂_0 = (x_t - s ε̂) / a`` at step ``t``."""
    return x0_from_eps(xt, eps, *coefficients(schedule, t, xt.ndim))


def predict_eps_from_x0(schedule: Schedule, xt: jax.Array, t, x0: jax.Array) -> jax.Array:
    """``ε̂ = (x_t - a x̂_0) / s`` at step ``t``."""
    return eps_from_x0(xt, x0, *coefficients(schedule, t, xt.ndim))


def predict_v(schedule: Schedule, x0: jax.Array, t, eps: jax.Array) -> jax.Array:
    """The velocity target ``v = a ε - s x_0`` at step ``t``."""
    return v_from_eps_x0(x0, eps, *coefficients(schedule, t, x0.ndim))


def predict_x0_from_v(schedule: Schedule, xt: jax.Array, t, v: jax.Array) -> jax.Array:
    """``x_0 = a x_t - s v`` at step ``t``."""
    return x0_from_v(xt, v, *coefficients(schedule, t, xt.ndim))


def predict_eps_from_v(schedule: Schedule, xt: jax.Array, t, v: jax.Array) -> jax.Array:
    """``ε = s x_t + a v`` at step ``t``."""
    return eps_from_v(xt, v, *coefficients(schedule, t, xt.ndim))


def model_output_to_eps_x0(schedule: Schedule, xt: jax.Array, t, out: jax.Array, target: str):
    """Turns a network output for ``target`` at step ``t`` into the pair ``(ε̂, x̂_0)``.

    ``target`` is static: one of ``"eps"``, ``"x0"``, ``"v"``.
    """
    return output_to_eps_x0(out, xt, *coefficients(schedule, t, xt.ndim), target)


def prior_kl(schedule: Schedule, x0: jax.Array) -> jax.Array:
    """The prior term ``L_T = KL(q(x_T | x_0) ‖ N(0, I))`` in nats per dimension.

    Per coordinate ``½(ᾱ x_0² + (1-ᾱ) - 1 - log(1-ᾱ))`` with ``ᾱ = ᾱ_{T-1}`` (Ho et al.
    2020, eq. 5), averaged over the batch and the coordinates. Near 0 for a schedule
    that reaches noise; about 0.36 for the seed's on its data scale.
    """
    abar = schedule.alphas_cumprod[-1]
    log_one_minus = schedule.log_one_minus_alphas_cumprod[-1]
    kl = 0.5 * (abar * jnp.square(x0) + (1.0 - abar) - 1.0 - log_one_minus)
    return jnp.mean(kl)
