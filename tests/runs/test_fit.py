"""The size rule (runs.presets.sized), `jaxdiff.fit` from rows to a model, and the command
line on tables of any size."""

import dataclasses
import json
import math

import numpy as np
import pytest
from conftest import jaxdiff as run_cli

import jaxdiff
from jaxdiff.runs import overrides, presets, trained

DEFAULT = presets.preset("default")


def test_the_rule_keeps_the_default_on_the_registered_sets():
    """10,000 rows of 2 columns: the default's own batch, epochs, rate horizon and network;
    only the budget is recorded."""
    sized = presets.sized(DEFAULT, 10_000, 2)
    assert sized.train.steps == presets.DEFAULT_STEPS
    assert dataclasses.replace(sized.train, steps=None) == DEFAULT.train
    assert sized.model == DEFAULT.model and sized.schedule == DEFAULT.schedule


@pytest.mark.parametrize("rows", [1, 2, 5, 24, 113, 455, 1023, 1024, 1437, 9_999, 100_000])
@pytest.mark.parametrize("columns", [1, 2, 3, 4, 64])
def test_the_rule_fits_every_shape(rows, columns):
    cfg = presets.sized(DEFAULT, rows, columns)
    t = cfg.train
    assert 1 <= t.batch_size <= min(rows, DEFAULT.train.batch_size)
    if rows >= 16:  # at least two batches an epoch, of at least 8 rows
        assert t.batch_size >= 8 and math.ceil(rows / t.batch_size) >= 2
    per_epoch = math.ceil(rows / t.batch_size)
    # The budget in steps, met within one epoch; the cosine horizon is the whole run.
    assert t.steps <= t.epochs * per_epoch < t.steps + per_epoch
    assert t.lr_decay_epochs == t.epochs
    features = "fourier" if columns <= presets.FOURIER_COLUMNS else "none"
    assert cfg.model.input_features == features


def test_a_setting_given_by_name_wins_over_the_rule():
    cfg = overrides.configure_for("default", 113, 13, batch_size=16, input_features="fourier")
    assert cfg.train.batch_size == 16 and cfg.model.input_features == "fourier"
    given = overrides.configure_for("default", 113, 13, epochs=7)
    assert given.train.epochs == 7 and given.train.steps is None  # epochs given, not derived
    assert overrides.configure_for("fast", 113, 13) == presets.preset("fast")  # fixed recipes


def test_the_columns_setting_is_not_the_shapes_width():
    """``jaxdiff train --data cells.csv --columns x,y`` (docs/data.md) once failed with
    "configure_for() got multiple values for argument 'columns'"."""
    cfg = overrides.configure_for("default", 400, 2, 0, columns="x,y", label_column="kind")
    assert cfg.data.columns == "x,y" and cfg.data.label_column == "kind"
    assert cfg == overrides.configure_for("default", 400, 2, columns="x,y", label_column="kind")


