"""Sampling: the functions that run a reverse chain, as one frozen
:class:`~jaxdiff.engine.sampler_settings.SamplerOptions` says.

Every method is one ``jax.lax.scan`` over decreasing timesteps (:mod:`jaxdiff.ddpm.solvers`);
per-step noise comes from ``jax.random.fold_in(key, t)``, so a sampler's output is a pure
function of its key, whatever the batch is split into.

Class-conditional models (``MLPDenoiser(num_classes=C)``) sample with ``labels``, context
models (``MLPDenoiser(context=K)``) with a ``context``, and either with classifier-free
``guidance`` w, for every method: the solvers only ever see ``apply_fn(params, x, t)``,
which :class:`Conditioned` provides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import conditions
from jaxdiff.core.apply import check_fits
from jaxdiff.core.models import float_dtype
from jaxdiff.ddpm.schedules import Schedule
from jaxdiff.engine.sampler_settings import CHAINS, SamplerOptions
from jaxdiff.flow import flow_solvers, flows

__all__ = [
    "Conditioned",
    "sample",
    "sample_trajectory",
]


@dataclasses.dataclass(frozen=True)
class Conditioned:
    """``apply_fn(params, x, t[, interval=h])`` of a conditional model with ``params =
    (model params, condition, w)``: labels ``()`` or ``(B,)``, ``-1`` for the null label
    ∅, or a context ``(K,)`` or ``(B, K)``, NaN rows for the null context
    (:mod:`jaxdiff.core.conditions`; ``interval``: a MeanFlow model's,
    :mod:`jaxdiff.flow.meanflow`).

    With ``guided``, classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598,
    eq. 6): ``ε̃ = (1 + w) ε(x, c) - w ε(x, ∅)``; the two predictions come from one call
    on ``2B`` rows. The combination is applied to the raw output whatever the target:
    ``ε`` is affine in the output at fixed ``x_t`` and the weights sum to 1, so guiding
    the ``x_0`` or ``v`` prediction is the same as guiding ``ε``. ``w = 0`` is the
    conditional model alone, ``w = -1`` the unconditional one.
    """

    apply_fn: Callable
    guided: bool

    def __call__(self, params, x, t, interval=None):
        params, labels, w = params
        c = conditions.broadcast(labels, x.shape[0])
        gap = {} if interval is None else {"interval": interval}
        if not self.guided:
            return self.apply_fn(params, x, t, c, **gap)
        if gap and jnp.ndim(interval):
            gap = {"interval": jnp.concatenate([interval, interval])}
        t2 = t if jnp.ndim(t) == 0 else jnp.concatenate([t, t])
        both = self.apply_fn(
            params,
            jnp.concatenate([x, x]),
            t2,
            jnp.concatenate([c, conditions.null_like(c)]),
            **gap,
        )
        cond, uncond = jnp.split(both, 2)
        return (1.0 + w) * cond - w * uncond


def _sample(key, apply_fn, params, schedule, shape, x_T, options, trajectory):
    init_key, loop_key = jax.random.split(key)
    if x_T is None:
        x_T = jax.random.normal(init_key, shape)
    chain = (flow_solvers.CHAINS if options.target == flows.TARGET else CHAINS)[options.method]
    return chain(loop_key, apply_fn, params, schedule, x_T, options, trajectory)


# Jitted here rather than by a decorator (the same object): mutation testing mutates only
# undecorated bodies (docs/tests.md).
_sample = jax.jit(_sample, static_argnames=("apply_fn", "shape", "options", "trajectory"))


def _is_size(d) -> bool:
    """A non-negative int, or a symbolic dimension of ``jax.export``'s shape polymorphism
    (an expression object of jax's own, e.g. from ``jax.export.symbolic_shape("n")``)."""
    if isinstance(d, bool):
        return False
    if isinstance(d, int):
        return d >= 0
    return type(d).__module__.startswith("jax.")


def _run(key, apply_fn, params, schedule, shape, options, labels, x_T, *, trajectory):
    if options is None:
        options = SamplerOptions()
    if not isinstance(options, SamplerOptions):
        raise TypeError(f"options must be a SamplerOptions, got {type(options).__name__}")
    shape = tuple(shape)
    if len(shape) != 2 or not all(_is_size(d) for d in shape):
        raise ValueError(f"shape must be (n, dim), two non-negative integers, got {shape!r}")
    options = options.for_schedule(schedule)
    check_fits(
        apply_fn,
        data_dim=shape[-1],
        num_steps=schedule.num_steps,
        labels=labels,
        method=options.method,
    )
    w = options.guidance
    if w and labels is None:
        raise ValueError(f"guidance {w} needs labels or a context to guide towards")
    context = labels is not None and conditions.is_context(labels)
    rows = np.ndim(labels) - context  # a context's rows have one more axis
    if labels is not None and (rows > 1 or (rows == 1 and np.shape(labels)[0] != shape[0])):
        what = (
            "context must be one row or one per sample"
            if context
            else ("labels must be one int or one per sample")
        )
        expected = f"({shape[0]}, K)" if context else f"({shape[0]},)"
        raise ValueError(f"{what}, shape {expected}, got shape {np.shape(labels)}")
    if x_T is not None and tuple(x_T.shape) != shape:
        raise ValueError(f"x_T must have shape {shape}, got {tuple(x_T.shape)}")
    if labels is not None:
        apply_fn = Conditioned(apply_fn, guided=w != 0)
        w = jnp.asarray(w, float_dtype())
        c = jnp.asarray(labels, float_dtype() if context else jnp.int32)
        params = (params, c, w)
    return _sample(key, apply_fn, params, schedule, shape, x_T, options, trajectory)


def sample(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Schedule,
    shape: tuple[int, ...],
    options: SamplerOptions | None = None,
    *,
    labels=None,
    context=None,
    x_T: jax.Array | None = None,
    trajectory: bool = False,
) -> jax.Array:
    """Draws samples of ``shape`` by running a reverse chain from ``x_T ~ N(0, I)``.

    Args:
      key: PRNG key; split into one for ``x_T`` and one folded with each ``t`` for noise.
      apply_fn, params: the model, ``apply_fn(params, x, t)``.
      schedule: the noise schedule the model was trained with.
      shape: ``(n, dim)``.
      options: the method and its settings (default: ``SamplerOptions()``, the seed's
        ancestral sampler).
      labels: class-conditional models only: one int class, or one per sample ``(n,)``;
        ``-1`` is the null label; None (default) samples without labels.
      context: context models only: one context ``(K,)`` for every sample or one per
        sample ``(n, K)``; a NaN row is the null context.
      x_T: optional starting noise of ``shape`` (then ``key`` only drives later noise).
      trajectory: return every state of the chain instead (:func:`sample_trajectory`).

    Returns:
      ``x_0``, of ``shape``.

    Example:
      >>> opts = SamplerOptions(method="dpm-solver", steps=10, target="v")
      >>> x = sample(jax.random.key(0), apply_fn, params, schedule, (1000, 2), opts)
    """
    cond = conditions.pick(labels, context)
    return _run(key, apply_fn, params, schedule, shape, options, cond, x_T, trajectory=trajectory)


def sample_trajectory(*args, **kwargs) -> jax.Array:
    """:func:`sample` with its arguments, returning every state, ``x_T`` first and ``x_0``
    last: shape ``(K+1, *shape)`` (``K = T`` for ddpm). The last entry equals
    ``sample(...)`` with the same key and options."""
    return sample(*args, **kwargs, trajectory=True)
