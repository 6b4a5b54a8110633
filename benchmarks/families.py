"""Both model families, every few-evaluation sampler and the flow_matching peer: one
table from one run (issue 30, item 8).

On the six registered 2-D sets and the two held-out shapes (entered as files, as a user's
points would be), in one process:

- the DDPM ``default`` recipe (``jaxdiff train``'s): ancestral 100 steps (the reference,
  with the data's floor), ``sde-dpm-solver`` on its own grid (the closest to the bounds
  at 8 evaluations in issue 16's table) and ``dpm-solver-3m`` on the log-SNR grid, each
  at 4 and 8, and its light student at 4 evaluations (``jaxdiff distill --student light``,
  as benchmarks/distill.py: its seconds are the training's plus the distillation's);
- flows (``--objective flow --t-sampler logit_normal``) with independent and with OT pairs
  (blocks of 128, the default): Euler, midpoint and Heun at 1 to 16 evaluations and the
  adaptive solver with its count (benchmarks/flows.py's samplers);
- the OT flow's reflow (16,000 pairs) and a MeanFlow model (benchmarks/reflow.py's);
- the flow_matching library's 2-D recipe scaled to this CPU, trained on the same rows in
  its own process (benchmarks/flow_peer.py's);

then the 64-D digits, class-conditional (benchmarks/digits.py's recipe): the DDPM over all
1000 steps and the OT flow at midpoint 4 (8 evaluations).

Every 2-D row: MMD², precision, recall and sliced W2 of 10,000 samples against fresh data
(``runs.evaluate.quality``) beside the data's floor, evaluations, training seconds
(compilation apart), seconds for 10,000 samples (compiled outside the clock, the minimum
of 5 draws; the peer's are not timed) and × the seed's PyTorch 100-step sampler, timed at
the start and the end of the run (the faster of the two). ``within`` marks a row within
0.01 precision and recall and 5e-4 MMD² of the DDPM's ancestral 100 on the same rows.

The results file's section ``families`` is rewritten after each set (``complete`` false
until the end), so an interrupted run keeps what it measured. With ``--figure-dir``, each
of ``--figure-sets`` gets a picture: the data, the DDPM's 100 steps and its solver at 4
evaluations, then each flow model at 1, 2 and 4 evaluations (5,000 points each).

Usage: python benchmarks/families.py [--only NAME,...] [--eval-n N] [--no-digits]
       [--figure-dir DIR] [--figure-sets checkerboard,eight_gaussians] [--results-dir DIR]

``pip install -e '.[bench]'`` (torch for the seed's sampler, flow-matching for the peer).
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _common import (
    MODEL_COLUMNS,
    SETS,
    SHAPES,
    cells,
    cpu_model,
    digits_measure,
    digits_recipe,
    listed,
    model_rows,
    reference,
    save,
    seed_sampler_seconds,
    shape_file,
    span,
    student_rows,
    table,
    within,
)
from _flows import (
    FEW_MODELS,
    FEW_STEPS,
    MEAN_SAMPLERS,
    REFLOW_SAMPLERS,
    REGISTERED,
    best,
    by_set,
    fewest_row,
    flow_rows,
    marked,
    mean_flow,
    measured,
    peer_rows,
    reflowed,
    short,
)

from jaxdiff.flow.flow_solvers import EVALUATIONS_PER_STEP
from jaxdiff.runs import draw, overrides

# The DDPM's few-evaluation solvers: sde-dpm-solver (issue 16's closest at 8), dpm-solver-3m.
DDPM_SOLVERS = tuple(
    (f"{method} {spacing or 'default'} {k}", k, {"method": method, "steps": k, "spacing": spacing})
    for method, spacing in (("sde-dpm-solver", None), ("dpm-solver-3m", "logsnr"))
    for k in (4, 8)
)
T_SAMPLER = "logit_normal"  # the flows' time draw, as in reflow.py and flow_peer.py
# The picture's samplers at 1, 2 and 4 evaluations, per model.
FIGURE_SAMPLERS = {
    "flow": ({"method": "euler", "steps": 1}, {"method": "euler", "steps": 2},
             {"method": "midpoint", "steps": 2}),
    "meanflow": ({"method": "mean", "steps": 1}, {"method": "mean", "steps": 2},
                 {"method": "mean", "steps": 4}),
}  # fmt: skip
FIGURE_N = 5000


def ddpm_rows(s, params, name, seconds, eval_n, ref, floor) -> list[dict]:
    """The DDPM's solvers at 4 and 8 evaluations and its light student at 4."""
    rows = model_rows(s, params, name, "ddpm default", seconds, DDPM_SOLVERS, eval_n, ref, floor)
    student = student_rows(s, params, eval_n, light_ks="4", direct_ks="", progressive=False,
                           features=False)  # fmt: skip
    for row in student:
        row |= {"data": name, "model": "ddpm light student", "sampler": "restart 4",
                "train_seconds": seconds + row.pop("distill_seconds"), **floor}  # fmt: skip
        row["within"] = within(row, ref)
    return rows + student


