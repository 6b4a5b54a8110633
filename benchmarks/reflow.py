"""Reflow (Liu et al. 2023, arXiv:2209.03003, §2.3): a second flow trained on the first
one's (noise, sample) pairs, for 1 and 2 network evaluations.

On each data set, in one run: the DDPM ``default`` (ancestral 100, the reference), the
flow with OT pairs (``--objective flow --pairing ot``, as benchmarks/flows.py), and its
reflow: ``pairs`` noise rows carried to samples by the OT flow's adaptive solver
(``flows.reflow_pairs``), then a flow started from the OT flow's parameters and trained
on them with ``pairing="given"`` for as many optimiser steps as the first, uniform ``t``.
Each flow is sampled by Euler at 1, 2, 4 evaluations and midpoint at 4 and 8; rows as in
benchmarks/flows.py. The reflow's seconds include drawing its pairs.

Usage: python benchmarks/reflow.py [--only NAME,...] [--pairs N] [--eval-n N]
"""

from __future__ import annotations

import argparse
import math
import time

import jax
import jax.numpy as jnp
from _common import (
    MODEL_COLUMNS,
    SETS,
    cpu_model,
    model_rows,
    reference_row,
    save,
    table,
    trained_default,
)

from jaxdiff import fitting, training
from jaxdiff.runs import reflow, setup

SAMPLERS = (
    ("euler 1", 1, {"method": "euler", "steps": 1}),
    ("euler 2", 2, {"method": "euler", "steps": 2}),
    ("euler 4", 4, {"method": "euler", "steps": 4}),
    ("midpoint 2", 4, {"method": "midpoint", "steps": 2}),
    ("midpoint 4", 8, {"method": "midpoint", "steps": 4}),
)


def reflowed(s, params, num_pairs: int):
    """The reflow of the flow ``(s, params)``, with ``jaxdiff reflow``'s pairs and settings
    (:mod:`jaxdiff.runs.reflow`): ``(params, seconds)``."""
    t0 = time.perf_counter()
    pairs = reflow.reflow_pairs(s, params, s.keys.sample, num_pairs)
    t = reflow.reflow_config(s.config, ".", s.steps_per_epoch, pairs=num_pairs).train
    optimizer, _ = setup.build_optimizer(t, math.ceil(num_pairs / t.batch_size))
    spec = training.TrainSpec(
        s.apply_fn, optimizer, batch_size=t.batch_size, t_sampler=t.t_sampler,
        ema_decay=t.ema_decay, objective="flow", pairing=t.pairing,
    )  # fmt: skip
    state = training.init_state(jax.random.key(1), params, optimizer, ema=True)
    state, info = fitting.fit(state, pairs, spec=spec, schedule=s.schedule, epochs=t.epochs)
    return state.ema_params, time.perf_counter() - t0 - info["compile_seconds"]


def rows_of(name: str, num_pairs: int, eval_n: int) -> list[dict]:
    ref, floor = reference_row(name, name, eval_n)
    rows = [ref]
    settings = {"objective": "flow", "pairing": "ot", "t_sampler": "logit_normal"}
    s, params, info = trained_default(name, **settings)
    re_params, re_seconds = reflowed(s, params, num_pairs)
    seconds = info["train_seconds"]
    rows += model_rows(s, params, name, "flow ot", seconds, SAMPLERS, eval_n, ref, floor)
    seconds += re_seconds
    rows += model_rows(s, re_params, name, "reflow of flow ot", seconds, SAMPLERS, eval_n, ref,
                       floor)  # fmt: skip
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated data sets")
    p.add_argument("--pairs", type=int, default=16_000)
    p.add_argument("--eval-n", type=int, default=10_000)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    names = args.only.split(",") if args.only else list(SETS)
    rows = []
    for name in names:
        rows += rows_of(name, args.pairs, args.eval_n)
    columns = [
        *MODEL_COLUMNS,
        ("seconds", "s / 10k", "{:.3f}"),
        ("within", "within", ""),
    ]
    print(f"\n{cpu_model()}, eval n = {args.eval_n}, {args.pairs} reflow pairs")
    print(table(rows, columns))
    payload = {"eval_n": args.eval_n, "pairs": args.pairs, "rows": rows}
    path = save("reflow" + ("_" + "_".join(names) if args.only else ""), payload, args.results_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    jnp.zeros(())
    main()
