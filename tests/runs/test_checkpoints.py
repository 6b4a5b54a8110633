"""Checkpoints: a damaged newest one (truncated, or one flipped bit the digest catches)
falls back in one warning, none intact is one clear error, ``jaxdiff check`` lists them,
old checkpoints without a digest load with a note, a config that does not fit the
checkpoint is named."""

import dataclasses
import json
import os
import shutil
import warnings

import conftest
import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest
from conftest import jaxdiff, jaxdiff_subprocess

from jaxdiff import cli
from jaxdiff.runs import checkpoints, digests, rundir, setup


def _copy_run(trained, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(trained, dst)
    return dst


def _steps(run_dir):
    return sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit())


@pytest.mark.slow  # fault injection
def test_damaged_latest_checkpoint_falls_back_with_one_warning(trained, tmp_path):
    run_dir = _copy_run(trained, tmp_path)
    steps = _steps(run_dir)
    assert len(steps) >= 2
    _truncate(run_dir / "checkpoints" / str(steps[-1]))
    with pytest.warns(
        UserWarning, match=f"damaged checkpoint .*epoch {steps[-1]}: .*; using epoch {steps[-2]}"
    ) as rec:
        _, state = setup.restore(run_dir)
    assert int(state.epoch) == steps[-2]
    assert all("\n" not in str(w.message) for w in rec)


def test_no_good_checkpoint_is_a_clear_error(trained, tmp_path, capsys):
    run_dir = _copy_run(trained, tmp_path)
    for step in _steps(run_dir):
        for f in (run_dir / "checkpoints" / str(step)).rglob("*"):
            if f.is_file():
                f.write_bytes(os.urandom(64))  # random bytes posing as a checkpoint
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about falling back: nothing to fall to
        with pytest.raises(rundir.RunError, match="no intact checkpoint"):
            setup.restore(run_dir)

    result = jaxdiff("sample", "--run", run_dir, "--out", tmp_path / "s.npy", check=False)
    assert result.returncode == 2 and "no intact checkpoint" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _truncate(step_dir):
    for f in step_dir.rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])


def _training_saves_while_newest_is_read(trained, tmp_path, monkeypatch, saves, damage):
    """A copy of a run in which, when restore comes to read the newest checkpoint, ``saves``
    newer epochs have just been saved beside it (as a training in another process saves
    them, keeping the latest three), and that checkpoint is then truncated if ``damage``.
    Returns the checkpoint folder, a state to restore into, and that newest epoch."""
    run_dir = _copy_run(trained, tmp_path)
    ckpt_dir = run_dir / "checkpoints"
    _, state = setup.restore(run_dir)
    newest = _steps(run_dir)[-1]
    read = checkpoints.read_step

    def read_after_a_training_saved(step_dir, abstract):
        if int(step_dir.name) == newest:
            for e in range(newest + 1, newest + 1 + saves):
                checkpoints.save(ckpt_dir, dataclasses.replace(state, epoch=np.int32(e)))
            if damage:
                _truncate(step_dir)
        return read(step_dir, abstract)

    monkeypatch.setattr(checkpoints, "read_step", read_after_a_training_saved)
    return ckpt_dir, state, newest


