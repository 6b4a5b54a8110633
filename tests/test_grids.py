"""The timestep grids: written out for the fixed spacings, by their definitions for the
schedule-aware ones, and the jump solvers' convention."""

import numpy as np
import pytest

from jaxdiff.ddpm import grids, schedules


@pytest.mark.parametrize(
    "spacing, steps, expected",
    [
        # T//K = 10: 0, 10, …, 90 (DDIM's original choice), then reversed.
        ("leading", 10, [90, 80, 70, 60, 50, 40, 30, 20, 10, 0]),
        # T//K = 14: 0, 14, …, 84.
        ("leading", 7, [84, 70, 56, 42, 28, 14, 0]),
        # round(arange(T, 0, -T/K)) - 1: 100, 90, …, 10 minus one.
        ("trailing", 10, [99, 89, 79, 69, 59, 49, 39, 29, 19, 9]),
        # T/K = 14.29: 100, 85.7, 71.4, 57.1, 42.9, 28.6, 14.3 -> rounded, minus one.
        ("trailing", 7, [99, 85, 70, 56, 42, 28, 13]),
        # round(linspace(0, 99, 10)): 0, 11, …, 99.
        ("linspace", 10, [99, 88, 77, 66, 55, 44, 33, 22, 11, 0]),
        # linspace(0, 99, 7) = 0, 16.5, 33, 49.5, 66, 82.5, 99; halves round to even.
        ("linspace", 7, [99, 82, 66, 50, 33, 16, 0]),
        # 99 (4/99)^(i/3), down to ceil(T/25) = 4: 99, 33.96, 11.65, 4.
        ("geometric", 4, [99, 34, 12, 4]),
        # ends at max(4, K-1) = 7; ratio (7/99)^(1/7) = 0.685: 99, 67.8, 46.4, 31.8, 21.8,
        # 14.9, 10.2, 7.
        ("geometric", 8, [99, 68, 46, 32, 22, 15, 10, 7]),
        ("geometric", 1, [99]),
    ],
)
def test_timesteps_are_the_written_out_sequences(spacing, steps, expected):
    assert grids.timesteps(100, steps, spacing).tolist() == expected


def _log_sigma(schedule):
    abar = np.asarray(schedule.alphas_cumprod, np.float64)
    return 0.5 * np.log((1 - abar) / abar)


@pytest.mark.parametrize("spacing", ["logsnr", "karras"])
@pytest.mark.parametrize("k", [1, 2, 8, 20])
def test_schedule_aware_grids_follow_their_definitions(spacing, k):
    sched = schedules.cosine_schedule(1000)
    ts = grids.timesteps(1000, k, spacing, sched.alphas_cumprod)
    assert len(ts) == k and ts[0] == 999 and np.all(np.diff(ts) < 0)
    if k == 1:
        return
    assert ts[-1] == 0
    log_sigma = _log_sigma(sched)
    hi, lo = log_sigma[-1], log_sigma[0]
    if spacing == "logsnr":  # uniform in λ = -log σ
        want = np.linspace(hi, lo, k)
    else:  # Karras et al. 2022, eq. 5, ρ = 7
        want = 7 * np.log(np.linspace(np.exp(hi / 7), np.exp(lo / 7), k))
    # Each step is the schedule's nearest to its target, unless that one is taken by the
    # step before (targets crowd where the schedule's σ grows fastest): then one below.
    nearest = np.abs(log_sigma[None, :] - want[:, None]).argmin(1)
    for i in range(1, k):
        assert ts[i] == min(nearest[i], ts[i - 1] - 1), (i, ts, nearest)


def test_grids_stay_distinct_when_the_targets_crowd():
    sched = schedules.cosine_schedule(20)
    ts = grids.timesteps(20, 20, "karras", sched.alphas_cumprod)
    assert ts.tolist() == list(range(19, -1, -1))
    with pytest.raises(ValueError, match="needs the schedule's alphas_cumprod"):
        grids.timesteps(20, 5, "logsnr")


