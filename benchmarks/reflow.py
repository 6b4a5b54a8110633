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

The MeanFlow model (``jaxdiff.flow.meanflow``) is the OT flow's network with an interval input,
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
    cells,
    cpu_model,
    listed,
    model_rows,
    reference_row,
    save,
    span,
    table,
    trained_default,
)
from _flows import (
    MEAN_SAMPLERS,
    REFLOW_SAMPLERS,
    best,
    by_set,
    cell,
    marked,
    mean_flow,
    measured,
    reflowed,
    row_of,
)


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


# --- the page blocks of docs/results-flows.md (benchmarks/summarize.py) -------------------


def blocks(doc: dict, section: str) -> dict:
    """The reflow table and the MeanFlow table, each with its findings."""
    sec = doc[section]
    sets = list(by_set(sec["rows"]))
    reflow_text = (
        f"{measured(doc, sec)}, one run of `python benchmarks/reflow.py` "
        f"({sec['pairs']:,} pairs); cells as above, ✓ within "
        "0.01 / 0.01 / 5e-4 of the DDPM's 100 ancestral steps; train seconds of the OT flow, "
        "then of the OT flow and its reflow together (pairs drawn and trained)."
    )
    reflow_rows, mean_rows = [], []
    for name, ref, m in sets:
        ot, re, mf = m["flow ot"], m["reflow of flow ot"], m["meanflow ot"]
        reflow_rows.append([
            name, cell(ref), marked(row_of(ot, "euler 1"), False),
            marked(row_of(re, "euler 1"), False), marked(row_of(re, "euler 2"), False),
            marked(best(re, 4)), marked(best(ot, 4)),
            f"{ot[0]['train_seconds']:.1f} / {re[0]['train_seconds']:.1f}",
        ])  # fmt: skip
        mean_rows.append([
            name, cell(ref), marked(row_of(re, "euler 1"), False),
            marked(row_of(mf, "mean 1"), False), marked(row_of(re, "euler 2"), False),
            marked(row_of(mf, "mean 2"), False), marked(best(re, 4)), marked(best(mf, 4)),
            f"{re[0]['train_seconds']:.1f} / {mf[0]['train_seconds']:.1f}",
        ])  # fmt: skip
    mean_text = (
        f"{measured(doc, sec)}, the same run of `python benchmarks/reflow.py` (MeanFlow's "
        f"network time over {sec['meanflow_time_steps']} steps); cells and ✓ as above; "
        "train seconds of the OT flow and its reflow together, then of the MeanFlow model."
    )
    reflow_heads = ["data", "DDPM ancestral 100", "OT, Euler 1", "reflow, Euler 1",
                    "reflow, Euler 2", "reflow, 4 (best)", "OT, 4 (best)",
                    "train s: OT / + reflow"]  # fmt: skip
    mean_heads = ["data", "DDPM ancestral 100", "reflow, Euler 1", "MeanFlow, 1 step",
                  "reflow, Euler 2", "MeanFlow, 2 steps", "reflow, 4 (best)",
                  "MeanFlow, 4 (best)", "train s: reflow / MeanFlow"]  # fmt: skip
    return {
        "reflow-table": cells(reflow_heads, reflow_rows, text=reflow_text),
        "meanflow-table": cells(mean_heads, mean_rows, text=mean_text),
        "reflow-findings": {"notes": reflow_findings(sets)},
        "meanflow-findings": {"notes": meanflow_findings(sets)},
    }


def reflow_findings(sets: list) -> list[str]:
    n = len(sets)
    re = {name: m["reflow of flow ot"] for name, _, m in sets}
    ot = {name: m["flow ot"] for name, _, m in sets}
    refs = {name: ref for name, ref, _ in sets}

    def within_at(group, k):
        return [name for name in group if best(group[name], k)["within"]]

    re1 = [row_of(re[s], "euler 1")["mmd2"] for s in re]
    ot1 = [row_of(ot[s], "euler 1")["mmd2"] for s in ot]
    worst = min(re, key=lambda s: best(re[s], 4)["precision"] - refs[s]["precision"])
    w = best(re[worst], 4)
    secs_re = [re[s][0]["train_seconds"] for s in re]
    secs_ot = [ot[s][0]["train_seconds"] for s in ot]
    return [
        f"One Euler step after one reflow: MMD² {span(re1, '.1e', ' to ')} against the OT "
        f"flow's own {span(ot1, '.1e', ' to ')}.",
        f"Within the DDPM's bounds at 4 evaluations on {len(within_at(re, 4))} of {n} "
        f"sets ({listed(within_at(re, 4))}; the OT flow alone: "
        f"{listed(within_at(ot, 4))}), at 2 on {len(within_at(re, 2))} "
        f"({listed(within_at(re, 2))}), at 1 on {len(within_at(re, 1))} "
        f"({listed(within_at(re, 1))}).",
        f"Where it loses most: {worst}, precision {w['precision']:.3f} at 4 evaluations "
        f"against the DDPM's {refs[worst]['precision']:.3f}.",
        f"The cost is a second training: {span(secs_re, '.0f', ' to ')} s in all against "
        f"{span(secs_ot, '.0f', ' to ')} s for the OT flow.",
    ]


def meanflow_findings(sets: list) -> list[str]:
    refs = {name: ref for name, ref, _ in sets}

    def at(model, label):
        return {name: row_of(m[model], label) for name, _, m in sets}

    def near(row, ref, p, m):  # within p in precision and recall, m in MMD²
        close = abs(row["precision"] - ref["precision"]) <= p
        return close and abs(row["recall"] - ref["recall"]) <= p and row["mmd2"] - ref["mmd2"] <= m

    lines = []
    for k, re_label, mf_label in ((1, "euler 1", "mean 1"), (2, "euler 2", "mean 2")):
        re, mf = at("reflow of flow ot", re_label), at("meanflow ot", mf_label)
        wins = [s for s in mf if mf[s]["mmd2"] < re[s]["mmd2"]]
        p, m = (0.02, 1e-3) if k == 1 else (0.01, 5e-4)
        ok_re = [s for s in re if near(re[s], refs[s], p, m)]
        ok_mf = [s for s in mf if near(mf[s], refs[s], p, m)]
        lines.append(
            f"At {k} evaluation{'s' if k > 1 else ''}: MeanFlow's MMD² is lower than the "
            f"reflow's on {len(wins)} of {len(sets)} sets ({listed(wins)}); within {p} and "
            f"{m:.0e} of the DDPM: reflow on {len(ok_re)} ({listed(ok_re)}), MeanFlow on "
            f"{len(ok_mf)} ({listed(ok_mf)})."
        )
    re8 = at("flow ot", "midpoint 4")
    mf8 = at("meanflow ot", "midpoint 4")
    lower = [s for s in mf8 if mf8[s]["precision"] < re8[s]["precision"]]
    lines.append(
        f"Solved as a flow (midpoint, 8 evaluations) the MeanFlow model's precision is below "
        f"the OT flow's on {len(lower)} of {len(sets)} sets ({listed(lower)}): learning the "
        "average velocity costs the instantaneous one some of its accuracy."
    )
    return lines


if __name__ == "__main__":
    jnp.zeros(())
    main()
