"""Training a run directory: what it writes, exact resume (also after SIGKILL), data
files, the standardised data path, ensembles."""

import dataclasses
import json
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from conftest import ENV, jaxdiff, leaves_equal

from jaxdiff.core import data
from jaxdiff.engine import ensembles, fitting
from jaxdiff.runs import checkpoints, draw, overrides, presets, setup, train


def test_run_directory_is_complete(runs):
    full, _, _ = runs
    for name in ("config.json", "metrics.jsonl", "samples.npy", "report.json"):
        assert (full / name).is_file(), name
    assert (full / "checkpoints").is_dir()
    report = json.loads((full / "report.json").read_text())
    for key in (
        "train_seconds",
        "compile_seconds",
        "steps",
        "steps_per_second",
        "final_loss",
        "device",
        "jax_version",
        "alpha_bar_T",
        "prior_kl_nats_per_dim",
    ):
        assert key in report, key
    assert report["steps"] == 4 * 79 and report["epochs"] == 4
    rows = [json.loads(line) for line in (full / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert all({"loss", "lr", "seconds"} <= set(r) for r in rows)
    assert np.load(full / "samples.npy").shape == (10_000, 2)
    quality = report["quality"]
    assert quality["n"] == 200
    for side in ("samples", "floor"):
        assert set(quality[side]) == {"sliced_w2", "mmd2", "energy", "precision", "recall"}
    # 4 epochs of the seed preset are far from the data; the floor is not.
    assert quality["samples"]["sliced_w2"] > 2 * quality["floor"]["sliced_w2"]
    assert quality["samples"]["mmd2"] > quality["floor"]["mmd2"]
    lik = quality["likelihood"]
    # What is guaranteed: the prior term is a KL divergence, and the seed's schedule, which
    # does not reach noise, pays for it (about 0.36 nats/dim at the seed's data scale).
    assert lik["vlb_prior_nats_per_dim"] > 0.3 and report["prior_kl_nats_per_dim"] > 0.3
    assert np.isfinite(lik["vlb_nats_per_dim"]) and np.isfinite(lik["nll_ode_nats_per_dim"])


def test_resume_equals_uninterrupted_bit_for_bit(runs):
    full, split, resumed = runs
    assert "trained 4 epochs" in resumed.stdout
    assert np.load(full / "samples.npy").tobytes() == np.load(split / "samples.npy").tobytes()
    _, a = setup.restore(full)
    _, b = setup.restore(split)

    for p, q in zip(
        jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params), strict=True
    ):
        assert np.array_equal(np.asarray(p), np.asarray(q))
    assert int(a.step) == int(b.step) == 4 * 79
    rows = [json.loads(line) for line in (split / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]


TRAIN = [
    "--preset",
    "seed",
    "--epochs",
    "4",
    "--checkpoint-every",
    "1",
    "--quiet",
    "--eval-n",
    "0",
    "--no-figures",
]


def _metrics_lines(run_dir):
    path = run_dir / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


@pytest.mark.slow  # fault injection into a real process: a step of .ci/run of its own
def test_resume_past_a_cosine_rate_horizon_is_refused_in_one_line(tmp_path):
    """A default-preset run of 20 epochs has a learning rate of 0 from epoch 21 on:
    ``--resume --epochs 40`` exits 2 naming the last epoch that learns, before anything is
    trained or written (but the lock that holds the run)."""
    cfg = overrides.configure(presets.preset("default"), data="moons", epochs=20)
    (tmp_path / "config.json").write_text(cfg.to_json())
    result = jaxdiff("train", "--out", tmp_path, "--resume", "--epochs", "40", check=False)
    assert result.returncode == 2
    assert "reaches 0 after epoch 20" in result.stderr and "Traceback" not in result.stderr
    assert "epochs 21 to 40 would not learn" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "config.json"]
    assert (tmp_path / "config.json").read_text() == cfg.to_json()  # nothing else written


def test_the_last_learning_epoch_is_where_the_cosine_rate_reaches_0():
    """Oracle: the rate of each epoch's first step, read from the optimiser's own
    schedule. A 20-epoch default run on moons (20 steps an epoch) learns in 20 epochs; a
    2-epoch one is still warming up (100 steps) and learns up to epoch 6."""
    for epochs, last in ((20, 20), (2, 6)):
        s = setup.setup(overrides.configure(presets.preset("default"), data="moons", epochs=epochs))
        assert s.steps_per_epoch == 20 and s.last_learning_epoch == last
        assert s.lr_at((last - 1) * 20) > 0 and s.lr_at(last * 20) == 0
    constant = setup.setup(overrides.configure(presets.preset("seed"), epochs=20))
    assert constant.last_learning_epoch is None


@pytest.mark.slow  # fault injection into a real process (two processes, ~40 s)
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
    _, state = setup.restore(crashed)
    killed_at = int(state.epoch)
    assert 1 <= killed_at < 4 and int(state.step) == killed_at * 79
    resumed = subprocess.run(
        [*cmd, "--resume", *TRAIN], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    _, a = setup.restore(trained)
    _, b = setup.restore(crashed)
    assert int(a.epoch) == int(b.epoch) == 4
    assert leaves_equal(a.params, b.params) and leaves_equal(a.opt_state, b.opt_state)
    # Two processes (this one trained `trained`), one seed: identical bytes.
    assert (trained / "samples.npy").read_bytes() == (crashed / "samples.npy").read_bytes()
    rows = (crashed / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [1, 2, 3, 4]


@pytest.mark.slow  # a CLI training each; the runs fixture trains in the default run
def test_train_on_a_file_keeps_a_copy_and_evaluates_on_held_out_rows(tmp_path):
    x = data.moons(0, 500) * 10.0 + 100.0  # far from unit scale: standardised for training
    source = tmp_path / "mine.csv"
    np.savetxt(source, x, delimiter=",")
    run = tmp_path / "run"
    common = ["--epochs", "2", "--batch-size", "100", "--no-figures", "--quiet"]
    jaxdiff("train", "--preset", "seed", "--data", source, "--out", run, "--eval-n", "50",
            "--likelihood-n", "50", *common)  # fmt: skip
    cfg = json.loads((run / "config.json").read_text())["data"]
    assert cfg["name"] == "file" and cfg["path"] == str(source.resolve()) and cfg["standardize"]
    np.testing.assert_allclose(np.load(run / "data.npy"), x, rtol=1e-6)
    norm = json.loads((run / "normalizer.json").read_text())
    train_rows = data.split(500, 1234)[0]
    np.testing.assert_allclose(norm["mean"], x[train_rows].mean(0), rtol=1e-5)
    np.testing.assert_allclose(norm["std"], x[train_rows].std(0), rtol=1e-4)
    quality = json.loads((run / "report.json").read_text())["quality"]
    assert quality["n"] == 50 and quality["likelihood"]["n"] == 50  # held-out rows
    source.unlink()  # the run has its own copy: it samples and evaluates without the file
    jaxdiff("sample", "--run", run, "--n", "300", "--out", tmp_path / "s.npy", "--quiet")
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (300, 2) and np.all(np.abs(s.mean(0) - x.mean(0)) < 3 * x.std(0))

    # A wider .csv with a header: --columns picks the rows' columns by name and in order,
    # the run keeps them as its copy and resumes from it with the same --columns.
    wide = tmp_path / "wide.csv"
    lines = ["b,note,a"] + [f"{v},row {i},{u}" for i, (u, v) in enumerate(x)]
    wide.write_text("\n".join(lines) + "\n")
    picked = ["--preset", "seed", "--data", wide, "--columns", "a,b", "--eval-n", "0"]
    jaxdiff("train", *picked, "--out", tmp_path / "w", *common)
    assert json.loads((tmp_path / "w" / "config.json").read_text())["data"]["columns"] == "a,b"
    np.testing.assert_allclose(np.load(tmp_path / "w" / "data.npy"), x, rtol=1e-6)
    wide.unlink()
    more = ["--epochs", "4", "--batch-size", "100", "--no-figures", "--quiet", "--eval-n", "0"]
    jaxdiff("train", "--preset", "seed", "--columns", "a,b", "--run", tmp_path / "w", *more)
    assert int(setup.restore(tmp_path / "w")[1].epoch) == 4


@pytest.mark.slow  # a CLI training each; the runs fixture trains in the default run
def test_train_run_trains_the_fast_preset_on_standardised_data(tmp_path):
    """The run directory's training equals ``fit_setup`` (standardised data), bit for bit."""
    cfg = presets.preset("fast")
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=1))
    train.train_run(cfg, tmp_path / "r", progress=False, eval_n=0, figures=False)
    _, saved = setup.restore(tmp_path / "r")
    direct, _ = train.fit(setup.setup(cfg))
    raw = setup.setup(
        dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, standardize=False))
    )
    unstandardised, _ = train.fit(dataclasses.replace(raw, train_data=raw.data))
    leaves = jax.tree_util.tree_leaves
    assert all(
        np.array_equal(a, b)
        for a, b in zip(leaves(saved.params), leaves(direct.params), strict=True)
    )
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(leaves(saved.params), leaves(unstandardised.params), strict=True)
    )


