"""The ``jaxdiff`` command end to end, in process (jit caches shared) with tiny epoch
counts; one subprocess checks the real console entry point."""

import json
import os
import shutil
import sys
import warnings

import numpy as np
import pytest
from conftest import jaxdiff, jaxdiff_subprocess
from scipy.spatial import cKDTree

from jaxdiff import cli
from jaxdiff.core import data


def test_sample_shape_and_determinism(runs, tmp_path):
    full, _, _ = runs
    a, b, c = tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "c.npy"
    jaxdiff("sample", "--run", str(full), "--out", str(a), "--n", "500", "--seed", "3")
    jaxdiff("sample", "--run", str(full), "--out", str(b), "--n", "500", "--seed", "3")
    jaxdiff("sample", "--run", str(full), "--out", str(c), "--n", "500", "--seed", "4")
    assert np.load(a).shape == (500, 2)
    assert np.load(a).tobytes() == np.load(b).tobytes()
    assert not np.array_equal(np.load(a), np.load(c))


def test_sample_without_out_writes_a_new_file_into_the_run_and_says_where(runs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs[0], run)
    first = jaxdiff("sample", "--run", run, "--n", "50", "--seed", "3", "--quiet")
    second = jaxdiff("sample", "--run", run, "--n", "50", "--seed", "4", "--quiet")
    assert f"wrote 50 samples to {run / 'drawn-1.npy'}" in first.stdout
    assert f"wrote 50 samples to {run / 'drawn-2.npy'}" in second.stdout  # never overwritten
    a, b = np.load(run / "drawn-1.npy"), np.load(run / "drawn-2.npy")
    assert a.shape == b.shape == (50, 2) and not np.array_equal(a, b)
    bad = jaxdiff("sample", "--run", tmp_path / "nope", check=False)
    assert bad.returncode == 2 and "is not a run directory" in bad.stderr


def test_fast_samplers_work_on_any_run(runs, tmp_path, capsys):
    full, _, _ = runs
    for sampler, steps in (("dpm-solver", "10"), ("ddim", "20")):
        out = tmp_path / f"{sampler}.npy"
        code = cli.main(
            [
                "sample",
                "--run",
                str(full),
                "--out",
                str(out),
                "--n",
                "300",
                "--sampler",
                sampler,
                "--steps",
                steps,
            ]
        )
        assert code == 0, capsys.readouterr().err
        x = np.load(out)
        assert x.shape == (300, 2) and np.isfinite(x).all()


def test_seed_schedule_warns_in_one_line(runs):
    _, _, resumed = runs
    messages = [str(w.message) for w in resumed.warnings]
    assert any("alpha_bar_T = 0.778 > 0.05" in m for m in messages), messages
    # cli.main prints every warning as one line.
    text = warnings.formatwarning(UserWarning("a\tb"), UserWarning, "x.py", 3)
    assert text == "jaxdiff: warning: a\tb\n"


