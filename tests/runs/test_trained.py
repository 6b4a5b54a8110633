"""``jaxdiff.load``: a trained model from a run directory, a distilled student or a saved
model; it samples as ``jaxdiff sample`` does and scores as ``jaxdiff eval`` does, after the
run is moved and its data deleted, and refuses bad input in one line."""

import json
import shutil

import jax
import numpy as np
import pytest
from conftest import jaxdiff

import jaxdiff as jd
from jaxdiff.runs import draw, evaluate, rundir
from jaxdiff.runs.setup import model_params, restore, setup
from jaxdiff.runs.trained import load


@pytest.fixture(scope="module")
def file_run(tmp_path_factory):
    """A seed-preset run of 2 epochs on a .npy file (the run keeps a copy of it)."""
    root = tmp_path_factory.mktemp("file_run")
    rows = np.random.default_rng(0).normal(size=(600, 2)).astype(np.float32) * [3.0, 0.5]
    np.save(root / "rows.npy", rows)
    run = root / "run"
    jaxdiff("train", "--preset", "seed", "--data", root / "rows.npy", "--epochs", "2",
            "--out", run, "--quiet", "--no-figures", "--eval-n", "0")  # fmt: skip
    return root, run


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cond") / "run"
    jaxdiff("train", "--preset", "fast", "--data", "moons", "--conditional", "--epochs", "2",
            "--out", run, "--quiet", "--no-figures", "--eval-n", "0")  # fmt: skip
    return run


def _restored_sample(run, n, key, **kw):
    """Samples the way training draws them: the whole TrainState restored (optimiser
    included), the parameters picked by ``model_params``."""
    s, state = restore(run)
    return draw.draw(s, model_params(s, state), key, n, **kw)


def _cli_sample(run, path, *flags):
    jaxdiff("sample", "--run", run, "--out", path, "--quiet", *flags)
    return np.load(path)


def test_a_moved_run_without_its_data_samples_as_the_cli_did(file_run, tmp_path):
    _, run = file_run
    before = _cli_sample(run, tmp_path / "a.npy", "--n", "700", "--seed", "4")
    own = _cli_sample(run, tmp_path / "b.npy", "--n", "300")  # the run's own key
    moved = tmp_path / "moved"
    shutil.copytree(run, moved)
    (moved / "data.npy").unlink()
    model = jd.load(moved)
    assert not (moved / "data.npy").exists()
    assert model.epoch == 2 and model.num_classes == 0 and model.data_dim == 2
    assert model.config == rundir.load_config(run)
    assert model.sample(700, seed=4).tobytes() == before.tobytes()
    assert model.sample(300).tobytes() == own.tobytes()
    assert before.tobytes() == _restored_sample(run, 700, jax.random.key(4)).tobytes()
    assert model.sample(300, key=jax.random.key(4)).shape == (300, 2)
    # The normaliser is the run's: samples come back in the data's units.
    assert np.allclose(model.normalizer.std, np.load(run / "data.npy").std(0), rtol=0.2)


def test_log_prob_is_the_evaluated_ode_likelihood_in_data_units(file_run):
    _, run = file_run
    model = jd.load(run)
    q = evaluate.evaluate_run(run, n=50, likelihood_n=40)
    s = setup(rundir.load_config(run), run)
    lp = model.log_prob(s.held_out[:40])
    assert lp.shape == (40,) and np.all(np.isfinite(lp))
    # eval reports nats per dimension, the mean of -log p / D.
    nll = q["likelihood"]["nll_ode_nats_per_dim"]
    assert abs(-lp.mean() / 2 - nll) < 1e-4 * max(1.0, abs(nll))
    with pytest.raises(ValueError, match=r"x must be rows of 2 features, got \(3, 3\)"):
        model.log_prob(np.zeros((3, 3)))