def rows_of(name: str, eval_n: int, folder, figure) -> list[dict]:
    """Every 2-D row of one data set; its picture if ``figure`` (a path) is given."""
    data = shape_file(name, folder) if name in SHAPES else name
    t0 = time.perf_counter()
    ref, floor, (s, params, info) = reference(name, data, eval_n)
    rows = [ref, *ddpm_rows(s, params, name, info["train_seconds"], eval_n, ref, floor)]
    panels = {}
    if figure:
        key = s.keys.sample
        panels["data"] = s.normalizer.decode(s.train_data[:FIGURE_N])
        panels["DDPM, ancestral 100"] = draw.draw(s, params, key, FIGURE_N, method="ddim",
                                                  steps=100, eta=1.0)  # fmt: skip
        panels["DDPM, sde-dpm-solver 4"] = draw.draw(s, params, key, FIGURE_N, **DDPM_SOLVERS[0][2])
    models = {}
    for pairing in ("independent", "ot"):
        flow, s, params, seconds = flow_rows(data, name, pairing, T_SAMPLER, eval_n, ref, floor)
        rows += flow
        models[f"flow {pairing}"] = (s, params, "flow")
    # s, params, seconds: the OT flow's, the last of the loop.
    re_params, re_seconds = reflowed(s, params, 16_000)
    rows += model_rows(s, re_params, name, "reflow of flow ot", seconds + re_seconds,
                       REFLOW_SAMPLERS, eval_n, ref, floor)  # fmt: skip
    models["reflow of flow ot"] = (s, re_params, "flow")
    mf, mf_params, mf_seconds = mean_flow(s, time_steps=2)
    rows += model_rows(mf, mf_params, name, "meanflow ot", mf_seconds, MEAN_SAMPLERS,
                       eval_n, ref, floor)  # fmt: skip
    models["meanflow ot"] = (mf, mf_params, "meanflow")
    rows += peer_rows(s, name, eval_n, ref, floor)
    if figure:
        for label, (ms, mp, kind) in models.items():
            for changes in FIGURE_SAMPLERS[kind]:
                evals = changes["steps"] * EVALUATIONS_PER_STEP[changes["method"]]
                panels[f"{label}, {evals}"] = draw.draw(ms, mp, ms.keys.sample, FIGURE_N,
                                                        **changes)  # fmt: skip
        picture(name, panels, figure)
    print(f"{name}: {len(rows)} rows in {time.perf_counter() - t0:.0f} s", flush=True)
    return rows


def picture(name: str, panels: dict, path) -> None:
    """Three panels a row: the data and the DDPM's, then each model at 1, 2, 4 evaluations."""
    items = list(panels.items())
    n_rows = (len(items) + 2) // 3
    fig, axes = plt.subplots(n_rows, 3, figsize=(9, 3 * n_rows), squeeze=False)
    limits = None
    for ax, (title, x) in zip(axes.flat, items, strict=False):
        ax.scatter(x[:, 0], x[:, 1], s=0.5, alpha=0.5, color="k", linewidths=0)
        ax.set_title(f"{name}: {title}" if limits is None else title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
        if limits is None:
            limits = ax.get_xlim(), ax.get_ylim()
        ax.set_xlim(limits[0])
        ax.set_ylim(limits[1])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}", flush=True)


