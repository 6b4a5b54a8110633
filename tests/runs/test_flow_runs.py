"""A flow-matching run (``jaxdiff train --objective flow``) through the command line:
trained, sampled with each flow sampler, evaluated with its own likelihood, loaded,
plotted, reflowed, and refused where a diffusion model's command does not apply."""

import json
import shutil

import numpy as np
import pytest
from conftest import impostors, jaxdiff, leaves_equal, scores

from jaxdiff.core import data
from jaxdiff.engine import sampler_settings, samplers
from jaxdiff.flow import flows
from jaxdiff.runs import overrides, presets, setup

# A 15-epoch CLI training shared by the module (about 50 s in all): a step of .ci/run
# (`pytest -m slow`); the flow library itself is tested in the default run
# (tests/test_flows.py, tests/test_flow_solvers.py).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("flow") / "run"
    result = jaxdiff(
        "train", "--data", "moons", "--objective", "flow", "--pairing", "ot",
        "--epochs", "15", "--eval-n", "1000", "--likelihood-n", "250",
        "--no-figures", "--out", out, "--quiet",
    )  # fmt: skip
    return out, result


def test_a_flow_run_learns_the_data_better_than_plausible_wrong_answers(flow_run):
    """Its own 8-evaluation samples (midpoint, 4 steps) beat a moment-matched Gaussian
    and a uniform box on every score, against fresh data; ``--objective flow`` alone gave
    it the flow's measured time draw (logit-normal)."""
    out, _ = flow_run
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["train"]["objective"], cfg["train"]["pairing"]) == ("flow", "ot")
    assert cfg["train"]["t_sampler"] == "logit_normal"
    assert (cfg["sample"]["method"], cfg["sample"]["steps"]) == ("midpoint", 4)
    x = np.load(out / "samples.npy")[:3000]
    reference = data.load("moons", np.random.default_rng(7).integers(1 << 30), 3000)
    got = scores(reference, x)
    for name, wrong in impostors(np.asarray(reference), 3000, blur=0.3).items():
        if name.startswith("blur"):
            continue
        bad = scores(reference, wrong)
        assert got["mmd2"] < bad["mmd2"] and got["precision"] > bad["precision"], name
    assert got["precision"] > 0.85 and got["recall"] > 0.85, got


def test_flow_run_samples_with_every_flow_sampler_and_refuses_a_diffusion_one(flow_run):
    out, _ = flow_run
    for method, steps in (("euler", "4"), ("heun", "2"), ("adaptive", None)):
        path = out.parent / f"{method}.npy"
        args = ["sample", "--run", out, "--out", path, "--n", "500", "--sampler", method]
        jaxdiff(*args, *(["--steps", steps] if steps else []), "--quiet")
        x = np.load(path)
        assert x.shape == (500, 2) and np.all(np.isfinite(x))
    bad = jaxdiff("sample", "--run", out, "--out", out.parent / "d.npy", "--sampler", "ddim",
                  check=False)  # fmt: skip
    assert bad.returncode == 2
    assert "for a flow model" in bad.stderr and "Traceback" not in bad.stderr


def test_flow_run_imputes_with_its_own_chain_and_keeps_the_known_cells(flow_run, tmp_path):
    """``jaxdiff impute`` on a flow run (RePaint on the flow's path): the known cells
    written back bit for bit, the gaps filled, the same seed the same filling."""
    out, _ = flow_run
    gaps = np.asarray(data.moons(3, n=40), np.float64)
    gaps[::2, 1] = np.nan
    gaps[1::2, 0] = np.nan
    np.save(tmp_path / "gaps.npy", gaps)
    filled = []
    for name in ("a.npy", "b.npy"):
        result = jaxdiff("impute", "--run", out, "--data", tmp_path / "gaps.npy",
                         "--out", tmp_path / name, "--resample", "2")  # fmt: skip
        assert result.returncode == 0, result.stderr
        filled.append(np.load(tmp_path / name))
    known = ~np.isnan(gaps)
    np.testing.assert_array_equal(filled[0][known], gaps[known])
    assert np.all(np.isfinite(filled[0]))
    np.testing.assert_array_equal(filled[0], filled[1])


def test_flow_run_reports_its_own_ode_likelihood_and_no_ddpm_bound(flow_run):
    out, _ = flow_run
    report = json.loads((out / "report.json").read_text())
    lik = report["quality"]["likelihood"]
    assert set(lik) == {"n", "nll_ode_nats_per_dim", "trace", "nll_ode_standard_error"}
    assert np.isfinite(lik["nll_ode_nats_per_dim"])
    assert lik["trace"] == "exact" and lik["nll_ode_standard_error"] == 0  # 2 columns
    import jaxdiff as lib

    model = lib.load(out)
    rows = np.asarray(data.load("moons", 3, 50))
    log_p = model.log_prob(rows)
    assert log_p.shape == (50,) and np.all(np.isfinite(log_p))
    # The data is far more likely under the model than points off the moons.
    assert np.mean(log_p) > np.mean(model.log_prob(rows + np.array([0.0, 3.0]))) + 2.0


