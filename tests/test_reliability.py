"""Crashes, divergence, determinism across processes, float64 mode, and properties of the
schedule and Gaussian algebra over random valid inputs (hypothesis)."""

import json
import random
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ENV, jaxdiff
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxdiff import config, diffusion, models, run, schedules, training

# The arguments of the session's "full" run (conftest.runs) with nothing written after
# the samples: the crashed run must end in its bits.
TRAIN = ["--epochs", "4", "--checkpoint-every", "1", "--quiet", "--eval-n", "0", "--no-figures"]


def _leaves_equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


def _metrics_lines(run_dir):
    path = run_dir / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def test_sigkill_then_resume_equals_uninterrupted_bit_for_bit(trained, tmp_path):
    crashed = tmp_path / "crashed"
    env = ENV  # shares the session's compilation cache with the in-process runs
    cmd = [sys.executable, "-m", "jaxdiff.cli", "train", "--out", str(crashed)]
    proc = subprocess.Popen(
        [*cmd, *TRAIN], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    rng = random.Random(0)
    wait_for = rng.randint(1, 2)
    deadline = time.time() + 120
    while _metrics_lines(crashed) < wait_for and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.05))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    # What the kill left loads without error, at a whole epoch.
    _, state = run.restore_run(crashed)
    killed_at = int(state.epoch)
    assert 1 <= killed_at < 4 and int(state.step) == killed_at * 79
    resumed = subprocess.run(
        [*cmd, "--resume", *TRAIN], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    _, a = run.restore_run(trained)
    _, b = run.restore_run(crashed)
    assert int(a.epoch) == int(b.epoch) == 4
    assert _leaves_equal(a.params, b.params) and _leaves_equal(a.opt_state, b.opt_state)
    # Two processes (this one trained `trained`), one seed: identical bytes.
    assert (trained / "samples.npy").read_bytes() == (crashed / "samples.npy").read_bytes()
    rows = (crashed / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [1, 2, 3, 4]


def _tiny():
    apply_fn, params = models.functional(
        models.MLPDenoiser(width=16, num_steps=10), jax.random.key(0)
    )
    return apply_fn, params, schedules.sigmoid_schedule(10)


def test_divergence_is_caught_inside_the_epoch_and_keeps_the_last_good_state():
    apply_fn, params, sched = _tiny()
    x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    good = training.make_optimizer(1e-3, 1.0)
    kw = dict(batch_size=16, apply_fn=apply_fn, schedule=sched)
    state = training.init_state(jax.random.key(1), params, good)
    state, _ = training.fit(state, x, epochs=2, optimizer=good, **kw)
    wild = training.make_optimizer(1e8, 1.0)  # same opt_state structure, absurd steps
    seen = []
    with pytest.raises(training.TrainingDiverged) as info:
        training.fit(
            state,
            x,
            epochs=6,
            optimizer=wild,
            epochs_per_call=4,
            callback=lambda s, losses, sec: seen.append(int(s.epoch)),
            **kw,
        )
    err = info.value
    assert err.epoch == 3 and int(err.state.epoch) == 2
    assert _leaves_equal(err.state.params, state.params)  # the diverged epoch was discarded
    assert not np.isfinite(err.loss) or err.loss > 1e10
    assert "diverged in epoch 3" in str(err) and "lower the learning rate" in str(err)
    assert "\n" not in str(err) and seen == []


def test_cli_divergence_is_one_line_exit_1(tmp_path):
    result = jaxdiff(
        "train",
        "--out",
        tmp_path / "r",
        "--lr",
        "1e8",
        "--epochs",
        "3",
        "--quiet",
        "--eval-n",
        "0",
        "--no-figures",
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "diverged in epoch 1" in lines[0] and "Traceback" not in lines[0]


def test_float64_mode_trains_and_samples(x64_standard):
    import dataclasses

    cfg = config.preset("fast")
    cfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, n=512),
        train=dataclasses.replace(cfg.train, epochs=2, batch_size=128),
    )
    s = run.setup(cfg)
    state, info = run.fit_setup(s)
    assert jnp.zeros(()).dtype == jnp.float64
    assert all(np.isfinite(info["losses"]))
    z = run.draw(s, state.ema_params, s.sample_key, 64)
    assert z.shape == (64, 2) and np.all(np.isfinite(z))


# Property tests: random valid schedules and shapes, float64.

betas_strategy = st.lists(st.floats(1e-6, 0.5, allow_nan=False), min_size=1, max_size=200).map(
    sorted
)


@settings(max_examples=40, deadline=None)
@given(betas=betas_strategy)
def test_schedule_identities_hold_for_any_valid_betas(betas):
    with jax.enable_x64(True):
        s = schedules.from_betas(betas)
        b = np.asarray(betas, np.float64)
        abar, prev = np.asarray(s.alphas_cumprod), np.asarray(s.alphas_cumprod_prev)
        assert np.all(np.diff(abar) < 0) and np.all((abar > 0) & (abar < 1))
        # 1 - ᾱ_t = (1 - β_t)(1 - ᾱ_{t-1}) + β_t: one forward step composes with q(x_{t-1}|x_0).
        np.testing.assert_allclose(1 - abar, (1 - b) * (1 - prev) + b, rtol=1e-10, atol=1e-15)
        post = np.asarray(s.posterior_variance)
        assert np.all(post <= b * (1 + 1e-12)) and np.all(post >= 0)
        # Posterior mean of a noiseless x_t = a_t x_0 is a_{t-1} x_0.
        c1, c2 = np.asarray(s.posterior_mean_coef1), np.asarray(s.posterior_mean_coef2)
        np.testing.assert_allclose(c1 + c2 * np.sqrt(abar), np.sqrt(prev), rtol=1e-9)


@settings(max_examples=20, deadline=None)
@given(
    batch=st.integers(1, 5),
    dim=st.integers(1, 4),
    num_steps=st.integers(2, 50),
    seed=st.integers(0, 2**16),
)
def test_target_conversions_invert_each_other(batch, dim, num_steps, seed):
    with jax.enable_x64(True):
        s = schedules.cosine_schedule(num_steps)
        rng = np.random.default_rng(seed)
        x0, eps = rng.normal(size=(2, batch, dim))
        t = jnp.asarray(rng.integers(0, num_steps, size=batch))
        a = np.asarray(s.sqrt_alphas_cumprod)[np.asarray(t)][:, None]
        sd = np.asarray(s.sqrt_one_minus_alphas_cumprod)[np.asarray(t)][:, None]
        xt = a * x0 + sd * eps
        v = diffusion.predict_v(s, jnp.asarray(x0), t, jnp.asarray(eps))
        np.testing.assert_allclose(v, a * eps - sd * x0, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(diffusion.predict_x0_from_v(s, xt, t, v), x0, atol=1e-9)
        np.testing.assert_allclose(diffusion.predict_eps_from_v(s, xt, t, v), eps, atol=1e-9)
        np.testing.assert_allclose(diffusion.predict_eps_from_x0(s, xt, t, x0), eps, atol=1e-6)
        np.testing.assert_allclose(
            diffusion.predict_x0_from_eps(s, xt, t, eps), x0, atol=1e-9 / np.min(a)
        )
