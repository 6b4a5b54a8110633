"""Sampling: one frozen :class:`SamplerOptions` and the functions that run a reverse chain.

Every method is one ``jax.lax.scan`` over decreasing timesteps (:mod:`jaxdiff.solvers`);
per-step noise comes from ``jax.random.fold_in(key, t)``, so a sampler's output is a pure
function of its key, whatever the batch is split into.

Class-conditional models (``MLPDenoiser(num_classes=C)``) sample with ``labels`` and
classifier-free ``guidance`` w, for every method: the solvers only ever see
``apply_fn(params, x, t)``, which :class:`Conditioned` provides.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff import diffusion, validate
from jaxdiff.models import check_fits, float_dtype
from jaxdiff.schedules import Schedule
from jaxdiff.solvers import CHAINS, SPACINGS, ddim_step, ddpm_step, timesteps

__all__ = [
    "METHODS",
    "SPACINGS",
    "VARIANCES",
    "Conditioned",
    "SamplerOptions",
    "ddim_step",
    "ddpm_step",
    "sample",
    "sample_trajectory",
    "timesteps",
]

METHODS = tuple(CHAINS)
VARIANCES = ("beta", "beta_tilde")


@dataclasses.dataclass(frozen=True)
class SamplerOptions:
    """How a reverse chain runs; checked when built, hashable (a static argument).

    Attributes:
      method: ``"ddpm"`` (ancestral, Ho et al. 2020 Alg. 2; the seed), ``"ddim"`` (Song et
        al. 2021, eq. 12) or ``"dpm-solver"`` (DPM-Solver++(2M), Lu et al. 2022).
      steps: network evaluations ``K ≤ T`` for ddim and dpm-solver (at least 2 for
        dpm-solver); None means all ``T``. ddpm always takes all ``T``.
      spacing: which K of the T steps: ``"trailing"``, ``"leading"`` or ``"linspace"``
        (see :func:`timesteps`).
      eta: DDIM's noise scale in ``[0, 1]`` (0: deterministic; 1: DDPM with ``β̃``).
      variance: DDPM's ``σ_t²``: ``"beta"`` (the seed) or ``"beta_tilde"`` (eq. 7).
      last_step_noise: DDPM adds noise at ``t = 0`` (the seed does; Alg. 2 does not).
      target: what the network predicts: ``"eps"``, ``"x0"`` or ``"v"``.
      guidance: classifier-free guidance weight w (Ho & Salimans 2022, eq. 6), used with
        ``labels``; 0 samples the conditional model as it is, without the ∅ pass.
    """

    method: str = "ddpm"
    steps: int | None = None
    spacing: str = "trailing"
    eta: float = 0.0
    variance: str = "beta"
    last_step_noise: bool = True
    target: str = "eps"
    guidance: float = 0.0

    def __post_init__(self):
        validate.one_of("method", self.method, METHODS)
        validate.one_of("variance", self.variance, VARIANCES)
        validate.one_of("target", self.target, diffusion.TARGETS)
        validate.one_of("spacing", self.spacing, SPACINGS)
        if self.steps is not None:
            validate.positive_int("steps", self.steps)
        if self.method == "dpm-solver" and self.steps is not None and self.steps < 2:
            raise ValueError(f"steps must be at least 2 for method 'dpm-solver', got {self.steps}")
        validate.number_in("eta", self.eta, 0.0, 1.0)
        validate.finite_number("guidance", self.guidance)

    def replace(self, **changes) -> SamplerOptions:
        """These options with ``changes`` (None: unchanged). A new ``method`` without
        ``steps`` takes all ``T`` steps (a 20-step dpm-solver run sampled with ``ddpm``)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "method" in changes and "steps" not in changes:
            changes["steps"] = None if changes["method"] == "ddpm" else self.steps
        return dataclasses.replace(self, **changes)

    def for_schedule(self, num_steps: int) -> SamplerOptions:
        """These options with ``steps`` made explicit for a schedule of ``num_steps``."""
        steps = num_steps if self.steps is None else self.steps
        if self.method == "ddpm" and steps != num_steps:
            raise ValueError(
                f"steps must be {num_steps} (or None) for method 'ddpm', got {self.steps!r}; "
                "use method 'ddim' or 'dpm-solver' for fewer steps"
            )
        timesteps(num_steps, steps, self.spacing)  # K ≤ T
        return dataclasses.replace(self, steps=steps)


