"""Recipes against the data: every candidate recipe and the peer baseline, on every
registered 2-D data set and on held-out shapes, by every metric beside its floor.

For each data set, each recipe is trained in-process with the code path of ``jaxdiff
train`` (``runs.setup`` then ``runs.train.fit``), 10,000 samples are drawn with the
recipe's own sampler, and ``runs.evaluate.quality`` scores them (MMD², precision, recall,
sliced W2) against data training never saw, beside the data's own floor. The peer
(``benchmarks/peer.py``: the tiny-diffusion recipe in PyTorch) trains in its own process
on exactly the same training rows and is scored the same way, in the same run.

The held-out shapes (``--shapes``: a pinwheel and two spirals) were not used to choose
the recipe: they enter as ``.npy`` files, as a user's own data would (a fifth held out
for evaluation), to confirm the choice.

Usage: python benchmarks/recipes.py [--only NAME,...] [--recipes NAME,...] [--no-peer]
       [--eval-n 10000] [--figures DIR] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from _common import (
    QUALITY_COLUMNS,
    SHAPES,
    cells,
    cpu_model,
    cpu_name,
    listed,
    results,
    save,
    shape_file,
    span,
    table,
)
from _flows import FEW_MODELS, REGISTERED, best, cell, fewest_row

from jaxdiff.core import apply
from jaxdiff.runs import config, draw, evaluate, overrides, presets, setup, train

SETS = ("s_curve", "moons", "swiss_roll", "circles", "eight_gaussians", "checkerboard")


def candidates() -> dict[str, config.Config]:
    """The recipes compared: the presets, and ``default`` (``jaxdiff train``'s)."""
    return {name: presets.preset(name) for name in ("fast", "default")}


def _score(s, samples, n):
    q = evaluate.quality(s, None, samples, n=n, likelihood_n=0)
    return {**q["samples"], **{f"floor_{k}": v for k, v in q["floor"].items()}, "n": q["n"]}


def run_recipe(name, cfg, eval_n):
    s = setup.setup(cfg)
    state, info = train.fit(s, epochs_per_call=cfg.train.epochs)
    params = setup.model_params(s, state)
    x = draw.draw(s, params, s.keys.sample, 10_000)
    sampler = s.sampler
    label = sampler.method + (
        f" {sampler.steps}" if sampler.steps else f" {cfg.schedule.num_steps}"
    )
    return (
        s,
        x,
        {
            "recipe": name,
            "train_seconds": info["train_seconds"],
            "params": apply.param_count(params),
            "sampler": label,
            **_score(s, x, eval_n),
        },
    )


def run_peer(s, eval_n, work: pathlib.Path):
    rows, out = work / "rows.npy", work / "peer.npy"
    np.save(rows, s.data)
    here = pathlib.Path(__file__).parent
    proc = subprocess.run(
        [sys.executable, str(here / "peer.py"), "--rows", str(rows), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    info = json.loads(out.with_suffix(".json").read_text())
    x = np.load(out)
    return x, {
        "recipe": "peer (tiny-diffusion)",
        "train_seconds": info["train_seconds"],
        "params": info["params"],
        "sampler": "ddpm 50",
        **_score(s, x, eval_n),
    }


def _config_for(cfg: config.Config, data_name: str, path: str | None) -> config.Config:
    if path is not None:
        return overrides.configure(cfg, data=path)
    return overrides.configure(cfg, data=data_name)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated data sets / shapes")
    p.add_argument("--recipes", default=None, help="comma-separated recipe names")
    p.add_argument("--no-peer", action="store_true")
    p.add_argument("--eval-n", type=int, default=10_000)
    p.add_argument("--figures", default=None, help="write data-vs-samples figures here")
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    names = args.only.split(",") if args.only else [*SETS, *SHAPES]
    recipes = candidates()
    if args.recipes:
        recipes = {k: v for k, v in recipes.items() if k in args.recipes.split(",")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for data_name in names:
            path = None
            if data_name in SHAPES:
                path = shape_file(data_name, work)
            drawn = {}
            s = None
            for rname, base in recipes.items():
                s, x, row = run_recipe(rname, _config_for(base, data_name, path), args.eval_n)
                rows.append({"data": data_name, **row})
                drawn[rname] = x
                print(f"{data_name} {rname}: {row['train_seconds']:.1f} s", flush=True)
            if not args.no_peer:
                x, row = run_peer(s, args.eval_n, work)
                rows.append({"data": data_name, **row})
                drawn["peer"] = x
                print(f"{data_name} peer: {row['train_seconds']:.1f} s", flush=True)
            if args.figures:
                from jaxdiff.core import plotting

                folder = pathlib.Path(args.figures)
                folder.mkdir(parents=True, exist_ok=True)
                plotting.samples_grid(
                    s.data[:5000],
                    {k: v[:5000] for k, v in drawn.items()},
                    folder / f"{data_name}.png",
                    title=data_name,
                )
    columns = [
        ("data", "data", ""),
        ("recipe", "recipe", ""),
        ("train_seconds", "train s", "{:.1f}"),
        ("sampler", "sampler", ""),
        *QUALITY_COLUMNS,
        ("sliced_w2", "sliced W2", "{:.4f}"),
        ("floor_sliced_w2", "floor", "{:.4f}"),
    ]
    print(f"\n{cpu_model()}, eval n = {args.eval_n}")
    print(table(rows, columns))
    path = save("recipes", {"eval_n": args.eval_n, "rows": rows}, args.results_dir)
    print(f"wrote {path}")


# --- the page blocks: the README's three numbers, docs/benchmarks.md's one table,
# docs/results-quality.md's recipes (benchmarks/summarize.py) -----------------------------

AMD = "cpu-amd-epyc-2c"


def blocks(doc: dict, section: str) -> dict:
    amd = results(AMD)
    return {
        "three-numbers": three_numbers(doc, amd),
        "headline": headline(doc, amd),
        "recipes-table": recipes_table(doc, doc[section]),
        "recipes-findings": {"notes": recipes_findings(doc, doc[section])},
    }


def three_numbers(intel: dict, amd: dict) -> dict:
    rows = intel["recipes"]["rows"]
    ours = next(r for r in rows if r["data"] == "s_curve" and r["recipe"] == "default")
    peer = next(r for r in rows if r["data"] == "s_curve" and r["recipe"].startswith("peer"))
    fam = amd["families"]
    registered = [r for r in fam["rows"] if r["data"] in REGISTERED]
    sets = list(dict.fromkeys(r["data"] for r in registered))
    ot = [r for r in registered if r["model"] == "flow ot"]
    at8 = {name: best([r for r in ot if r["data"] == name], 8) for name in sets}
    within = [name for name, r in at8.items() if r is not None and r["within"]]
    where = (
        f"all {len(sets)} registered 2-D sets"
        if len(within) == len(sets)
        else f"{len(within)} of the {len(sets)} registered 2-D sets ({listed(within)})"
    )
    few = [r for r in registered if r["model"] in FEW_MODELS and r["evals"] <= 4]
    four = [name for name in sets if any(r["within"] for r in few if r["data"] == name)]
    fast = [at8[name] for name in within]
    text = (
        "Each against its comparison in the same run ([every set, every sampler, where we "
        "lose](docs/benchmarks.md)):"
    )
    notes = [
        f"**Quality** (`benchmarks/recipes.py`, {intel['recipes']['date'][:10]}, "
        f"{cpu_name(intel)}): on the S-curve the `default` recipe's samples are "
        f"{peer['mmd2'] / ours['mmd2']:.0f}× closer to the data by MMD² than the "
        f"tiny-diffusion recipe's ({ours['mmd2']:.1e} against {peer['mmd2']:.1e}; the data's "
        f"own floor {ours['floor_mmd2']:.1e}), trained in {ours['train_seconds']:.0f} s "
        f"against {peer['train_seconds']:.0f} s.",
        f"**Evaluations** (`benchmarks/families.py`, {fam['date'][:10]}, {cpu_name(amd)}): a "
        "flow model with optimal-transport pairs (`--objective flow --pairing ot`) matches "
        "the DDPM's 100-step quality (within 0.01 in precision and recall and 5e-4 in MMD²) "
        f"with 8 network evaluations per sample on {where}; with 4, a reflowed flow, a "
        f"MeanFlow model or a distilled student does on {len(four)} of {len(sets)} "
        "([flow models](docs/flows.md)).",
        f"**Speed** (the same run): those 8 evaluations draw 10,000 samples in "
        f"{span([r['seconds'] for r in fast], '.2f')} s, "
        f"{span([r['x_seed'] for r in fast], '.0f')}× faster than the seed's PyTorch "
        f"100-step sampler ({fam['seed_seconds']:.2f} s).",
    ]
    return {"text": text, "notes": notes}


def headline(intel: dict, amd: dict) -> dict:
    rec, few, flows = intel["recipes"], intel["few_steps"], intel["flows_logit_normal"]
    text = (
        f"One row per registered 2-D set, {cpu_name(intel)}: the `default` recipe against the "
        f"peer (`benchmarks/recipes.py`, {rec['date'][:10]}), then the fewest network "
        "evaluations per sample that stay within 0.01 in precision and recall and 5e-4 in "
        "MMD² of the same model family's 100 ancestral steps: DDPM solvers and a distilled "
        f"light student (`benchmarks/few_steps.py`, {few['date'][:10]}) and a flow model "
        f"with OT pairs (`benchmarks/flows.py`, {flows['date'][:10]}); × seed is the speed "
        "of 10,000 samples over the seed's PyTorch 100-step sampler in the same run. Cells "
        "of the quality columns: precision / recall / MMD². The floor is a second fresh draw "
        "of the data scored the same way: what a perfect sampler would score. The light "
        "student is a `default` run distilled by `jaxdiff distill --student light` "
        "([the light student](results-samplers.md#the-light-student))."
    )
    rows = []
    for s in few["summary"]:
        name = s["data"]
        mine = [r for r in rec["rows"] if r["data"] == name]
        ours = next(r for r in mine if r["recipe"] == "default")
        peer = next(r for r in mine if r["recipe"].startswith("peer"))
        floor = cell({k: ours[f"floor_{k}"] for k in ("precision", "recall", "mmd2")})
        student = s["student"].rsplit("@", 1)[-1].strip()
        student = "none" if s["student"] == "none" else f"{student} ({s['student_x_seed']:.0f}×)"
        solver = s["solver"] if s["solver"] == "none" else s["solver"].rsplit("@", 1)[1].strip()
        flow = fewest_row(
            [r for r in flows["rows"] if r["data"] == name and r["model"] == "flow ot"]
        )
        flow = "none" if flow is None else f"{flow['evals']} ({flow['x_seed']:.0f}×)"
        rows.append([name, cell(ours), cell(peer), floor, solver, student, flow])
    t = next(r for r in amd["training"]["speed"] if r["batch"] == 128)
    d = next(r for r in amd["sampling"]["speed"] if (r["n"], r["T"]) == (10_000, 100))
    note = (
        f"The seed's own model, {cpu_name(amd)}: a training step at batch 128 "
        f"{t['scan_steps_per_s']:,.0f} steps/s against the seed's PyTorch "
        f"{t['torch_seed_steps_per_s']:,.0f} ({t['speedup_vs_seed']:.1f}×); 10,000 samples "
        f"× 100 DDPM steps {d['scan_s']:.2f} s against {d['torch_seed_s']:.2f} s "
        f"({d['speedup_vs_seed']:.1f}×), both in the same runs."
    )
    heads = ["data", "`default`", "peer (tiny-diffusion)", "floor", "DDPM solver",
             "DDPM light student", "flow OT"]  # fmt: skip
    return cells(heads, rows, text=text, notes=[note])


def recipes_table(doc: dict, sec: dict) -> dict:
    params = {r["recipe"]: r["params"] for r in sec["rows"]}
    text = (
        f"`python benchmarks/recipes.py`, {sec['date'][:10]}, {cpu_name(doc)}, JAX "
        f"{doc['jax_version']}; {sec['eval_n']:,} samples each against fresh points "
        "(held-out rows for the two shapes given as files), the floor in brackets. The "
        f"`default` network has {params['default']:,} parameters on 2-D data, the "
        f"peer's {params['peer (tiny-diffusion)']:,}:"
    )
    rows = []
    for r in sec["rows"]:
        if r["recipe"] != "fast":
            held = " (held out)" if r["data"] in SHAPES else ""
            rows.append([
                f"{r['data']}{held}", "jaxdiff default" if r["recipe"] == "default" else "peer",
                f"{r['train_seconds']:.1f}", f"{r['mmd2']:.1e} ({r['floor_mmd2']:.1e})",
                f"{r['precision']:.3f} ({r['floor_precision']:.3f})",
                f"{r['recall']:.3f} ({r['floor_recall']:.3f})",
                f"{r['sliced_w2']:.4f} ({r['floor_sliced_w2']:.4f})",
            ])  # fmt: skip
    heads = ["data", "recipe", "train s", "MMD² (floor)", "precision (floor)", "recall (floor)",
             "sliced W2 (floor)"]  # fmt: skip
    return cells(heads, rows, text=text)


def recipes_findings(doc: dict, sec: dict) -> list[str]:
    """What the recipes table says, in sentences whose every figure is computed here."""
    pairs = []
    for name in dict.fromkeys(r["data"] for r in sec["rows"]):
        mine = [r for r in sec["rows"] if r["data"] == name]
        ours = next(r for r in mine if r["recipe"] == "default")
        pairs.append((name, ours, next(r for r in mine if r["recipe"].startswith("peer"))))
    n = len(pairs)
    mmd_wins = [name for name, o, p in pairs if o["mmd2"] < p["mmd2"]]
    sw_losses = [(name, o, p) for name, o, p in pairs if o["sliced_w2"] >= p["sliced_w2"]]
    time = [o["train_seconds"] / p["train_seconds"] for _, o, p in pairs]
    p_losses = [x for x in pairs if round(x[2]["precision"], 3) > round(x[1]["precision"], 3)]
    r_losses = [x for x in pairs if round(x[2]["recall"], 3) > round(x[1]["recall"], 3)]

    def against(items, key, fmt):
        return listed(f"{name} ({format(p[key], fmt)} against {format(o[key], fmt)})"
                      for name, o, p in items)  # fmt: skip

    near, far = [], []
    for name, o, _ in pairs:
        misses = [
            f"{label} {format(o[key], fmt)} against the floor's {format(o['floor_' + key], fmt)}"
            for key, label, fmt, ok in (
                ("precision", "precision", ".3f", o["floor_precision"] - o["precision"] <= 0.015),
                ("recall", "recall", ".3f", o["floor_recall"] - o["recall"] <= 0.015),
                ("mmd2", "MMD²", ".1e", o["mmd2"] - o["floor_mmd2"] <= 1e-3),
            )
            if not ok
        ]
        (far.append(f"{name} ({'; '.join(misses)})") if misses else near.append(name))
    worst = min((r for r in sec["rows"] if r["recipe"] == "fast"), key=lambda r: r["precision"])
    digits = doc["digits_flow"]
    ddpm = next(r for r in digits["rows"] if r["model"].startswith("ddpm"))
    reached = "reached" if ddpm["recall"] >= 0.85 else "not reached"
    return [
        f"`default` has the lower MMD² on {len(mmd_wins)} of the {n} sets and the lower "
        f"sliced W2 on {n - len(sw_losses)} (the peer's is lower on "
        f"{against(sw_losses, 'sliced_w2', '.3f')}), in {span(time, '.2f')} of the peer's "
        "training time (both timed in the same run).",
        f"Precision: the peer is ahead on {against(p_losses, 'precision', '.3f')}. Recall: "
        f"the peer is ahead on {against(r_losses, 'recall', '.3f')}.",
        f"Against the floor, `default` is within 0.015 of it in precision and recall and "
        f"within 1e-3 in MMD² on {listed(near)}; it misses on {listed(far)}.",
        f"The `fast` preset, chosen earlier on the S-curve by sliced W2 alone, is worse on "
        f"the other sets (its lowest precision: {worst['data']}, {worst['precision']:.3f}) "
        "and stays only as a preset.",
        "Digits (64-D, conditional; `benchmarks/digits.py --flow`, "
        f"{digits['date'][:10]}): its digits recipe (`_common.digits_recipe`: the default "
        f"preset, width 512, no input features; {ddpm['epochs']} epochs, "
        f"{ddpm['train_seconds']:.0f} s, sampled by "
        f"{ddpm['model'].split(', ', 1)[1]}) reaches precision {ddpm['precision']:.3f} and "
        f"recall {ddpm['recall']:.3f} (floor {ddpm['floor_precision']:.3f} / "
        f"{ddpm['floor_recall']:.3f}): the 0.85 recall asked for is {reached}.",
    ]


def datasets_blocks(doc: dict, section: str) -> dict:
    """docs/data.md's table of every data set (an earlier run of this script and digits.py,
    when they were one, ``benchmarks/datasets.py``)."""
    sec = doc[section]
    text = (
        f"Measured by `benchmarks/datasets.py` (since split into `benchmarks/recipes.py` and "
        f"`benchmarks/digits.py`), {sec['date'][:10]}, {cpu_name(doc)}, JAX "
        f"{doc['jax_version']} (section `datasets` of `benchmarks/results/cpu-amd-epyc-2c.json`)."
        " Each 2-D set: `--preset fast` as it is (150 epochs, 10,000 points), 5,000 samples "
        "against a fresh draw, beside the floor (a second fresh draw against the same "
        "reference). Digits: the `fast` preset with `--conditional --no-standardize --width "
        "512 --epochs 2000` (the command above; `benchmarks/digits.py`'s recipe starts from "
        "`default` instead), "
        "samples in the data's class proportions against the 359 held-out images, the floor "
        "being 359 training images. Sliced W2 and MMD² lower is better, precision and recall "
        "(k = 3) higher; NLL by the probability-flow ODE on 1,000 held-out points (359 for "
        "digits), nats per dimension."
    )
    rows = [[
        f"{r['data']} (conditional)" if r["conditional"] else r["data"], str(r["dim"]),
        f"{r['train_seconds']:.1f}", f"{r['sliced_w2']:.4f} ({r['floor_sliced_w2']:.4f})",
        f"{r['mmd2']:.1e} ({r['floor_mmd2']:.1e})",
        f"{r['precision']:.3f} ({r['floor_precision']:.3f})",
        f"{r['recall']:.3f} ({r['floor_recall']:.3f})", f"{r['nll_ode']:.3f}",
    ] for r in sec["rows"]]  # fmt: skip
    heads = ["data", "D", "train s", "sliced W2 (floor)", "MMD² (floor)", "precision (floor)",
             "recall (floor)", "ODE NLL"]  # fmt: skip
    return {"datasets-table": cells(heads, rows, text=text)}


if __name__ == "__main__":
    main()
