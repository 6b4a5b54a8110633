"""Likelihoods at any width: what the exact trace and Hutchinson's estimate cost, and how
far the fast path lands from the exact computation (issue 48).

Three parts, one process, nothing else running:

- ``cost``: the probability-flow ODE's log-likelihood of 256 rows through the default
  network (random weights, sized for each width: no input features beyond 3 columns) at
  2 to 64 columns, 100 even RK4 steps, exact trace against Hutchinson's with 2 probes:
  seconds after compilation, and their ratio (where the rule ``EXACT_UP_TO`` comes from);
- ``digits``: ``jaxdiff train --data digits --conditional`` (the default, in-process),
  then the held-out rows' NLL four ways: the exact trace on one RK4 step a schedule step
  (the reference, however long it takes), the exact trace on 100 even steps, and the
  fast path (Hutchinson, 100 steps) under 5 probe keys, each with its reported standard
  error, seconds with compilation and after it;
- ``scores``: the sample metrics of ``jaxdiff eval`` on 10,000 rows of 64 columns
  (precision/recall, MMD², sliced W2, energy, the copying check's nearest rows), seconds
  with compilation.

Usage: python benchmarks/likelihood.py [--parts cost,digits,scores] [--no-save]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time

import _common
import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import metrics, models, traces
from jaxdiff.engine import likelihood
from jaxdiff.runs import build, presets, rundir, setup, train, trained

WIDTHS = (2, 4, 8, 16, 32, 64)


def _clock(fn):
    """``(seconds of the first call, seconds of the second)``: compilation, then a run."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    t1 = time.perf_counter()
    out = jax.block_until_ready(fn())
    return t1 - t0, time.perf_counter() - t1, out


def cost(rows: int = 256, steps: int = build.FAST_ODE_STEPS) -> list[dict]:
    out = []
    for d in WIDTHS:
        cfg = presets.sized(presets.preset("default"), 10_000, d)
        sched = build.build_schedule(cfg.schedule)
        model = build.build_model(cfg.model, sched.num_steps, d)
        params = model.init(jax.random.key(0), jnp.zeros((1, d)), jnp.zeros((1,), jnp.int32))
        x = jax.random.normal(jax.random.key(1), (rows, d))
        row = {"columns": d, "rows": rows, "steps": steps}
        for trace in traces.TRACES:
            run = functools.partial(
                likelihood.ode_log_likelihood, model.apply, params, sched, x,
                target=cfg.train.target, steps=steps, trace=trace, key=jax.random.key(2),
            )  # fmt: skip
            row[f"{trace}_s"] = _common.timed(lambda run=run: run().block_until_ready(), 3)[
                "median_s"
            ]
        row["ratio"] = row["exact_s"] / row["hutchinson_s"]
        out.append(row)
        print(_common.table([row], COST_COLUMNS), flush=True)
    return out


def digits(keys: int = 5) -> list[dict]:
    cfg = train.new_config("default", data="digits", conditional=True)
    with tempfile.TemporaryDirectory() as tmp:
        train.train_run(cfg, f"{tmp}/run", eval_n=0, figures=False, progress=False)
        model = trained.load(f"{tmp}/run")
        s = setup.setup(rundir.load_config(f"{tmp}/run"), f"{tmp}/run")
    z = jnp.asarray(s.normalizer.encode(s.held_out), models.float_dtype())
    log_det = float(np.mean(np.log(s.normalizer.std)))

    def nll(trace, steps, key):
        def run():
            return likelihood.ode_log_likelihood(
                s.apply_fn, model.params, s.schedule, z, target=cfg.train.target,
                trace=trace, steps=steps, key=jax.random.key(key), return_error=True,
            )  # fmt: skip

        first, again, (value, se) = _clock(run)
        return {
            "trace": trace, "steps": steps or s.schedule.num_steps - 1, "key": key,
            "nll": -float(jnp.mean(value)) + log_det,
            "standard_error": float(jnp.sqrt(jnp.sum(se**2))) / z.shape[0],
            "first_s": first, "run_s": again,
        }  # fmt: skip

    rows = [nll("exact", None, 0)]
    print(_common.table(rows, DIGITS_COLUMNS), flush=True)
    rows.append(nll("exact", build.FAST_ODE_STEPS, 0))
    rows += [nll("hutchinson", build.FAST_ODE_STEPS, k) for k in range(keys)]
    for r in rows:
        r["minus_exact"] = r["nll"] - rows[0]["nll"]
    return rows


def scores(rows: int = 10_000, columns: int = 64) -> list[dict]:
    a = jax.random.normal(jax.random.key(0), (rows, columns))
    b = jax.random.normal(jax.random.key(1), (rows, columns)) * 1.1
    parts = {
        "precision_recall": lambda: metrics.precision_recall(a, b),
        "mmd2": lambda: metrics.mmd2(a, b),
        "energy": lambda: metrics.energy_distance(a, b),
        "sliced_w2": lambda: metrics.sliced_wasserstein(jax.random.key(0), a, b),
        "nearest_distance x2": lambda: (
            metrics.nearest_distance(a, b),
            metrics.nearest_distance(b, a),
        ),
    }
    out = []
    for name, fn in parts.items():
        first, again, _ = _clock(fn)
        out.append({"metric": name, "rows": rows, "columns": columns, "first_s": first,
                    "run_s": again})  # fmt: skip
    return out


COST_COLUMNS = [
    ("columns", "columns", "{}"), ("rows", "rows", "{}"), ("steps", "RK4 steps", "{}"),
    ("exact_s", "exact s", "{:.3f}"), ("hutchinson_s", "Hutchinson s", "{:.3f}"),
    ("ratio", "exact / Hutchinson", "{:.2f}"),
]  # fmt: skip
DIGITS_COLUMNS = [
    ("trace", "trace", ""), ("steps", "RK4 steps", "{}"), ("key", "probe key", "{}"),
    ("nll", "NLL nats/dim", "{:.4f}"), ("standard_error", "± s.e.", "{:.4f}"),
    ("minus_exact", "- exact", "{:+.4f}"), ("first_s", "s with compile", "{:.1f}"),
    ("run_s", "s after", "{:.2f}"),
]  # fmt: skip
SCORE_COLUMNS = [
    ("metric", "metric", ""), ("rows", "rows", "{}"), ("columns", "columns", "{}"),
    ("first_s", "s with compile", "{:.2f}"), ("run_s", "s after", "{:.2f}"),
]  # fmt: skip
PARTS = {
    "cost": (cost, COST_COLUMNS, "likelihood_cost"),
    "digits": (digits, DIGITS_COLUMNS, "likelihood_digits"),
    "scores": (scores, SCORE_COLUMNS, "likelihood_scores"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    print(_common.cpu_model())
    for part in args.parts.split(","):
        fn, columns, section = PARTS[part]
        rows = fn()
        print(_common.table(rows, columns), flush=True)
        if not args.no_save:
            _common.save(section, {"columns": columns, "summary": rows})


if __name__ == "__main__":
    main()
