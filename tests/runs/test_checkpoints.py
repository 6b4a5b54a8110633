"""Checkpoints: a damaged newest one falls back, none readable is one clear error, a
config that does not fit the checkpoint is named."""

import json
import os
import shutil

import pytest
from conftest import jaxdiff

from jaxdiff import cli
from jaxdiff.runs import rundir, setup


def _copy_run(trained, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(trained, dst)
    return dst


def _steps(run_dir):
    return sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit())


def test_damaged_latest_checkpoint_falls_back_with_one_warning(trained, tmp_path):
    run_dir = _copy_run(trained, tmp_path)
    steps = _steps(run_dir)
    assert len(steps) >= 2
    latest = run_dir / "checkpoints" / str(steps[-1])
    for f in latest.rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])  # truncated
    with pytest.warns(
        UserWarning, match=f"checkpoint at epoch {steps[-1]} .* is unreadable"
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
    with pytest.warns(UserWarning), pytest.raises(rundir.RunError, match="no readable checkpoint"):
        setup.restore(run_dir)

    result = jaxdiff("sample", "--run", run_dir, "--out", tmp_path / "s.npy", check=False)
    assert result.returncode == 2 and "no readable checkpoint" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_file_posing_as_the_checkpoint_folder(trained, tmp_path):
    run_dir = _copy_run(trained, tmp_path)

    shutil.rmtree(run_dir / "checkpoints")
    (run_dir / "checkpoints").write_text("not a checkpoint")
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
