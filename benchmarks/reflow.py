"""Fewer than 4 network evaluations: reflow (Liu et al. 2023, arXiv:2209.03003, §2.3), a
second flow trained on the first one's (noise, sample) pairs, and MeanFlow (Geng et al.
2025, arXiv:2505.13447), a model of the average velocity trained from scratch.

On each data set, in one run: the DDPM ``default`` (ancestral 100, the reference), the
flow with OT pairs (``--objective flow --pairing ot``, as benchmarks/flows.py), and its
reflow: ``pairs`` noise rows carried to samples by the OT flow's adaptive solver
(``flows.reflow_pairs``), then a flow started from the OT flow's parameters and trained
on them with ``pairing="given"`` for as many optimiser steps as the first, uniform ``t``.
Each flow is sampled by Euler at 1, 2, 4 evaluations and midpoint at 4 and 8; rows as in
benchmarks/flows.py. The reflow's seconds include drawing its pairs.

The MeanFlow model (``jaxdiff.meanflow``) is the OT flow's network with an interval input,
trained as long, with the same optimiser, batch, time draws and OT pairs, on the MeanFlow
loss (25% of rows with ``r < t``); its network sees time through a schedule of
``--meanflow-time-steps`` steps (``flows.network_time``: ``t · (T - 1)``). It is sampled
by its own average-velocity steps (``mean`` at 1, 2, 4) and, as a flow, by midpoint at 4.

Usage: python benchmarks/reflow.py [--only NAME,...] [--pairs N] [--eval-n N]
       [--models reflow,meanflow] [--meanflow-time-steps T]
"""

from __future__ import annotations

import argparse

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
from _flows import MEAN_SAMPLERS, REFLOW_SAMPLERS, mean_flow, reflowed


def rows_of(name: str, num_pairs: int, eval_n: int, kinds, time_steps: int) -> list[dict]:
    ref, floor = reference_row(name, name, eval_n)
    rows = [ref]
    settings = {"objective": "flow", "pairing": "ot", "t_sampler": "logit_normal"}
    s, params, info = trained_default(name, **settings)
    seconds = info["train_seconds"]
    rows += model_rows(s, params, name, "flow ot", seconds, REFLOW_SAMPLERS, eval_n, ref, floor)
    if "reflow" in kinds:
        re_params, re_seconds = reflowed(s, params, num_pairs)
        rows += model_rows(s, re_params, name, "reflow of flow ot", seconds + re_seconds,
                           REFLOW_SAMPLERS, eval_n, ref, floor)  # fmt: skip
    if "meanflow" in kinds:
        mf, mf_params, mf_seconds = mean_flow(s, time_steps)
        rows += model_rows(mf, mf_params, name, "meanflow ot", mf_seconds, MEAN_SAMPLERS,
                           eval_n, ref, floor)  # fmt: skip
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated data sets")
    p.add_argument("--pairs", type=int, default=16_000)
    p.add_argument("--eval-n", type=int, default=10_000)
    p.add_argument("--results-dir", default=None)
    p.add_argument("--models", default="reflow,meanflow", help="reflow, meanflow or both")
    p.add_argument("--meanflow-time-steps", type=int, default=2)
    args = p.parse_args()
    names = args.only.split(",") if args.only else list(SETS)
    kinds = args.models.split(",")
    rows = []
    for name in names:
        rows += rows_of(name, args.pairs, args.eval_n, kinds, args.meanflow_time_steps)
    columns = [
        *MODEL_COLUMNS,
        ("seconds", "s / 10k", "{:.3f}"),
        ("within", "within", ""),
    ]
    print(f"\n{cpu_model()}, eval n = {args.eval_n}, {args.pairs} reflow pairs")
    print(table(rows, columns))
    payload = {"eval_n": args.eval_n, "pairs": args.pairs, "models": kinds,
               "meanflow_time_steps": args.meanflow_time_steps, "rows": rows}  # fmt: skip
    path = save("reflow" + ("_" + "_".join(names) if args.only else ""), payload, args.results_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    jnp.zeros(())
    main()
