"""Reverse-process samplers, each one ``jax.lax.scan`` over decreasing timesteps.

Per-step noise comes from ``jax.random.fold_in(key, t)``, so a sampler's output is a
pure function of its key, whatever the batch is split into.

Class-conditional models (``MLPDenoiser(num_classes=C)``) sample with ``labels`` and
classifier-free ``guidance`` w, for every method: the steps themselves only ever see
``apply_fn(params, x, t)``, which :class:`_Conditioned` provides.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff import diffusion
from jaxdiff.models import check_fits
from jaxdiff.schedules import Schedule

__all__ = [
    "METHODS",
    "SPACINGS",
    "VARIANCES",
    "ddim_step",
    "ddpm_step",
    "sample",
    "sample_trajectory",
    "timesteps",
]

METHODS = ("ddpm", "ddim", "dpm-solver")
VARIANCES = ("beta", "beta_tilde")
SPACINGS = ("leading", "trailing", "linspace")


def timesteps(num_steps: int, steps: int, spacing: str = "trailing") -> np.ndarray:
    """A decreasing subsequence of ``steps`` timesteps out of ``0 … T-1``.

    ``"leading"``: ``0, T/K, 2T/K, …`` (DDIM's original choice, starts below ``T-1``);
    ``"trailing"``: ``T-1, T-1-T/K, …`` (always starts at ``T-1``, where sampling starts);
    ``"linspace"``: ``round(linspace(T-1, 0, K))``, both ends included.
    Computed in numpy: it is static, part of the compiled program's shape.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
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
    out = apply_fn(params, x, t)
    eps, _ = diffusion.model_output_to_eps_x0(schedule, x, t, out, target)
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
    out = apply_fn(params, x, t)
    eps, x0 = diffusion.model_output_to_eps_x0(schedule, x, t, out, target)
    abar = schedule.alphas_cumprod[t]
    abar_prev = jnp.where(t_prev >= 0, schedule.alphas_cumprod[jnp.maximum(t_prev, 0)], 1.0)
    sigma = eta * jnp.sqrt((1.0 - abar_prev) / (1.0 - abar)) * jnp.sqrt(1.0 - abar / abar_prev)
    direction = jnp.sqrt(jnp.maximum(1.0 - abar_prev - sigma**2, 0.0))
    z = jax.random.normal(key, x.shape, x.dtype)
    return jnp.sqrt(abar_prev) * x0 + direction * eps + sigma * z


@dataclasses.dataclass(frozen=True)
class _Conditioned:
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


def _check(method, variance, target, shape, spacing):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if variance not in VARIANCES:
        raise ValueError(f"variance must be one of {VARIANCES}, got {variance!r}")
    if target not in diffusion.TARGETS:
        raise ValueError(f"target must be one of {diffusion.TARGETS}, got {target!r}")
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    if len(shape) < 1 or any((not isinstance(d, int)) or d < 0 for d in shape):
        raise ValueError(f"shape must be a tuple of non-negative integers, got {shape!r}")


def _lambda(schedule, t):
    """DPM-Solver's half log-SNR, ``λ_t = log(a_t / s_t)``."""
    return jnp.log(schedule.sqrt_alphas_cumprod[t]) - jnp.log(
        schedule.sqrt_one_minus_alphas_cumprod[t]
    )


def _dpm_chain(apply_fn, params, schedule, x_T, ts, target, trajectory):
    """DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095, Alg. 2) with data prediction.

    Updates ``x`` from ``ts[k-1]`` to ``ts[k]``; the first update is first order. The last
    step, from ``ts[-1]`` to clean data (``s → 0``, ``λ → ∞``), is ``x_0 = x_θ(x, ts[-1])``:
    the first-order update's limit.
    """

    def x0_of(x, t):
        out = apply_fn(params, x, t)
        return diffusion.model_output_to_eps_x0(schedule, x, t, out, target)[1]

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


@functools.partial(
    jax.jit,
    static_argnames=(
        "apply_fn",
        "shape",
        "method",
        "steps",
        "spacing",
        "variance",
        "last_step_noise",
        "target",
        "trajectory",
    ),
)
def _sample(
    key,
    apply_fn,
    params,
    schedule,
    shape,
    x_T,
    eta,
    *,
    method,
    steps,
    spacing,
    variance,
    last_step_noise,
    target,
    trajectory,
):
    init_key, loop_key = jax.random.split(key)
    if x_T is None:
        x_T = jax.random.normal(init_key, shape)
    num_steps = schedule.num_steps
    if method == "dpm-solver":
        ts = timesteps(num_steps, steps, spacing)
        return _dpm_chain(apply_fn, params, schedule, x_T, ts, target, trajectory)
    if method == "ddpm":
        ts = jnp.arange(num_steps - 1, -1, -1)

        def step(x, t, t_prev):
            return ddpm_step(
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

        pairs = (ts, ts - 1)
    else:
        ts_np = timesteps(num_steps, steps, spacing)
        pairs = (jnp.asarray(ts_np), jnp.asarray(np.append(ts_np[1:], -1)))

        def step(x, t, t_prev):
            return ddim_step(
                jax.random.fold_in(loop_key, t),
                apply_fn,
                params,
                schedule,
                x,
                t,
                t_prev,
                eta=eta,
                target=target,
            )

    def body(x, pair):
        x = step(x, *pair)
        return x, (x if trajectory else None)

    x_0, xs = jax.lax.scan(body, x_T, pairs)
    if trajectory:
        return jnp.concatenate([x_T[None], xs], axis=0)
    return x_0


def _resolve(apply_fn, schedule, shape, options):
    opts = dict(
        method="ddpm",
        steps=None,
        spacing="trailing",
        eta=0.0,
        variance="beta",
        last_step_noise=True,
        target="eps",
        x_T=None,
        labels=None,
        guidance=0.0,
    )
    unknown = set(options) - set(opts)
    if unknown:
        raise TypeError(f"unknown sampler option(s) {sorted(unknown)}")
    opts.update(options)
    _check(opts["method"], opts["variance"], opts["target"], shape, opts["spacing"])
    labels, w = opts["labels"], opts["guidance"]
    check_fits(apply_fn, data_dim=shape[-1], num_steps=schedule.num_steps, labels=labels)
    if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
        raise ValueError(f"guidance must be a finite number, got {w!r}")
    if w and labels is None:
        raise ValueError(f"guidance {w} needs labels to guide towards")
    if labels is not None and (
        np.ndim(labels) > 1 or (np.ndim(labels) == 1 and np.shape(labels)[0] != shape[0])
    ):
        raise ValueError(
            f"labels must be one int or one per sample, shape ({shape[0]},), "
            f"got shape {np.shape(labels)}"
        )
    num_steps = schedule.num_steps
    if opts["method"] == "ddpm":
        if opts["steps"] not in (None, num_steps):
            raise ValueError(
                f"steps must be {num_steps} (or None) for method 'ddpm', got {opts['steps']!r}; "
                "use method 'ddim' or 'dpm-solver' for fewer steps"
            )
        opts["steps"] = num_steps
    elif opts["steps"] is None:
        opts["steps"] = num_steps
    timesteps(num_steps, opts["steps"], opts["spacing"])  # validates steps and spacing
    if opts["method"] == "dpm-solver" and opts["steps"] < 2:
        raise ValueError(f"steps must be at least 2 for method 'dpm-solver', got {opts['steps']}")
    eta = opts["eta"]
    if not isinstance(eta, (int, float)) or isinstance(eta, bool) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be a number in [0, 1], got {eta!r}")
    if opts["x_T"] is not None and tuple(opts["x_T"].shape) != shape:
        raise ValueError(f"x_T must have shape {shape}, got {tuple(opts['x_T'].shape)}")
    return opts


def _run(key, apply_fn, params, schedule, shape, options, *, trajectory):
    shape = tuple(shape)
    opts = _resolve(apply_fn, schedule, shape, options)
    x_T, eta = opts.pop("x_T"), opts.pop("eta")
    labels, w = opts.pop("labels"), opts.pop("guidance")
    if labels is not None:
        apply_fn = _Conditioned(apply_fn, guided=w != 0)
        params = (params, jnp.asarray(labels, jnp.int32), jnp.asarray(w, jnp.float32))
    return _sample(key, apply_fn, params, schedule, shape, x_T, eta, trajectory=trajectory, **opts)


def sample(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Schedule,
    shape: tuple[int, ...],
    **options,
) -> jax.Array:
    """Draws samples of ``shape`` by running a reverse chain from ``x_T ~ N(0, I)``.

    Args:
      key: PRNG key; split into one for ``x_T`` and one folded with each ``t`` for noise.
      apply_fn, params: the model, ``apply_fn(params, x, t)``.
      schedule: the noise schedule the model was trained with.
      shape: ``(n, dim)``.
      **options:
        method: ``"ddpm"`` (ancestral, Ho et al. 2020 Alg. 2; the seed), ``"ddim"`` (Song et
          al. 2021, eq. 12) or ``"dpm-solver"`` (DPM-Solver++ 2M, Lu et al. 2022).
        steps: number of network evaluations ``K ≤ T`` (ddim, dpm-solver; default ``T``).
        spacing: ``"trailing"`` (default), ``"leading"`` or ``"linspace"`` (see
          :func:`timesteps`).
        eta: DDIM's noise scale in ``[0, 1]``.
        variance: DDPM's ``"beta"`` (seed) or ``"beta_tilde"``.
        last_step_noise: DDPM adds noise at ``t = 0`` (seed: True).
        target: what the network predicts: ``"eps"``, ``"x0"`` or ``"v"``.
        x_T: optional starting noise of ``shape`` (then ``key`` only drives later noise).
        labels: class-conditional models only: one int class, or one per sample
          ``(n,)``; ``-1`` or None (default) is the null label, i.e. unconditional.
        guidance: classifier-free guidance weight w (Ho & Salimans 2022, eq. 6); 0
          (default) samples the conditional model as it is, without the ∅ pass.

    Returns:
      ``x_0``, of ``shape``.
    """
    return _run(key, apply_fn, params, schedule, shape, options, trajectory=False)


def sample_trajectory(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Schedule,
    shape: tuple[int, ...],
    **options,
) -> jax.Array:
    """As :func:`sample`, returning every state, ``x_T`` first and ``x_0`` last.

    Shape ``(K+1, *shape)`` (``K = T`` for ddpm). The last entry equals ``sample(...)``
    with the same key and options.
    """
    return _run(key, apply_fn, params, schedule, shape, options, trajectory=True)
