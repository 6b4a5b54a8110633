"""The evaluation protocol of a run and `jaxdiff eval`."""

import json

import numpy as np
import pytest

from jaxdiff import cli


def test_eval_scores_a_run_and_writes_quality(runs, tmp_path, capsys):
    _, split, _ = runs
    report = json.loads((split / "report.json").read_text())
    assert "quality" not in report  # trained with --eval-n 0
    # The sizes of the fixture's own evaluation: every program is already compiled.
    argv = ["eval", "--run", str(split), "--n", "200", "--likelihood-n", "200"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "data floor" in out and "sliced W2" in out and "nats/dim" in out
    quality = json.loads((split / "report.json").read_text())["quality"]
    assert quality["n"] == 200 and quality["likelihood"]["n"] == 200
    assert quality["samples_file"].endswith("samples.npy")
    # Scoring the data itself instead of the samples lands at the floor.
    from jaxdiff import data

    own = tmp_path / "data.npy"
    np.save(own, data.s_curve(77, 200))
    assert cli.main([*argv[:5], "--likelihood-n", "0", "--samples", str(own)]) == 0
    q2 = json.loads((split / "report.json").read_text())["quality"]
    assert "likelihood" not in q2
    assert q2["samples"]["sliced_w2"] < 2 * q2["floor"]["sliced_w2"]
    assert q2["samples"]["sliced_w2"] < quality["samples"]["sliced_w2"] / 2


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: None, "does not exist"),
        (lambda p: np.save(p, np.zeros((50, 3), np.float32)), "samples must have shape (n, 2)"),
        (lambda p: np.save(p, np.full((50, 2), np.nan, np.float32)), "samples must be finite"),
        (lambda p: p.write_text("not numpy"), "cannot read samples file"),
    ],
)
def test_eval_rejects_bad_samples_files(runs, tmp_path, capsys, make, match):
    _, split, _ = runs
    path = tmp_path / "s.npy"
    make(path)
    code = cli.main(["eval", "--run", str(split), "--samples", str(path), "--n", "50"])
    err = capsys.readouterr().err
    assert code == 2 and match in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
