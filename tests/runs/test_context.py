"""Context models in runs: `jaxdiff.fit(x, context=c)`, `TrainedModel.sample(n,
context=...)` and `.log_prob(x, context=...)`, saving and loading, and `jaxdiff train
--given` / `jaxdiff sample --given` on the command line."""

import numpy as np
import pytest

from jaxdiff import cli

# θ ~ N(0, I₂), x = A θ + N(0, 0.25 I₂): a posterior p(θ | x) to learn (tests/test_conditions.py
# checks it against the closed form; here, the plumbing).
A = np.array([[1.0, 0.5], [-0.3, 0.8]])


def simulate(n, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n, 2))
    x = theta @ A.T + 0.5 * rng.normal(size=(n, 2))
    return theta.astype(np.float32), x.astype(np.float32)


@pytest.fixture(scope="module")
def model():
    import jaxdiff

    theta, x = simulate(600)
    return jaxdiff.fit(theta, context=x, epochs=8, batch_size=64)


def test_fit_with_context_samples_given_one_or_many(model, tmp_path):
    import jaxdiff

    assert model.context_dim == 2 and model.config.model.context == 2
    one = model.sample(50, context=[1.5, -1.0], seed=0)
    assert one.shape == (50, 2)
    many = model.sample(50, context=[[0.0, 0.0], [1.5, -1.0]], seed=0)
    assert many.shape == (2, 50, 2) and np.all(np.isfinite(many))
    assert not np.allclose(many[0].mean(0), many[1].mean(0), atol=0.05)
    saved = jaxdiff.load(model.save(tmp_path / "m"))
    assert saved.context_dim == 2
    np.testing.assert_array_equal(saved.sample(50, context=[1.5, -1.0], seed=0), one)
    lp = saved.log_prob(one[:5], context=[1.5, -1.0])
    assert lp.shape == (5,) and np.all(np.isfinite(lp))
    np.testing.assert_array_equal(lp, model.log_prob(one[:5], context=[1.5, -1.0]))
    per_row = model.log_prob(one[:2], context=[[1.5, -1.0], [0.0, 0.0]])
    assert per_row[0] == pytest.approx(lp[0], abs=1e-5) and per_row[1] != pytest.approx(lp[1])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m: m.sample(5, context=[1.0, 2.0, 3.0]), r"context must be finite rows of 2"),
        (lambda m: m.sample(5, context=[np.nan, 0.0]), r"context must be finite rows of 2"),
        (lambda m: m.sample(5, context=[0.0, 0.0], label=1), "label or context, not both"),
        (lambda m: m.log_prob(np.zeros((3, 2)), context=np.zeros((2, 2))), "one row or 3"),
    ],
)
def test_a_context_model_refuses_what_does_not_fit(model, call, match):
    with pytest.raises(ValueError, match=match):
        call(model)


def test_fit_refuses_context_that_does_not_fit():
    import jaxdiff

    theta, x = simulate(100)
    with pytest.raises(ValueError, match="one row per data row"):
        jaxdiff.fit(theta, context=x[:50], epochs=1)
    with pytest.raises(ValueError, match="context must be finite"):
        jaxdiff.fit(theta, context=np.where(x > 1, np.nan, x), epochs=1)
    with pytest.raises(ValueError, match="labels"):
        jaxdiff.fit(theta, np.zeros(100, int), context=x, epochs=1)


def test_an_unconditional_model_refuses_a_context(runs):
    import jaxdiff

    with pytest.raises(ValueError, match="context needs a context model"):
        jaxdiff.load(runs[0]).sample(5, context=[0.0, 0.0])


def _sims_csv(path, n=400):
    theta, x = simulate(n)
    np.savetxt(path, np.column_stack([theta, x]), delimiter=",", header="t1,t2,x1,x2", comments="")
    return path


def test_train_given_then_sample_given_on_the_command_line(tmp_path, capsys):
    sims = _sims_csv(tmp_path / "sims.csv")
    obs = tmp_path / "obs.csv"
    np.savetxt(
        obs, [[0.0, 0.0], [1.5, -1.0], [-1.0, 0.5]], delimiter=",", header="x1,x2", comments=""
    )
    run = tmp_path / "run"
    argv = ["train", "--data", str(sims), "--given", "x1,x2", "--out", str(run)]
    assert cli.main([*argv, "--epochs", "3", "--batch-size", "64", "--quiet", "--no-figures"]) == 0
    assert (run / "context_normalizer.json").is_file() and (run / "data.npz").is_file()
    out = tmp_path / "post.csv"
    code = cli.main(
        ["sample", "--run", str(run), "--given", str(obs), "--n", "20", "--out", str(out)]
    )
    assert code == 0
    header = out.read_text().splitlines()[0]
    assert header == "c0,c1,x0,x1"
    rows = np.loadtxt(out, delimiter=",", skiprows=1)
    assert rows.shape == (60, 4)
    np.testing.assert_array_equal(rows[20:40, :2], np.tile([1.5, -1.0], (20, 1)))
    npy = tmp_path / "post.npy"
    assert (
        cli.main(["sample", "--run", str(run), "--given", str(obs), "--n", "20", "--out", str(npy)])
        == 0
    )
    np.testing.assert_allclose(np.load(npy), rows, rtol=1e-6, atol=1e-6)  # the .csv rounds
    capsys.readouterr()
    for command in ("distill", "reflow", "export"):  # not for a context run yet: one line
        target = tmp_path / command
        assert cli.main([command, "--run", str(run), "--out", str(target)]) == 2
        err = capsys.readouterr().err
        assert "context" in err and "Traceback" not in err and not target.exists()


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--given", "x9"], "'x9' is not in the header"),
        (["--given", "t1,t2,x1,x2"], "none is left to draw"),
        (["--given", "x1", "--conditional", "--label-column", "x2"], "context or class labels"),
    ],
)
def test_train_given_refuses_in_one_line_before_writing(tmp_path, capsys, extra, match):
    sims = _sims_csv(tmp_path / "sims.csv", n=40)
    run = tmp_path / "run"
    assert cli.main(["train", "--data", str(sims), "--out", str(run), *extra]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err and not run.exists()


def test_sample_given_refuses_an_unconditional_run(runs, tmp_path, capsys):
    obs = tmp_path / "obs.csv"
    np.savetxt(obs, [[0.0, 0.0]], delimiter=",")
    out = tmp_path / "s.csv"
    code = cli.main(["sample", "--run", str(runs[0]), "--given", str(obs), "--out", str(out)])
    assert code == 2 and "needs a context run" in capsys.readouterr().err
    assert not out.exists()