@dataclasses.dataclass(frozen=True)
class Conditioned:
    """``apply_fn(params, x, t)`` of a class-conditional model with ``params = (model
    params, labels, w)``: labels ``()`` or ``(B,)``, ``-1`` for the null label ∅.

    With ``guided``, classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598,
    eq. 6): ``ε̃ = (1 + w) ε(x, c) - w ε(x, ∅)``; the two predictions come from one call
    on ``2B`` rows. The combination is applied to the raw output whatever the target:
    ``ε`` is affine in the output at fixed ``x_t`` and the weights sum to 1, so guiding
    the ``x_0`` or ``v`` prediction is the same as guiding ``ε``. ``w = 0`` is the
    conditional model alone, ``w = -1`` the unconditional one.
    """

    apply_fn: Callable
    guided: bool

    def __call__(self, params, x, t):
        params, labels, w = params
        c = jnp.broadcast_to(labels, x.shape[:1])
        if not self.guided:
            return self.apply_fn(params, x, t, c)
        t2 = t if jnp.ndim(t) == 0 else jnp.concatenate([t, t])
        both = self.apply_fn(
            params, jnp.concatenate([x, x]), t2, jnp.concatenate([c, jnp.full_like(c, -1)])
        )
        cond, uncond = jnp.split(both, 2)
        return (1.0 + w) * cond - w * uncond


@functools.partial(jax.jit, static_argnames=("apply_fn", "shape", "options", "trajectory"))
def _sample(key, apply_fn, params, schedule, shape, x_T, options, trajectory):
    init_key, loop_key = jax.random.split(key)
    if x_T is None:
        x_T = jax.random.normal(init_key, shape)
    chain = CHAINS[options.method]
    return chain(loop_key, apply_fn, params, schedule, x_T, options, trajectory)


def _run(key, apply_fn, params, schedule, shape, options, labels, x_T, *, trajectory):
    if options is None:
        options = SamplerOptions()
    if not isinstance(options, SamplerOptions):
        raise TypeError(f"options must be a SamplerOptions, got {type(options).__name__}")
    shape = tuple(shape)
    if len(shape) < 1 or any((not isinstance(d, int)) or d < 0 for d in shape):
        raise ValueError(f"shape must be a tuple of non-negative integers, got {shape!r}")
    options = options.for_schedule(schedule.num_steps)
    check_fits(apply_fn, data_dim=shape[-1], num_steps=schedule.num_steps, labels=labels)
    w = options.guidance
    if w and labels is None:
        raise ValueError(f"guidance {w} needs labels to guide towards")
    if labels is not None and (
        np.ndim(labels) > 1 or (np.ndim(labels) == 1 and np.shape(labels)[0] != shape[0])
    ):
        raise ValueError(
            f"labels must be one int or one per sample, shape ({shape[0]},), "
            f"got shape {np.shape(labels)}"
        )
    if x_T is not None and tuple(x_T.shape) != shape:
        raise ValueError(f"x_T must have shape {shape}, got {tuple(x_T.shape)}")
    if labels is not None:
        apply_fn = Conditioned(apply_fn, guided=w != 0)
        w = jnp.asarray(w, float_dtype())
        params = (params, jnp.asarray(labels, jnp.int32), w)
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
    x_T: jax.Array | None = None,
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
      x_T: optional starting noise of ``shape`` (then ``key`` only drives later noise).

    Returns:
      ``x_0``, of ``shape``.

    Example:
      >>> opts = SamplerOptions(method="dpm-solver", steps=10, target="v")
      >>> x = sample(jax.random.key(0), apply_fn, params, schedule, (1000, 2), opts)
    """
    return _run(key, apply_fn, params, schedule, shape, options, labels, x_T, trajectory=False)


def sample_trajectory(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Schedule,
    shape: tuple[int, ...],
    options: SamplerOptions | None = None,
    *,
    labels=None,
    x_T: jax.Array | None = None,
) -> jax.Array:
    """As :func:`sample`, returning every state, ``x_T`` first and ``x_0`` last.

    Shape ``(K+1, *shape)`` (``K = T`` for ddpm). The last entry equals ``sample(...)``
    with the same key and options.
    """
    return _run(key, apply_fn, params, schedule, shape, options, labels, x_T, trajectory=True)
