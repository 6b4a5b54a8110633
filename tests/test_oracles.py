"""The oracles themselves (``tests/oracles.py``): the exact moments of every sampler on
Gaussian data reproduce the numbers EQUATIONS.md documents, approach the data with
many steps, tell the solvers apart, and converge at each solver's order. These tests
check the references the sampler tests compare the library with, not the library."""

import numpy as np
import pytest
from oracles import (
    ddim_moments,
    ddpm_moments,
    dpm_3m_moments,
    dpm_solver_moments,
    grid,
    heun_moments,
    jump_grid,
    sde_dpm_moments,
)

from jaxdiff.ddpm import schedules


def test_oracle_ddpm_gives_the_documented_discrete_time_gaps():
    """EQUATIONS.md: cosine, T=100, c=0.1: β̃ gives std 0.087, β gives 0.106."""
    sched = schedules.cosine_schedule(100)
    b = np.asarray(sched.betas, np.float64)
    _, v_tilde = ddpm_moments(b, 0.0, 0.1, "beta_tilde", False)
    _, v_beta = ddpm_moments(b, 0.0, 0.1, "beta", True)
    assert np.sqrt(v_tilde) == pytest.approx(0.087, abs=0.001)
    assert np.sqrt(v_beta) == pytest.approx(0.106, abs=0.001)


def test_oracle_ddim_gives_the_documented_few_step_spread_loss():
    """EQUATIONS.md: ε*, c = 0.1, DDIM η = 0 over 10 leading cosine steps: std 0.064;
    over 100 steps 0.093; with c = 1, 10 steps: 0.90."""
    b = np.asarray(schedules.cosine_schedule(100).betas, np.float64)
    lead10 = grid("leading", b, 10)
    assert np.sqrt(ddim_moments(b, lead10, 0.0, 0.1, 0.0)[1]) == pytest.approx(0.064, abs=0.0015)
    all100 = grid("leading", b, 100)
    assert np.sqrt(ddim_moments(b, all100, 0.0, 0.1, 0.0)[1]) == pytest.approx(0.093, abs=0.0015)
    assert np.sqrt(ddim_moments(b, lead10, 0.0, 1.0, 0.0)[1]) == pytest.approx(0.90, abs=0.01)


def test_oracles_approach_the_data_with_many_steps_and_a_schedule_that_reaches_noise():
    sched = schedules.cosine_schedule(1000)
    b = np.asarray(sched.betas, np.float64)
    mu, c = 0.3, 1.0
    m, v = ddpm_moments(b, mu, c, "beta", False)
    assert m == pytest.approx(mu, abs=0.01) and np.sqrt(v) == pytest.approx(c, rel=0.02)
    ts = grid("trailing", b, 1000)
    m, v = ddim_moments(b, ts, mu, c, 0.0)
    assert m == pytest.approx(mu, abs=0.01) and np.sqrt(v) == pytest.approx(c, rel=0.02)
    m, v = dpm_solver_moments(b, grid("trailing", b, 50), mu, c)
    assert m == pytest.approx(mu, abs=0.01) and np.sqrt(v) == pytest.approx(c, rel=0.02)


def test_oracles_tell_the_solvers_apart():
    """Each oracle gives a different answer for the same grid: a solver that ran another
    solver's update would fail its own test."""
    sched = schedules.cosine_schedule(100)
    betas = np.asarray(sched.betas, np.float64)
    ts = grid("trailing", betas, 6)
    got = [
        f(betas, ts, 0.2, 0.5)[1]
        for f in (sde_dpm_moments, dpm_3m_moments, heun_moments, dpm_solver_moments)
    ]
    got.append(ddim_moments(betas, ts, 0.2, 0.5, 0.0)[1])
    assert min(abs(a - b) for i, a in enumerate(got) for b in got[i + 1 :]) > 1e-4, got


def test_each_oracle_solver_converges_at_its_order():
    """On a fine schedule (cosine, T = 1000) with x0*, every deterministic solver tends to
    the probability-flow ODE's answer, and doubling the grid divides its error by about
    2^order: DDIM 2 (first order), DPM-Solver++(2M) and Heun 4, DPM-Solver++(3M) more (its
    third order shows before the discrete schedule's nearest-step grids blur it). A wrong
    coefficient in a formula breaks the order. Measured: DDIM 1.93, 1.97; 2M 3.1, 4.1;
    3M 6.6, 4.8; Heun 4.26, 4.25 (K 24 -> 48 -> 96)."""
    sched = schedules.cosine_schedule(1000)
    betas = np.asarray(sched.betas, np.float64)
    mu, c = 0.3, 0.2
    fine = jump_grid("logsnr", betas, 400)
    ref = np.sqrt(dpm_3m_moments(betas, fine, mu, c)[1])

    def errors(k):
        g = np.asarray(jump_grid("logsnr", betas, k))
        gk = jump_grid("karras", betas, k)
        stds = {
            "ddim": ddim_moments(betas, g, mu, c, 0.0)[1],
            "2m": dpm_solver_moments(betas, g, mu, c)[1],
            "3m": dpm_3m_moments(betas, list(g), mu, c)[1],
            "heun": heun_moments(betas, gk, mu, c)[1],
        }
        return {k: abs(np.sqrt(v) - ref) for k, v in stds.items()}

    e24, e48, e96 = errors(24), errors(48), errors(96)
    for a, b in ((e24, e48), (e48, e96)):
        assert 1.6 < a["ddim"] / b["ddim"] < 2.5, (a, b)
        assert a["heun"] / b["heun"] > 3.5, (a, b)
    assert e48["2m"] / e96["2m"] > 3.5 and e24["3m"] / e48["3m"] > 5.0, (e24, e48, e96)