def digits_rows(epochs: int = 600) -> list[dict]:
    """benchmarks/digits.py's two rows: the DDPM over all 1000 steps, the OT flow at 8."""
    cfg = digits_recipe(epochs)
    rows = [digits_measure(cfg, "ddpm, all 1000 steps", 2000, epochs)[0]]
    flow = overrides.configure(cfg, objective="flow", pairing="ot")
    rows.append(digits_measure(flow, "flow ot, midpoint 8 evals", 2000, epochs,
                               method="midpoint", nfe=8)[0])  # fmt: skip
    for row in rows:
        print(f"  digits {row['model']:28s} P {row['precision']:.3f} R {row['recall']:.3f}"
              f" MMD {row['mmd2']:.1e}", flush=True)  # fmt: skip
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated data sets")
    p.add_argument("--eval-n", type=int, default=10_000)
    p.add_argument("--no-digits", action="store_true")
    p.add_argument("--figure-dir", default=None)
    p.add_argument("--figure-sets", default="checkerboard,eight_gaussians")
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    names = args.only.split(",") if args.only else [*SETS, *SHAPES]
    figure_sets = args.figure_sets.split(",")
    section = "families" + ("_" + "_".join(names) if args.only else "")
    payload = {"eval_n": args.eval_n, "complete": False, "rows": [], "digits": []}
    payload["seed_first_seconds"] = seed_sampler_seconds(10_000)
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            figure = None
            if args.figure_dir and name in figure_sets:
                figure = pathlib.Path(args.figure_dir) / f"families_{name}.png"
            payload["rows"] += rows_of(name, args.eval_n, folder, figure)
            save(section, payload, args.results_dir)
            jax.clear_caches()
    if not args.no_digits:
        payload["digits"] = digits_rows()
    seed = seed_sampler_seconds(10_000, payload["seed_first_seconds"])
    for row in payload["rows"]:
        row["x_seed"] = None if seed is None or not row["seconds"] else seed / row["seconds"]
    payload |= {"seed_seconds": seed, "complete": True}
    columns = [
        *MODEL_COLUMNS,
        ("floor_sliced_w2", "floor", "{:.4f}"),
        ("seconds", "s / 10k", "{:.3f}"),
        ("x_seed", "x seed", "{:.1f}"),
        ("within", "within", ""),
    ]
    print(f"\n{cpu_model()}, eval n = {args.eval_n}; seed's PyTorch sampler {seed} s / 10k")
    print(table(payload["rows"], columns))
    print(f"wrote {save(section, payload, args.results_dir)}")


# --- the page blocks of docs/results-flows.md (benchmarks/summarize.py) -------------------

# The table's models in its order, with the names the page gives them.
FAMILY_MODELS = (
    ("ddpm default", "DDPM solvers"),
    ("ddpm light student", "DDPM light student"),
    ("flow independent", "flow, independent"),
    ("flow ot", "flow, OT"),
    ("reflow of flow ot", "reflow of flow OT"),
    ("meanflow ot", "MeanFlow"),
    ("flow_matching peer", "flow_matching peer"),
)
TRAINING_FREE = ("flow independent", "flow ot")


def _fixed(rows: list[dict]) -> list[dict]:
    """The rows of fixed-step samplers (not the reference, not the adaptive solver)."""
    return [r for r in rows if r["sampler"] not in ("adaptive", "ancestral 100")]