# slow: 16 s here; keeps the README test command under 5 minutes
@pytest.mark.slow
def test_ensemble_run_holds_its_members_in_one_checkpoint_and_samples_by_member(tmp_path):
    out = tmp_path / "ens"
    jaxdiff(
        "train",
        "--preset",
        "seed",
        "--out",
        out,
        "--epochs",
        "2",
        "--ensemble",
        "3",
        "--batch-size",
        "1000",
        "--quiet",
        "--eval-n",
        "0",
        "--no-figures",
    )
    s, state = setup.restore(out)
    leaf = jax.tree_util.tree_leaves(state.params)[0]
    assert s.config.train.ensemble == 3 and leaf.shape[0] == 3  # one checkpoint, 3 members
    assert json.loads((out / "report.json").read_text())["steps"] == 3 * 2 * 10
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows[0]["member_losses"]) == 3

    # Member i starts from fold_in(key(seed), i), split into (init, train) keys: the
    # documented contract, computed here by hand (training them alone: test_ensembles).
    init = jax.jit(lambda k: s.apply_fn.model.init(k, np.zeros((1, 2)), np.zeros(1, int)))
    for i in (0, 2):
        init_key, train_key = jax.random.split(jax.random.fold_in(jax.random.key(s.config.seed), i))
        fresh = ensembles.member(s.state, i)
        leaves = jax.tree_util.tree_leaves
        for a, b in zip(leaves(init(init_key)["params"]), leaves(fresh.params), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert np.array_equal(jax.random.key_data(train_key), jax.random.key_data(fresh.key))
    trained = [
        np.asarray(jax.tree_util.tree_leaves(ensembles.member(state, i).params)[0]) for i in (0, 2)
    ]
    assert not np.allclose(trained[0], trained[1])  # the members really differ

    a, b = tmp_path / "m2.npy", tmp_path / "m0.npy"
    jaxdiff("sample", "--run", out, "--member", "2", "--out", a, "--n", "100", "--quiet")
    jaxdiff("sample", "--run", out, "--member", "0", "--out", b, "--n", "100", "--quiet")
    want = draw.draw(s, setup.model_params(s, state, 2), s.keys.sample, 100)
    assert np.load(a).tobytes() == want.tobytes()
    assert not np.array_equal(np.load(a), np.load(b))
    bad = jaxdiff("sample", "--run", out, "--member", "3", "--out", a, check=False)
    assert bad.returncode == 2 and "--member must be in [0, 3) for this run, got 3" in bad.stderr


@pytest.mark.slow  # fault injection (the library's own check is in tests/test_fitting.py)
def test_divergence_after_good_epochs_checkpoints_the_last_good_one(tmp_path, monkeypatch):
    """The run keeps the state the library hands back with ``TrainingDiverged``, even off
    the checkpoint schedule, exits 1 in one line, and resumes from it. (The detection
    itself, inside the compiled epochs, is tested in test_fitting.)"""
    real_fit = fitting.fit_state

    def diverges_in_epoch_3(state, data, *, epochs, **kw):
        state, _ = real_fit(state, data, epochs=2, **kw)  # two good epochs
        raise fitting.TrainingDiverged(3, float("nan"), state)

    monkeypatch.setattr(fitting, "fit_state", diverges_in_epoch_3)
    out = tmp_path / "r"
    flags = ["--out", out, "--batch-size", "1000", "--quiet", "--eval-n", "0", "--no-figures"]
    result = jaxdiff("train", "--preset", "seed", *flags, "--epochs", "5", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "jaxdiff train: error: training diverged in epoch 3 (mean loss nan); the last good "
        "state is epoch 2: lower the learning rate or keep gradient clipping on "
        "(checkpoint of epoch 2 kept)"
    ]
    assert checkpoints.latest_epoch(out / "checkpoints") == 2  # not on the every-100 grid
    monkeypatch.setattr(fitting, "fit_state", real_fit)
    resumed = jaxdiff("train", *flags, "--epochs", "3", "--resume")
    assert "trained 3 epochs" in resumed.stdout


def test_the_cadence_of_chunks_and_checkpoints():
    """Epochs of 20 steps or more keep chunks of 25 and checkpoints every 100 (every
    registered set's run unchanged); shorter epochs stretch both in proportion, the
    checkpoints a multiple of the chunk; a given cadence or log interval is kept."""
    from jaxdiff.runs.chunks import cadence

    assert cadence(20, None, None) == (100, 25) == cadence(79, None, None)
    assert cadence(2, None, None) == (1000, 250)  # wine: 2 steps an epoch
    assert cadence(3, None, None) == (600, 150)
    assert cadence(10, None, None) == (200, 50)
    assert cadence(2, 40, None) == (40, 5)  # given: as before
    assert cadence(20, None, 100) == (100, 25) and cadence(2, None, 100) == (1000, 50)