def test_save_writes_a_small_model_that_loads_to_the_same_samples(file_run, tmp_path):
    _, run = file_run
    model = jd.load(run)
    saved = model.save(tmp_path / "m")
    assert sorted(p.name for p in saved.iterdir()) == [
        "config.json", "normalizer.json", "params", "params_digest.json"
    ]  # fmt: skip
    again = jd.load(saved)
    assert again.epoch is None
    assert again.sample(400, seed=1).tobytes() == model.sample(400, seed=1).tobytes()
    assert _cli_sample(saved, tmp_path / "x.npy", "--n", "50").shape == (50, 2)
    with pytest.raises(rundir.RunError, match="already exists"):
        model.save(saved)
    # Damaged parameters are named, not sampled from.
    digest = json.loads((saved / "params_digest.json").read_text())
    digest[next(iter(digest))] = "float32 (1,) 00"
    (saved / "params_digest.json").write_text(json.dumps(digest))
    with pytest.raises(rundir.RunError, match=r"parameters in .* are damaged: content digest"):
        jd.load(saved)


@pytest.mark.slow  # a conditional CLI training; guidance is checked in tests/test_samplers.py
def test_conditional_run_samples_by_label_and_guidance(conditional_run, tmp_path):
    model = jd.load(conditional_run)
    assert model.label_names == ("0", "1")
    assert json.loads((conditional_run / "classes.json").read_text()) == {"names": ["0", "1"]}
    cli = _cli_sample(conditional_run, tmp_path / "c.npy", "--n", "400", "--label", "1",
                      "--guidance", "2", "--seed", "3")  # fmt: skip
    x = model.sample(400, seed=3, label="1", guidance=2.0)
    assert x.tobytes() == cli.tobytes()
    # The EMA parameters, as training samples with them.
    key = jax.random.key(3)
    assert (
        x.tobytes()
        == _restored_sample(conditional_run, 400, key, labels="1", guidance=2.0).tobytes()
    )
    assert x.tobytes() != model.sample(400, seed=3, label=0, guidance=2.0).tobytes()
    with pytest.raises(ValueError, match="label must be a class index or one of"):
        model.sample(10, label="2x")
    with pytest.raises(ValueError, match="guidance needs a label"):
        model.sample(10, guidance=1.0)
    saved = jd.load(model.save(tmp_path / "m"))
    assert saved.label_names == ("0", "1")
    assert saved.sample(400, seed=3, label="1", guidance=2.0).tobytes() == x.tobytes()


@pytest.mark.slow  # a CLI distillation, as in tests/runs/test_distill.py
def test_a_distilled_student_loads_with_its_own_sampler(trained, tmp_path):
    student = tmp_path / "student"
    jaxdiff("distill", "--run", trained, "--out", student, "--steps", "2", "--iterations",
            "20", "--pairs", "256", "--quiet", "--eval-n", "0", "--no-figures")  # fmt: skip
    model = jd.load(student)
    assert model.sampler.method == "restart" and model.sampler.steps == 2
    cli = _cli_sample(student, tmp_path / "s.npy", "--n", "200", "--seed", "0")
    assert model.sample(200, seed=0).tobytes() == cli.tobytes()
    teacher = jd.load(trained)
    assert model.sample(200, seed=0).tobytes() != teacher.sample(200, seed=0).tobytes()


def test_bad_input_gives_one_clear_error_each(file_run, tmp_path):
    _, run = file_run
    with pytest.raises(rundir.RunError, match="does not exist"):
        jd.load(tmp_path / "nowhere")
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY")
    with pytest.raises(rundir.RunError, match="is a file, not a run directory or saved model"):
        jd.load(tmp_path / "x.npy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(rundir.RunError, match=r"not a jaxdiff run directory: no config\.json"):
        jd.load(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"member must be in \[0, 1\) for this run, got 1"):
        jd.load(run, member=1)
    with pytest.raises(ValueError, match="give seed or key, not both"):
        jd.load(run).sample(5, seed=1, key=jax.random.key(1))
    damaged = tmp_path / "damaged"
    shutil.copytree(run, damaged)
    for f in (damaged / "checkpoints").rglob("*"):
        if f.is_file() and f.stat().st_size > 0:
            f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])
    with pytest.raises(rundir.RunError, match="no intact checkpoint in"):
        jd.load(damaged)
    result = jaxdiff("sample", "--run", damaged, "--out", tmp_path / "s.npy", check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert load is jd.load
