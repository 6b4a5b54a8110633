"""Flow matching against the DDPM ``default`` recipe, at equal network evaluations.

On each data set, in one run: the ``default`` recipe (``jaxdiff train``'s, DDPM) sampled
by its own ancestral 100 steps; the same network, optimiser and epochs trained with the
flow objective (``--objective flow``), with independent and with minibatch-OT pairs
(``--pairing ot``); each flow sampled by Euler, midpoint and Heun at 1 to 16 network
evaluations and by the adaptive solver (its evaluations counted). 10,000 samples each,
scored by ``runs.evaluate.quality`` against fresh data beside the data's floor; seconds
for 10,000 samples (compiled outside the clock, the minimum of 5 draws), training seconds
(``fit``'s, compilation apart), and × the seed's PyTorch 100-step sampler timed in the
same run (``pip install -e '.[bench]'``).

``within`` marks a row within 0.01 precision and recall and 5e-4 MMD² of the DDPM
model's ancestral 100 steps on the same rows.

Usage: python benchmarks/flows.py [--only NAME,...] [--t-sampler NAME] [--eval-n N]
       [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile

import jax.numpy as jnp
from _common import (
    MODEL_COLUMNS,
    SETS,
    SHAPES,
    cells,
    cpu_model,
    listed,
    reference_row,
    save,
    seed_sampler_seconds,
    shape_file,
    span,
    table,
)
from _flows import best, by_set, cell, fewest_row, flow_rows, marked, measured, short


def rows_of(name: str, t_sampler: str, eval_n: int, folder) -> list[dict]:
    """Every row of one data set (a held-out shape enters as a file, as a user's would)."""
    data = shape_file(name, folder) if name in SHAPES else name
    ref, floor = reference_row(name, data, eval_n)
    rows = [ref]
    for pairing in ("independent", "ot"):
        rows += flow_rows(data, name, pairing, t_sampler, eval_n, ref, floor)[0]
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated data sets")
    p.add_argument("--t-sampler", default="uniform", help="the flows' time draw")
    p.add_argument("--eval-n", type=int, default=10_000)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    names = args.only.split(",") if args.only else [*SETS, *SHAPES]
    seed_first = seed_sampler_seconds(10_000)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            rows += rows_of(name, args.t_sampler, args.eval_n, folder)
    seed = seed_sampler_seconds(10_000, seed_first)
    for row in rows:
        row["x_seed"] = None if seed is None else seed / row["seconds"]
    columns = [
        *MODEL_COLUMNS,
        ("floor_sliced_w2", "floor", "{:.4f}"),
        ("seconds", "s / 10k", "{:.3f}"),
        ("x_seed", "x seed", "{:.0f}"),
        ("within", "within", ""),
    ]
    print(f"\n{cpu_model()}, eval n = {args.eval_n}, flow t ~ {args.t_sampler}; "
          f"seed's PyTorch sampler {seed} s / 10k")  # fmt: skip
    print(table(rows, columns))
    payload = {
        "eval_n": args.eval_n,
        "t_sampler": args.t_sampler,
        "seed_seconds": seed,
        "rows": rows,
    }
    # A part of the table (--only) is a section of its own: each section is one run.
    section = f"flows_{args.t_sampler}" + ("_" + "_".join(names) if args.only else "")
    path = save(section, payload, args.results_dir)
    print(f"wrote {path}")


# --- the page blocks of docs/results-flows.md (benchmarks/summarize.py) -------------------

# The registered sets' run, then the held-out shapes' (each section one run).
SECTIONS = ("flows_logit_normal", "flows_logit_normal_pinwheel_spirals")


def blocks(doc: dict, section: str) -> dict:
    """A section's table, its seconds by evaluations, and (for the registered sets' run,
    with the held-out shapes' beside it) the findings."""
    sec = doc[section]
    rows, seed = sec["rows"], sec["seed_seconds"]
    names = list(dict.fromkeys(r["data"] for r in rows))
    only = "" if section == SECTIONS[0] else " --only " + ",".join(names)
    text = (
        f"{measured(doc, sec)}, JAX {doc['jax_version']}, one run of "
        f"`python benchmarks/flows.py --t-sampler {sec['t_sampler']}{only}`; 10,000 samples "
        f"scored against fresh points ({sec['eval_n']:,} at most; a shape's held-out fifth). "
        "Cells are precision / recall / MMD²; ✓ marks a row within 0.01 precision and "
        "recall and 5e-4 MMD² of the DDPM model's 100 ancestral steps. "
        + (f"The seed's PyTorch sampler took {seed:.3f} s for 10,000 samples in this run."
           if seed else "")
    )  # fmt: skip
    heads = ["data", "DDPM `default`, ancestral 100", "flow OT, fewest evaluations within",
             "OT, 1", "OT, 2", "OT, 4", "OT, 8", "independent, 4", "independent, 8",
             "train s: DDPM / indep. / OT"]  # fmt: skip
    table = []
    for name, ref, models in by_set(rows):
        ot, ind = models["flow ot"], models["flow independent"]
        fewest = fewest_row(ot)
        secs = " / ".join(f"{g[0]['train_seconds']:.1f}" for g in ([ref], ind, ot))
        table.append([
            name, cell(ref), "none at ≤ 16" if fewest is None else
            f"{fewest['evals']} ({fewest['sampler']})",
            *(marked(best(ot, k)) for k in (1, 2, 4, 8)),
            *(marked(best(ind, k)) for k in (4, 8)), secs,
        ])  # fmt: skip
    out = {"table": cells(heads, table, text=text)}
    fastest = [r for r in rows if r["model"] == "flow ot" and r.get("x_seed")]
    if fastest and seed:
        speed = []
        for k in (1, 2, 4, 8, 16):
            at = {r["data"]: r for r in fastest if r["sampler"] == f"euler {k}"}
            speed.append([str(k)] + [f"{at[n]['seconds']:.3f} s, {at[n]['x_seed']:.0f}×"
                                     if n in at else "-" for n in names])  # fmt: skip
        text = ("Seconds for 10,000 samples and × the seed's PyTorch sampler, by "
                "evaluations (flow OT, Euler):")  # fmt: skip
        out["speed"] = cells(["evaluations", *names], speed, text=text)
    if section == SECTIONS[0] and SECTIONS[1] in doc:
        out["which-findings"] = {"notes": which_findings(sec, doc[SECTIONS[1]])}
    return out


def which_findings(sec: dict, held: dict) -> list[str]:
    sets = list(by_set(sec["rows"]))
    n = len(sets)
    at8 = {name: best(m["flow ot"], 8) for name, _, m in sets}
    at4 = {name: best(m["flow ot"], 4) for name, _, m in sets}
    ind8 = {name: best(m["flow independent"], 8) for name, _, m in sets}
    refs = {name: ref for name, ref, _ in sets}
    in8 = [name for name, r in at8.items() if r["within"]]
    samplers = sorted({at8[name]["sampler"] for name in in8})
    fast = [at8[name] for name in in8] or list(at8.values())
    short4 = {name: short(r, refs[name]) for name, r in at4.items()}
    p4 = [name for name, s in short4.items() if s["precision"] == 0]
    m4 = [name for name, s in short4.items() if s["mmd2"] == 0]
    r4 = [name for name, s in short4.items() if s["recall"] > 0]
    in4 = [name for name, r in at4.items() if r["within"]]
    recall_gap = [refs[name]["recall"] - at4[name]["recall"] for name in r4]
    ratio = [ind8[name]["mmd2"] / at8[name]["mmd2"] for name in at8 if at8[name]["mmd2"] > 0]
    train = [m["flow ot"][0]["train_seconds"] / m["flow independent"][0]["train_seconds"]
             for _, _, m in sets]  # fmt: skip
    out = [
        f"**With OT pairs, 8 evaluations are within the DDPM's 100 ancestral steps' bounds on "
        f"{len(in8)} of the {n} registered sets** ({listed(in8)}; "
        f"{' or '.join(samplers)}), in {span([r['seconds'] for r in fast], '.2f', ' to ')} s per "
        f"10,000 samples against the DDPM's "
        f"{span([ref['seconds'] for ref in refs.values()], '.1f', ' to ')} s: "
        f"{span([r['x_seed'] for r in fast], '.0f', ' to ')}× the seed's PyTorch sampler.",
        f"**At 4 evaluations** a set is within on {len(in4)} of {n} ({listed(in4)}): "
        f"precision holds on {len(p4)}, MMD² on {len(m4)}, and recall falls short on "
        f"{len(r4)} ({listed(r4)}"
        + (f", by {span(recall_gap, '.3f', ' to ')}" if r4 else "")
        + ").",
        f"**With independent pairs a flow is no better than a DDPM at few steps**: at 8 "
        "evaluations precision is "
        f"{span([r['precision'] for r in ind8.values()], '.2f', ' to ')} and "
        f"MMD² {span(ratio, '.0f', ' to ')} times the OT flow's.",
        f"**Training with OT pairs takes {span(train, '.1f', ' to ')}× as long** as with "
        "independent pairs: the exact assignment of each batch's blocks runs on the host "
        "beside the step ([what OT pairing costs](#what-ot-pairing-costs)).",
    ]
    for name, ref, m in by_set(held["rows"]):
        r = best(m["flow ot"], 8)
        fewest = fewest_row(m["flow ot"])
        verdict = "within" if r["within"] else "outside"
        better = "lower" if r["mmd2"] < ref["mmd2"] else "higher"
        out.append(
            f"**Held out, {name}**: the OT flow at 8 evaluations ({r['sampler']}) scores "
            f"{cell(r)} against the DDPM's {cell(ref)}: {verdict} the bounds, its MMD² "
            f"{better}; the fewest evaluations within: "
            + ("none" if fewest is None else f"{fewest['evals']} ({fewest['sampler']})")
            + "."
        )
    return out


if __name__ == "__main__":
    jnp.zeros(())  # JAX's backend up before any clock starts
    main()
