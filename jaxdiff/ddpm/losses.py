"""Training losses: the simplified DDPM objective and its timestep samplers."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdiff.core import conditions
from jaxdiff.ddpm import diffusion
from jaxdiff.ddpm.schedules import Schedule

__all__ = ["T_SAMPLERS", "antithetic_timesteps", "denoising_loss", "uniform_timesteps"]


def uniform_timesteps(key: jax.Array, batch_size: int, num_steps: int) -> jax.Array:
    """``t ~ U{0, …, T-1}``, independently for each of ``batch_size`` rows."""
    return jax.random.randint(key, (batch_size,), 0, num_steps)


def antithetic_timesteps(key: jax.Array, batch_size: int, num_steps: int) -> jax.Array:
    """The seed's antithetic draw: ``t`` for the first half, ``T-1-t`` for the second.

    Draws ``⌈B/2⌉`` steps ``t``, appends their mirrors ``T-1-t`` and keeps the first
    ``B``, so every batch size works (the seed's ``cat([t, T-1-t])`` returns
    ``2⌊B/2⌋`` rows and breaks for odd ``B``). Row ``i < ⌊B/2⌋`` pairs with row
    ``i + ⌈B/2⌉``: ``t_i + t_{i+⌈B/2⌉} = T - 1``.
    """
    half = (batch_size + 1) // 2
    t = jax.random.randint(key, (half,), 0, num_steps)
    return jnp.concatenate([t, num_steps - 1 - t])[:batch_size]


T_SAMPLERS: dict[str, Callable] = {
    "antithetic": antithetic_timesteps,
    "uniform": uniform_timesteps,
}


def denoising_loss(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Schedule,
    x0: jax.Array,
    *,
    target: str = "eps",
    t_sampler: Callable = antithetic_timesteps,
    labels: jax.Array | None = None,
    label_drop: float = 0.0,
) -> jax.Array:
    """``L_simple`` (Ho et al. 2020, eq. 14): the mean squared error of the prediction.

    Draws ``t`` with ``t_sampler`` and ``ε ~ N(0, I)``, forms ``x_t = a x_0 + s ε``
    (eq. 4) and returns the mean over batch and coordinates of
    ``(target - apply_fn(params, x_t, t))²``, where the target is ``ε`` (``"eps"``, the
    seed), ``x_0`` (``"x0"``) or ``v = a ε - s x_0`` (``"v"``, Salimans & Ho 2022).

    With ``labels`` the model is called as ``apply_fn(params, x_t, t, c)``, each label
    replaced by the null label ``-1`` (a context row: by NaN, :mod:`jaxdiff.core.conditions`)
    with probability ``label_drop``: one network learns
    ``ε(x, c)`` and ``ε(x, ∅)`` together, as classifier-free guidance needs (Ho & Salimans
    2022, Algorithm 1, ``p_uncond``).

    Args:
      key: PRNG key, split into one for ``t`` and one for ``ε``.
      apply_fn: ``apply_fn(params, x, t) -> prediction``.
      params: the model parameters.
      schedule: the noise schedule.
      x0: clean data, ``(batch, dim)``.
      target: static, what the network predicts.
      t_sampler: ``t_sampler(key, batch_size, num_steps) -> (batch,)`` int array.
      labels: optional int class labels ``(batch,)``, or a context ``(batch, K)``.
      label_drop: probability in ``[0, 1]`` of dropping each label to ``-1``.

    Returns:
      The scalar loss.
    """
    if target not in diffusion.TARGETS:
        raise ValueError(f"target must be one of {diffusion.TARGETS}, got {target!r}")
    if labels is None:
        t_key, eps_key = jax.random.split(key)
        cond = ()
    else:
        t_key, eps_key, drop_key = jax.random.split(key, 3)
        cond = (conditions.drop(drop_key, labels, label_drop),)
    t = t_sampler(t_key, x0.shape[0], schedule.num_steps)
    eps = jax.random.normal(eps_key, x0.shape, x0.dtype)
    xt = diffusion.perturb(schedule, x0, t, eps)
    y = diffusion.target_value(target, x0, eps, *diffusion.coefficients(schedule, t, x0.ndim))
    return jnp.mean(jnp.square(y - apply_fn(params, xt, t, *cond)))
