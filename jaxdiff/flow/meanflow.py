"""MeanFlow (Geng et al. 2025, arXiv:2505.13447): a network of the average velocity over
an interval of the flow's time, trained from scratch for sampling in one or a few steps.

On the straight path of :mod:`jaxdiff.flow.flows` (``z_t = (1 - t) x_0 + t ε``, velocity
``v = ε - x_0``, noise at ``t = 1``) the average velocity over ``[r, t]`` is

    u(z_t, r, t) = 1/(t - r) ∫_r^t v(z_τ, τ) dτ                       (eq. 3)

so that one step ``z_r = z_t - (t - r) u(z_t, r, t)`` (eq. 4) is exact whatever its length.
Differentiating ``(t - r) u`` in ``t`` gives the MeanFlow identity

    u(z_t, r, t) = v(z_t, t) - (t - r) d/dt u(z_t, r, t),              (eq. 6)
    d/dt u = v ∂_z u + ∂_t u,                                          (eq. 8)

whose right side, a Jacobian-vector product of the network with tangent ``(v, 0, 1)`` in
``(z, r, t)`` (``jax.jvp``), is the regression target under a stop-gradient (eq. 9-10).

The network is :class:`~jaxdiff.core.models.MLPDenoiser` built with ``interval=True``: it
sees ``t`` and the interval ``t - r`` both through :func:`jaxdiff.flow.flows.network_time`
(the paper's ``(t, t - r)`` conditioning, Table 1c). At ``r = t`` it is the
instantaneous velocity, so the flow solvers of :mod:`jaxdiff.flow.flow_solvers` sample it
too; :func:`jaxdiff.flow.flow_solvers.mean_chain` takes its ``K`` average-velocity steps.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdiff.core import validate
from jaxdiff.core.chains import Clock
from jaxdiff.flow import flows

__all__ = [
    "RATIO",
    "average_velocity",
    "meanflow_loss",
    "meanflow_target",
    "time_pairs",
]

# The fraction of rows with r < t; the rest have r = t and learn the instantaneous
# velocity (Geng et al. 2025, Table 1a: 25% was their best).
RATIO = 0.25


def average_velocity(apply_fn: Callable, params, schedule: Clock) -> Callable:
    """``u(z, r, t)`` of a MeanFlow network: ``apply_fn`` fed ``network_time(t)`` and the
    interval ``network_time(t - r)``; ``r`` and ``t`` scalars or ``(B,)``."""

    def u(z, r, t, *cond):
        return apply_fn(
            params,
            z,
            flows.network_time(t, schedule),
            *cond,
            interval=flows.network_time(t - r, schedule),
        )

    return u


def time_pairs(
    key: jax.Array, batch_size: int, t_sampler: Callable = flows.uniform_times, ratio=RATIO
):
    """``(r, t)``, ``(B,)`` each, ``0 ≤ r ≤ t ≤ 1``: two draws of ``t_sampler``, ``t`` the
    larger and ``r`` the smaller; then ``r = t`` on each row with probability ``1 - ratio``
    (Geng et al. 2025, §4.3 and Table 1a)."""
    ratio = validate.number_in("ratio", ratio, 0.0, 1.0)
    a_key, b_key, keep_key = jax.random.split(key, 3)
    a, b = t_sampler(a_key, batch_size), t_sampler(b_key, batch_size)
    t, r = jnp.maximum(a, b), jnp.minimum(a, b)
    return jnp.where(jax.random.bernoulli(keep_key, ratio, (batch_size,)), r, t), t


def meanflow_target(u: Callable, z: jax.Array, r: jax.Array, t: jax.Array, v: jax.Array, *cond):
    """``(u(z, r, t), v - (t - r) (v ∂_z u + ∂_t u))``: the prediction and the right side
    of the MeanFlow identity (eq. 6 and 8), by one ``jax.jvp`` with tangent ``(v, 0, 1)``
    in ``(z, r, t)``. Equal when ``u`` is the average velocity of the flow whose velocity
    at ``(z, t)`` is ``v``; in training ``v`` is the conditional velocity ``ε - x_0``,
    whose expectation given ``z`` is that velocity, and the target is affine in ``v``."""

    def f(z, r, t):
        return u(z, r, t, *cond)

    pred, dudt = jax.jvp(f, (z, r, t), (v, jnp.zeros_like(r), jnp.ones_like(t)))
    gap = jnp.reshape(t - r, jnp.shape(t - r) + (1,) * (z.ndim - jnp.ndim(t - r)))
    return pred, v - gap * dudt


def meanflow_loss(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Clock,
    x0: jax.Array,
    *,
    t_sampler: Callable = flows.uniform_times,
    pairing: str = "independent",
    labels: jax.Array | None = None,
    label_drop: float = 0.0,
    ratio: float = RATIO,
) -> jax.Array:
    """The MeanFlow loss ``E ‖u_θ(z_t, r, t) - sg(u_tgt)‖²`` (Geng et al. 2025, eq. 9-10,
    without the adaptive weighting ``p``: the plain square, whose minimiser is the average
    velocity itself), the mean over batch and coordinates.

    ``(r, t)`` come from :func:`time_pairs`; the data, noise, pairing (``"independent"``,
    ``"ot"``, ``"given"``), labels and label drop are those of
    :func:`jaxdiff.flow.flows.flow_loss`, which this equals where ``r = t``.

    Args:
      key: PRNG key, split by :func:`jaxdiff.flow.flows.paired_batch` (its ``t`` key draws
        the time pairs).
      apply_fn, params: a model built with ``interval=True``.
      schedule: fixes the network's time range only.
      x0: data ``(B, D)``; pairs ``(B, 2D)`` with ``pairing="given"``.
      t_sampler: ``t_sampler(key, B) -> (B,)`` times in ``[0, 1]``.
      pairing, labels, label_drop: as :func:`jaxdiff.flow.flows.flow_loss`.
      ratio: the fraction of rows with ``r < t``.
    """
    t_key, x0, eps, cond = flows.paired_batch(key, x0, pairing, labels, label_drop)
    r, t = time_pairs(t_key, x0.shape[0], t_sampler, ratio)
    r, t = r.astype(x0.dtype), t.astype(x0.dtype)
    u = average_velocity(apply_fn, params, schedule)
    pred, target = meanflow_target(u, flows.interpolate(x0, eps, t), r, t, eps - x0, *cond)
    return jnp.mean(jnp.square(pred - jax.lax.stop_gradient(target)))
