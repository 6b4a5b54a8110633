"""The run directory's files: atomic writes, the config, metrics and report readers."""

import json

import numpy as np
import pytest

from jaxdiff.runs import presets, rundir


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "report.json"
    rundir.write_json(path, {"a": 1})
    with pytest.raises(RuntimeError), rundir.atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write('{"half')
        raise RuntimeError("crash mid-write")
    assert json.loads(path.read_text()) == {"a": 1}  # the old file, intact
    rundir.save_npy(tmp_path / "x.npy", np.arange(3))
    assert np.load(tmp_path / "x.npy").tolist() == [0, 1, 2]


def test_load_config_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(rundir.RunError, match="does not exist"):
        rundir.load_config(tmp_path / "missing")
    with pytest.raises(rundir.RunError, match=r"no config\.json"):
        rundir.load_config(tmp_path)
    (tmp_path / "config.json").write_text('{"model": {"width": "wide"}}')
    with pytest.raises(rundir.RunError, match="not a valid jaxdiff config"):
        rundir.load_config(tmp_path)
    (tmp_path / "config.json").write_text(presets.preset("fast").to_json())
    assert rundir.load_config(tmp_path) == presets.preset("fast")


def test_metrics_and_report_readers_tolerate_damage(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "lo\n{"epoch": 3, "loss": 0.3}\n')
    assert [r["epoch"] for r in rundir.read_metrics(path)] == [1, 3]
    assert [r["epoch"] for r in rundir.read_metrics(path, upto_epoch=2)] == [1]
    assert rundir.read_metrics(tmp_path / "none.jsonl") == []
    assert rundir.read_report(tmp_path) == {}
    (tmp_path / "report.json").write_text("[1, 2")
    assert rundir.read_report(tmp_path) == {}