def _blobs(n=96, dim=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    return (rng.normal(size=(n, dim)) + 4.0 * y[:, None]).astype(np.float32), y


def test_fit_trains_on_rows_and_returns_a_model_that_saves_and_loads(tmp_path):
    x, _ = _blobs()
    model = jaxdiff.fit(x, epochs=3, width=32, out=tmp_path / "m")
    assert isinstance(model, trained.TrainedModel)
    assert model.config.train.epochs == 3 and model.config.model.width == 32
    assert model.config.data.name == "array" and model.config.train.batch_size == 32
    z = model.sample(50, seed=1)
    assert z.shape == (50, 3) and np.all(np.isfinite(z))
    again = jaxdiff.load(tmp_path / "m")
    np.testing.assert_array_equal(again.sample(50, seed=1), z)
    assert np.all(np.isfinite(model.log_prob(x[:4])))


def test_fit_with_labels_is_conditional_and_draws_each_class():
    """Two far-apart classes: a label's samples come from its own class (a model that
    ignored the label would put half of each in the other blob)."""
    x, y = _blobs(n=128, dim=2)
    model = jaxdiff.fit(x, y, epochs=150, width=64, seed=3)
    assert model.label_names == ("0", "1")
    for label, centre in ((0, 0.0), (1, 4.0)):
        z = model.sample(400, seed=label, label=label)
        assert np.mean(np.abs(z.mean(1) - centre) < 2.0) > 0.9


def test_fit_takes_a_dataframe_and_a_file(tmp_path):
    import pandas as pd

    x, _ = _blobs(n=40)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    assert jaxdiff.fit(frame, epochs=1, width=16).data_dim == 3
    path = tmp_path / "rows.csv"
    np.savetxt(path, x, delimiter=",", header="a,b,c", comments="")
    assert jaxdiff.fit(str(path), columns="c,a", epochs=1, width=16).data_dim == 2
    frame["kind"] = ["x"] * 40  # a text column: a typed table (tests/runs/test_typed_tables.py)
    typed = jaxdiff.fit(frame, epochs=1, width=16)
    assert typed.encoder.names == ("a", "b", "c", "kind") and typed.data_dim == 4
    assert set(typed.sample_table(10, seed=0)["kind"]) == {"x"}


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda x: jaxdiff.fit(x, conditional=True), TypeError, r"drop the setting\(s\)"),
        (lambda x: jaxdiff.fit(x, epochz=3), TypeError, "unknown setting"),
        (lambda x: jaxdiff.fit(x[:, 0]), ValueError, "data must be a non-empty"),
        (lambda x: jaxdiff.fit(x, np.zeros(3, int)), ValueError, "labels must have shape"),
        (lambda x: jaxdiff.fit(x, batch_size=500), ValueError, "batch_size must be at most"),
    ],
)
def test_fit_refuses_bad_input_in_one_line(call, error, match):
    x, _ = _blobs(n=40)
    with pytest.raises(error, match=match) as info:
        call(x)
    assert "\n" not in str(info.value)


def test_a_model_fitted_on_arrays_says_why_it_cannot_be_rebuilt(tmp_path):
    from jaxdiff.runs import setup

    model = jaxdiff.fit(_blobs(n=40)[0], epochs=1, width=16)
    with pytest.raises(ValueError, match=r"trained on rows handed to jaxdiff\.fit"):
        setup.setup(model.config)


def test_train_sizes_a_30_row_file_and_resumes_with_the_default_named(tmp_path):
    """A 30-row file trains with the default (it was refused: batch 512), the rule shows
    in the output and in config.json, and `--preset default` resumes it (sized alike)."""
    path = tmp_path / "tiny.csv"
    np.savetxt(path, np.random.default_rng(0).normal(size=(30, 3)), delimiter=",")
    out = tmp_path / "r"
    flags = ["--quiet", "--no-figures", "--eval-n", "0", "--data", path]
    result = run_cli("train", "--out", out, *flags)
    assert "sized for 24 rows x 3 columns" in result.stdout
    # where the time went, part by part, in the output and the report
    parts = json.loads((out / "report.json").read_text())["seconds"]
    assert set(parts) == {
        "setup", "compilation", "training", "checkpoints and logging", "sampling", "evaluation"
    }  # fmt: skip
    assert all(v >= 0 for v in parts.values()) and parts["training"] > 0
    assert "time: setup " in result.stdout and "after start-up)" in result.stdout
    saved = json.loads((out / "config.json").read_text())["train"]
    assert saved["steps"] == presets.DEFAULT_STEPS and saved["epochs"] == 800
    assert saved["batch_size"] == 8
    result = run_cli("train", "--run", out, "--preset", "default", *flags, "--epochs", "800")
    assert result.returncode == 0
    given = overrides.configure(DEFAULT, data=str(path), epochs=40)
    assert given.train.steps is None  # --epochs given: not derived from the budget


def test_a_batch_larger_than_the_rows_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "rows.npy"
    np.save(path, np.zeros((50, 2), np.float32))
    out = tmp_path / "r"
    result = run_cli("train", "--data", path, "--out", out, "--batch-size", "64", check=False)
    assert result.returncode == 2
    assert "--batch-size must be at most the 40 rows training reads, got 64" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("rows, held", [(30, 6), (10_000, 2000), (30_000, 5000)])
def test_a_file_holds_out_a_fifth_of_its_rows_and_at_most_5000(tmp_path, rows, held):
    from jaxdiff.runs import rows as run_rows

    path = tmp_path / "rows.npy"
    np.save(path, np.random.default_rng(0).normal(size=(rows, 2)).astype(np.float32))
    cfg = overrides.configure(DEFAULT, data=str(path))
    assert run_rows.training_shape(cfg) == (rows - held, 2, 0)
    assert run_rows.HELD_OUT_ROWS == 5000
