"""The ``jaxdiff`` command end to end, in process (jit caches shared) with tiny epoch
counts; one subprocess checks the real console entry point."""

import json
import warnings

import jax
import numpy as np
import pytest
from conftest import jaxdiff, jaxdiff_subprocess
from PIL import Image

from jaxdiff import cli, samplers


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
    assert lik["vlb_nats_per_dim"] >= lik["nll_ode_nats_per_dim"]


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


def test_figures_open_with_sensible_sizes(runs):
    full, _, _ = runs
    for name, min_w in (
        ("forward.png", 800),
        ("reverse.png", 800),
        ("loss.png", 300),
        ("samples.png", 300),
        ("reverse.gif", 150),
    ):
        with Image.open(full / name) as im:
            im.verify()
        with Image.open(full / name) as im:
            w, h = im.size
            assert w >= min_w and h >= 100, (name, im.size)
            if name.endswith(".gif"):
                assert im.n_frames > 10


def test_resume_equals_uninterrupted_bit_for_bit(runs):
    full, split, resumed = runs
    assert "trained 4 epochs" in resumed.stdout
    assert np.load(full / "samples.npy").tobytes() == np.load(split / "samples.npy").tobytes()
    from jaxdiff import run

    _, a = run.restore_run(full)
    _, b = run.restore_run(split)
    import jax

    for p, q in zip(
        jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params), strict=True
    ):
        assert np.array_equal(np.asarray(p), np.asarray(q))
    assert int(a.step) == int(b.step) == 4 * 79
    rows = [json.loads(line) for line in (split / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]


def test_sample_shape_and_determinism(runs, tmp_path):
    full, _, _ = runs
    a, b, c = tmp_path / "a.npy", tmp_path / "b.npy", tmp_path / "c.npy"
    jaxdiff("sample", "--run", str(full), "--out", str(a), "--n", "500", "--seed", "3")
    jaxdiff("sample", "--run", str(full), "--out", str(b), "--n", "500", "--seed", "3")
    jaxdiff("sample", "--run", str(full), "--out", str(c), "--n", "500", "--seed", "4")
    assert np.load(a).shape == (500, 2)
    assert np.load(a).tobytes() == np.load(b).tobytes()
    assert not np.array_equal(np.load(a), np.load(c))


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


def test_plot_redraws_every_figure(runs):
    _, split, _ = runs
    for name in ("forward.png", "reverse.png", "reverse.gif", "loss.png", "samples.png"):
        assert not (split / name).exists()  # trained with --no-figures
    jaxdiff("plot", "--run", str(split))
    for name in ("forward.png", "reverse.png", "reverse.gif", "loss.png", "samples.png"):
        assert (split / name).stat().st_size > 1000


def test_bad_input_in_a_subprocess_is_one_line_exit_2(tmp_path):
    proc = jaxdiff_subprocess("train", "--out", str(tmp_path / "r"), "--preset", "nope")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "preset must be one of ['fast', 'seed']" in proc.stderr and "'nope'" in proc.stderr


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--out", "{tmp}/r", "--data", "spiral"], "--data must be one of"),
        (["train", "--out", "{tmp}/r", "--preset", "fastest"], "preset must be one of"),
        (["train", "--out", "{tmp}/r", "--epochs", "0"], "--epochs: must be a positive integer"),
        (["train", "--out", "{tmp}/r", "--epochs", "-3"], "--epochs: must be a positive integer"),
        (["train", "--out", "{tmp}/r", "--batch-size", "0"], "--batch-size: must be a positive"),
        (["train", "--out", "{tmp}/r", "--batch-size", "20000"], "--batch-size must be at most"),
        (["train", "--out", "{tmp}/r", "--lr", "0"], "--lr: must be a positive"),
        (["train", "--out", "{tmp}/r", "--resume"], "does not exist"),
        (["train", "--out", "{tmp}", "--resume"], "no config.json"),
        (["train", "--out", "{trained}", "--epochs", "2"], "already holds a trained run"),
        (["train", "--out", "{trained}", "--resume", "--lr", "0.5"], "only --epochs may be given"),
        (["sample", "--run", "{tmp}/missing", "--out", "{tmp}/s.npy"], "does not exist"),
        (["sample", "--run", "{tmp}", "--out", "{tmp}/s.npy"], "not a jaxdiff run directory"),
        (["sample", "--run", "{trained}", "--out", "{tmp}/no/s.npy"], "does not exist"),
        (["sample", "--run", "{trained}", "--out", "{tmp}/s.txt"], "must name a .npy file"),
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
            ["sample", "--run", "{trained}", "--out", "{tmp}/s.npy", "--sampler", "euler"],
            "invalid choice: 'euler'",
        ),
        (["train", "--out", "{tmp}/r", "--schedule", "quadratic"], "invalid choice: 'quadratic'"),
        (["train", "--out", "{tmp}/r", "--target", "score"], "invalid choice: 'score'"),
        (["train", "--out", "{tmp}/r", "--ema", "1.5"], "--ema: must be a number in [0, 1)"),
        (["launch"], "invalid choice: 'launch'"),
        (["train", "--out", "{tmp}/r", "--data", "spiral"], "or a .npy/.csv file, got 'spiral'"),
        (["train", "--out", "{tmp}/r", "--data", "{tmp}/no.npy"], "no.npy' does not exist"),
        (["train", "--out", "{tmp}/r", "--conditional"], "needs a labelled data set"),
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


def test_config_that_does_not_match_checkpoint(runs, tmp_path, capsys):
    full, _, _ = runs
    import shutil

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


def test_help_explains_every_command(capsys):
    for cmd in ("demo", "train", "sample", "eval", "plot"):
        with pytest.raises(SystemExit) as exit_:
            cli.main([cmd, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert out.count("--") >= 2 and "help" in out


def test_chunked_sampling_is_the_same_stream_for_any_chunk(trained, tmp_path, monkeypatch):
    from jaxdiff import run

    monkeypatch.setattr(run, "BLOCK", 64)  # 300 rows = 4 blocks of 64 + 44
    s, state = run.restore_run(trained)
    opts = dict(method="ddim", steps=5)
    key = jax.random.key(9)
    whole = run.draw(s, state.params, key, 300, chunk=10_000, **opts)
    by_block = run.draw(s, state.params, key, 300, chunk=64, **opts)
    streamed = run.draw(s, state.params, key, 300, chunk=128, out=tmp_path / "x.npy", **opts)
    assert whole.tobytes() == by_block.tobytes() == np.asarray(streamed).tobytes()
    assert np.load(tmp_path / "x.npy").shape == (300, 2)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    # A draw of at most one block is the plain sampler with key fold_in(key, 0).
    small = run.draw(s, state.params, key, 50, **opts)
    plain = samplers.sample(
        jax.random.fold_in(key, 0),
        s.apply_fn,
        state.params,
        s.schedule,
        (50, 2),
        **run.sampler_options(s.config, **opts),
    )
    assert (
        small.tobytes() == np.asarray(s.normalizer.decode(np.asarray(plain)), np.float32).tobytes()
    )


def test_train_on_a_file_keeps_a_copy_and_evaluates_on_held_out_rows(tmp_path):
    from jaxdiff import data

    x = data.moons(0, 500) * 10.0 + 100.0  # far from unit scale: standardised for training
    source = tmp_path / "mine.csv"
    np.savetxt(source, x, delimiter=",")
    run = tmp_path / "run"
    common = ["--epochs", "2", "--batch-size", "100", "--no-figures", "--quiet"]
    jaxdiff("train", "--data", source, "--out", run, "--eval-n", "50", *common)
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
