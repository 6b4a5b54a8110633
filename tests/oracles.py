"""Independent float64 oracles for Gaussian data ``x_0 ~ N(mu, c² I)``.

For such data the optimal predictors are known in closed form (EQUATIONS.md), and every
sampler run with them is an affine-Gaussian recursion ``x ← A x + b + σ z`` whose exact
output mean and variance follow from ``m ← A m + b``, ``v ← A² v + σ²``.
"""

import itertools

import numpy as np


def abar_np(betas):
    return np.cumprod(1.0 - np.asarray(betas, np.float64))


def jump_grid(spacing, betas, k):
    """The grid of a solver that ends with a jump to clean data (DPM-Solver++ and its SDE
    and 3M forms, Heun/EDM: σ = 0 after the last point): a spacing whose ``k`` points end
    at step 0 gives instead the first ``k`` of its ``k + 1`` points (diffusers' convention),
    so that no evaluation is spent on almost clean data."""
    ts = grid(spacing, betas, k)
    return grid(spacing, betas, k + 1)[:-1] if ts[-1] == 0 and k < len(betas) else ts


def grid(spacing, betas, k, rho=7.0):
    """The K decreasing timesteps a sampler visits, written here from the papers rather
    than taken from ``jaxdiff.ddpm.grids``: ``"trailing"`` ``round(T - iT/K) - 1``;
    ``"leading"`` ``(K-1-i) ⌊T/K⌋`` (Song et al. 2021's DDIM); ``"linspace"`` both ends;
    ``"logsnr"`` uniform in ``λ = log(a/s)`` from step T-1 to 0 (Lu et al. 2022, §3.3);
    ``"karras"`` ``σ_i = (σ_max^{1/ρ} + i/(K-1) (σ_min^{1/ρ} - σ_max^{1/ρ}))^ρ``, ρ = 7
    (Karras et al. 2022, eq. 5); the last two take each level's nearest step (by log σ),
    and where that repeats a step (levels crowd near T-1 when ᾱ_T is near 0) the grid's
    convention moves it one below the step before, leaving room for the steps after."""
    betas = np.asarray(betas, np.float64)
    t_count = len(betas)
    if spacing == "trailing":
        return [round(t_count - i * t_count / k) - 1 for i in range(k)]
    if spacing == "leading":  # DDIM's own: 0, T/K, 2T/K, ... from the top
        return [(k - 1 - i) * (t_count // k) for i in range(k)]
    if spacing == "linspace":
        return [round((t_count - 1) * (k - 1 - i) / (k - 1)) for i in range(k)]
    abar = abar_np(betas)
    log_sigma = 0.5 * np.log((1 - abar) / abar)
    if spacing == "logsnr":
        levels = np.linspace(log_sigma[-1], log_sigma[0], k)
    else:
        sigma_max, sigma_min = np.exp(log_sigma[-1]), np.exp(log_sigma[0])
        i = np.arange(k) / (k - 1)
        levels = rho * np.log(
            sigma_max ** (1 / rho) + i * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))
        )
    ts = []
    for i, level in enumerate(levels):
        t = int(np.argmin(np.abs(log_sigma - level)))
        if ts and t >= ts[-1]:
            t = ts[-1] - 1
        ts.append(max(t, k - 1 - i))
    assert all(a > b for a, b in itertools.pairwise(ts)) and ts[-1] >= 0, ts
    return ts


def star_output(a, s, x, mu, c, target="eps"):
    """The optimal network output for Gaussian data at scales ``(a, s)``: ``E[ε | x]``,
    ``E[x_0 | x]`` or ``E[v | x] = a E[ε | x] - s E[x_0 | x]``, written out."""
    denom = a**2 * c**2 + s**2
    eps = s * (x - a * mu) / denom
    x0 = mu + a * c**2 * (x - a * mu) / denom
    return {"eps": eps, "x0": x0, "v": a * eps - s * x0}[target]


def eps_star_apply(schedule, mu, c, target="eps"):
    """``apply_fn(params, x, t)`` returning the optimal output for ``target`` (default
    ``E[ε | x_t]``) for Gaussian data (params unused)."""

    def apply_fn(params, x, t):
        a = schedule.sqrt_alphas_cumprod[t]
        s = schedule.sqrt_one_minus_alphas_cumprod[t]
        if a.ndim:
            a, s = a[:, None], s[:, None]
        return star_output(a, s, x, mu, c, target)

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