def test_jump_methods_end_before_step_zero():
    """DPM-Solver++'s convention (diffusers): linspace, T = 100, K = 10 is 99, 89, …, 10,
    then the jump to σ = 0; trailing grids already end above 0; DDIM keeps its grid."""
    assert grids.for_method("dpm-solver", 100, 10, "linspace").tolist() == [
        99, 89, 79, 69, 59, 50, 40, 30, 20, 10
    ]  # fmt: skip
    trailing = grids.timesteps(100, 10, "trailing")
    assert grids.for_method("heun", 100, 10, "trailing").tolist() == trailing.tolist()
    assert grids.for_method("ddim", 100, 10, "linspace")[-1] == 0
    assert grids.for_method("dpm-solver", 100, 100, "linspace")[-1] == 0  # K = T: all steps


def test_geometric_grid_is_the_restart_levels_and_stays_distinct():
    # 999 (40/999)^(i/3): 999, 342.0, 117.1, 40.
    assert grids.timesteps(1000, 4, "geometric").tolist() == [999, 342, 117, 40]
    assert grids.timesteps(1000, 2, "geometric").tolist() == [999, 40]
    assert grids.timesteps(10, 10, "geometric").tolist() == list(range(9, -1, -1))
    assert grids.timesteps(1, 1, "geometric").tolist() == [0]


@pytest.mark.parametrize(
    "num_steps, steps, spacing, expected",
    [
        # Trailing with T = K: arange(10, 0, -1) - 1 is every step down to 0.
        (10, 10, "trailing", list(range(9, -1, -1))),
        # Geometric ends at max(ceil(T/25), K-1, 1): ceil(30/25) = 2, so 29 then 2.
        (30, 2, "geometric", [29, 2]),
        # ceil(20/25) = 1 and K-1 = 1: 19 then 1.
        (20, 2, "geometric", [19, 1]),
    ],
)
def test_grid_edges_are_the_written_out_sequences(num_steps, steps, spacing, expected):
    got = grids.timesteps(num_steps, steps, spacing)
    assert got.tolist() == expected and got.dtype == np.int32


def test_trailing_is_the_default_spacing_and_grids_are_int32():
    assert grids.timesteps(100, 10).tolist() == grids.timesteps(100, 10, "trailing").tolist()
    sched = schedules.cosine_schedule(100)
    for spacing in grids.SPACINGS:
        assert grids.timesteps(100, 5, spacing, sched.alphas_cumprod).dtype == np.int32


def test_bad_grids_are_refused_with_their_reason():
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        grids.timesteps(100, 0)
    with pytest.raises(ValueError, match="steps must be at most the schedule's 10 steps, got 11"):
        grids.timesteps(10, 11)
    with pytest.raises(ValueError, match=r"spacing must be one of .*, got 'uniform'"):
        grids.timesteps(100, 10, "uniform")


def test_crowded_steps_move_down_only_as_far_as_the_steps_after_them_need():
    """A schedule whose first step removes almost no noise (β_0 = 1e-4, then β ≈ 0.3):
    log σ is -4.61 at step 0 and -0.42 at step 1, so of five targets uniform in log σ the
    nearest steps are 9, 3, 1, 0, 0. Made distinct: 9, 3, 2, 1, 0 (the third moves up
    only to leave room for the two after it)."""
    betas = np.concatenate([[1e-4], np.linspace(0.3, 0.4, 9)])
    abar = schedules.from_betas(betas).alphas_cumprod
    assert grids.timesteps(10, 5, "logsnr", abar).tolist() == [9, 3, 2, 1, 0]


@pytest.mark.parametrize("spacing", ["logsnr", "karras"])
def test_for_method_passes_the_schedule_to_schedule_aware_grids(spacing):
    abar = schedules.cosine_schedule(1000).alphas_cumprod
    want = grids.timesteps(1000, 8, spacing, abar)
    assert grids.for_method("ddim", 1000, 8, spacing, abar).tolist() == want.tolist()
    jump = grids.timesteps(1000, 9, spacing, abar)[:-1]
    assert grids.for_method("dpm-solver", 1000, 8, spacing, abar).tolist() == jump.tolist()
