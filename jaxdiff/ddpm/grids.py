"""Which K of a discrete schedule's T steps a sampler visits: the timestep grids.

A grid is a strictly decreasing sequence of integer steps in ``0 … T-1``: the network is
only ever evaluated at the steps it was trained on. Computed in float64 numpy, outside
any ``jit``: a grid is static, part of the compiled program's shape and of the hashable
``sampler_settings.SamplerOptions``.
"""

from __future__ import annotations

import numpy as np

from jaxdiff.core import validate

__all__ = ["JUMP_METHODS", "SPACINGS", "for_method", "timesteps"]

SPACINGS = ("leading", "trailing", "linspace", "logsnr", "karras", "geometric")

# Solvers whose last update jumps from the last grid point to clean data (σ = 0) with one
# more data prediction there; the others step onto t = 0 itself (ddim's t_prev = -1).
JUMP_METHODS = ("dpm-solver", "sde-dpm-solver", "dpm-solver-3m", "heun")

KARRAS_RHO = 7.0

# The geometric grid ends at ``ceil(T / GEOMETRIC_END)``: 40 of T = 1000, 4 of T = 100.
GEOMETRIC_END = 25


def _log_sigma(alphas_cumprod) -> np.ndarray:
    """``log σ_t = log(s_t / a_t) = ½ log((1-ᾱ_t)/ᾱ_t)``, decreasing in λ, in float64."""
    abar = np.asarray(alphas_cumprod, np.float64)
    return 0.5 * (np.log1p(-abar) - np.log(abar))


def _strictly_decreasing(ts, num_steps: int) -> np.ndarray:
    """A non-increasing grid made strictly decreasing: a step taken twice moves down by
    one, leaving room for the steps after it."""
    k = len(ts)
    out = np.empty(k, np.int64)
    for i, t in enumerate(ts):
        if i:
            t = min(t, out[i - 1] - 1)
        out[i] = max(t, k - 1 - i)
    if np.any(np.diff(out) >= 0) or out[-1] < 0 or out[0] >= num_steps:
        raise ValueError(f"cannot place {k} distinct steps in a schedule of {num_steps}")
    return out


def _nearest_decreasing(log_sigma: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For decreasing targets of ``log σ``, the nearest steps, made strictly decreasing."""
    nearest = [int(np.argmin(np.abs(log_sigma - target))) for target in targets]
    return _strictly_decreasing(nearest, log_sigma.shape[0])


def timesteps(num_steps: int, steps: int, spacing: str = "trailing", alphas_cumprod=None):
    """A decreasing grid of ``steps`` timesteps out of ``0 … T-1``, as ``int32``.

    * ``"leading"``: ``0, T/K, 2T/K, …`` (DDIM's original choice; starts below ``T-1``);
    * ``"trailing"``: ``T-1, T-1-T/K, …`` (starts at ``T-1``, where sampling starts);
    * ``"linspace"``: ``round(linspace(T-1, 0, K))``, both ends included;
    * ``"logsnr"``: uniform in the log signal-to-noise ratio ``λ = log(a/s)`` from step
      ``T-1`` to step 0 (Lu et al. 2022, DPM-Solver §3.3), nearest steps;
    * ``"karras"``: Karras et al. 2022 (EDM, eq. 5), ``σ_i = (σ_max^{1/ρ} + i/(K-1)
      (σ_min^{1/ρ} - σ_max^{1/ρ}))^ρ`` with ``ρ = 7`` and ``σ = s/a``, nearest steps;
    * ``"geometric"``: ``T-1`` down to ``max(⌈T/25⌉, K-1)`` in a geometric progression of steps
      (T = 1000, K = 4: ``999, 342, 117, 40``), made strictly decreasing: the noise levels
      of the ``restart`` sampler, whose last level must leave little noise to remove.

    ``logsnr`` and ``karras`` need the schedule's ``alphas_cumprod`` (concrete values).
    """
    steps = validate.positive_int("steps", steps)
    if steps > num_steps:
        raise ValueError(f"steps must be at most the schedule's {num_steps} steps, got {steps}")
    if spacing == "leading":
        ts = (np.arange(steps) * (num_steps // steps))[::-1]
    elif spacing == "trailing":
        ts = np.round(np.arange(num_steps, 0, -num_steps / steps)).astype(int) - 1
    elif spacing == "linspace":
        ts = np.round(np.linspace(0, num_steps - 1, steps)).astype(int)[::-1]
    elif spacing == "geometric":
        end = max(-(-num_steps // GEOMETRIC_END), steps - 1, 1)
        ts = np.array([num_steps - 1])
        if steps > 1:
            ts = np.round(np.geomspace(num_steps - 1, end, steps)).astype(int)
        ts = _strictly_decreasing(ts.tolist(), num_steps)
    elif spacing in ("logsnr", "karras"):
        if alphas_cumprod is None:
            raise ValueError(f"spacing {spacing!r} needs the schedule's alphas_cumprod")
        log_sigma = _log_sigma(alphas_cumprod)
        hi, lo = log_sigma[-1], log_sigma[0]
        if steps == 1:
            targets = np.array([hi])
        elif spacing == "logsnr":
            targets = np.linspace(hi, lo, steps)
        else:
            inv = 1.0 / KARRAS_RHO
            sig = np.exp(np.array([hi, lo]) * inv)
            targets = KARRAS_RHO * np.log(np.linspace(sig[0], sig[1], steps))
        ts = _nearest_decreasing(log_sigma, targets)
    else:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    return np.ascontiguousarray(ts).astype(np.int32)


def for_method(method: str, num_steps: int, steps: int, spacing: str, alphas_cumprod=None):
    """The grid a method evaluates the network on, ``steps`` points.

    The jump methods (:data:`JUMP_METHODS`) end with a jump to clean data, so a grid that
    ends at step 0 would spend its last evaluation on almost clean data: for them a
    spacing that ends at 0 (leading, linspace, logsnr, karras, when ``K < T``) gives the
    first ``K`` of its ``K + 1`` points (diffusers' convention for DPM-Solver++: linspace,
    T = 100, K = 10 is ``99, 89, …, 10``, then σ = 0).
    """
    ts = timesteps(num_steps, steps, spacing, alphas_cumprod)
    if method in JUMP_METHODS and ts[-1] == 0 and steps < num_steps:
        ts = timesteps(num_steps, steps + 1, spacing, alphas_cumprod)[:-1]
    return ts
