"""``jaxdiff distill``: the student is an ordinary run directory (its config names its
teacher, ``sample`` uses the distilled sampler by default, ``eval``, ``plot`` and ``check``
work on it), ``--resume`` after a lost round is bit-exact, bad input is one line.
Marked ``slow``."""

import json
import math
import shutil

import jax
import numpy as np
import pytest
from conftest import jaxdiff, leaves_equal

from jaxdiff import cli
from jaxdiff.runs import distill, setup

pytestmark = pytest.mark.slow

FAST = ["--method", "progressive", "--steps", "2", "--start-steps", "8", "--iterations", "30",
        "--quiet"]  # fmt: skip


def test_student_run_and_exact_resume(trained, tmp_path):
    student = tmp_path / "s"
    out = jaxdiff("distill", "--run", trained, "--out", student, *FAST, "--eval-n", "200")
    assert "(progressive, teacher student): 2 steps, 2 round(s)" in out.stdout
    cfg = json.loads((student / "config.json").read_text())
    assert cfg["distill"]["teacher"] == str(trained.resolve())
    (_, written), (_, teacher) = setup.restore(student), setup.restore(trained)
    assert not leaves_equal(written.params, teacher.params)  # the student was trained
    assert cfg["distill"]["iterations"] == 30 and cfg["distill"]["learning_rate"] == 3e-4
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


def test_direct_student_samples_by_restart_and_resumes(trained, tmp_path):
    student = tmp_path / "d"
    direct = ["--steps", "2", "--iterations", "40", "--quiet"]
    out = jaxdiff("distill", "--run", trained, "--out", student, *direct, "--eval-n", "200")
    assert "(direct, teacher student): 2 steps, 1 round(s)" in out.stdout
    cfg = json.loads((student / "config.json").read_text())
    assert cfg["distill"]["method"] == "direct" and cfg["distill"]["learning_rate"] == 1e-3
    assert cfg["distill"]["student"] == "teacher"
    assert cfg["model"] == json.loads((trained / "config.json").read_text())["model"]
    assert cfg["sample"]["method"] == "restart" and cfg["sample"]["spacing"] == "geometric"
    s, written = setup.restore(student)
    assert s.sampler.method == "restart"
    assert s.sampler.for_schedule(s.schedule).grid == (99, 4)  # T = 100: levels 99 and 4
    _, teacher = setup.restore(trained)
    assert not leaves_equal(written.params, teacher.params)  # the student was trained
    jaxdiff("sample", "--run", student, "--n", "50", "--out", tmp_path / "x.npy", "--quiet")
    assert "intact" in jaxdiff("check", "--run", student).stdout

    again = tmp_path / "again"  # its one round lost: distilling again gives the same bits
    shutil.copytree(student, again)
    shutil.rmtree(again / "checkpoints" / "1")
    r = jaxdiff("distill", "--run", trained, "--out", again, *direct, "--resume", check=False)
    assert r.returncode == 2 and "--resume: no checkpoint" in r.stderr
    jaxdiff("distill", "--run", trained, "--out", again, *direct, "--eval-n", "0")
    (_, a), (_, b) = setup.restore(student), setup.restore(again)
    assert int(a.epoch) == int(b.epoch) == 1 and leaves_equal(a.params, b.params)


def test_distill_bad_input(trained, tmp_path, capsys):
    student = tmp_path / "s"
    for args, message in (
        (["--steps", "3"], "--steps: invalid choice: 3 (choose from 1, 2, 4, 8)"),
        (["--method", "cd"], "--method: invalid choice: 'cd'"),
        (["--lr", "0"], "--lr: must be a positive finite number, got '0'"),
        (["--student", "tiny"], "--student: invalid choice: 'tiny'"),
        (["--pairs", "0"], "--pairs: must be a positive integer, got '0'"),
    ):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["distill", "--run", str(trained), "--out", str(student), *args])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err and err.strip().count("\n") == 0, err
    cases = [
        (
            [
                "--run",
                trained,
                "--out",
                student,
                "--method",
                "progressive",
                "--start-steps",
                "12",
                "--steps",
                "8",
            ],
            "halved one or more times",
        ),
        (
            ["--run", trained, "--out", student, "--method", "progressive", "--start-steps", "128"],
            "at most 50",
        ),
        (
            ["--run", trained, "--out", student, "--method", "progressive", "--student", "light"],
            "student 'light' needs method 'direct'",
        ),
        (
            ["--run", trained, "--out", student, "--method", "progressive", "--pairs", "100"],
            "pairs is for method 'direct'",
        ),
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


def test_light_student_of_the_default_recipe(tmp_path):
    """A teacher of the default recipe (sinusoidal step features, residual GELU blocks):
    ``--student light`` gives the light network (step tables, one block fewer, ReLU, its
    inputs read from tables after distillation), written in its config and restored by
    ``sample`` and ``eval``; by default the student keeps the teacher's network."""
    teacher = tmp_path / "t"
    jaxdiff("train", "--data", "moons", "--out", teacher, "--epochs", "1", "--quiet",
            "--eval-n", "0", "--no-figures")  # fmt: skip
    tcfg = json.loads((teacher / "config.json").read_text())["model"]
    assert tcfg["time_embedding"] == "sinusoidal" and tcfg["residual"] and tcfg["depth"] == 3
    common = ["--steps", "2", "--iterations", "20", "--pairs", "500", "--quiet", "--eval-n", "0",
              "--no-figures"]  # fmt: skip
    light, same = tmp_path / "light", tmp_path / "same"
    out = jaxdiff("distill", "--run", teacher, "--out", light, "--student", "light", *common)
    assert "(direct, light student)" in out.stdout
    jaxdiff("distill", "--run", teacher, "--out", same, *common)
    cfg = json.loads((light / "config.json").read_text())["model"]
    light_cfg = {"time_embedding": "table", "depth": 2, "activation": "relu", "input_table": 2048}
    assert cfg == tcfg | light_cfg
    assert json.loads((same / "config.json").read_text())["model"] == tcfg
    assert json.loads((light / "config.json").read_text())["distill"]["pairs"] == 500
    s, state = setup.restore(light)
    assert s.apply_fn.model.config.depth == 2 and "Embed_0" in state.params
    assert state.params["input_table"].shape == (2, 4, 2047, 128)
    # Trained: not the light network it started as (the teacher's, lightened, tabulated).
    t_s, t_state = setup.restore(teacher)
    light_net = distill.light_model(t_s.config, 2)
    start_fn, start = distill.light_network(
        t_s.apply_fn, setup.model_params(t_s, t_state), light_net
    )
    _, start = distill.tabulated(light_net, start_fn, start)
    assert jax.tree.map(np.shape, start) == jax.tree.map(np.shape, state.params)
    assert not leaves_equal(start, state.params)
    jaxdiff("sample", "--run", light, "--n", "50", "--out", tmp_path / "x.npy", "--quiet")
    # The likelihoods differentiate the network in x: through the tables too.
    jaxdiff("eval", "--run", light, "--n", "200", "--likelihood-n", "20")
    quality = json.loads((light / "report.json").read_text())["quality"]
    numbers = [v for k, v in quality["likelihood"].items() if k != "trace"]
    assert all(math.isfinite(v) for v in numbers), quality