def affine_predictors(abar_t, mu, c):
    """ε* = k (x - a μ) and x0* = p x + q at a step with ᾱ = abar_t."""
    a, s2 = np.sqrt(abar_t), 1.0 - abar_t
    denom = a**2 * c**2 + s2
    k = np.sqrt(s2) / denom
    p = a * c**2 / denom
    q = mu - p * a * mu
    return a, k, p, q


def ddim_moments(betas, ts, mu, c, eta):
    """Exact output mean and variance of DDIM (Song et al. eq. 12) with ε*, over ``ts``."""
    abar = abar_np(betas)
    m, v = 0.0, 1.0
    for i, t in enumerate(ts):
        ap = abar[ts[i + 1]] if i + 1 < len(ts) else 1.0
        a, k, p, q = affine_predictors(abar[t], mu, c)
        sig = eta * np.sqrt((1 - ap) / (1 - abar[t])) * np.sqrt(1 - abar[t] / ap)
        d = np.sqrt(max(1 - ap - sig**2, 0.0))
        A = np.sqrt(ap) * p + d * k
        B = np.sqrt(ap) * q - d * k * a * mu
        m, v = A * m + B, A**2 * v + sig**2
    return m, v


def dpm_solver_moments(betas, ts, mu, c):
    """Exact output mean and variance of DPM-Solver++(2M) with x0*: the chain is deterministic,
    so the output is α x_T + β with x_T ~ N(0, 1). Tracks (coefficient of x_T, constant)."""
    abar = abar_np(betas)
    lam = 0.5 * np.log(abar / (1 - abar))
    x = np.array([1.0, 0.0])
    prev_x0, h_prev = None, None
    for i in range(len(ts) - 1):
        t, tn = ts[i], ts[i + 1]
        _, _, p, q = affine_predictors(abar[t], mu, c)
        x0 = np.array([p * x[0], p * x[1] + q])
        h = lam[tn] - lam[t]
        if prev_x0 is None:
            d = x0
        else:
            r = h_prev / h
            d = (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * prev_x0
        x = np.sqrt(1 - abar[tn]) / np.sqrt(1 - abar[t]) * x - np.sqrt(abar[tn]) * np.expm1(-h) * d
        prev_x0, h_prev = x0, h
    _, _, p, q = affine_predictors(abar[ts[-1]], mu, c)
    out = np.array([p * x[0], p * x[1] + q])
    return out[1], out[0] ** 2


def vlb_expected(betas, mu, c, variance="beta"):
    """Expected VLB (Ho et al. eq. 5) per dimension with ε*, in float64 closed form.

    With ε̂ = k (x_t - a μ), k = s / (a² c² + s²), and μ̃ - μ_θ = r (ε̂ - ε) where
    r = β / (√(1-β) s): E[(ε̂ - ε)²] = k² a² c² + (k s - 1)² for x_0 = μ + c z.
    """
    b = np.asarray(betas, np.float64)
    abar = abar_np(b)
    abar_prev = np.concatenate([[1.0], abar[:-1]])
    post = b * (1.0 - abar_prev) / (1.0 - abar)
    total = 0.5 * (abar[-1] * (mu**2 + c**2) + (1 - abar[-1]) - 1 - np.log(1 - abar[-1]))
    for t in range(len(b)):
        a, s = np.sqrt(abar[t]), np.sqrt(1.0 - abar[t])
        k = s / (a**2 * c**2 + s**2)
        msq = (b[t] / (np.sqrt(1 - b[t]) * s)) ** 2 * (k**2 * a**2 * c**2 + (k * s - 1) ** 2)
        if t == 0:
            var = b[0] if variance == "beta" else post[1]
            total += 0.5 * np.log(2 * np.pi * var) + msq / (2 * var)
        else:
            var = b[t] if variance == "beta" else post[t]
            total += 0.5 * (np.log(var / post[t]) + post[t] / var - 1 + msq / var)
    return total


class Gaussian:
    """``Σ_j c_j Z_j + d`` for independent standard normals ``Z_j`` (``Z_0`` is ``x_T``):
    exact bookkeeping of an affine-Gaussian chain, correlations between steps included
    (multistep solvers reuse earlier predictions, which share earlier noises)."""

    _next = 1

    def __init__(self, coef=None, const=0.0):
        self.coef, self.const = dict(coef or {}), float(const)

    @classmethod
    def noise(cls):
        cls._next += 1
        return cls({cls._next: 1.0})

    def __add__(self, other):
        if not isinstance(other, Gaussian):
            return Gaussian(self.coef, self.const + other)
        coef = dict(self.coef)
        for k, v in other.coef.items():
            coef[k] = coef.get(k, 0.0) + v
        return Gaussian(coef, self.const + other.const)

    __radd__ = __add__

    def __mul__(self, w):
        return Gaussian({k: w * v for k, v in self.coef.items()}, w * self.const)

    __rmul__ = __mul__

    def __sub__(self, other):
        return self + (-1.0) * other

    def moments(self):
        return self.const, sum(v * v for v in self.coef.values())


def _star_x0(abar_t, mu, c, x):
    _, _, p, q = affine_predictors(abar_t, mu, c)
    return p * x + q


def sde_dpm_moments(betas, ts, mu, c):
    """SDE-DPM-Solver++(2M) with x0*: exact output mean and variance."""
    abar = abar_np(betas)
    a, s = np.sqrt(abar), np.sqrt(1 - abar)
    lam = np.log(a / s)
    x, m_prev, h_prev = Gaussian({0: 1.0}), None, None
    for t, tn in itertools.pairwise(ts):
        m = _star_x0(abar[t], mu, c, x)
        h = lam[tn] - lam[t]
        d = m if m_prev is None else (1 + h / (2 * h_prev)) * m - (h / (2 * h_prev)) * m_prev
        decay = 1 - np.exp(-2 * h)
        x = (
            (s[tn] / s[t]) * np.exp(-h) * x
            + a[tn] * decay * d
            + s[tn] * np.sqrt(decay) * (Gaussian.noise())
        )
        m_prev, h_prev = m, h
    return _star_x0(abar[ts[-1]], mu, c, x).moments()


def dpm_3m_moments(betas, ts, mu, c):
    """DPM-Solver++(3M) with x0* (first order, then 2M, then 3M): exact moments."""
    abar = abar_np(betas)
    a, s = np.sqrt(abar), np.sqrt(1 - abar)
    lam = np.log(a / s)
    x, ms, hs = Gaussian({0: 1.0}), [], []
    for t, tn in itertools.pairwise(ts):
        m0 = _star_x0(abar[t], mu, c, x)
        h = lam[tn] - lam[t]
        e = np.expm1(-h)
        if not ms:
            d = m0
            x = (s[tn] / s[t]) * x - a[tn] * e * d
        elif len(ms) == 1:
            r0 = hs[-1] / h
            x = (s[tn] / s[t]) * x - a[tn] * e * ((1 + 0.5 / r0) * m0 - (0.5 / r0) * ms[-1])
        else:
            m1, m2, r0, r1 = ms[-1], ms[-2], hs[-1] / h, hs[-2] / h
            d10, d11 = (1 / r0) * (m0 - m1), (1 / r1) * (m1 - m2)
            d1 = d10 + (r0 / (r0 + r1)) * (d10 - d11)
            d2 = (1 / (r0 + r1)) * (d10 - d11)
            x = (
                (s[tn] / s[t]) * x
                - a[tn] * e * m0
                + a[tn] * (e / h + 1) * d1
                - a[tn] * ((e + h) / h**2 - 0.5) * d2
            )
        ms.append(m0)
        hs.append(h)
    return _star_x0(abar[ts[-1]], mu, c, x).moments()


def heun_moments(betas, ts, mu, c, churn=0.0):
    """Heun (Karras et al. 2022, Alg. 2) in σ = s/a with x0*, churn rounded up to a step
    of the schedule, and the Euler jump to σ = 0: exact moments."""
    abar = abar_np(betas)
    a, s = np.sqrt(abar), np.sqrt(1 - abar)
    sigma = s / a
    gamma = min(churn / len(ts), np.sqrt(2) - 1)
    x = Gaussian({0: 1.0})
    for t, tn in itertools.pairwise(ts):
        if gamma > 0:
            t_hat = min(int(np.searchsorted(sigma, sigma[t] * (1 + gamma))), len(sigma) - 1)
            extra = np.sqrt(max(sigma[t_hat] ** 2 - sigma[t] ** 2, 0.0))
            x = a[t_hat] * ((1 / a[t]) * x + extra * Gaussian.noise())
            t = t_hat
        u = (1 / a[t]) * x
        d = (1 / sigma[t]) * (u - _star_x0(abar[t], mu, c, x))
        u1 = u + (sigma[tn] - sigma[t]) * d
        d1 = (1 / sigma[tn]) * (u1 - _star_x0(abar[tn], mu, c, a[tn] * u1))
        x = a[tn] * (u + (sigma[tn] - sigma[t]) * 0.5 * (d + d1))
    return _star_x0(abar[ts[-1]], mu, c, x).moments()


def restart_moments(betas, ts, mu, c, renoise_scale=True):
    """The ``restart`` chain with x0*: ``x̂0 = p x_T + q``, then at each later level
    ``x̂0 ← p (a x̂0 + s z) + q``: exact output mean and variance. ``renoise_scale=False``
    is a plausible wrong chain that adds the noise without scaling ``x̂0`` by ``a``."""
    abar = abar_np(betas)
    _, _, p, q = affine_predictors(abar[ts[0]], mu, c)
    m, v = q, p**2
    for t in ts[1:]:
        a = np.sqrt(abar[t]) if renoise_scale else 1.0
        _, _, p, q = affine_predictors(abar[t], mu, c)
        m, v = p * a * m + q, p**2 * (a**2 * v + 1.0 - abar[t])
    return m, v


def flow_map_apply(schedule, mu, c):
    """``apply_fn`` with target ``x0`` returning the end of the exact probability-flow ODE
    from ``(x_t, t)`` for Gaussian data: ``μ + c (x - a μ) / √(a² c² + s²)`` (the monotone
    map of ``N(a μ, a² c² + s²)`` onto ``N(μ, c²)``), what a perfect direct student is."""

    def apply_fn(params, x, t):
        a = schedule.sqrt_alphas_cumprod[t]
        s = schedule.sqrt_one_minus_alphas_cumprod[t]
        if a.ndim:
            a, s = a[:, None], s[:, None]
        return mu + c * (x - a * mu) / (a**2 * c**2 + s**2) ** 0.5

    return apply_fn


# Flow matching on the CondOT path x_t = (1 - t) x_0 + t ε, x_0 ~ N(μ, c²), ε ~ N(0, 1)
# (EQUATIONS.md, "Flow matching"), written here from the path rather than from jaxdiff.


def flow_velocity_coefficients(t, mu, c):
    """``(p, q)`` with the optimal velocity ``v*(x, t) = E[ε - x_0 | x_t = x] = p x + q``:
    ``x_t ~ N((1-t) μ, σ_t²)``, ``σ_t² = (1-t)² c² + t²``, ``Cov(ε - x_0, x_t) = t - (1-t) c²``."""
    var = (1.0 - t) ** 2 * c**2 + t**2  # numpy or jax arrays alike
    p = (t - (1.0 - t) * c**2) / var
    return p, -mu - p * (1.0 - t) * mu


def flow_velocity_apply(num_steps, mu, c):
    """``apply_fn(params, x, network time)`` of the optimal velocity, for a schedule of
    ``num_steps`` steps (the network's time is ``t (T - 1)``, flows.network_time)."""
    import jax.numpy as jnp

    def apply_fn(params, x, t_net):
        t = jnp.asarray(t_net, x.dtype) / (num_steps - 1)
        p, q = flow_velocity_coefficients(t if jnp.ndim(t) == 0 else t[:, None], mu, c)
        return p * x + q

    return apply_fn


def flow_solver_affine(method, steps, mu, c):
    """``(A, b)``: a fixed-step flow solver on ``v*`` maps ``x_1`` to ``A x_1 + b`` exactly
    (each step is affine), from t = 1 to 0 in ``steps`` equal steps, in float64."""
    ts = np.linspace(1.0, 0.0, steps + 1)
    A, b = 1.0, 0.0

    def v(t):  # the slope's coefficients at t
        return flow_velocity_coefficients(t, mu, c)

    for t, t_next in itertools.pairwise(ts):
        h = t_next - t
        p, q = v(t)
        if method == "euler":
            a_step, b_step = 1.0 + h * p, h * q
        elif method == "midpoint":
            pm, qm = v(t + h / 2)
            # x + h (pm (x + h/2 (p x + q)) + qm)
            a_step = 1.0 + h * pm * (1.0 + h / 2 * p)
            b_step = h * (pm * h / 2 * q + qm)
        elif method == "heun":
            pn, qn = v(t_next)
            # d = p x + q; x_e = x + h d; x + h/2 (d + pn x_e + qn)
            a_step = 1.0 + h / 2 * (p + pn * (1.0 + h * p))
            b_step = h / 2 * (q + pn * h * q + qn)
        else:
            raise ValueError(method)
        A, b = a_step * A, a_step * b + b_step
    return A, b


def flow_loss_minimum(mu, c, times):
    """The flow loss of ``v*`` (per coordinate, independent pairs), averaged over
    ``times``: ``Var(ε - x_0) - Cov(ε - x_0, x_t)² / σ_t²`` with ``Var = 1 + c²``."""
    t = np.asarray(times, np.float64)
    var = (1.0 - t) ** 2 * c**2 + t**2
    return float(np.mean(1.0 + c**2 - (t - (1.0 - t) * c**2) ** 2 / var))


def flow_average_velocity_coefficient(r, t, c):
    """``a`` with the exact average velocity over ``[r, t]`` of the CondOT flow of
    ``N(μ, c²)`` data ``u(z, r, t) = -μ + a (z - (1 - t) μ)``: the flow carries ``z_t`` to
    ``z_r = (1 - r) μ + (σ_r / σ_t)(z_t - (1 - t) μ)``, so ``a = (1 - σ_r/σ_t) / (t - r)
    = (σ_t² - σ_r²) / ((t - r)(σ_t + σ_r) σ_t)``, with ``σ_t² - σ_r² = (t - r)(c² (t + r -
    2) + t + r)`` (no division by ``t - r``; at ``r = t`` it is the velocity's ``p``)."""
    s_t = ((1.0 - t) ** 2 * c**2 + t**2) ** 0.5
    s_r = ((1.0 - r) ** 2 * c**2 + r**2) ** 0.5
    return (c**2 * (t + r - 2.0) + t + r) / ((s_t + s_r) * s_t)


def flow_average_velocity_apply(num_steps, mu, c):
    """``apply_fn(params, x, network time, interval=network interval)`` of the exact
    average velocity (:func:`flow_average_velocity_coefficient`); interval ``t - r``."""
    import jax.numpy as jnp

    def apply_fn(params, x, t_net, interval=0.0):
        t = jnp.asarray(t_net, x.dtype) / (num_steps - 1)
        r = t - jnp.asarray(interval, x.dtype) / (num_steps - 1)
        if jnp.ndim(t):
            t, r = t[:, None], r[:, None]
        return -mu + flow_average_velocity_coefficient(r, t, c) * (x - (1.0 - t) * mu)

    return apply_fn


def meanflow_loss_minimum(c, r, t):
    """The MeanFlow loss of the exact average velocity per coordinate at each ``(r, t)``:
    the target minus ``u`` is ``(v - v*)(σ_r / σ_t)`` and ``Var(ε - x_0 | x_t) = c²/σ_t²``,
    so ``c² σ_r² / σ_t⁴``."""
    r, t = np.asarray(r, np.float64), np.asarray(t, np.float64)
    var_t = (1.0 - t) ** 2 * c**2 + t**2
    var_r = (1.0 - r) ** 2 * c**2 + r**2
    return c**2 * var_r / var_t**2


# RePaint (Lugmayr et al. 2022, Algorithm 1, jump length 1) with the exact model of Gaussian
# data N(μ, Σ) is a chain of affine maps and independent Gaussian noise, so the law of its
# output is Gaussian and its moments propagate exactly: x ~ N(m, P) at every state. Written
# here from the algorithm (the diffusion's DDIM step with η = 1, or the flow path's kernel
# and its posterior), in float64 numpy, for rows whose cells ``known`` (a bool per
# coordinate) hold ``given``.


def _split_step(m, P, A, c, noise_var, known, given_mean, given_var):
    """The unknown coordinates take ``A x + c`` plus independent noise of ``noise_var``;
    the known ones a fresh draw ``N(given_mean, given_var)`` independent of the rest."""
    m2 = np.where(known, given_mean, A @ m + c)
    P2 = A @ P @ A.T + noise_var * np.eye(len(m))
    P2[known, :] = 0.0
    P2[:, known] = 0.0
    P2[known, known] = given_var
    return m2, P2


def _level(m, P, resample, down, up):
    """One level of RePaint: ``resample - 1`` round trips (the step down, then up by the
    forward kernel ``x ← scale x + N(0, var I)``), then the step down."""
    scale, var = up
    for _ in range(resample - 1):
        m, P = _split_step(m, P, *down)
        m, P = scale * m, scale**2 * P + var * np.eye(len(m))
    return _split_step(m, P, *down)


def repaint_moments(abar, ts, mu, cov, known, given, resample):
    """``(mean, covariance)`` of the diffusion's RePaint output (before the known cells are
    written back) over the decreasing integer steps ``ts``, with ``ε*`` exact."""
    d = len(mu)
    eye = np.eye(d)
    m, P = np.zeros(d), eye.copy()
    t_prev = [*list(ts[1:]), -1]
    for t, tp in zip(ts, t_prev, strict=True):
        a2, a2p = abar[t], (abar[tp] if tp >= 0 else 1.0)
        a, s = np.sqrt(a2), np.sqrt(1.0 - a2)
        E = s * np.linalg.inv(a2 * cov + s**2 * eye)  # ε* = E (x - a μ)
        sigma = np.sqrt((1.0 - a2p) / (1.0 - a2)) * np.sqrt(1.0 - a2 / a2p)
        direction = np.sqrt(max(1.0 - a2p - sigma**2, 0.0))
        # x̂_0 = (x - s ε*) / a; x_prev = √ᾱ_p x̂_0 + direction ε* + σ z
        A = np.sqrt(a2p) * (eye - s * E) / a + direction * E
        c = (np.sqrt(a2p) * s / a - direction) * (E @ (a * mu))
        keep = a2 / a2p
        down = (A, c, sigma**2, known, np.sqrt(a2p) * given, 1.0 - a2p)
        m, P = _level(m, P, resample, down, (np.sqrt(keep), 1.0 - keep))
    return m, P


def flow_repaint_moments(times, mu, cov, known, given, resample):
    """The same for a flow on the path ``x_t = (1-t) x_0 + t ε`` over the decreasing times
    ``times`` (1 to 0), with the exact velocity ``v* = -μ + S⁻¹(tI - (1-t)Σ)(x - (1-t)μ)``:
    the reverse step is the posterior of the kernel ``x_t = a x_s + b z`` at
    ``x̂_0 = x - t v*``."""
    d = len(mu)
    eye = np.eye(d)
    m, P = np.zeros(d), eye.copy()
    for t, s in itertools.pairwise(times):
        a = (1.0 - t) / (1.0 - s)
        b2 = t**2 - (a * s) ** 2
        S = (1.0 - t) ** 2 * cov + t**2 * eye
        V = np.linalg.solve(S, t * eye - (1.0 - t) * cov)  # v* = -μ + V (x - (1-t) μ)
        X = eye - t * V  # x̂_0 = X x + x0_c
        x0_c = t * mu + t * V @ ((1.0 - t) * mu)
        w = a * s**2 / t**2
        A = (1.0 - s) * X + w * (eye - (1.0 - t) * X)
        c = (1.0 - s) * x0_c - w * (1.0 - t) * x0_c
        down = (A, c, s**2 * b2 / t**2, known, (1.0 - s) * given, s**2)
        m, P = _level(m, P, resample, down, (a, b2))
    return m, P