@pytest.mark.slow  # fault injection
def test_checkpoints_deleted_while_read_are_not_damaged(trained, tmp_path, monkeypatch):
    # Three newer epochs saved delete every checkpoint listed: restore lists again and
    # takes the newest, without calling anything damaged.
    ckpt_dir, state, newest = _training_saves_while_newest_is_read(
        trained, tmp_path, monkeypatch, saves=3, damage=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restored = checkpoints.restore(ckpt_dir, state)
    assert int(restored.epoch) == newest + 3
    assert checkpoints.latest_epoch(ckpt_dir) == newest + 3
    listed = [(step, status) for step, status, _ in checkpoints.inspect(ckpt_dir)]
    assert listed == [(newest + e, "intact") for e in (3, 2, 1)]
    (ckpt_dir / f"copy_{newest + 9}").mkdir()  # a folder orbax would take for a step
    assert checkpoints.latest_epoch(ckpt_dir) == newest + 3


@pytest.mark.slow  # fault injection
def test_a_checkpoint_saved_while_a_damaged_one_is_read_is_taken(trained, tmp_path, monkeypatch):
    # The newest listed checkpoint fails to read (truncated here; under a training, one
    # being deleted file by file) and a newer one was saved meanwhile: restore takes the
    # newer one, not the older ones it listed first.
    ckpt_dir, state, newest = _training_saves_while_newest_is_read(
        trained, tmp_path, monkeypatch, saves=1, damage=True
    )
    with pytest.warns(UserWarning, match=f"epoch {newest}: .*; using epoch {newest + 1}"):
        restored = checkpoints.restore(ckpt_dir, state)
    assert int(restored.epoch) == newest + 1


@pytest.mark.slow  # fault injection
def test_a_file_posing_as_the_checkpoint_folder(trained, tmp_path):
    run_dir = _copy_run(trained, tmp_path)

    shutil.rmtree(run_dir / "checkpoints")
    assert checkpoints.latest_epoch(run_dir / "checkpoints") is None
    (run_dir / "checkpoints").write_text("not a checkpoint")
    assert checkpoints.latest_epoch(run_dir / "checkpoints") is None
    with pytest.raises(rundir.RunError, match="does not exist"):
        setup.restore(run_dir)


def test_config_that_does_not_match_checkpoint(runs, tmp_path, capsys):
    full, _, _ = runs

    bad = tmp_path / "bad"
    shutil.copytree(full, bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model"]["width"] = 64
    (bad / "config.json").write_text(json.dumps(cfg))
    code = cli.main(["sample", "--run", str(bad), "--out", str(tmp_path / "s.npy")])
    err = capsys.readouterr().err
    assert code == 2 and "written for another model" in err, err
    assert "(128,) there, (64,) here" in err and err.strip().count("\n") == 0, err

    cfg["model"]["width"] = "wide"
    (bad / "config.json").write_text(json.dumps(cfg))
    code = cli.main(["sample", "--run", str(bad), "--out", str(tmp_path / "s.npy")])
    err = capsys.readouterr().err
    assert code == 2 and "model.width must be of type int" in err, err


def _flip_one_bit(step_dir):
    """One flipped bit in the largest file of a checkpoint: what a bad disk does."""
    f = max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x10
    f.write_bytes(bytes(data))


@pytest.mark.slow  # fault injection
def test_flipped_bit_is_caught_by_the_digest(trained, tmp_path):
    # Without the digest orbax reads this checkpoint without complaint and the parameters
    # differ (seen before the digest existed: sample exited 0 with other samples).
    run_dir = _copy_run(trained, tmp_path)
    steps = _steps(run_dir)
    intact = jaxdiff("sample", "--run", run_dir, "--out", tmp_path / "a.npy", "--n", "64")
    assert intact.returncode == 0
    assert not [w for w in intact.warnings if "checkpoint" in str(w.message)]
    _flip_one_bit(run_dir / "checkpoints" / str(steps[-1]))

    result = jaxdiff("sample", "--run", run_dir, "--out", tmp_path / "b.npy", "--n", "64")
    (warning,) = [str(w.message) for w in result.warnings]
    assert f"epoch {steps[-1]}: content digest mismatch in [" in warning
    assert f"using epoch {steps[-2]}" in warning
    with pytest.warns(UserWarning, match="content digest mismatch"):
        _, state = setup.restore(run_dir)
    assert int(state.epoch) == steps[-2]

    listing = checkpoints.inspect(run_dir / "checkpoints")
    assert [(e, st) for e, st, _ in listing] == [
        (steps[-1], "damaged"),
        *[(e, "intact") for e in steps[-2::-1]],
    ]
    check = jaxdiff("check", "--run", run_dir, check=False)
    assert check.returncode == 1 and "damaged" in check.stdout
    assert check.stderr.strip().count("\n") == 0 and f"use epoch {steps[-2]}" in check.stderr
    assert jaxdiff("check", "--run", trained).returncode == 0


def test_digest_names_every_kind_of_change():
    tree = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.zeros(2, np.int32)}
    stored = digests.digest(tree)
    assert digests.mismatch(stored, tree) is None
    for changed in (
        {**tree, "a": tree["a"].reshape(3, 2)},  # same bytes, another shape
        {**tree, "a": tree["a"].view(np.int32)},  # same bytes, another dtype
        {**tree, "b": np.array([0, 1], np.int32)},  # other bytes
    ):
        assert "content digest mismatch" in digests.mismatch(stored, changed)


@pytest.mark.slow  # fault injection
def test_checkpoint_written_before_digests_loads_with_a_note(trained, tmp_path):
    run_dir = _copy_run(trained, tmp_path)
    _, state = setup.restore(run_dir)
    folder = run_dir / "checkpoints"
    shutil.rmtree(folder)
    # The earlier format, written here by hand: one item ("default"), no digest.
    tree = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    tree["key"] = jax.random.key_data(state.key)
    del tree["ema_params"]
    options = ocp.CheckpointManagerOptions(enable_async_checkpointing=False)
    with ocp.CheckpointManager(folder.absolute(), options=options) as mngr:
        mngr.save(int(state.epoch), args=ocp.args.StandardSave(tree))
        mngr.wait_until_finished()
    assert not (folder / str(int(state.epoch)) / "digest").exists()

    with pytest.warns(UserWarning, match="no content digest") as rec:
        _, old = setup.restore(run_dir)
    assert len(rec) == 1
    assert conftest.leaves_equal(old.params, state.params)
    assert [st for _, st, _ in checkpoints.inspect(folder)] == ["unverified"]


@pytest.mark.slow  # fault injection
def test_junk_data_files_end_in_one_line_without_tracebacks(trained, tmp_path):
    # Every array data file replaced by junk: orbax gives up with reads in flight, and
    # their callbacks used to print a dozen "RuntimeError: Event loop is closed"
    # tracebacks after jaxdiff's one-line error. A real process, so every thread's
    # output reaches its stderr.
    run_dir = _copy_run(trained, tmp_path)
    for f in (run_dir / "checkpoints").rglob("*"):
        if f.is_file() and f.parent.name == "d":
            f.write_bytes(os.urandom(64))
    result = jaxdiff_subprocess("sample", "--run", run_dir, "--out", tmp_path / "s.npy")
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.strip().splitlines() == [result.stderr.strip()]
        and "no intact checkpoint" in result.stderr
    ), result.stderr
