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
import dataclasses
import math
import time

import jax
import jax.numpy as jnp
from _common import (
    QUALITY_COLUMNS,
    SETS,
    cpu_model,
    sampler_row,
    save,
    show,
    table,
    within,
)

from jaxdiff import fitting, flows, samplers, training
from jaxdiff.runs import overrides, presets, setup, train

SAMPLERS = (
    ("euler 1", 1, {"method": "euler", "steps": 1}),
    ("euler 2", 2, {"method": "euler", "steps": 2}),
    ("euler 4", 4, {"method": "euler", "steps": 4}),
    ("midpoint 2", 4, {"method": "midpoint", "steps": 2}),
    ("midpoint 4", 8, {"method": "midpoint", "steps": 4}),
)


def trained(name: str, **settings):
    s = setup.setup(overrides.configure(presets.preset("default"), data=name, **settings))
    state, info = train.fit(s, epochs_per_call=s.config.train.epochs)
    return s, setup.model_params(s, state), info


def reflowed(s, params, num_pairs: int):
    """The reflow of the flow ``(s, params)``: ``(params, seconds)``."""
    t0 = time.perf_counter()
    opts = samplers.SamplerOptions(method="adaptive", target=flows.TARGET)

    def carry(eps):
        return samplers.sample(
            jax.random.key(0), s.apply_fn, params, s.schedule, eps.shape, opts, x_T=eps
        )

    pairs = jax.block_until_ready(flows.reflow_pairs(s.keys.sample, carry, num_pairs, s.data_dim))
    t = s.config.train
    per_epoch = math.ceil(num_pairs / t.batch_size)
    epochs = max(1, round(t.epochs * s.steps_per_epoch / per_epoch))
    t = dataclasses.replace(t, epochs=epochs, lr_decay_epochs=epochs)
    optimizer, _ = setup.build_optimizer(t, per_epoch)
    spec = training.TrainSpec(
        s.apply_fn, optimizer, batch_size=t.batch_size, t_sampler="uniform",
        ema_decay=t.ema_decay, objective="flow", pairing="given",
    )  # fmt: skip
    state = training.init_state(jax.random.key(1), params, optimizer, ema=True)
    state, info = fitting.fit(state, pairs, spec=spec, schedule=s.schedule, epochs=epochs)
    return state.ema_params, time.perf_counter() - t0 - info["compile_seconds"]


def rows_of(name: str, num_pairs: int, eval_n: int) -> list[dict]:
    rows = []
    s, params, info = trained(name)
    ref = sampler_row(s, params, eval_n, "ancestral 100", 100, floor=True)
    floor = {k: v for k, v in ref.items() if k.startswith("floor_")}
    ref |= {"data": name, "model": "ddpm default", "train_seconds": info["train_seconds"]}
    rows.append(ref)
    show(ref)
    s, params, info = trained(name, objective="flow", pairing="ot", t_sampler="logit_normal")
    re_params, re_seconds = reflowed(s, params, num_pairs)
    for model, p, seconds in (
        ("flow ot", params, info["train_seconds"]),
        ("reflow of flow ot", re_params, info["train_seconds"] + re_seconds),
    ):
        for label, evals, changes in SAMPLERS:
            row = sampler_row(s, p, eval_n, label, evals, **changes)
            row |= {"data": name, "model": model, "train_seconds": seconds, **floor}
            row["within"] = within(row, ref)
            rows.append(row)
            show(row)
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
        ("data", "data", ""),
        ("model", "model", ""),
        ("train_seconds", "train s", "{:.1f}"),
        ("sampler", "sampler", ""),
        ("evals", "evals", "{:d}"),
        *QUALITY_COLUMNS,
        ("sliced_w2", "sliced W2", "{:.4f}"),
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
