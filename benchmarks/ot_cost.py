"""What minibatch OT pairing costs in training time, and what its block size costs in
quality.

On each data set, in one run: the ``default`` recipe's network and optimiser trained as a
flow (``--objective flow``, logit-normal ``t``) with independent pairs, then with OT pairs
(``--pairing ot``) assigned exactly within blocks of 128, 64 and 32 rows
(``flows.OT_BLOCK``); each sampled by midpoint at 4 and 8 evaluations and scored as in
benchmarks/flows.py against the DDPM ``default``'s ancestral 100 steps (``within``).
Training seconds are ``fit``'s (compilation apart); ``stolen`` is the share of the
machine's CPU time the hypervisor gave other guests during that training (``/proc/stat``):
a ratio of two trainings is only trusted where both are low.

Usage: python benchmarks/ot_cost.py [--only NAME,...] [--blocks 128,64,32] [--eval-n N]
       [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
from _common import (
    MODEL_COLUMNS,
    SETS,
    cells,
    cpu_model,
    model_rows,
    reference_row,
    save,
    span,
    stolen_seconds,
    table,
    trained_default,
)
from _flows import best, by_set, cell, marked, measured

from jaxdiff.flow import flows

SAMPLERS = (
    ("midpoint 2", 4, {"method": "midpoint", "steps": 2}),
    ("midpoint 4", 8, {"method": "midpoint", "steps": 4}),
)


def trained(name: str, block: int | None):
    """The flow on ``name`` with independent pairs (``block`` None) or OT in blocks of
    ``block``; ``(setup, params, train seconds, stolen share)``."""
    jax.clear_caches()  # the block is read when the epoch is traced
    if block is not None:
        flows.OT_BLOCK = block
    pairing = "independent" if block is None else "ot"
    stolen, start = stolen_seconds(), time.perf_counter()
    s, params, info = trained_default(
        name, objective="flow", pairing=pairing, t_sampler="logit_normal"
    )
    wall = time.perf_counter() - start
    share = None if stolen is None else (stolen_seconds() - stolen) / (wall * os.cpu_count())
    return s, params, info["train_seconds"], share


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated data sets")
    p.add_argument("--blocks", default="128,64,32", help="OT block sizes")
    p.add_argument("--eval-n", type=int, default=10_000)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    names = args.only.split(",") if args.only else list(SETS)
    blocks = [int(b) for b in args.blocks.split(",")]
    default_block = flows.OT_BLOCK
    rows = []
    for name in names:
        ref, floor = reference_row(name, name, args.eval_n)
        rows.append(ref)
        base = None
        for block in (None, *blocks):
            s, params, seconds, stolen = trained(name, block)
            base = base or seconds
            model = "flow independent" if block is None else f"flow ot {block}"
            for row in model_rows(s, params, name, model, seconds, SAMPLERS, args.eval_n, ref,
                                  floor):  # fmt: skip
                row |= {"x_independent": seconds / base, "stolen": stolen}
                rows.append(row)
    flows.OT_BLOCK = default_block
    columns = [
        *MODEL_COLUMNS,
        ("x_independent", "x indep. train", "{:.2f}"),
        ("stolen", "stolen", "{:.0%}"),
        ("within", "within", ""),
    ]
    print(f"\n{cpu_model()}, eval n = {args.eval_n}, flow t ~ logit_normal")
    print(table(rows, columns))
    payload = {"eval_n": args.eval_n, "blocks": blocks, "rows": rows}
    section = "ot_cost" + ("_" + "_".join(names) if args.only else "")
    print(f"wrote {save(section, payload, args.results_dir)}")


# --- the page blocks of docs/results-flows.md (benchmarks/summarize.py) -------------------


def blocks(doc: dict, section: str) -> dict:
    """Each block size's quality and training time against independent pairs, and whether
    the default meets its cost target."""
    sec = doc[section]
    sets = list(by_set(sec["rows"]))
    text = (
        f"{measured(doc, sec)}, one run of `python benchmarks/ot_cost.py`: the flow "
        "(logit-normal `t`) with independent pairs and with OT in blocks of "
        + ", ".join(str(b) for b in sec["blocks"])
        + " rows; cells as above at midpoint 2 steps (4 evaluations) / 4 steps (8), ✓ within "
        "the DDPM's bounds; the training time of each OT flow over the independent one's "
        "(× indep.), with the share of the machine's CPU the hypervisor took meanwhile."
    )
    rows = []
    for name, ref, models in sets:
        rows.append([name, "DDPM ancestral 100", cell(ref), "", f"{ref['train_seconds']:.1f}",
                     "", ""])  # fmt: skip
        for model, group in models.items():
            if model != "ddpm default":
                r = group[0]
                stolen = "-" if r.get("stolen") is None else f"{r['stolen']:.0%}"
                shown = (marked(best(group, k), False) for k in (4, 8))
                secs, ratio = f"{r['train_seconds']:.1f}", f"{r['x_independent']:.2f}"
                rows.append([name, model, *shown, secs, ratio, stolen])
    heads = ["data", "model", "4 evaluations", "8 evaluations", "train s", "× indep.", "stolen"]
    notes = []
    for size in sec["blocks"]:
        group = [(name, m[f"flow ot {size}"]) for name, _, m in sets]
        cost = [r[0]["x_independent"] for _, r in group]
        in8 = [name for name, r in group if best(r, 8)["within"]]
        in4 = [name for name, r in group if best(r, 4)["within"]]
        notes.append(
            f"Blocks of {size}: {span(cost, '.2f', ' to ')}× the training time of independent "
            f"pairs; within the bounds at 8 evaluations on {len(in8)} of {len(sets)} sets, at 4 "
            f"on {len(in4)}."
        )
    default = [m[f"flow ot {sec['blocks'][0]}"][0]["x_independent"] for _, _, m in sets]
    met = "met" if max(default) <= 1.3 else "not met"
    notes.append(
        f"The default, blocks of {sec['blocks'][0]}, costs at most {max(default):.2f}×: "
        f"**the target of at most 1.3× is {met}**."
    )
    return {"ot-cost-table": cells(heads, rows, text=text), "ot-cost-findings": {"notes": notes}}


if __name__ == "__main__":
    jnp.zeros(())  # JAX's backend up before any clock starts
    main()
