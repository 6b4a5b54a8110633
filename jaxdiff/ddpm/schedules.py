"""Noise schedules: every coefficient of the forward and reverse processes, precomputed.

Indices follow the code, not the paper: timestep ``i = 0 … T-1`` is the paper's
``t = 1 … T``. With ``ᾱ_i = ∏_{j≤i} (1 - β_j)`` and ``ᾱ_{-1} = 1``:

* forward (Ho et al. 2020, eq. 4): ``x_i = √ᾱ_i x_0 + √(1-ᾱ_i) ε``;
* posterior (eqs. 6-7): ``q(x_{i-1} | x_i, x_0) = N(c1_i x_0 + c2_i x_i, β̃_i)``.

Everything is computed once in float64 numpy and then cast: ``1 - ᾱ_0`` is about
2.2e-5 for the seed's schedule, and float32 arithmetic would lose ~6e-4 of it.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import validate

__all__ = [
    "Schedule",
    "cosine_schedule",
    "from_betas",
    "linear_schedule",
    "sigmoid_schedule",
]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Schedule:
    """A frozen pytree holding every precomputed coefficient, each of shape ``(T,)``.

    Attributes:
      betas: ``β_i``, the forward variances.
      alphas: ``1 - β_i``.
      alphas_cumprod: ``ᾱ_i``.
      alphas_cumprod_prev: ``ᾱ_{i-1}`` (1 at ``i = 0``).
      sqrt_alphas_cumprod: ``√ᾱ_i``, the signal scale ``a_i`` of ``x_i``.
      sqrt_one_minus_alphas_cumprod: ``√(1-ᾱ_i)``, the noise scale ``s_i`` of ``x_i``.
      log_one_minus_alphas_cumprod: ``log(1-ᾱ_i)``.
      sqrt_recip_alphas: ``1/√(1-β_i)``, the outer factor of the model mean (eq. 11).
      eps_coef: ``β_i/√(1-ᾱ_i)``, the weight of ε̂ in the model mean (eq. 11).
      posterior_variance: ``β̃_i = β_i (1-ᾱ_{i-1})/(1-ᾱ_i)`` (eq. 7); 0 at ``i = 0``.
      posterior_log_variance_clipped: ``log β̃_i`` with ``β̃_0`` replaced by ``β̃_1``.
      posterior_mean_coef1: weight of ``x_0`` in ``μ̃`` (eq. 7).
      posterior_mean_coef2: weight of ``x_i`` in ``μ̃`` (eq. 7).
    """

    betas: jax.Array
    alphas: jax.Array
    alphas_cumprod: jax.Array
    alphas_cumprod_prev: jax.Array
    sqrt_alphas_cumprod: jax.Array
    sqrt_one_minus_alphas_cumprod: jax.Array
    log_one_minus_alphas_cumprod: jax.Array
    sqrt_recip_alphas: jax.Array
    eps_coef: jax.Array
    posterior_variance: jax.Array
    posterior_log_variance_clipped: jax.Array
    posterior_mean_coef1: jax.Array
    posterior_mean_coef2: jax.Array

    @property
    def num_steps(self) -> int:
        """``T``, static: it comes from the array shape, never from a traced value."""
        return self.betas.shape[0]


def from_betas(betas, dtype=None) -> Schedule:
    """Builds a :class:`Schedule` from a 1-D sequence of ``T >= 1`` betas in (0, 1).

    Args:
      betas: array-like of shape ``(T,)``; every entry strictly between 0 and 1.
      dtype: floating dtype of the stored arrays; defaults to JAX's default float
        (float32, or float64 under ``jax_enable_x64``).

    Returns:
      The schedule, with every coefficient computed in float64 and then cast.

    Raises:
      ValueError: if ``betas`` is not 1-D, is empty, is not finite, leaves (0, 1), or
        decreases anywhere.

    References:
      Ho et al. 2020, "Denoising Diffusion Probabilistic Models", eqs. (4), (6), (7), (11).
    """
    try:
        b = np.asarray(betas, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"betas must be a 1-D array of numbers, got {betas!r}") from err
    if b.ndim != 1:
        raise ValueError(f"betas must be a 1-D array, got shape {b.shape}")
    if b.shape[0] < 1:
        raise ValueError(f"betas must hold at least 1 step, got {b.shape[0]}")
    if not np.all(np.isfinite(b)) or np.any(b <= 0.0) or np.any(b >= 1.0):
        bad = float(b[~(np.isfinite(b) & (b > 0.0) & (b < 1.0))][0])
        raise ValueError(f"betas must lie strictly between 0 and 1, got {bad!r}")
    drops = np.nonzero(np.diff(b) < 0.0)[0]
    if drops.size:
        i = int(drops[0])
        raise ValueError(
            f"betas must be non-decreasing (noise per step should not shrink), got "
            f"betas[{i}] = {b[i]:.6g} > betas[{i + 1}] = {b[i + 1]:.6g}"
        )

    alphas = 1.0 - b
    log_alphas_cumprod = np.cumsum(np.log1p(-b))
    alphas_cumprod = np.exp(log_alphas_cumprod)
    # 1 - ᾱ via expm1 keeps full relative precision when ᾱ is within 1e-5 of 1.
    one_minus = -np.expm1(log_alphas_cumprod)
    alphas_cumprod_prev = np.concatenate([[1.0], alphas_cumprod[:-1]])
    one_minus_prev = np.concatenate([[0.0], one_minus[:-1]])
    posterior_variance = b * one_minus_prev / one_minus
    clipped = posterior_variance.copy()
    if clipped.shape[0] > 1:
        clipped[0] = posterior_variance[1]
    else:
        clipped[0] = b[0]

    coeffs = dict(
        betas=b,
        alphas=alphas,
        alphas_cumprod=alphas_cumprod,
        alphas_cumprod_prev=alphas_cumprod_prev,
        sqrt_alphas_cumprod=np.sqrt(alphas_cumprod),
        sqrt_one_minus_alphas_cumprod=np.sqrt(one_minus),
        log_one_minus_alphas_cumprod=np.log(one_minus),
        sqrt_recip_alphas=1.0 / np.sqrt(alphas),
        eps_coef=b / np.sqrt(one_minus),
        posterior_variance=posterior_variance,
        posterior_log_variance_clipped=np.log(clipped),
        posterior_mean_coef1=np.sqrt(alphas_cumprod_prev) * b / one_minus,
        posterior_mean_coef2=np.sqrt(alphas) * one_minus_prev / one_minus,
    )
    dtype = jnp.zeros(()).dtype if dtype is None else dtype
    return Schedule(**{k: jnp.asarray(v, dtype=dtype) for k, v in coeffs.items()})


def sigmoid_schedule(
    num_steps: int = 100, beta_start: float = 1e-5, beta_end: float = 5e-3, dtype=None
) -> Schedule:
    """The seed's schedule: ``β = sigmoid(linspace(-6, 6, T)) (β_end - β_start) + β_start``.

    This is a sigmoid over β (as diffusers' ``beta_schedule="sigmoid"``), not Chen 2023's
    sigmoid over ᾱ. With the defaults Σβ ≈ 0.25 and ᾱ_T ≈ 0.78: the forward process
    never reaches noise (see ``diffusion.prior_kl``).
    """
    n = validate.positive_int("num_steps", num_steps)
    x = np.linspace(-6.0, 6.0, n)
    betas = 1.0 / (1.0 + np.exp(-x)) * (beta_end - beta_start) + beta_start
    return from_betas(betas, dtype)


def linear_schedule(
    num_steps: int = 1000,
    beta_start: float | None = None,
    beta_end: float | None = None,
    dtype=None,
) -> Schedule:
    """Ho et al. 2020's linear schedule, ``β = linspace(β_start, β_end, T)``.

    The defaults are the paper's 1e-4 → 0.02 at ``T = 1000``, scaled by ``1000/T`` so
    that ᾱ_T stays near zero for any ``T``.
    """
    n = validate.positive_int("num_steps", num_steps)
    scale = 1000.0 / n
    beta_start = 1e-4 * scale if beta_start is None else beta_start
    beta_end = 0.02 * scale if beta_end is None else beta_end
    if beta_end >= 1.0:
        raise ValueError(
            f"num_steps = {n} scales the linear schedule's beta_end to {beta_end:.6g} >= 1: "
            f"use at least 21 steps or give beta_end"
        )
    return from_betas(np.linspace(beta_start, beta_end, n), dtype)


def cosine_schedule(
    num_steps: int = 100, s: float = 0.008, max_beta: float = 0.999, dtype=None
) -> Schedule:
    """Nichol & Dhariwal 2021 (arXiv:2102.09672), eq. (17).

    ``f(t) = cos²(((t/T) + s)/(1 + s) · π/2)``, ``ᾱ_i = f(i+1)/f(0)``,
    ``β_i = min(1 - ᾱ_i/ᾱ_{i-1}, max_beta)``.
    """
    n = validate.positive_int("num_steps", num_steps)
    t = np.arange(n + 1, dtype=np.float64)
    f = np.cos((t / n + s) / (1.0 + s) * np.pi / 2.0) ** 2
    alphas_cumprod = f / f[0]
    betas = np.minimum(1.0 - alphas_cumprod[1:] / alphas_cumprod[:-1], max_beta)
    return from_betas(betas, dtype)
