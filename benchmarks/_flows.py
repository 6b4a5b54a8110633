"""What the flow tables share (flows.py, reflow.py, flow_peer.py, families.py): the fixed-step
flow samplers at 1 to 16 evaluations, the reflow and the MeanFlow model made from an OT
flow, and the rows of the flow_matching peer (trained in its own process by
``flow_peer.py --rows``). The scripts import this module and never one another.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
from _common import model_rows, show, trained_default, within

from jaxdiff.core import apply, models
from jaxdiff.ddpm import schedules
from jaxdiff.engine import fitting, train_spec
from jaxdiff.flow import flow_solvers
from jaxdiff.runs import build, evaluate, reflow

EVALS = (1, 2, 4, 8, 16)


def flow_samplers():
    """``(label, evaluations, changes)`` of every fixed-step ODE solver of a flow at
    :data:`EVALS` (``mean`` is a MeanFlow model's own, benchmarks/reflow.py)."""
    for method in ("euler", "midpoint", "heun"):
        per_step = flow_solvers.EVALUATIONS_PER_STEP[method]
        for evals in EVALS:
            if evals % per_step == 0:
                yield (
                    f"{method} {evals // per_step}",
                    evals,
                    {"method": method, "steps": evals // per_step},
                )


def adaptive_evaluations(s, params, n=10_000) -> int:
    """The adaptive solver's evaluations on ``n`` samples of the run's model."""
    x = jax.random.normal(s.keys.sample, (n, s.data_dim))
    _, evals = flow_solvers.adaptive_solve(s.apply_fn, params, s.schedule, x)
    return int(evals)


def flow_rows(data, name: str, pairing: str, t_sampler: str, eval_n: int, ref, floor):
    """A flow (``--objective flow``) trained on ``data`` with ``pairing`` and ``t_sampler``,
    scored by every sampler of :func:`flow_samplers` and the adaptive one (its count) beside
    ``floor`` and the reference ``ref``: ``(rows, setup, params, training seconds)``."""
    s, params, info = trained_default(data, objective="flow", pairing=pairing, t_sampler=t_sampler)
    chosen = [
        *flow_samplers(),
        ("adaptive", adaptive_evaluations(s, params), {"method": "adaptive"}),
    ]
    seconds = info["train_seconds"]
    rows = model_rows(s, params, name, f"flow {pairing}", seconds, chosen, eval_n, ref, floor)
    return rows, s, params, seconds


REFLOW_SAMPLERS = (
    ("euler 1", 1, {"method": "euler", "steps": 1}),
    ("euler 2", 2, {"method": "euler", "steps": 2}),
    ("euler 4", 4, {"method": "euler", "steps": 4}),
    ("midpoint 2", 4, {"method": "midpoint", "steps": 2}),
    ("midpoint 4", 8, {"method": "midpoint", "steps": 4}),
)

MEAN_SAMPLERS = (
    ("mean 1", 1, {"method": "mean", "steps": 1}),
    ("mean 2", 2, {"method": "mean", "steps": 2}),
    ("mean 4", 4, {"method": "mean", "steps": 4}),
    ("midpoint 2", 4, {"method": "midpoint", "steps": 2}),
    ("midpoint 4", 8, {"method": "midpoint", "steps": 4}),
)


def mean_flow(s, time_steps: int):
    """A MeanFlow model trained from scratch with the OT flow ``s``'s settings: ``(setup
    with its model and time range, EMA params, seconds)``."""
    net = s.config.model.network.replace(interval=True)
    model = models.MLPDenoiser(s.data_dim, time_steps, config=net)
    apply_fn, params = apply.functional(model, jax.random.key(s.config.seed))
    t = s.config.train
    spec = train_spec.TrainSpec(
        apply_fn, s.optimizer, batch_size=t.batch_size, t_sampler=t.t_sampler,
        ema_decay=t.ema_decay, objective="meanflow", pairing=t.pairing,
    )  # fmt: skip
    schedule = schedules.cosine_schedule(time_steps)
    state = train_spec.init_state(jax.random.key(1), params, s.optimizer, ema=True)
    state, info = fitting.fit_state(
        state, s.train_data, spec=spec, schedule=schedule, epochs=t.epochs
    )
    mf = dataclasses.replace(s, apply_fn=apply_fn, schedule=schedule)
    return mf, state.ema_params, info["train_seconds"]


def reflowed(s, params, num_pairs: int):
    """The reflow of the flow ``(s, params)``, with ``jaxdiff reflow``'s pairs and settings
    (:mod:`jaxdiff.runs.reflow`): ``(params, seconds)``."""
    t0 = time.perf_counter()
    pairs = reflow.reflow_pairs(s, params, s.keys.sample, num_pairs)
    t = reflow.reflow_config(s.config, ".", s.steps_per_epoch, pairs=num_pairs).train
    optimizer, _ = build.build_optimizer(t, math.ceil(num_pairs / t.batch_size))
    spec = train_spec.TrainSpec(
        s.apply_fn, optimizer, batch_size=t.batch_size, t_sampler=t.t_sampler,
        ema_decay=t.ema_decay, objective="flow", pairing=t.pairing,
    )  # fmt: skip
    state = train_spec.init_state(jax.random.key(1), params, optimizer, ema=True)
    state, info = fitting.fit_state(state, pairs, spec=spec, schedule=s.schedule, epochs=t.epochs)
    return state.ema_params, time.perf_counter() - t0 - info["compile_seconds"]


# The peer's samplers, ``(method, steps)``: its own ODESolver, as flow_peer.py runs it.
PEER_SAMPLERS = (("euler", 4), ("euler", 8), ("midpoint", 2), ("midpoint", 4))
PEER_SCRIPT = pathlib.Path(__file__).with_name("flow_peer.py")


def peer_samplers():
    """``(label, evaluations, changes)`` of PEER_SAMPLERS, as the flow tables take them."""
    return [
        (f"{m} {k}", flow_solvers.EVALUATIONS_PER_STEP[m] * k, {"method": m, "steps": k})
        for m, k in PEER_SAMPLERS
    ]


def peer_rows(s, name, eval_n, ref, floor) -> list[dict]:
    """The peer trained on the training rows of the run ``s`` (in its own process), each of
    PEER_SAMPLERS scored beside ``floor`` and marked whether it is within the reference ``ref``."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows_path, out = f"{tmp}/rows.npy", f"{tmp}/peer"
        np.save(rows_path, s.data)
        samplers = ",".join(f"{m}:{k}" for m, k in PEER_SAMPLERS)
        subprocess.run([sys.executable, str(PEER_SCRIPT), "--rows", rows_path, "--out", out,
                        "--samplers", samplers], check=True, capture_output=True)  # fmt: skip
        info = json.loads(pathlib.Path(f"{out}.json").read_text())
        for label, evals, changes in peer_samplers():
            x = np.load(f"{out}_{changes['method']}{changes['steps']}.npy")
            q = evaluate.quality(s, None, x, n=eval_n, likelihood_n=0, floor=False)
            row = {"data": name, "model": "flow_matching peer", "sampler": label,
                   "evals": evals, "seconds": None, **q["samples"], **floor,
                   "train_seconds": info["train_seconds"]}  # fmt: skip
            row["within"] = within(row, ref)
            rows.append(row)
            show({**row, "seconds": 0.0})
    return rows


# --- what the flow page blocks share (benchmarks/summarize.py) -----------------------------

# The six registered sets (a held-out shape is any other).
REGISTERED = ("s_curve", "moons", "swiss_roll", "circles", "eight_gaussians", "checkerboard")
# The flow models of few steps, and with the DDPM's light student every model that may
# stand in for the DDPM's 100 steps at few evaluations, trained or not.
FEW_STEPS = ("flow independent", "flow ot", "reflow of flow ot", "meanflow ot")
FEW_MODELS = (*FEW_STEPS, "ddpm light student")


def measured(doc: dict, sec: dict) -> str:
    return f"Measured {sec['date'][:10]} on {doc['cpu']} ({doc['cpu_count']} cores)"


def cell(r: dict) -> str:
    """precision / recall / MMD² of a row."""
    return f"{r['precision']:.3f} / {r['recall']:.3f} / {r['mmd2']:.1e}"


def marked(r: dict | None, sampler: bool = True) -> str:
    """A row's cell, ✓ when it is within the bounds, and (with ``sampler``) its sampler."""
    if r is None:
        return "-"
    mark = " ✓" if r.get("within") else ""
    return f"{cell(r)}{mark} ({r['sampler']})" if sampler else f"{cell(r)}{mark}"


def by_set(rows: list[dict]):
    """``(data set, its DDPM reference row, {model: its rows})`` in the run's order."""
    for name in dict.fromkeys(r["data"] for r in rows):
        models: dict[str, list[dict]] = {}
        for r in rows:
            if r["data"] == name:
                models.setdefault(r["model"], []).append(r)
        yield name, models["ddpm default"][0], models


def row_of(rows: list[dict], sampler: str) -> dict:
    """The row of ``sampler`` among one model's ``rows``."""
    return next(r for r in rows if r["sampler"] == sampler)


def best(rows: list[dict], evals: int) -> dict | None:
    """The row at ``evals`` evaluations that is within the bounds, else of lowest MMD²."""
    at = [r for r in rows if r["evals"] == evals]
    return min(at, key=lambda r: (not r["within"], r["mmd2"]), default=None)


def fewest_row(rows: list[dict]) -> dict | None:
    """The row at the fewest evaluations within the bounds (fixed-step samplers only)."""
    ok = [r for r in rows if r["within"] and r["sampler"] != "adaptive"]
    return min(ok, key=lambda r: (r["evals"], r["mmd2"]), default=None)


def short(r: dict, ref: dict) -> dict:
    """How far a row is outside each bound (0 where it is within)."""
    return {
        "precision": max(0.0, abs(r["precision"] - ref["precision"]) - 0.01),
        "recall": max(0.0, abs(r["recall"] - ref["recall"]) - 0.01),
        "mmd2": max(0.0, r["mmd2"] - ref["mmd2"] - 5e-4),
    }