@pytest.mark.slow  # subprocesses; the same errors in process above
def test_bad_input_in_a_subprocess_is_one_line_exit_2(tmp_path):
    proc = jaxdiff_subprocess("train", "--out", str(tmp_path / "r"), "--preset", "nope")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "argument --preset: invalid choice: 'nope'" in proc.stderr
    assert "'default', 'fast', 'seed'" in proc.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--out", "{tmp}/r", "--data", "spiral"], "--data: must be one of"),
        (["train", "--out", "{tmp}/r", "--preset", "fastest"], "--preset: invalid choice"),
        (["train", "--run", "{trained}", "--out", "{tmp}/r"], "give one, got --run"),
        (["train", "--epochs", "2"], "--out (a new run directory) or --run (a run to continue)"),
        (["demo", "--lr", "0.1"], "unrecognized arguments: --lr"),
        (["demo", "--data", "moons"], "unrecognized arguments: --data"),
        (
            ["sample", "--run", "{trained}", "--out", "{tmp}/s.npy", "--steps", "4", "--nfe", "4"],
            "give steps or nfe, not both",
        ),
        (
            ["export", "--run", "{trained}", "--out", "{tmp}/e", "--label", "1"],
            "need a conditional",
        ),
        (["export", "--run", "{trained}", "--out", "{tmp}/e", "--member", "1"], "member must be"),
        (["train", "--out", "{tmp}/r", "--epochs", "0"], "--epochs: must be a positive integer"),
        (["train", "--out", "{tmp}/r", "--epochs", "-3"], "--epochs: must be a positive integer"),
        (["train", "--out", "{tmp}/r", "--batch-size", "0"], "--batch-size: must be a positive"),
        (["train", "--out", "{tmp}/r", "--batch-size", "20000"], "--batch-size: must be at most"),
        (["train", "--out", "{tmp}/r", "--lr", "0"], "--lr: must be a positive"),
        (["train", "--out", "{tmp}/r", "--resume"], "does not exist"),
        (["train", "--out", "{tmp}", "--resume"], "no config.json"),
        (["train", "--out", "{trained}", "--epochs", "2"], "already holds a trained run"),
        (
            ["train", "--out", "{trained}", "--resume", "--lr", "0.5"],
            "the run was started with train.learning_rate = 0.001, this command line gives 0.5",
        ),
        (["sample", "--run", "{tmp}/missing", "--out", "{tmp}/s.npy"], "does not exist"),
        (["sample", "--run", "{tmp}", "--out", "{tmp}/s.npy"], "not a jaxdiff run directory"),
        (["sample", "--run", "{trained}", "--out", "{tmp}/no/s.npy"], "does not exist"),
        (["sample", "--run", "{trained}", "--out", "{tmp}/s.txt"], "must name a .npy or .csv file"),
        (["sample", "--run", "{trained}", "--out", "{tmp}/s.npy", "--n", "-1"], "--n: must be"),
        (["plot", "--run", "{tmp}/nothing"], "does not exist"),
        (
            [
                "sample",
                "--run",
                "{trained}",
                "--out",
                "{tmp}/s.npy",
                "--sampler",
                "ddim",
                "--steps",
                "500",
            ],
            "steps must be at most the schedule's 100 steps, got 500",
        ),
        (["sample", "--run", "{trained}", "--out", "{tmp}/s.npy", "--eta", "2"], "--eta: must be"),
        (
            ["sample", "--run", "{trained}", "--out", "{tmp}/s.npy", "--sampler", "rk45"],
            "invalid choice: 'rk45'",
        ),
        (
            ["sample", "--run", "{trained}", "--out", "{tmp}/s.npy", "--sampler", "euler"],
            "for a diffusion model, got 'euler' (a flow model's sampler)",
        ),
        (["train", "--out", "{tmp}/r", "--schedule", "quadratic"], "invalid choice: 'quadratic'"),
        (["train", "--out", "{tmp}/r", "--target", "score"], "invalid choice: 'score'"),
        (["train", "--out", "{tmp}/r", "--ema", "1.5"], "--ema: must be a number in [0, 1)"),
        (["launch"], "invalid choice: 'launch'"),
        (["train", "--out", "{tmp}/r", "--data", "spiral"], ".npy/.csv/.npz file, got 'spiral'"),
        (["train", "--out", "{tmp}/r", "--data", "{tmp}/no.npy"], "no.npy' does not exist"),
        (["train", "--out", "{tmp}/r", "--conditional"], "needs a labelled data set"),
        (["train", "--out", "{tmp}/r", "--columns", "x,y"], "--columns needs a .csv --data"),
        (["train", "--out", "{tmp}/r", "--guidance", "2"], "need --conditional"),
        (
            ["sample", "--run", "{trained}", "--out", "{tmp}/s.npy", "--label", "1"],
            "need a conditional",
        ),
        (["sample", "--run", "{trained}", "--out", "{tmp}/s.npy", "--guidance", "x"], "finite"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, tmp_path, trained, capsys):
    argv = [a.format(tmp=tmp_path, trained=trained) for a in argv]
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err and err.strip().count("\n") == 0, err