def blocks(doc: dict, section: str) -> dict:
    """Every model's best sampler at 1 to 16 evaluations on every set, and the findings."""
    sec = doc[section]
    seed = sec.get("seed_seconds")
    text = (
        f"{measured(doc, sec)}, JAX {doc['jax_version']}, one run of "
        "`python benchmarks/families.py --figure-dir docs`"
        + ("" if sec.get("complete") else " (interrupted: the sets it finished)")
        + "; 10,000 samples scored against fresh points (a shape's held-out fifth). A cell is "
        "the best sampler at that many evaluations (within the bounds first, then the lowest "
        "MMD²): precision / recall / MMD², ✓ within 0.01 precision and recall and 5e-4 MMD² "
        "of the DDPM's 100 ancestral steps, and the sampler. The last column holds the "
        "reference and the adaptive solver with its count. Train seconds without compilation "
        "(the light student's and the reflow's include the model they start from)."
        + (f" The seed's PyTorch sampler took {seed:.3f} s for 10,000 samples in this run."
           if seed else "")
    )  # fmt: skip
    rows = []
    for name, _ref, models in by_set(sec["rows"]):
        for i, (key, label) in enumerate(FAMILY_MODELS):
            group = models.get(key, [])
            last = [r for r in group if r["sampler"] in ("adaptive", "ancestral 100")]
            extra = "" if not last else f"{marked(last[0], False)} ({last[0]['evals']} evals)"
            at = [best(_fixed(group), k) for k in (1, 2, 4, 8, 16)]
            secs = f"{group[0]['train_seconds']:.1f}" if group else ""
            shown = ("" if r is None else marked(r) for r in at)
            rows.append([name if i == 0 else "", label, *shown, extra, secs])
    heads = ["data", "model", "1", "2", "4", "8", "16", "ancestral 100 / adaptive", "train s"]
    return {"families-table": cells(heads, rows, text=text),
            "families-findings": {"notes": findings(sec)}}  # fmt: skip


def _loose(r: dict, ref: dict) -> bool:
    """Within 0.02 precision and recall and 1e-3 MMD² of ``ref`` (issue 30's 1-evaluation bound)."""
    return (abs(r["precision"] - ref["precision"]) <= 0.02
            and abs(r["recall"] - ref["recall"]) <= 0.02
            and r["mmd2"] - ref["mmd2"] <= 1e-3)  # fmt: skip


def _misses(r: dict, ref: dict) -> float:
    """How far ``r`` is outside the bounds, each metric in units of its bound."""
    s = short(r, ref)
    return s["precision"] / 0.01 + s["recall"] / 0.01 + s["mmd2"] / 5e-4


def _gap(r: dict, ref: dict) -> str:
    """By how much ``r`` misses the bounds: each metric outside, and by how much."""
    parts = [f"{k} {v:.3f}" if k != "mmd2" else f"MMD² {v:.1e}"
             for k, v in short(r, ref).items() if v > 0]  # fmt: skip
    return ", ".join(parts)