def test_flow_run_plots_and_is_refused_by_distill(flow_run):
    out, _ = flow_run
    jaxdiff("plot", "--run", out)
    assert (out / "reverse.gif").is_file()
    bad = jaxdiff("distill", "--run", out, "--out", out.parent / "s", check=False)
    assert bad.returncode == 2 and "a ddpm teacher" in bad.stderr


def test_objective_settings_switch_the_sampler_and_refuse_ddpm_pairs(tmp_path):
    flow = overrides.configure(presets.preset("default"), objective="flow")
    assert (flow.sample.method, flow.sample.steps, flow.train.t_sampler) == (
        "midpoint", 4, "logit_normal")  # fmt: skip
    given = overrides.configure(presets.preset("default"), objective="flow", t_sampler="uniform")
    assert given.train.t_sampler == "uniform"  # a named time draw wins
    back = overrides.configure(flow, objective="ddpm")
    assert back.sample == presets.preset("default").sample
    assert back.train == presets.preset("default").train
    bad = jaxdiff("train", "--data", "moons", "--pairing", "ot", "--epochs", "1",
                  "--out", tmp_path / "r", check=False)  # fmt: skip
    assert bad.returncode == 2 and "pairing is for objectives 'flow'" in bad.stderr
    bad = jaxdiff("train", "--data", "moons", "--t-sampler", "logit_normal", "--epochs", "1",
                  "--out", tmp_path / "r2", check=False)  # fmt: skip
    assert bad.returncode == 2 and "t_sampler must be one of" in bad.stderr


def test_sample_spends_the_evaluations_asked_for_and_says_so(flow_run):
    out, _ = flow_run
    done = jaxdiff("sample", "--run", out, "--out", out.parent / "n.npy", "--n", "300",
                   "--sampler", "heun", "--nfe", "4", "--quiet")  # fmt: skip
    assert "sampler heun, 2 steps, network evaluations per sample: 4" in done.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["sampler"] == {"method": "midpoint", "steps": 4, "evaluations": 8}
    # A budget the run's midpoint cannot spend, named without a method: Euler spends it.
    one = jaxdiff("sample", "--run", out, "--out", out.parent / "o.npy", "--n", "300",
                  "--nfe", "1", "--quiet")  # fmt: skip
    assert "sampler euler, 1 steps, network evaluations per sample: 1" in one.stdout
    odd = jaxdiff("sample", "--run", out, "--out", out.parent / "o.npy", "--nfe", "3",
                  "--sampler", "midpoint", check=False)  # fmt: skip
    assert odd.returncode == 2 and "nfe must be even for method 'midpoint'" in odd.stderr
    both = jaxdiff("sample", "--run", out, "--out", out.parent / "b.npy", "--nfe", "4",
                   "--steps", "2", check=False)  # fmt: skip
    assert both.returncode == 2 and "give steps or nfe, not both" in both.stderr


def test_flow_run_exports_its_fixed_step_sampler_and_refuses_adaptive(flow_run):
    import jax
    import jax.numpy as jnp

    out, _ = flow_run
    path = out.parent / "f.jaxexport"
    jaxdiff("export", "--run", out, "--out", path)
    exported = jax.export.deserialize(path.read_bytes())
    x = np.asarray(exported.call(jax.random.key_data(jax.random.key(0)), jnp.zeros(200)))
    assert x.shape == (200, 2) and np.all(np.isfinite(x))
    bad = jaxdiff("export", "--run", out, "--out", out.parent / "a.jaxexport",
                  "--sampler", "adaptive", check=False)  # fmt: skip
    assert bad.returncode == 2 and "export takes a fixed-step sampler" in bad.stderr


def _from_noise(s, params, noise, method, steps):
    opts = sampler_settings.SamplerOptions(method=method, steps=steps, target=flows.TARGET)
    return np.asarray(
        samplers.sample(
            __import__("jax").random.key(0), s.apply_fn, params, s.schedule, noise.shape,
            opts, x_T=noise,
        )
    )  # fmt: skip