def test_setting_flags_are_named_after_their_settings_with_the_librarys_choices():
    """One table: every flag of ``train`` that is a setting is named after it
    (``--learning-rate`` sets ``learning_rate``; the old spellings are aliases), every
    setting but a light student's input tables has a flag, and every choice list is the
    library's own."""
    import dataclasses

    from jaxdiff.cli import parser
    from jaxdiff.core import models
    from jaxdiff.ddpm import diffusion
    from jaxdiff.engine import sampler_settings
    from jaxdiff.runs import distill, overrides

    commands = parser.build()[1]
    train = {a.dest: a for a in commands["train"]._actions}
    for name in overrides.SETTINGS:
        # Tables are made by distill; an interval only by a MeanFlow model (library only).
        if name in ("input_table", "input_bound", "interval"):
            assert name not in train
            continue
        assert train[name].option_strings[0] == "--" + name.replace("_", "-"), name
    network = [f.name for f in dataclasses.fields(models.NetworkConfig)]
    assert set(network) <= set(overrides.SETTINGS)
    aliases = {a: train[d].option_strings for d, a in (
        ("learning_rate", "--lr"), ("ema_decay", "--ema"), ("input_features", "--features"),
        ("num_steps", "--timesteps"))}  # fmt: skip
    assert all(alias in strings for alias, strings in aliases.items())
    choices = {d: tuple(a.choices) for d, a in train.items() if a.choices}
    assert choices["input_features"] == models.INPUT_FEATURES
    assert choices["time_embedding"] == models.TIME_EMBEDDINGS
    assert choices["activation"] == tuple(models.ACTIVATIONS)
    assert choices["target"] == diffusion.TARGETS
    sample = {a.dest: a for a in commands["sample"]._actions}
    assert tuple(sample["sampler"].choices) == sampler_settings.METHODS
    dist = {a.dest: tuple(a.choices) for a in commands["distill"]._actions if a.choices}
    assert (dist["method"], dist["steps"], dist["student"]) == (
        distill.METHODS,
        distill.STEPS,
        distill.STUDENTS,
    )


def test_demo_trains_the_seed_preset_with_only_its_length_and_place(tmp_path, capsys):
    """``demo`` runs (it has no --devices or --distributed of its own) and writes the seed
    preset's run, only its epochs changed."""
    import dataclasses

    from jaxdiff.runs import config, presets

    out = tmp_path / "d"
    argv = ["demo", "--epochs", "1", "--out", str(out), "--eval-n", "0", "--no-figures"]
    assert cli.main([*argv, "--quiet"]) == 0
    assert "trained 1 epochs" in capsys.readouterr().out
    seed = presets.preset("seed")
    want = dataclasses.replace(seed, train=dataclasses.replace(seed.train, epochs=1))
    assert config.Config.from_dict(json.loads((out / "config.json").read_text())) == want


def test_eval_seed_draws_its_own_fresh_data(trained, tmp_path, capsys):
    """``eval --seed S`` scores against fresh rows of seed S: the same S twice gives the
    same scores, another S (or the run's own) other ones; the saved report records it."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)

    def scores(*seed):
        assert (
            cli.main(["eval", "--run", str(run), "--n", "600", "--likelihood-n", "0", *seed]) == 0
        )
        capsys.readouterr()
        return json.loads((run / "report.json").read_text())["quality"]["samples"]

    five = scores("--seed", "5")
    assert scores("--seed", "5") == five
    assert scores("--seed", "6")["mmd2"] != five["mmd2"]
    assert scores()["mmd2"] != five["mmd2"]


def _cli_table() -> dict[str, tuple[set[str], str]]:
    """docs/flags.md's flag table: flag -> (commands, the row's text)."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[1] / "docs" / "flags.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`--"):
            rows[cells[0].strip("`")] = (set(re.findall(r"`(\w+)`", cells[1])), line)
    return rows


def test_every_commands_flags_are_the_cli_tables_both_ways():
    """Each flag of each command is in docs/flags.md's table under that command, with its
    other spellings; each (flag, command) of the table is a flag of that command."""
    from jaxdiff.cli import parser

    table = _cli_table()
    seen: dict[str, set[str]] = {}
    for command, p in parser.build()[1].items():
        for action in p._actions:
            flag, *aliases = action.option_strings or ["-"]
            if flag in ("-h", "-"):
                continue
            assert flag in table, f"{flag} ({command}) is not in docs/flags.md's flag table"
            seen.setdefault(flag, set()).add(command)
            for alias in aliases:
                if alias.startswith("--no-"):  # BooleanOptionalAction's negative
                    continue
                assert f"`{alias}`" in table[flag][1], f"{alias} of {flag} not in its row"
    assert {f: c for f, (c, _) in table.items()} == seen
    assert len(table) > 50


