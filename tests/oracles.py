"""Independent float64 oracles for Gaussian data ``x_0 ~ N(mu, c² I)``.

For such data the optimal predictors are known in closed form (EQUATIONS.md), and every
sampler run with them is an affine-Gaussian recursion ``x ← A x + b + σ z`` whose exact
output mean and variance follow from ``m ← A m + b``, ``v ← A² v + σ²``.
"""

import numpy as np


def abar_np(betas):
    return np.cumprod(1.0 - np.asarray(betas, np.float64))


def eps_star_apply(schedule, mu, c):
    """``apply_fn(params, x, t)`` returning ``E[ε | x_t]`` for Gaussian data (params unused)."""

    def apply_fn(params, x, t):
        a = schedule.sqrt_alphas_cumprod[t]
        s = schedule.sqrt_one_minus_alphas_cumprod[t]
        if a.ndim:
            a, s = a[:, None], s[:, None]
        return s * (x - a * mu) / (a**2 * c**2 + s**2)

    return apply_fn


def ddpm_moments(betas, mu, c, variance="beta", last_step_noise=True):
    """Exact mean and variance of DDPM ancestral sampling with ε*, from x_T ~ N(0, 1)."""
    b = np.asarray(betas, np.float64)
    abar = abar_np(b)
    abar_prev = np.concatenate([[1.0], abar[:-1]])
    m, v = 0.0, 1.0
    for t in range(len(b) - 1, -1, -1):
        a, s2 = np.sqrt(abar[t]), 1.0 - abar[t]
        k = np.sqrt(s2) / (a**2 * c**2 + s2)
        r, e = 1.0 / np.sqrt(1.0 - b[t]), b[t] / np.sqrt(s2)
        A, B = r * (1.0 - e * k), r * e * k * a * mu
        sig2 = b[t] if variance == "beta" else b[t] * (1.0 - abar_prev[t]) / (1.0 - abar[t])
        if t == 0 and not last_step_noise:
            sig2 = 0.0
        m, v = A * m + B, A**2 * v + sig2
    return m, v
