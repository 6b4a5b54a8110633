"""``jaxdiff distill``: the student is an ordinary run directory (its config names its
teacher, ``sample`` uses the distilled sampler by default, ``eval``, ``plot`` and ``check``
work on it), ``--resume`` after a lost round is bit-exact, bad input is one line.
Marked ``slow``."""

import json
import shutil

import pytest
from conftest import jaxdiff, leaves_equal

from jaxdiff.runs import setup

pytestmark = pytest.mark.slow

FAST = ["--steps", "2", "--start-steps", "8", "--iterations", "30", "--quiet"]


def test_student_run_and_exact_resume(trained, tmp_path):
    student = tmp_path / "s"
    out = jaxdiff("distill", "--run", trained, "--out", student, *FAST, "--eval-n", "200")
    assert "2 steps, 2 rounds" in out.stdout
    cfg = json.loads((student / "config.json").read_text())
    assert cfg["distill"]["teacher"] == str(trained.resolve())
    assert cfg["sample"]["method"] == "ddim" and cfg["sample"]["steps"] == 2
    assert cfg["sample"]["eta"] == 0.0
    s, _ = setup.restore(student)
    assert s.sampler.method == "ddim" and s.sampler.steps == 2  # sample's default
    jaxdiff("sample", "--run", student, "--n", "50", "--out", tmp_path / "x.npy", "--quiet")
    jaxdiff("eval", "--run", student, "--n", "100", "--likelihood-n", "20")
    jaxdiff("plot", "--run", student)
    assert "intact" in jaxdiff("check", "--run", student).stdout

    # A lost last round: --resume redoes it, bit for bit.
    again = tmp_path / "again"
    shutil.copytree(student, again)
    shutil.rmtree(again / "checkpoints" / "2")
    (again / "samples.npy").unlink()
    jaxdiff("distill", "--run", trained, "--out", again, *FAST, "--eval-n", "0", "--resume")
    (_, a), (_, b) = setup.restore(student), setup.restore(again)
    assert int(a.epoch) == int(b.epoch) == 2 and leaves_equal(a.params, b.params)


def test_distill_bad_input(trained, tmp_path):
    student = tmp_path / "s"
    cases = [
        (["--run", trained, "--out", student, "--steps", "3"], "halved one or more times"),
        (["--run", trained, "--out", student, "--start-steps", "128"], "at most 50"),
        (["--run", tmp_path / "none", "--out", student], "does not exist"),
        (["--run", trained, "--out", student, "--resume"], "--resume: no checkpoint"),
    ]
    for args, message in cases:
        r = jaxdiff("distill", *args, "--quiet", "--iterations", "5", check=False)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
        assert r.stderr.strip().count("\n") == 0
    jaxdiff("distill", "--run", trained, "--out", student, *FAST, "--eval-n", "0", "--no-figures")
    for cmd in (
        ["distill", "--run", trained, "--out", student, *FAST],
        ["train", "--out", student, "--resume", "--epochs", "9"],
    ):
        r = jaxdiff(*cmd, check=False)
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
        assert "--resume" in r.stderr