def findings(sec: dict) -> list[str]:
    sets = list(by_set(sec["rows"]))
    registered = [s for s in sets if s[0] in REGISTERED]
    held = [s for s in sets if s[0] not in REGISTERED]
    out = []
    for group, label in ((registered, "registered"), (held, "held-out")):
        if not group:
            continue
        free = {
            name: fewest_row([r for k in TRAINING_FREE for r in m[k] if r["evals"] <= 4])
            for name, _, m in group
        }
        ok = [name for name, r in free.items() if r is not None]
        misses = []
        for name, ref, m in group:
            if free[name] is None:
                near = min((r for k in TRAINING_FREE for r in _fixed(m[k]) if r["evals"] <= 4),
                           key=lambda r: _misses(r, ref))  # fmt: skip
                misses.append(f"{name} ({near['sampler']}: {_gap(near, ref)})")
        out.append(
            f"**Training-free, ≤ 4 evaluations, {label} sets**: within on {len(ok)} of "
            f"{len(group)} ({listed(ok)})"
            + (f"; outside: {'; '.join(misses)}" if misses else "")
            + "."
        )
    fewest_any = []
    for name, _, m in sets:
        ok = [r for k in FEW_MODELS for r in _fixed(m.get(k, [])) if r["within"]]
        ok += [r for r in _fixed(m["ddpm default"]) if r["within"]]
        low = min((r["evals"] for r in ok), default=None)
        models = sorted({r["model"] for r in ok if r["evals"] == low})
        fewest_any.append(f"{name} {low} ({', '.join(models)})" if low else f"{name} none")
    out.append(
        "**Fewest evaluations within the bounds, any model** (trained ones included): "
        + "; ".join(fewest_any)
        + "."
    )
    for limit in (2, 1):
        got = {}
        for name, ref, m in registered:
            rows = [r for k in FEW_STEPS for r in _fixed(m.get(k, [])) if r["evals"] <= limit]
            hit = (
                [r for r in rows if r["within"]]
                if limit == 2
                else [r for r in rows if _loose(r, ref)]
            )
            if hit:
                r = min(hit, key=lambda r: r["mmd2"])
                got[name] = f"{name} ({r['model']}, {r['sampler']})"
        bound = "the bounds" if limit == 2 else "0.02 and 1e-3"
        out.append(
            f"**{'≤ 2 evaluations' if limit == 2 else '1 evaluation'} within {bound}** (any flow "
            f"model): {len(got)} of {len(registered)} registered sets ({listed(got.values())})."
        )
    fast = [r for r in sec["rows"] if r.get("within") and r.get("x_seed")]
    for limit in (4, 2):
        at = [r for r in fast if r["evals"] <= limit]
        xs = [r["x_seed"] for r in at]
        out.append(
            f"**Speed at ≤ {limit} evaluations, within the bounds**: "
            + (
                f"{span(xs, '.0f', ' to ')}× the seed's PyTorch sampler ({len(xs)} rows: "
                f"{'; '.join(sorted({r['data'] + ' (' + r['model'] + ')' for r in at}))})"
                if xs
                else "no row within"
            )
            + "."
        )
    for k in (4, 8):
        as_good, precise, closer = [], [], []
        for name, _, m in sets:
            ours, theirs = best(m["flow ot"], k), best(m["flow_matching peer"], k)
            if (ours["precision"] >= theirs["precision"] and ours["recall"] >= theirs["recall"]
                    and ours["mmd2"] <= theirs["mmd2"]):  # fmt: skip
                as_good.append(name)
            if ours["precision"] > theirs["precision"]:
                precise.append(name)
            if ours["mmd2"] < theirs["mmd2"]:
                closer.append(name)
        out.append(
            f"**Against the flow_matching peer at {k} evaluations**: our OT flow at least as "
            f"good on every metric on {len(as_good)} of {len(sets)} sets ({listed(as_good)}); "
            f"higher precision on {len(precise)}, lower MMD² on {len(closer)}."
        )
    ratio = [m["flow ot"][0]["train_seconds"] / m["flow_matching peer"][0]["train_seconds"]
             for _, _, m in sets]  # fmt: skip
    ot = [m["flow ot"][0]["train_seconds"] / m["flow independent"][0]["train_seconds"]
          for _, _, m in sets]  # fmt: skip
    out.append(
        f"**Training seconds**: our OT flow {span(ratio, '.2f', ' to ')} of the peer's; OT "
        f"pairs {span(ot, '.1f', ' to ')}× independent pairs."
    )
    ddpm = [name for name, _, m in sets if any(r["within"] for r in _fixed(m["ddpm default"]))]
    light = [name for name, _, m in sets
             if any(r["within"] for r in m.get("ddpm light student", []))]  # fmt: skip
    out.append(
        f"**The DDPM at ≤ 8 evaluations**: a training-free solver within on {len(ddpm)} of "
        f"{len(sets)} ({listed(ddpm)}); its light student at 4 on {len(light)} "
        f"({listed(light)})."
    )
    for r in sec.get("digits", []):
        out.append(
            f"**Digits, {r['model']}**: precision {r['precision']:.3f}, recall "
            f"{r['recall']:.3f} (floor {r['floor_precision']:.3f} / {r['floor_recall']:.3f}); "
            "the target is recall ≥ 0.85 at precision ≥ 0.90."
        )
    return out


if __name__ == "__main__":
    jnp.zeros(())  # JAX's backend up before any clock starts
    main()
