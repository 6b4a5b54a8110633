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
    from jaxdiff.core import data

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


def test_the_copying_check_flags_copies_and_passes_fresh_draws():
    """Samples that are the training rows sit at distance 0 (ratio 0, flagged); fresh
    draws of the same law sit as far as held-out rows do (ratio near 1, not flagged); a
    moment-matched Gaussian is not a copy either (the check is about memorisation, not
    quality)."""
    import dataclasses

    from jaxdiff.core import data
    from jaxdiff.runs import evaluate, presets, setup

    cfg = presets.preset("fast")
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, name="moons", n=2000))
    s = setup.setup(cfg)
    held = data.load("moons", 11, 1000)
    copies = evaluate.copying(s, s.data[:1000], held)
    assert copies["samples"]["median"] < 1e-6 and copies["copies"]
    fresh = evaluate.copying(s, data.load("moons", 12, 1000), held)
    assert 0.9 < fresh["ratio"] < 1.1 and not fresh["copies"]
    rng = np.random.default_rng(0)
    gauss = rng.multivariate_normal(s.data.mean(0), np.cov(s.data.T), 1000)
    assert not evaluate.copying(s, gauss, held)["copies"]
    # Jittered copies (a tenth of the held-out spacing) are still flagged.
    jitter = s.data[:1000] + 0.1 * copies["held_out"]["median"] * rng.normal(size=(1000, 2))
    assert evaluate.copying(s, jitter, held)["copies"]
    table = evaluate.quality_table(
        {"n": 4, "samples": {}, "floor": {}, "copying": copies} | _no_scores()
    )
    assert "copying: the samples sit nearer the training rows" in table


def _no_scores() -> dict:
    keys = ("sliced_w2", "mmd2", "energy", "precision", "recall")
    return {"samples": dict.fromkeys(keys, 0.0), "floor": dict.fromkeys(keys, 0.0)}


def _wide_run(tmp_path, columns: int = 10):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, columns)) @ rng.normal(size=(columns, columns))
    np.save(tmp_path / "wide.npy", x.astype(np.float32))
    run = tmp_path / "run"
    common = ["--quiet", "--no-figures", "--eval-n", "0", "--epochs", "3"]
    assert (
        cli.main(["train", "--data", str(tmp_path / "wide.npy"), "--out", str(run), *common]) == 0
    )
    return run, x.astype(np.float32)


def test_a_wide_table_takes_the_fast_likelihood_path(tmp_path, capsys):
    """Beyond 8 columns `eval` estimates the trace (Hutchinson: a standard error > 0,
    printed beside the NLL, with where the time went); `log_prob` draws its probes from
    `seed`."""
    import jaxdiff

    run, x = _wide_run(tmp_path)
    argv = ["eval", "--run", str(run), "--n", "50", "--likelihood-n", "50"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "(Hutchinson trace)" in out and "evaluation time  " in out
    fast = json.loads((run / "report.json").read_text())["quality"]
    assert fast["likelihood"]["trace"] == "hutchinson"
    assert fast["likelihood"]["nll_ode_standard_error"] > 0
    assert set(fast["seconds"]) >= {"scores", "likelihood", "bound"}
    model = jaxdiff.load(run)
    a, b = model.log_prob(x[:20]), model.log_prob(x[:20], seed=1)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, model.log_prob(x[:20], trace="hutchinson", seed=0))
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, "--trace", "approx"])
    assert stop.value.code == 2
    assert "--trace: invalid choice: 'approx'" in capsys.readouterr().err


@pytest.mark.slow
def test_the_fast_path_lands_within_its_error_of_the_exact_trace(tmp_path):
    """`--trace exact` on the wide run (error 0) lands within 4 of the estimate's standard
    errors plus the even grid's own error (0.0013 nats/dim on the digits)."""
    run, _ = _wide_run(tmp_path)
    argv = ["eval", "--run", str(run), "--n", "100", "--likelihood-n", "100"]
    assert cli.main(argv) == 0
    fast = json.loads((run / "report.json").read_text())["quality"]["likelihood"]
    assert cli.main([*argv, "--trace", "exact"]) == 0
    exact = json.loads((run / "report.json").read_text())["quality"]["likelihood"]
    assert exact["trace"] == "exact" and exact["nll_ode_standard_error"] == 0
    gap = abs(fast["nll_ode_nats_per_dim"] - exact["nll_ode_nats_per_dim"])
    assert gap < 4 * fast["nll_ode_standard_error"] + 0.005


def test_a_two_column_run_keeps_the_exact_trace(runs):
    import jaxdiff

    full, _, _ = runs
    model = jaxdiff.load(full)
    rows = np.asarray(model.sample(8, seed=0))
    np.testing.assert_array_equal(model.log_prob(rows), model.log_prob(rows, trace="exact"))
    np.testing.assert_array_equal(model.log_prob(rows), model.log_prob(rows, seed=3))
