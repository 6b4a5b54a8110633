"""The tables of docs/flows.md, generated from the results file of benchmarks/flows.py.

``python scripts/flows_table.py`` rewrites the block between the markers in
docs/flows.md; ``--check`` exits 1 when the page and the results file disagree (run by
tests/test_docs_tables.py), so no figure on that page is copied by hand.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _pages import between, sync

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "flows.md"
RESULTS = ROOT / "benchmarks" / "results" / "cpu-intel-r-xeon-r-processor-2c.json"
# The six registered sets, then the held-out shapes (each section one run).
SECTIONS = ("flows_logit_normal", "flows_logit_normal_pinwheel_spirals")


def _cell(r: dict) -> str:
    return f"{r['precision']:.3f} / {r['recall']:.3f} / {r['mmd2']:.1e}"


def _marked(r: dict, sampler: bool = True) -> str:
    """A row's cell, ✓ when it is within the bounds, and (with ``sampler``) its sampler."""
    mark = " ✓" if r["within"] else ""
    return f"{_cell(r)}{mark} ({r['sampler']})" if sampler else f"{_cell(r)}{mark}"


def _measured(doc: dict, sec: dict) -> str:
    return f"Measured {sec['date'][:10]} on {doc['cpu']} ({doc['cpu_count']} cores)"


def _by_set(rows: list[dict]):
    """``(data set, its DDPM reference row, {model: its rows})`` in the table's order."""
    for name in dict.fromkeys(r["data"] for r in rows):
        mine = [r for r in rows if r["data"] == name]
        models: dict[str, list[dict]] = {}
        for r in mine:
            models.setdefault(r["model"], []).append(r)
        yield name, models["ddpm default"][0], models


def _best(rows: list[dict], evals: int) -> dict | None:
    """The row at ``evals`` evaluations that is within the bounds, else of lowest MMD²."""
    at = [r for r in rows if r["evals"] == evals]
    return min(at, key=lambda r: (not r["within"], r["mmd2"]), default=None)


def fewest_row(rows: list[dict]) -> dict | None:
    """The row at the fewest evaluations within the bounds (fixed-step samplers only)."""
    ok = [r for r in rows if r["within"] and r["sampler"] != "adaptive"]
    return min(ok, key=lambda r: (r["evals"], r["mmd2"]), default=None)


def _fewest(rows: list[dict]) -> str:
    r = fewest_row(rows)
    return "none at ≤ 16" if r is None else f"{r['evals']} ({r['sampler']})"


