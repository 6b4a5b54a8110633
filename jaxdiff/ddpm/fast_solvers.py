"""The higher-order solvers, each one ``lax.scan``: DPM-Solver++(2M) and (3M), the
stochastic SDE-DPM-Solver++(2M), and Heun's method in σ (Karras et al. 2022) with
optional churn. Each works on a discrete schedule, evaluating the network only at the
grid's integer steps, and ends with a jump from the last grid point to clean data
(``x_0 = x_θ(x, t_last)``, the limit of the first-order update as σ → 0).

Notation: ``a_t = √ᾱ_t``, ``s_t = √(1-ᾱ_t)``, ``λ_t = log(a_t/s_t)``, ``σ_t = s_t/a_t``,
``h = λ_next - λ_t > 0``; ``m`` are data predictions ``x_θ``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxdiff.ddpm.solvers import data_prediction, log_snr

__all__ = ["dpm_solver_3m_chain", "dpm_solver_chain", "heun_chain", "sde_dpm_solver_chain"]


def _finish(x_T, xs, x_0, trajectory):
    if trajectory:
        return jnp.concatenate([x_T[None], xs, x_0[None]], axis=0)
    return x_0


def _second_order(m, m_prev, h_prev, h, k):
    """The multistep ``D`` of DPM-Solver++(2M): ``m`` for the first update (``k = 0``),
    then ``(1 + 1/(2r)) m - 1/(2r) m_prev`` with ``r = h_prev/h``."""
    r = h_prev / h
    return jnp.where(k > 0, (1.0 + 0.5 / r) * m - (0.5 / r) * m_prev, m)


def _multistep(body, carry_tail, x_T, x0_of, grid, trajectory):
    """Runs ``body`` (a multistep update whose carry is ``(x, *carry_tail)``) over the
    grid's consecutive pairs, then the jump to clean data from the last grid point."""
    ts = jnp.asarray(grid)
    (x, *_), xs = jax.lax.scan(body, (x_T, *carry_tail), (ts[:-1], ts[1:]))
    return _finish(x_T, xs, x0_of(x, ts[-1]), trajectory)


def _start(x_T):
    """Placeholders for a multistep solver's earlier data prediction and step size (never
    used: the first updates are of lower order), and the update counter ``k = 0``."""
    return jnp.zeros_like(x_T), jnp.ones((), x_T.dtype), jnp.zeros((), jnp.int32)