def test_reflow_learns_the_teachers_own_pairs_and_straightens_its_paths(flow_run, tmp_path):
    """``jaxdiff reflow``: the pairs it keeps are the teacher's ODE (its adaptive solve of
    the kept noise, near a 200-step midpoint solve of it), it trains as many optimiser
    steps as the teacher, and on fresh noise one Euler step of the reflowed model lands
    nearer the teacher's ODE endpoint than the teacher's own Euler step (the planted
    wrong answer: a run that kept its teacher's parameters fails this)."""
    import jax

    out, _ = flow_run
    re = tmp_path / "reflow"
    done = jaxdiff("reflow", "--run", out, "--out", re, "--pairs", "4096", "--eval-n", "500",
                   "--no-figures", "--quiet")  # fmt: skip
    assert f"reflowed {out.resolve()} into {re}" in done.stdout
    cfg = json.loads((re / "config.json").read_text())
    assert cfg["reflow"] == {"teacher": str(out.resolve()), "pairs": 4096}
    assert (cfg["train"]["pairing"], cfg["train"]["t_sampler"]) == ("given", "uniform")
    report = json.loads((re / "report.json").read_text())
    teacher_report = json.loads((out / "report.json").read_text())
    per_epoch = -(-4096 // cfg["train"]["batch_size"])
    assert abs(report["steps"] - teacher_report["steps"]) <= per_epoch / 2
    assert report["reflowed_from"] == str(out.resolve()) and "quality" in report

    t_s, t_state = setup.restore(out)
    teacher = setup.model_params(t_s, t_state)
    pairs = np.load(re / "reflow_pairs.npy")
    assert pairs.shape == (4096, 4)
    kept_noise = jax.numpy.asarray(pairs[:, 2:])
    # The teacher's adaptive solve of the kept noise (its step sizes are the batch's: all
    # 4096 rows at once, as drawn) ...
    adaptive = _from_noise(t_s, teacher, kept_noise, "adaptive", None)
    np.testing.assert_allclose(pairs[:, :2], adaptive, rtol=1e-5, atol=1e-5)
    # ... and so near its converged ODE (measured: median 0.013 at the solver's tolerance
    # 1e-3), where one Euler step, a plausible wrong pairing, is not (median 0.17).
    fine = _from_noise(t_s, teacher, kept_noise[:500], "midpoint", 200)
    euler = _from_noise(t_s, teacher, kept_noise[:500], "euler", 1)
    assert np.median(np.abs(fine - pairs[:500, :2]).max(axis=1)) < 0.05
    assert np.median(np.abs(fine - euler).max(axis=1)) > 0.05

    r_s, r_state = setup.restore(re)
    student = setup.model_params(r_s, r_state)
    assert not leaves_equal(student, teacher)
    noise = jax.random.normal(jax.random.key(5), (2000, 2))
    end = _from_noise(t_s, teacher, noise, "midpoint", 200)
    teacher_err = np.mean((_from_noise(t_s, teacher, noise, "euler", 1) - end) ** 2)
    reflow_err = np.mean((_from_noise(r_s, student, noise, "euler", 1) - end) ** 2)
    assert reflow_err < 0.5 * teacher_err, (reflow_err, teacher_err)


def test_reflow_resumes_exactly_and_refuses_what_it_cannot_do(flow_run, trained, tmp_path):
    out, _ = flow_run
    a, b = tmp_path / "a", tmp_path / "b"
    common = ("--pairs", "1024", "--epochs", "4", "--checkpoint-every", "1", "--eval-n", "0",
              "--no-figures", "--quiet")  # fmt: skip
    jaxdiff("reflow", "--run", out, "--out", a, *common)
    shutil.copytree(a, b)  # two epochs lost: resuming gives the same bits
    for epoch in ("3", "4"):
        shutil.rmtree(b / "checkpoints" / epoch)
    (b / "samples.npy").unlink()
    jaxdiff("reflow", "--run", out, "--out", b, *common, "--resume")
    (_, sa), (_, sb) = setup.restore(a), setup.restore(b)
    assert int(sa.epoch) == int(sb.epoch) == 4 and leaves_equal(sa.params, sb.params)
    assert np.array_equal(np.load(a / "samples.npy"), np.load(b / "samples.npy"))

    again = jaxdiff("reflow", "--run", out, "--out", a, *common, check=False)
    assert again.returncode == 2 and "already holds a trained run" in again.stderr
    ddpm = jaxdiff("reflow", "--run", trained, "--out", tmp_path / "d", check=False)
    assert ddpm.returncode == 2 and "reflow takes a flow teacher" in ddpm.stderr
    (b / "reflow_pairs.npy").unlink()  # the model samples without its pairs; trains not
    jaxdiff("sample", "--run", b, "--out", tmp_path / "x.npy", "--n", "100", "--quiet")
    shutil.rmtree(b / "checkpoints" / "4")
    lost = jaxdiff("reflow", "--run", out, "--out", b, *common, "--resume", check=False)
    assert lost.returncode == 2 and "reflow_pairs.npy is missing from the run" in lost.stderr