def tables(doc: dict, section: str) -> str:
    sec = doc[section]
    rows = sec["rows"]
    names = list(dict.fromkeys(r["data"] for r in rows))
    seed = sec["seed_seconds"]
    only = "" if section == SECTIONS[0] else " --only " + ",".join(names)
    out = [
        f"{_measured(doc, sec)}, JAX {doc['jax_version']}, one run of "
        "`python benchmarks/flows.py --t-sampler "
        f"{sec['t_sampler']}{only}`; 10,000 samples scored against fresh points "
        f"({sec['eval_n']:,} at most; a shape's held-out fifth). "
        "Cells are precision / recall / MMD²; ✓ marks a row within 0.01 precision and "
        "recall and 5e-4 MMD² of the DDPM model's 100 ancestral steps. "
        + (
            f"The seed's PyTorch sampler took {seed:.3f} s for 10,000 samples in this run."
            if seed
            else ""
        ),
        "",
        "| data | DDPM `default`, ancestral 100 | flow OT, fewest evaluations within "
        "| OT, 1 | OT, 2 | OT, 4 | OT, 8 | independent, 4 | independent, 8 "
        "| train s: DDPM / indep. / OT |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, ref, models in _by_set(rows):
        ot, ind = models["flow ot"], models["flow independent"]

        def at(group, k):
            r = _best(group, k)
            return "-" if r is None else _marked(r)

        secs = " / ".join(f"{g[0]['train_seconds']:.1f}" for g in ([ref], ind, ot))
        out.append(
            f"| {name} | {_cell(ref)} | {_fewest(ot)} | {at(ot, 1)} | {at(ot, 2)} | "
            f"{at(ot, 4)} | {at(ot, 8)} | {at(ind, 4)} | {at(ind, 8)} | {secs} |"
        )
    fastest = [r for r in rows if r["model"] == "flow ot" and r.get("x_seed")]
    if fastest and seed:
        out += [
            "",
            "Seconds for 10,000 samples and × the seed's PyTorch sampler, by evaluations "
            "(flow OT, Euler):",
            "",
        ]
        out += ["| evaluations | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
        for k in (1, 2, 4, 8, 16):
            cells = []
            for name in names:
                r = next(
                    (r for r in fastest if r["data"] == name and r["sampler"] == f"euler {k}"), None
                )
                cells.append("-" if r is None else f"{r['seconds']:.3f} s, {r['x_seed']:.0f}×")
            out.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def reflow_table(doc: dict) -> str:
    sec = doc["reflow"]
    out = [
        f"{_measured(doc, sec)}, one run of `python benchmarks/reflow.py` "
        f"({sec['pairs']:,} pairs); cells as above, ✓ within "
        "0.01 / 0.01 / 5e-4 of the DDPM's 100 ancestral steps; train seconds of the OT flow, "
        "then of the OT flow and its reflow together (pairs drawn and trained).",
        "",
        "| data | DDPM ancestral 100 | OT, Euler 1 | reflow, Euler 1 | reflow, Euler 2 "
        "| reflow, 4 (best) | OT, 4 (best) | train s: OT / + reflow |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, ref, models in _by_set(sec["rows"]):
        ot, re = models["flow ot"], models["reflow of flow ot"]

        def one(group, label):
            return _marked(next(r for r in group if r["sampler"] == label), sampler=False)

        def four(group):
            return _marked(_best(group, 4))

        secs = f"{ot[0]['train_seconds']:.1f} / {re[0]['train_seconds']:.1f}"
        out.append(
            f"| {name} | {_cell(ref)} | {one(ot, 'euler 1')} | {one(re, 'euler 1')} | "
            f"{one(re, 'euler 2')} | {four(re)} | {four(ot)} | {secs} |"
        )
    return "\n".join(out)


def digits_table(doc: dict) -> str:
    sec = doc["digits_flow"]
    out = [
        f"{_measured(doc, sec)}, one run of "
        "`python benchmarks/digits.py --flow --nfe 8`: 64-D digits, class-conditional, samples "
        "in the data's class proportions against the 359 held-out images.",
        "",
        "| model | epochs | train s | precision (floor) | recall (floor) | MMD² (floor) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in sec["rows"]:
        out.append(
            f"| {r['model']} | {r['epochs']} | {r['train_seconds']:.1f} | "
            f"{r['precision']:.3f} ({r['floor_precision']:.3f}) | "
            f"{r['recall']:.3f} ({r['floor_recall']:.3f}) | "
            f"{r['mmd2']:.1e} ({r['floor_mmd2']:.1e}) |"
        )
    return "\n".join(out)


def peer_table(doc: dict) -> str:
    sec = doc["flow_peer"]
    out = [
        f"{_measured(doc, sec)}, one run of `python benchmarks/flow_peer.py`; "
        "cells as above (the better of Euler and midpoint at "
        "each budget, by MMD²), ✓ within the DDPM's bounds; train seconds without compilation.",
        "",
        "| data | DDPM ancestral 100 | ours, 4 | peer, 4 | ours, 8 | peer, 8 "
        "| train s: ours / peer |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, ref, models in _by_set(sec["rows"]):
        ours, theirs = models["flow ot (ours)"], models["flow_matching peer"]

        def best(group, k):
            return _marked(min((r for r in group if r["evals"] == k), key=lambda r: r["mmd2"]))

        secs = f"{ours[0]['train_seconds']:.1f} / {theirs[0]['train_seconds']:.1f}"
        out.append(
            f"| {name} | {_cell(ref)} | {best(ours, 4)} | {best(theirs, 4)} | "
            f"{best(ours, 8)} | {best(theirs, 8)} | {secs} |"
        )
    return "\n".join(out)


def ot_cost_table(doc: dict) -> str:
    sec = doc["ot_cost"]
    blocks = sec["blocks"]
    out = [
        f"{_measured(doc, sec)}, one run of `python benchmarks/ot_cost.py`: the flow "
        "(logit-normal `t`) with independent pairs and with OT in blocks of "
        + ", ".join(str(b) for b in blocks)
        + " rows; cells as above at midpoint 2 steps (4 evaluations) / 4 steps (8), ✓ within "
        "the DDPM's bounds; the training time of each OT flow over the independent one's "
        "(× indep.), with the share of the machine's CPU the hypervisor took meanwhile.",
        "",
        "| data | model | 4 evaluations | 8 evaluations | train s | × indep. | stolen |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, ref, models in _by_set(sec["rows"]):
        out.append(
            f"| {name} | DDPM ancestral 100 | {_cell(ref)} | | {ref['train_seconds']:.1f} | | |"
        )
        for model, rows in models.items():
            if model == "ddpm default":
                continue
            four, eight = (_marked(_best(rows, k), sampler=False) for k in (4, 8))
            r = rows[0]
            stolen = "-" if r.get("stolen") is None else f"{r['stolen']:.0%}"
            out.append(
                f"| {name} | {model} | {four} | {eight} | {r['train_seconds']:.1f} | "
                f"{r['x_independent']:.2f} | {stolen} |"
            )
    return "\n".join(out)


def speed_table(doc: dict) -> str:
    sec = doc["speed_bound"]
    out = [
        f"{_measured(doc, sec)}, one run of `python benchmarks/speed_bound.py`: the "
        f"`default` network does {sec['flops_per_row']:,.0f} floating-point operations per "
        f"row and evaluation (XLA's count); this machine multiplied float32 matrices at "
        f"{sec['matmul']['peak_gflops']:.0f} GFLOP/s at best; the seed's PyTorch sampler "
        f"took {sec['seed_seconds']:.3f} s for 10,000 samples in the same run.",
        "",
        "| evaluations | flop bound, s / 10k | × seed at most | × seed asked | measured s / 10k "
        "| × seed measured | of peak |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sec["rows"]:
        target = "-" if r["target"] is None else f"{r['target']}×"
        out.append(
            f"| {r['evals']} | {r['bound_s']:.4f} | {r['x_seed_max']:.1f}× | {target} | "
            f"{r['seconds']:.4f} | {r['x_seed']:.1f}× | {r['share_of_peak']:.0%} |"
        )
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = p.parse_args()
    doc = json.loads(RESULTS.read_text())
    body = "\n\n".join(tables(doc, section) for section in SECTIONS)
    new = between(PAGE.read_text(), "flows-table", body)
    # Each further table: its section of the results file, its marker, its renderer.
    for section, marker, render in (
        ("reflow", "reflow-table", reflow_table),
        ("flow_peer", "peer-table", peer_table),
        ("digits_flow", "digits-table", digits_table),
        ("ot_cost", "ot-cost-table", ot_cost_table),
        ("speed_bound", "speed-table", speed_table),
    ):
        if section in doc:
            new = between(new, marker, render(doc))
    return sync(PAGE, new, check=args.check, fix="scripts/flows_table.py")


if __name__ == "__main__":
    sys.exit(main())