def test_cli_table_check_fails_on_a_drifted_table(monkeypatch):
    """The check above is not vacuous: a table that lists a command's flag under another
    command, or misses a flag, fails it."""
    rows = _cli_table()
    drifted = dict(rows)
    commands, line = drifted["--seed"]
    drifted["--seed"] = (commands - {"eval"}, line)
    monkeypatch.setattr(sys.modules[__name__], "_cli_table", lambda: drifted)
    with pytest.raises(AssertionError):
        test_every_commands_flags_are_the_cli_tables_both_ways()
    drifted = {f: v for f, v in rows.items() if f != "--chunk"}
    monkeypatch.setattr(sys.modules[__name__], "_cli_table", lambda: drifted)
    with pytest.raises(AssertionError, match="--chunk"):
        test_every_commands_flags_are_the_cli_tables_both_ways()


def test_every_optional_flag_says_its_default_in_help():
    """A flag that takes a value and is not required names its default in ``--help``."""
    import argparse

    from jaxdiff.cli import parser

    missing = []
    for command, p in parser.build()[1].items():
        for a in p._actions:
            if not a.option_strings or a.required or isinstance(a, argparse._StoreTrueAction):
                continue
            if a.option_strings[0] in ("-h", "--out", "--run"):  # help; what is written, read
                continue
            if "default" not in (a.help or ""):
                missing.append(f"{command} {a.option_strings[0]}")
    assert not missing, missing