def dpm_solver_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095, Alg. 2) with data prediction.

    Updates ``x`` from ``ts[k-1]`` to ``ts[k]``; the first update is first order. The last
    step, from ``ts[-1]`` to clean data (``s → 0``, ``λ → ∞``), is ``x_0 = x_θ(x, ts[-1])``:
    the first-order update's limit. Deterministic: ``key`` is unused.
    """
    x0_of = data_prediction(apply_fn, params, schedule, options.target)

    def body(carry, pair):
        x, x0_prev, h_prev, k = carry
        t, t_next = pair
        x0 = x0_of(x, t)
        h = log_snr(schedule, t_next) - log_snr(schedule, t)
        d = _second_order(x0, x0_prev, h_prev, h, k)
        s_ratio = (
            schedule.sqrt_one_minus_alphas_cumprod[t_next]
            / (schedule.sqrt_one_minus_alphas_cumprod[t])
        )
        x = s_ratio * x - schedule.sqrt_alphas_cumprod[t_next] * jnp.expm1(-h) * d
        return (x, x0, h, k + 1), (x if trajectory else None)

    zeros, one, k0 = _start(x_T)
    return _multistep(body, (zeros, one, k0), x_T, x0_of, options.grid, trajectory)


def sde_dpm_solver_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """SDE-DPM-Solver++(2M) (Lu et al. 2022, §5, the multistep second-order solver of the
    diffusion SDE with data prediction):
    ``x_next = (s_next/s_t) e^{-h} x + a_next (1 - e^{-2h}) D + s_next √(1 - e^{-2h}) z``
    with ``D = m_t`` for the first update and ``D = (1 + 1/(2r)) m_t - 1/(2r) m_prev``,
    ``r = h_prev/h``, after it; ``z`` from ``fold_in(key, t)``. With the first-order ``D``
    every update is DDIM with η = 1 (the posterior variance of the grid's chain), so the
    noise keeps the spread that the ODE solvers lose at few steps.
    """
    x0_of = data_prediction(apply_fn, params, schedule, options.target)
    s, a = schedule.sqrt_one_minus_alphas_cumprod, schedule.sqrt_alphas_cumprod

    def body(carry, pair):
        x, x0_prev, h_prev, k = carry
        t, t_next = pair
        x0 = x0_of(x, t)
        h = log_snr(schedule, t_next) - log_snr(schedule, t)
        d = _second_order(x0, x0_prev, h_prev, h, k)
        decay = -jnp.expm1(-2.0 * h)  # 1 - e^{-2h}
        z = jax.random.normal(jax.random.fold_in(key, t), x.shape, x.dtype)
        x = (s[t_next] / s[t]) * jnp.exp(-h) * x + a[t_next] * decay * d
        x = x + s[t_next] * jnp.sqrt(decay) * z
        return (x, x0, h, k + 1), (x if trajectory else None)

    zeros, one, k0 = _start(x_T)
    return _multistep(body, (zeros, one, k0), x_T, x0_of, options.grid, trajectory)


def dpm_solver_3m_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """DPM-Solver++(3M) (Lu et al. 2022, the multistep third-order solver; the form of
    diffusers' ``multistep_dpm_solver_third_order_update``): the first update is first
    order, the second is (2M), the rest use three data predictions,
    ``x_next = (s_next/s_t) x - a_next (e^{-h}-1) D0 + a_next ((e^{-h}-1)/h + 1) D1
    - a_next ((e^{-h}-1+h)/h² - ½) D2`` with ``r0 = h_0/h``, ``r1 = h_1/h``,
    ``D1_0 = (m0-m1)/r0``, ``D1_1 = (m1-m2)/r1``, ``D1 = D1_0 + r0/(r0+r1) (D1_0-D1_1)``,
    ``D2 = (D1_0-D1_1)/(r0+r1)``. Deterministic: ``key`` is unused.
    """
    x0_of = data_prediction(apply_fn, params, schedule, options.target)
    s, a = schedule.sqrt_one_minus_alphas_cumprod, schedule.sqrt_alphas_cumprod

    def body(carry, pair):
        x, m1, m2, h0, h1, k = carry
        t, t_next = pair
        m0 = x0_of(x, t)
        h = log_snr(schedule, t_next) - log_snr(schedule, t)
        em1 = jnp.expm1(-h)  # e^{-h} - 1
        r0, r1 = h0 / h, h1 / h
        d1_0, d1_1 = (m0 - m1) / r0, (m1 - m2) / r1
        d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        base = (s[t_next] / s[t]) * x
        third = base - a[t_next] * (em1 * m0 - (em1 / h + 1.0) * d1 + ((em1 + h) / h**2 - 0.5) * d2)
        low = base - a[t_next] * em1 * _second_order(m0, m1, h0, h, k)
        x = jnp.where(k > 1, third, low)
        return (x, m0, m1, h, h0, k + 1), (x if trajectory else None)

    zeros, one, k0 = _start(x_T)
    carry_tail = (zeros, zeros, one, one, k0)
    return _multistep(body, carry_tail, x_T, x0_of, options.grid, trajectory)


def heun_chain(key, apply_fn, params, schedule, x_T, options, trajectory):
    """Heun's second-order method on the probability-flow ODE in σ (Karras et al. 2022,
    EDM, Alg. 2), on a discrete VP schedule: in ``u = x/a`` the ODE is
    ``du/dσ = (u - D(u; σ))/σ`` with ``D`` the model's data prediction and ``σ_t = s_t/a_t``.
    Between grid steps ``t → t'``: Euler ``u' = u + (σ'-σ) d``, ``d = (u - D)/σ``, then the
    trapezoid correction with ``d'`` at ``t'``; the jump to σ = 0 is Euler (``u = D``).

    ``options.churn`` (EDM's ``S_churn``) first raises the noise to ``σ̂ = σ(1+γ)``,
    ``γ = min(churn/K, √2-1)``, adding ``√(σ̂²-σ²) z`` (``z`` from ``fold_in(key, t)``);
    ``σ̂`` is rounded up to the next step of the schedule, so the network still only sees
    its steps. ``K`` grid points take ``2K - 1`` evaluations.
    """
    x0_of = data_prediction(apply_fn, params, schedule, options.target)
    s, a = schedule.sqrt_one_minus_alphas_cumprod, schedule.sqrt_alphas_cumprod
    sigma_all = s / a
    gamma = min(options.churn / len(options.grid), math.sqrt(2.0) - 1.0)

    def body(x, pair):
        t, t_next = pair
        if gamma > 0:
            want = sigma_all[t] * (1.0 + gamma)
            t_hat = jnp.minimum(jnp.searchsorted(sigma_all, want), schedule.num_steps - 1)
            extra = jnp.sqrt(jnp.maximum(sigma_all[t_hat] ** 2 - sigma_all[t] ** 2, 0.0))
            z = jax.random.normal(jax.random.fold_in(key, t), x.shape, x.dtype)
            x = a[t_hat] * (x / a[t] + extra * z)
            t = t_hat
        sig, sig_next = sigma_all[t], sigma_all[t_next]
        u = x / a[t]
        d = (u - x0_of(x, t)) / sig
        u_euler = u + (sig_next - sig) * d
        d_next = (u_euler - x0_of(a[t_next] * u_euler, t_next)) / sig_next
        u = u + (sig_next - sig) * 0.5 * (d + d_next)
        x = a[t_next] * u
        return x, (x if trajectory else None)

    ts = jnp.asarray(options.grid)
    x, xs = jax.lax.scan(body, x_T, (ts[:-1], ts[1:]))
    return _finish(x_T, xs, x0_of(x, ts[-1]), trajectory)
