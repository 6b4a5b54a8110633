"""Simulation-based inference on sbibm's tasks (Lueckmann et al., AISTATS 2021,
arXiv:2101.04653): a posterior ``p(θ | x)`` learned from simulated pairs by a context
model (``jaxdiff.fit(theta, context=x)``), scored by C2ST against sbibm's reference
posterior samples for its 10 observations.

The priors and simulators are written here in numpy from the constants of sbibm's task
definitions (cited per task); the observations and reference posteriors are read from
PyPI's ``sbibm`` package files (``pip install --no-deps sbibm``: its data only, nothing
of it is imported, so neither torch nor pyro is needed). Each simulator is checked
against sbibm's own observations: at each observation's shipped true parameters, the
observation must look like a draw of our simulator (the rank of its k-th neighbour
distance among fresh draws'; the p-values over 10 observations are printed, and
gaussian_linear's reference posterior is checked against its closed form).

C2ST by sbibm's protocol: both sample sets z-scored by the reference's mean and std, an
MLP classifier (scikit-learn, ReLU, two hidden layers of 10 × dim, Adam, ``max_iter``
10,000, ``random_state`` 1), 5-fold shuffled cross-validation (seed 1), the mean
accuracy; 0.5 is indistinguishable, 1.0 disjoint.

Rows: jaxdiff's DDPM and flow (``ddpm``, ``flow``) and, where the bench extra's ``sbi``
is installed, its NPE, FMPE and NPSE with their defaults (``npe``, ``fmpe``, ``npse``).

Usage: python benchmarks/posteriors.py [--tasks two_moons,gaussian_linear]
       [--budgets 1000,10000] [--observations 1-10] [--samples 10000]
       [--models ddpm,flow,npe,fmpe,npse] [--settings K=V,...] [--figures DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import pathlib
import time

import _common
import numpy as np
import pandas as pd
from sklearn import model_selection, neural_network

import jaxdiff

# --- tasks: priors and simulators (numpy), constants from sbibm's task.py files ----------


def _two_moons(rng, theta):
    """sbibm two_moons: ``a ~ U(-π/2, π/2)``, ``r ~ N(0.1, 0.01²)``, ``p = (r cos a + 0.25,
    r sin a)``, ``x = p + (-|z₀|, z₁)`` with ``z`` the parameters rotated by -π/4."""
    n = theta.shape[0]
    a = rng.uniform(-math.pi / 2, math.pi / 2, n)
    r = rng.normal(0.1, 0.01, n)
    p = np.column_stack([np.cos(a) * r + 0.25, np.sin(a) * r])
    c, s = math.cos(-math.pi / 4), math.sin(-math.pi / 4)
    z0 = c * theta[:, 0] - s * theta[:, 1]
    z1 = s * theta[:, 0] + c * theta[:, 1]
    return p + np.column_stack([-np.abs(z0), z1])


def _gaussian_linear(rng, theta):
    """sbibm gaussian_linear: ``x ~ N(θ, 0.1 I₁₀)``."""
    return theta + math.sqrt(0.1) * rng.normal(size=theta.shape)


def _gaussian_mixture(rng, theta):
    """sbibm gaussian_mixture: ``x ~ ½ N(θ, I₂) + ½ N(θ, 0.1² I₂)``."""
    scale = np.where(rng.random(theta.shape[0]) < 0.5, 1.0, 0.1)[:, None]
    return theta + scale * rng.normal(size=theta.shape)


def _slcp(rng, theta):
    """sbibm slcp: 4 draws of ``N(m, S)``, ``m = θ₁₋₂``, ``s₁ = θ₃²``, ``s₂ = θ₄²``,
    ``ρ = tanh θ₅``, ``S = [[s₁², ρ s₁ s₂], [ρ s₁ s₂, s₂²]] + 10⁻⁶ I``, flattened (8)."""
    n = theta.shape[0]
    s1, s2, rho = theta[:, 2] ** 2, theta[:, 3] ** 2, np.tanh(theta[:, 4])
    cov = np.empty((n, 2, 2))
    cov[:, 0, 0] = s1**2 + 1e-6
    cov[:, 1, 1] = s2**2 + 1e-6
    cov[:, 0, 1] = cov[:, 1, 0] = rho * s1 * s2
    chol = np.linalg.cholesky(cov)
    z = rng.normal(size=(n, 4, 2))
    draws = theta[:, None, :2] + np.einsum("nij,nkj->nki", chol, z)
    return draws.reshape(n, 8)


def _glm_design() -> np.ndarray:
    """sbibm bernoulli_glm's design matrix (100 × 10): a column of ones, then the white-noise
    stimulus (``RandomState(42).randn(100)`` as float32) delayed by 0 to 8 steps."""
    stimulus = np.random.RandomState(42).randn(100).astype(np.float32)
    design = np.zeros((100, 10), np.float32)
    design[:, 0] = 1.0
    for j in range(9):
        design[j:, j + 1] = stimulus[: 100 - j]
    return design


def _glm_precision() -> np.ndarray:
    """sbibm bernoulli_glm's prior precision: 0.5 for the offset, ``FᵀF`` for the filter,
    ``F = D² + diag(√(k/9))`` with ``D`` the first difference over 9 taps."""
    d = np.eye(9) - np.eye(9, k=-1)
    f = d @ d + np.diag(np.sqrt(np.arange(9) / 9))
    precision = np.zeros((10, 10))
    precision[0, 0] = 0.5
    precision[1:, 1:] = f.T @ f
    return precision


GLM_DESIGN, GLM_PRECISION = _glm_design(), _glm_precision()


def _glm_prior(rng, n):
    """``θ ~ N(0, P⁻¹)`` with P :data:`GLM_PRECISION`."""
    chol = np.linalg.cholesky(np.linalg.inv(GLM_PRECISION))
    return rng.normal(size=(n, 10)) @ chol.T


def _bernoulli_glm(rng, theta):
    """sbibm bernoulli_glm: 100 Bernoulli spikes ``y ~ B(σ(Xθ))`` of the design ``X``; the
    summary is ``Xᵀy`` (the spike count, then the spike-triggered sums of the stimulus: the
    task's ``conv1d`` is the same sums, checked to float32 rounding)."""
    p = 1.0 / (1.0 + np.exp(-(theta @ GLM_DESIGN.T.astype(np.float64))))
    y = (rng.random(p.shape) < p).astype(np.float64)
    return y @ GLM_DESIGN.astype(np.float64)


def _uniform(bound, dim):
    return lambda rng, n: rng.uniform(-bound, bound, (n, dim))


TASKS = {
    # name: (prior, simulator, parameter dim)
    "two_moons": (_uniform(1.0, 2), _two_moons, 2),
    "gaussian_linear": (
        lambda rng, n: math.sqrt(0.1) * rng.normal(size=(n, 10)),
        _gaussian_linear,
        10,
    ),
    "gaussian_mixture": (_uniform(10.0, 2), _gaussian_mixture, 2),
    "slcp": (_uniform(3.0, 5), _slcp, 5),
    "bernoulli_glm": (_glm_prior, _bernoulli_glm, 10),
}


# The peers: sbi's (PyTorch; bench extra) amortised posterior estimators with their
# defaults, trained on the same simulations: NPE (a neural spline flow, Greenberg et al.
# 2019), FMPE (flow matching, Wildberger et al. 2023), NPSE (score matching, Sharrock et
# al. 2022; Geffner et al. 2023).
PEERS = {"npe": "NPE", "fmpe": "FMPE", "npse": "NPSE"}
# Each task's prior as sbi takes it: a box of half-width ``b`` or N(0, v I).
PEER_PRIORS = {
    "two_moons": ("box", 1.0),
    "gaussian_linear": ("normal", 0.1),
    "gaussian_mixture": ("box", 10.0),
    "slcp": ("box", 3.0),
    "bernoulli_glm": ("precision", GLM_PRECISION),
}


def _peer(task: str, model: str, theta: np.ndarray, x: np.ndarray):
    """sbi's ``model`` trained on ``(theta, x)`` with its defaults: a function from
    (observations, n, seed) to ``n`` posterior samples per observation."""
    import torch
    from sbi import inference
    from sbi.utils import BoxUniform

    torch.set_num_threads(2)
    torch.manual_seed(0)
    dim = theta.shape[1]
    kind, scale = PEER_PRIORS[task]
    if kind == "box":
        prior = BoxUniform(low=-scale * torch.ones(dim), high=scale * torch.ones(dim))
    elif kind == "precision":
        precision = torch.as_tensor(scale, dtype=torch.float32)
        prior = torch.distributions.MultivariateNormal(torch.zeros(dim), precision_matrix=precision)
    else:
        prior = torch.distributions.MultivariateNormal(torch.zeros(dim), scale * torch.eye(dim))
    trainer = getattr(inference, PEERS[model])(prior)
    as_torch = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    trainer.append_simulations(as_torch(theta), as_torch(x)).train()
    posterior = trainer.build_posterior()

    def draw(observations: np.ndarray, n: int, seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        return np.stack(
            [
                posterior.sample((n,), x=as_torch(o), show_progress_bars=False).numpy()
                for o in observations
            ]
        )

    return draw


def _sbibm_files() -> pathlib.Path:
    spec = importlib.util.find_spec("sbibm")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("needs sbibm's files: pip install --no-deps sbibm (bench extra)")
    return pathlib.Path(next(iter(spec.submodule_search_locations))) / "tasks"


def reference(task: str, observation: int) -> dict:
    """sbibm's observation ``x_o``, true parameters and reference posterior samples."""
    folder = _sbibm_files() / task / "files" / f"num_observation_{observation}"
    return {
        "x": pd.read_csv(folder / "observation.csv").to_numpy(np.float64)[0],
        "theta": pd.read_csv(folder / "true_parameters.csv").to_numpy(np.float64)[0],
        "posterior": pd.read_csv(folder / "reference_posterior_samples.csv.bz2").to_numpy(
            np.float64
        ),
    }


def simulator_check(task: str, refs: list[dict], n: int = 4000, k: int = 10) -> list[float]:
    """For each observation, the fraction of fresh draws at its true parameters whose
    k-th neighbour distance (to another half of draws) exceeds the observation's: a
    p-value of "the observation is a draw of this simulator". A wrong constant puts the
    observations off our simulator's support (p near 0 for all)."""
    from sklearn.neighbors import NearestNeighbors

    _, simulate, _ = TASKS[task]
    pvals = []
    for i, ref in enumerate(refs):
        rng = np.random.default_rng(1000 + i)
        draws = simulate(rng, np.tile(ref["theta"], (2 * n, 1)))
        scale = draws.std(0) + 1e-12
        nn = NearestNeighbors(n_neighbors=k).fit(draws[:n] / scale)
        mine = nn.kneighbors((ref["x"] / scale)[None])[0][0, -1]
        others = nn.kneighbors(draws[n:] / scale)[0][:, -1]
        pvals.append(float(np.mean(others >= mine)))
    return pvals


def c2st(reference_samples: np.ndarray, samples: np.ndarray, seed: int = 1) -> float:
    """sbibm's classifier two-sample test accuracy (see the module docstring)."""
    mean, std = reference_samples.mean(0), reference_samples.std(0, ddof=1)
    x = np.concatenate([reference_samples, samples])
    x = (x - mean) / std
    y = np.concatenate([np.zeros(len(reference_samples)), np.ones(len(samples))])
    dim = x.shape[1]
    clf = neural_network.MLPClassifier(
        activation="relu",
        hidden_layer_sizes=(10 * dim, 10 * dim),
        max_iter=10_000,
        solver="adam",
        random_state=seed,
    )
    folds = model_selection.KFold(n_splits=5, shuffle=True, random_state=seed)
    return float(np.mean(model_selection.cross_val_score(clf, x, y, cv=folds)))


def _observations(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def run(task, budget, model, observations, samples, settings, seed=0):
    """The rows of ``model`` on ``task`` at ``budget`` simulations (one per observation)
    and its samples given the first observation."""
    prior, simulate, _ = TASKS[task]
    rng = np.random.default_rng(seed)
    theta = prior(rng, budget)
    x = simulate(rng, theta)
    refs = [reference(task, o) for o in observations]
    obs = np.stack([r["x"] for r in refs])
    t0 = time.perf_counter()
    if model in PEERS:
        fitted, draw = None, _peer(task, model, theta, x)
    else:
        fitted = jaxdiff.fit(
            theta.astype(np.float32), context=x.astype(np.float32), objective=model, **settings
        )
        draw = lambda o, n, s: fitted.sample(n, context=o, seed=s)  # noqa: E731
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    drawn = np.asarray(draw(obs, samples, seed + 1), np.float64)
    sample_seconds = time.perf_counter() - t0
    rows = []
    for o, ref, post in zip(observations, refs, drawn, strict=True):
        row = {
            "task": task,
            "budget": budget,
            "model": model,
            "observation": o,
            "c2st": c2st(ref["posterior"][:samples], post),
            "train_seconds": train_seconds,
            "sample_seconds": sample_seconds,
            "epochs": None if fitted is None else fitted.config.train.epochs,
            "best_epoch": None if fitted is None else fitted.epoch,
        }
        if task == "gaussian_linear" and fitted is not None:
            row["log_prob_error"] = _log_prob_error(fitted, ref)
        rows.append(row)
    return rows, drawn[0]


def _log_prob_error(fitted, ref, n: int = 500) -> float:
    """Mean over reference posterior samples of the model's ``log p(θ | x_o)`` less the
    closed form ``N(θ; ½ x_o, 0.05 I)`` (prior N(0, 0.1 I), noise N(0, 0.1 I)), in nats
    per dimension."""
    theta = ref["posterior"][:n]
    dim = theta.shape[1]
    mean, var = 0.5 * ref["x"], 0.05
    exact = -0.5 * np.sum((theta - mean) ** 2, axis=1) / var - 0.5 * dim * math.log(
        2 * math.pi * var
    )
    model = fitted.log_prob(theta, context=ref["x"])
    return float(np.mean(model - exact) / dim)


COLUMNS = [
    ("task", "task", ""),
    ("budget", "simulations", "{:,}"),
    ("model", "model", ""),
    ("c2st", "C2ST (mean of obs.)", "{:.3f}"),
    ("c2st_max", "worst obs.", "{:.3f}"),
    ("log_prob_error", "log p error (nats/dim)", "{:+.3f}"),
    ("train_seconds", "train s", "{:.1f}"),
    ("best_epoch", "kept epoch", "{}"),
    ("epochs", "of epochs", "{}"),
]


def summary(rows: list[dict]) -> list[dict]:
    out = []
    keys = sorted({(r["task"], r["budget"], r["model"]) for r in rows}, key=str)
    for task, budget, model in keys:
        mine = [r for r in rows if (r["task"], r["budget"], r["model"]) == (task, budget, model)]
        row = {
            "task": task,
            "budget": budget,
            "model": model,
            "observations": len(mine),
            "c2st": float(np.mean([r["c2st"] for r in mine])),
            "c2st_max": float(np.max([r["c2st"] for r in mine])),
            "train_seconds": mine[0]["train_seconds"],
            "epochs": mine[0]["epochs"],
            "best_epoch": mine[0].get("best_epoch"),
        }
        if "log_prob_error" in mine[0]:
            row["log_prob_error"] = float(np.mean([r["log_prob_error"] for r in mine]))
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="two_moons,gaussian_linear,gaussian_mixture")
    ap.add_argument("--budgets", default="1000,10000")
    ap.add_argument("--models", default="ddpm,flow")
    ap.add_argument("--observations", default="1-10")
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--settings", default=None, help="jaxdiff.fit settings, K=V,...")
    ap.add_argument("--section", default="sbi")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument(
        "--figures",
        default=None,
        help="a folder: each cell's posterior given its first observation, one panel a "
        "model beside the reference, as posterior_TASK_BUDGET.png",
    )
    ap.add_argument(
        "--cells",
        default=None,
        help="task:budget pairs to run, in this order (e.g. two_moons:100000,slcp:10000), "
        "instead of --tasks x --budgets; each is saved as it ends, beside the section's "
        "rows of other cells",
    )
    args = ap.parse_args()
    settings = _common.parse_settings(args.settings)
    observations = _observations(args.observations)
    if args.cells:
        cells = [(c.split(":")[0], int(c.split(":")[1])) for c in args.cells.split(",")]
    else:
        budgets = [int(b) for b in args.budgets.split(",")]
        cells = [(t, b) for t in args.tasks.split(",") for b in budgets]
    old = _common.saved(args.section)
    checks, rows = dict(old.get("simulator_check", {})), list(old.get("rows", []))
    for task, budget in cells:
        drawn = {}
        if task not in checks or "p_values" not in checks[task]:
            checks[task] = _check(task, observations)
        print(f"{task}: simulator check {checks[task]}")
        for model in args.models.split(","):
            new, first = run(task, budget, model, observations, args.samples, settings)
            drawn[model] = first
            print(_common.table(summary(new), COLUMNS), flush=True)
            mine = (task, budget, model)
            rows = [r for r in rows if (r["task"], r["budget"], r["model"]) != mine] + new
            if not args.no_save:  # after every cell, so that a stopped run keeps what ended
                ran = {"observations": observations, "samples": args.samples, "settings": settings}
                payload = {"ran": ran, "simulator_check": checks, "columns": COLUMNS}
                _common.save(args.section, {**payload, "summary": summary(rows), "rows": rows})
        if args.figures:
            figure(task, budget, observations[0], drawn, pathlib.Path(args.figures))
    print(_common.table(summary(rows), COLUMNS))


def figure(task: str, budget: int, observation: int, drawn: dict, folder: pathlib.Path):
    """The first two parameters of each model's posterior samples given ``observation``,
    one panel a model, beside sbibm's reference posterior (same axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = reference(task, observation)["posterior"]
    panels = {"reference": ref, **drawn}
    lo, hi = np.percentile(ref[:, :2], [0.5, 99.5], axis=0)
    pad = 0.25 * (hi - lo)
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.8))
    for ax, (name, pts) in zip(np.atleast_1d(axes), panels.items(), strict=True):
        ax.scatter(pts[:2000, 0], pts[:2000, 1], s=1, alpha=0.4)
        ax.set(xlim=(lo[0] - pad[0], hi[0] + pad[0]), ylim=(lo[1] - pad[1], hi[1] + pad[1]))
        ax.set_title(name, fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"{task}, {budget:,} simulations, observation {observation}", fontsize=9)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"posterior_{task}_{budget}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def _check(task: str, observations: list[int]) -> dict:
    """The simulator check of ``task`` (and gaussian_linear's reference against its
    closed form ``N(x/2, 0.05 I)``)."""
    refs = [reference(task, o) for o in observations]
    out = {"p_values": simulator_check(task, refs)}
    if task == "gaussian_linear":
        err = [np.abs(r["posterior"].mean(0) - 0.5 * r["x"]).max() for r in refs]
        var = [np.abs(r["posterior"].var(0) / 0.05 - 1).max() for r in refs]
        out.update(reference_mean_error=float(max(err)), reference_var_error=float(max(var)))
    return out


if __name__ == "__main__":
    main()