def test_help_explains_every_command(capsys):
    for cmd in ("demo", "train", "sample", "eval", "plot", "check", "export", "distill", "reflow"):
        with pytest.raises(SystemExit) as exit_:
            cli.main([cmd, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert out.count("--") >= 2 and "help" in out


def test_read_only_output_folder_is_one_line(trained, tmp_path, monkeypatch):
    # Root ignores permission bits, so the read-only folder is simulated.
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(tmp_path) else real(p, m))
    result = jaxdiff("sample", "--run", trained, "--out", tmp_path / "s.npy", check=False)
    assert (
        result.returncode == 2
        and f"--out folder {str(tmp_path)!r} is not writable" in result.stderr
    )
    result = jaxdiff("train", "--preset", "seed", "--out", tmp_path, "--epochs", "1", check=False)
    assert result.returncode == 2 and "is not writable" in result.stderr


def test_edited_config_json_is_one_line(trained, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    (run_dir / "config.json").write_text(json.dumps({"schedule": {"num_steps": -3}}))
    result = jaxdiff("sample", "--run", run_dir, "--out", tmp_path / "s.npy", check=False)
    assert (
        result.returncode == 2 and "num_steps must be a positive integer, got -3" in result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1
    (run_dir / "config.json").write_text("{not json")
    result = jaxdiff("plot", "--run", run_dir, check=False)
    assert result.returncode == 2 and "not a valid jaxdiff config" in result.stderr


@pytest.mark.slow  # a CLI training; tests/test_fitting.py checks the divergence itself
def test_cli_divergence_is_one_line_exit_1(tmp_path):
    result = jaxdiff(
        "train",
        "--preset",
        "seed",
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


# slow: 18 s here; keeps the README test command under 5 minutes
@pytest.mark.slow
def test_conditional_moons_from_the_command_line(tmp_path):
    """`train --data moons --conditional` then `sample --label c --guidance 2`: at least
    90% of the samples of label c lie nearer to class c's data than to the other's."""
    run = tmp_path / "moons"
    jaxdiff(
        "train",
        "--data",
        "moons",
        "--conditional",
        "--preset",
        "fast",
        "--epochs",
        "15",
        "--out",
        run,
        "--eval-n",
        "0",
        "--no-figures",
        "--quiet",
    )
    x, y = data.moons(11, 4000, labels=True)
    trees = [cKDTree(x[y == c]) for c in (0, 1)]
    for c in (0, 1):
        out = tmp_path / f"label{c}.npy"
        jaxdiff(
            "sample",
            "--run",
            run,
            "--label",
            c,
            "--guidance",
            2,
            "--n",
            1000,
            "--out",
            out,
            "--quiet",
        )
        s = np.load(out)
        nearer = trees[c].query(s)[0] < trees[1 - c].query(s)[0]
        assert nearer.mean() >= 0.9, (c, nearer.mean())
    bad = jaxdiff("sample", "--run", run, "--label", 2, "--out", tmp_path / "b.npy", check=False)
    assert bad.returncode == 2 and "--label must be in [0, 2) for this run, got 2" in bad.stderr


@pytest.mark.slow  # four CLI trainings; resume itself is in the default run (the runs fixture)
def test_resume_takes_the_command_line_that_started_the_run(tmp_path):
    out = tmp_path / "r"
    flags = ["--data", "s_curve", "--preset", "seed", "--seed", "3", "--batch-size", "1000"]
    quiet = ["--quiet", "--eval-n", "0", "--no-figures", "--out", out]
    jaxdiff("train", *flags, *quiet, "--epochs", "2")
    # The same command with --resume appended, more epochs: accepted, and continues.
    resumed = jaxdiff("train", *flags, *quiet, "--epochs", "3", "--resume")
    assert "trained 3 epochs" in resumed.stdout
    # A part of it, and nothing but --epochs: accepted too; --run names the run instead.
    jaxdiff("train", "--seed", "3", *quiet, "--epochs", "3", "--resume")
    again = jaxdiff("train", "--run", out, "--quiet", "--eval-n", "0", "--epochs", "4")
    assert "trained 4 epochs" in again.stdout
    # A flag that differs is refused in one line naming the setting and both values.
    for flag, value, setting, saved in (
        ("--seed", "4", "seed", "3"),
        ("--batch-size", "500", "train.batch_size", "1000"),
        ("--preset", "fast", "data.standardize", "False"),
        ("--data", "moons", "data.name", "'s_curve'"),
    ):
        bad = jaxdiff("train", flag, value, *quiet, "--epochs", "5", "--resume", check=False)
        assert bad.returncode == 2, bad.stderr
        assert f"started with {setting} = {saved}, this command line gives" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
    assert json.loads((out / "config.json").read_text())["train"]["epochs"] == 4


def test_flags_become_settings_including_a_negative_switch():
    from jaxdiff.cli import commands
    from jaxdiff.cli import parser as cli_parser
    from jaxdiff.runs import overrides, presets

    parser, _ = cli_parser.build()
    argv = ["train", "--out", "r", "--no-standardize", "--no-residual", "--features", "fourier"]
    given = commands.settings(parser.parse_args(argv))
    assert given == {"standardize": False, "residual": False, "input_features": "fourier"}
    cfg = overrides.configure(presets.preset("default"), **given)
    assert (cfg.data.standardize, cfg.model.residual) == (False, False)
    given = commands.settings(parser.parse_args(["train", "--out", "r", "--timesteps", "50"]))
    assert overrides.configure(presets.preset("seed"), **given).schedule.num_steps == 50


def test_smoke_caps_budgets_only_when_asked(monkeypatch):
    """JAXDIFF_SMOKE=1 (jaxdiff.cli.smoke) caps epochs, samples and distillation budgets
    and nothing else; unset, the parsed flags are the user's."""
    from jaxdiff.cli import parser, smoke

    p = parser.build()[0]
    argv = ["train", "--data", "moons", "--out", "r", "--epochs", "400", "--eval-n", "9000"]
    monkeypatch.delenv(smoke.VARIABLE, raising=False)
    args = p.parse_args(argv)
    smoke.shrink(args)
    assert (args.epochs, args.eval_n) == (400, 9000)
    monkeypatch.setenv(smoke.VARIABLE, "1")
    args = p.parse_args(argv)
    smoke.shrink(args)
    assert (args.epochs, args.eval_n, args.data, args.out) == (2, 500, "moons", "r")
    args = p.parse_args(["train", "--run", "r", "--epochs", "400"])
    smoke.shrink(args)
    assert args.epochs == 3  # a continued run trains one epoch more than a new one
    args = p.parse_args(["distill", "--run", "r", "--nfe", "4", "--out", "s"])
    smoke.shrink(args)
    assert (args.iterations, args.pairs, args.steps) == (10, 512, 4)
    args = p.parse_args(["eval", "--run", "r", "--n", "10000"])
    smoke.shrink(args)
    assert (args.n, args.likelihood_n) == (500, 50)
    monkeypatch.setenv(smoke.VARIABLE, "0")
    args = p.parse_args(["sample", "--run", "r", "--n", "10000"])
    smoke.shrink(args)
    assert args.n == 10000
