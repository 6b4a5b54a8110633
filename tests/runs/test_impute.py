"""`TrainedModel.impute`: gaps filled by a trained model, the known cells kept."""

import numpy as np
import pytest


def test_impute_fills_the_gaps_and_keeps_every_known_cell(runs):
    import jaxdiff

    full, _, _ = runs
    model = jaxdiff.load(full)
    rows = np.asarray(model.sample(6, seed=0), np.float64)
    gaps = rows.copy()
    gaps[[0, 2, 4], 1] = np.nan
    gaps[5, :] = np.nan  # a row with nothing known: a plain draw
    filled = model.impute(gaps, seed=1, resample=2)
    assert filled.shape == gaps.shape and np.all(np.isfinite(filled))
    known = ~np.isnan(gaps)
    np.testing.assert_array_equal(filled[known], gaps[known])  # bit for bit
    again = model.impute(gaps, seed=1, resample=2)
    np.testing.assert_array_equal(filled, again)
    other = model.impute(gaps, seed=2, resample=2)
    assert not np.array_equal(filled[~known], other[~known])


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((3, 5)), r"x must be rows of 2 features, got \(3, 5\)"),
        (np.array([[np.inf, 0.0]]), "x must be numbers, or NaN for a missing cell"),
    ],
)
def test_impute_refuses_bad_rows(runs, x, match):
    import jaxdiff

    model = jaxdiff.load(runs[0])
    with pytest.raises(ValueError, match=match):
        model.impute(x)


@pytest.mark.slow
def test_a_trained_model_imputes_the_gaussian_conditional(tmp_path):
    """The default trained on correlated Gaussian rows (ρ = 0.9): x₂ given x₁ = 1.2 has
    the closed-form conditional mean within 0.15 of its standard deviation and variance
    within 30% (the model's error and RePaint's; measured on a 2-core AMD EPYC: mean
    +0.04 sd, variance 20% low); the model's unconditional samples (the known cell
    ignored) miss the mean by far more."""
    import jaxdiff

    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    rows = rng.multivariate_normal([0.0, 0.0], cov, size=10_000).astype(np.float32)
    model = jaxdiff.fit(rows)
    gaps = np.column_stack([np.full(2000, 1.2), np.full(2000, np.nan)])
    drawn = model.impute(gaps, seed=0)[:, 1]
    mean, var = 0.9 * 1.2, 1.0 - 0.81
    assert abs(drawn.mean() - mean) < 0.15 * np.sqrt(var)
    assert abs(drawn.var() / var - 1) < 0.30
    marginal = np.asarray(model.sample(2000, seed=0))[:, 1]
    assert abs(marginal.mean() - mean) > 2 * np.sqrt(var)


def test_the_impute_command_writes_known_cells_verbatim(runs, tmp_path):
    import csv

    from conftest import jaxdiff

    full, _, _ = runs
    gaps = tmp_path / "gaps.csv"
    gaps.write_text("a,b\n0.125,\n-1.5,NA\n,0.3333333333333\n2,1\n")
    out = tmp_path / "filled.csv"
    result = jaxdiff("impute", "--run", full, "--data", gaps, "--out", out,
                     "--draws", "2", "--resample", "2")  # fmt: skip
    assert "filled 3 missing cells of 4 rows (2 draws)" in result.stdout
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["draw", "a", "b"] and len(rows) == 1 + 2 * 4
    for draw, row in zip([0] * 4 + [1] * 4, rows[1:], strict=True):
        assert int(row[0]) == draw and all(np.isfinite(float(c)) for c in row[1:])
    known = [(1, 1, "0.125"), (2, 1, "-1.5"), (3, 2, "0.3333333333333"), (4, 1, "2")]
    for i, j, text in known:
        assert rows[i][j] == text and rows[i + 4][j] == text  # as written, in every draw
    assert rows[1][2] != rows[5][2]  # two draws, two fillings
    npy = tmp_path / "filled.npy"
    jaxdiff("impute", "--run", full, "--data", gaps, "--out", npy, "--resample", "2")
    filled = np.load(npy)
    assert filled.shape == (4, 2) and filled[0, 0] == 0.125 and filled[2, 1] == 0.3333333333333


@pytest.mark.parametrize(
    "text, out, match",
    [
        ("a,b,c\n1,,3\n", "f.csv", "--data: rows of 2 columns, as the run's, got 3"),
        ("a,b\n1,x\n", "f.csv", "cannot read data file"),
        ("a,b\n1,,3\n", "f.csv", "every row needs 2 fields"),
        ("a,b\n1,\n", "f.txt", "--out: must name a .npy or .csv file"),
    ],
)
def test_the_impute_command_refuses_bad_input_in_one_line(runs, tmp_path, text, out, match):
    from conftest import jaxdiff

    gaps = tmp_path / "gaps.csv"
    gaps.write_text(text)
    result = jaxdiff("impute", "--run", runs[0], "--data", gaps, "--out", tmp_path / out,
                     check=False)  # fmt: skip
    assert result.returncode == 2 and match in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / out).exists()
