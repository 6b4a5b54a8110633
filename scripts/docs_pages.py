"""The README's three numbers and the tables of docs/benchmarks.md and docs/quality.md,
generated from the benchmark results files.

``python scripts/docs_pages.py`` rewrites every block between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->`` markers that this script owns; ``--check`` exits 1 when a page and
its results file disagree (run by tests/test_docs_tables.py), so none of these figures is
copied by hand. The other generated pages: scripts/samplers_page.py (docs/samplers.md),
scripts/flows_table.py (docs/flows.md) and scripts/mutation.py (docs/tests.md).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _pages import between, listed, span, sync

# One rule for the flow tables' cells and sets.
from flows_table import FEW_MODELS, REGISTERED, _best, _cell, fewest_row

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
INTEL = RESULTS / "cpu-intel-r-xeon-r-processor-2c.json"
AMD = RESULTS / "cpu-amd-epyc-2c.json"
GPU = RESULTS / "gpu-nvidia-h200x1.json"
GPU_DIR = RESULTS / "gpu-nvidia-h200x1"
# SEED.md: the seed's recorded 4000-epoch training took 673 s on the machine of its notes.
SEED_RECORDED_DEMO_S = 673.0
# The benchmarks' sampler names, as the tables print them.
SAMPLER_NAMES = {
    "ddpm (beta_tilde)": "DDPM, σ² = β̃",
    "ddpm (beta)": "DDPM, σ² = β",
    "ddim": "DDIM",
    "dpm-solver": "DPM-Solver++ 2M",
}


def _load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text())


def _s(x: float) -> str:
    """Seconds as the tables print them: 3 decimals below 10 s, then 2."""
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def _cpu(doc: dict) -> str:
    names = {"Xeon": "Intel Xeon", "EPYC": "AMD EPYC"}
    name = next((v for k, v in names.items() if k in doc["cpu"]), doc["cpu"])
    return f"{doc['cpu_count']}-core {name}"


# --- README: three numbers -------------------------------------------------------------


def three_numbers(intel: dict, amd: dict) -> str:
    rows = intel["recipes"]["rows"]
    ours = next(r for r in rows if r["data"] == "s_curve" and r["recipe"] == "default")
    peer = next(r for r in rows if r["data"] == "s_curve" and r["recipe"].startswith("peer"))
    fam = amd["families"]
    registered = [r for r in fam["rows"] if r["data"] in REGISTERED]
    sets = list(dict.fromkeys(r["data"] for r in registered))
    ot = [r for r in registered if r["model"] == "flow ot"]
    at8 = {name: _best([r for r in ot if r["data"] == name], 8) for name in sets}
    within = [name for name, r in at8.items() if r is not None and r["within"]]
    where = (
        f"all {len(sets)} registered 2-D sets"
        if len(within) == len(sets)
        else f"{len(within)} of the {len(sets)} registered 2-D sets ({listed(within)})"
    )
    few = [r for r in registered if r["model"] in FEW_MODELS and r["evals"] <= 4]
    four = [name for name in sets if any(r["within"] for r in few if r["data"] == name)]
    fast = [at8[name] for name in within]
    return "\n".join(
        [
            "Each against its comparison in the same run ([every set, every sampler, where we "
            "lose](docs/benchmarks.md)):",
            "",
            f"- **Quality** (`benchmarks/recipes.py`, {intel['recipes']['date'][:10]}, "
            f"{_cpu(intel)}): on the S-curve the `default` recipe's samples are "
            f"{peer['mmd2'] / ours['mmd2']:.0f}× closer to the data by MMD² than the "
            f"tiny-diffusion recipe's ({ours['mmd2']:.1e} against {peer['mmd2']:.1e}; the data's "
            f"own floor {ours['floor_mmd2']:.1e}), trained in {ours['train_seconds']:.0f} s "
            f"against {peer['train_seconds']:.0f} s.",
            f"- **Evaluations** (`benchmarks/families.py`, {fam['date'][:10]}, {_cpu(amd)}): a "
            "flow model with optimal-transport pairs (`--objective flow --pairing ot`) matches "
            "the DDPM's 100-step quality (within 0.01 in precision and recall and 5e-4 in MMD²) "
            f"with 8 network evaluations per sample on {where}; with 4, a reflowed flow, a "
            f"MeanFlow model or a distilled student does on {len(four)} of {len(sets)} "
            "([flow models](docs/flows.md)).",
            f"- **Speed** (the same run): those 8 evaluations draw 10,000 samples in "
            f"{span([r['seconds'] for r in fast], '.2f')} s, "
            f"{span([r['x_seed'] for r in fast], '.0f')}× faster than the seed's PyTorch "
            f"100-step sampler ({fam['seed_seconds']:.2f} s).",
        ]
    )


# --- docs/benchmarks.md: every 2-D set in one table ------------------------------------


def headline(intel: dict, amd: dict) -> str:
    rec, few, flows = intel["recipes"], intel["few_steps"], intel["flows_logit_normal"]
    summary = {r["data"]: r for r in few["summary"]}
    out = [
        f"One row per registered 2-D set, {_cpu(intel)}: the `default` recipe against the "
        f"peer (`benchmarks/recipes.py`, {rec['date'][:10]}), then the fewest network "
        "evaluations per sample that stay within 0.01 in precision and recall and 5e-4 in "
        "MMD² of the same model family's 100 ancestral steps: DDPM solvers and a distilled "
        f"light student (`benchmarks/few_steps.py`, {few['date'][:10]}) and a flow model "
        f"with OT pairs (`benchmarks/flows.py`, {flows['date'][:10]}); × seed is the speed "
        "of 10,000 samples over the seed's PyTorch 100-step sampler in the same run. Cells "
        "of the quality columns: precision / recall / MMD². The floor is a second fresh draw "
        "of the data scored the same way: what a perfect sampler would score. The light "
        "student is a `default` run distilled by `jaxdiff distill --student light` "
        "([the light student](results-samplers.md#the-light-student)).",
        "",
        "| data | `default` | peer (tiny-diffusion) | floor | DDPM solver | DDPM light student "
        "| flow OT |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in summary.items():
        mine = [r for r in rec["rows"] if r["data"] == name]
        ours = next(r for r in mine if r["recipe"] == "default")
        peer = next(r for r in mine if r["recipe"].startswith("peer"))
        floor = _cell({k: ours[f"floor_{k}"] for k in ("precision", "recall", "mmd2")})
        student = (
            "none"
            if s["student"] == "none"
            else f"{s['student'].rsplit('@', 1)[1].strip()} ({s['student_x_seed']:.0f}×)"
        )
        solver = s["solver"] if s["solver"] == "none" else s["solver"].rsplit("@", 1)[1].strip()
        ot = [r for r in flows["rows"] if r["data"] == name and r["model"] == "flow ot"]
        flow = fewest_row(ot)
        flow = "none" if flow is None else f"{flow['evals']} ({flow['x_seed']:.0f}×)"
        out.append(
            f"| {name} | {_cell(ours)} | {_cell(peer)} | {floor} | {solver} | {student} | {flow} |"
        )
    t = next(r for r in amd["training"]["speed"] if r["batch"] == 128)
    d = next(r for r in amd["sampling"]["speed"] if (r["n"], r["T"]) == (10_000, 100))
    out += [
        "",
        f"The seed's own model, {_cpu(amd)}: a training step at batch 128 "
        f"{t['scan_steps_per_s']:,.0f} steps/s against the seed's PyTorch "
        f"{t['torch_seed_steps_per_s']:,.0f} ({t['speedup_vs_seed']:.1f}×); 10,000 samples "
        f"× 100 DDPM steps {d['scan_s']:.2f} s against {d['torch_seed_s']:.2f} s "
        f"({d['speedup_vs_seed']:.1f}×), both in the same runs.",
    ]
    return "\n".join(out)


# --- docs/benchmarks.md: speed on the CPU ------------------------------------------------


def cpu_sampling(amd: dict) -> str:
    sec = amd["sampling"]
    out = [
        f"`python benchmarks/sampling.py`, {sec['date'][:10]}, {_cpu(amd)}, JAX "
        f"{amd['jax_version']} (PyTorch in its own process; minimum of repeats). Sampling with "
        "DDPM, the seed's model (seconds):",
        "",
        "| N | T | jaxdiff (one `lax.scan`) | jitted step in a Python loop | seed's PyTorch "
        "| × seed | GFLOP/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sec["speed"]:
        torch = _s(r["torch_seed_s"]) if "torch_seed_s" in r else ""
        ratio = f"{r['speedup_vs_seed']:.1f}" if "speedup_vs_seed" in r else ""
        out.append(
            f"| {r['n']:,} | {r['T']} | {_s(r['scan_s'])} | {_s(r['loop_s'])} | {torch} | "
            f"{ratio} | {r['gflops']:.0f} |"
        )
    q = sec["quality"]
    out += [
        "",
        f"Samplers of one `fast`-preset model, {q['n']:,} samples, same run (sliced W2 against "
        f"fresh data; the floor of this draw is {q['floor_sliced_w2']:.4f}; × seed against "
        "the seed's 100-step PyTorch sampler above):",
        "",
        "| sampler | steps | seconds | sliced W2 | × seed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in q["rows"]:
        out.append(
            f"| {SAMPLER_NAMES[r['sampler']]} | {r['steps']} | {_s(r['seconds'])} | "
            f"{r['sliced_w2']:.4f} | "
            f"{r['speedup_vs_seed_sampler']:.1f} |"
        )
    return "\n".join(out)


def cpu_training(amd: dict) -> str:
    sec = amd["training"]
    out = [
        f"`python benchmarks/training.py`, {sec['date'][:10]}, {_cpu(amd)}: training steps/s "
        "of the seed's model and loss (clipping and Adam):",
        "",
        "| batch | jaxdiff scanned epoch | jitted-step loop | seed's PyTorch | × seed |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in sec["speed"]:
        out.append(
            f"| {r['batch']} | {r['scan_steps_per_s']:,.0f} | {r['loop_steps_per_s']:,.0f} | "
            f"{r['torch_seed_steps_per_s']:,.0f} | {r['speedup_vs_seed']:.1f} |"
        )
    t = sec["time_to_quality"]
    hist = t["fast_history"]
    last, before = hist[-1], hist[-2] if len(hist) > 1 else None
    prior = (
        f"; epoch {before['epoch']} gave {before['sliced_w2']:.4f}" if before is not None else ""
    )
    out += [
        "",
        f"Time to the seed's final quality (sliced W2 ≤ {t['threshold_sliced_w2']:.4f}, "
        "10,000 samples against a fresh draw, scored every 10 epochs of one `fast` run): "
        f"**{t['fast_preset_train_seconds']:.1f} s** of training (epoch {last['epoch']}, "
        f"sliced W2 {last['sliced_w2']:.4f}{prior}); the seed preset's 316,000 steps take "
        f"{t['seed_preset_jaxdiff_seconds_at_measured_rate']:,.0f} s in jaxdiff and "
        f"{t['seed_preset_torch_seconds_at_measured_rate']:,.0f} s in the seed's PyTorch at "
        "these rates.",
    ]
    return "\n".join(out)


# --- docs/benchmarks.md: the speed goals, on each machine -------------------------------


def _solver_10(doc: dict) -> dict:
    """The row of DPM-Solver++ at 10 steps in a sampling run's quality table."""
    rows = doc["sampling"]["quality"]["rows"]
    return next(r for r in rows if (r["sampler"], r["steps"]) == ("dpm-solver", 10))


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def goals(amd: dict, gpu: dict) -> str:
    """The project's speed goals (SEED.md) against the measured runs, on each machine."""

    def runs(doc):
        speed = next(r for r in doc["sampling"]["speed"] if (r["n"], r["T"]) == (10_000, 100))
        train = next(r for r in doc["training"]["speed"] if r["batch"] == 128)
        rows = doc["sampling"]["quality"]["rows"]
        solver = _solver_10(doc)
        ancestral = min(r["sliced_w2"] for r in rows if r["sampler"].startswith("ddpm"))
        k8 = next((r for r in doc["ensembles"]["rows"] if r["members"] == 8), None)
        return speed, train, solver, ancestral, k8

    c_speed, c_train, c_solver, c_anc, c_k8 = runs(amd)
    g_speed, g_train, g_solver, g_anc, g_k8 = runs(gpu)
    seed_s, seed_steps = c_speed["torch_seed_s"], c_train["torch_seed_steps_per_s"]
    ttq = amd["training"]["time_to_quality"]["fast_preset_train_seconds"]
    x = {
        "c_sample": c_speed["speedup_vs_seed"],
        "g_sample": seed_s / g_speed["scan_s"],
        "c_train": c_train["speedup_vs_seed"],
        "g_train": g_train["scan_steps_per_s"] / seed_steps,
        "c_solver": seed_s / c_solver["seconds"],
        "g_solver": seed_s / g_solver["seconds"],
    }

    def solver_cell(xs, solver, ancestral):
        ok = xs >= 40 and solver["sliced_w2"] <= ancestral
        return (
            f"{xs:.0f}×, sliced W2 {solver['sliced_w2']:.4f} against the 100 ancestral "
            f"steps' {ancestral:.4f}: {_met(ok)}"
        )

    peak = amd["sampling"]["matmul"]["peak_gflops"]
    out = [
        "The project's speed goals (from the seed's notes), each ratio against the seed's "
        f"PyTorch on the {_cpu(amd)} in the same run as the CPU figures:",
        "",
        f"| goal | {_cpu(amd)} | one H200 |",
        "| --- | --- | --- |",
        f"| sampling 10,000 × 100 steps ≥ 5× the seed | {x['c_sample']:.1f}×: "
        f"{_met(x['c_sample'] >= 5)} | {x['g_sample']:.0f}×: {_met(x['g_sample'] >= 5)} |",
        f"| training at batch 128 ≥ 8× the seed | {x['c_train']:.1f}×: "
        f"{_met(x['c_train'] >= 8)} | {x['g_train']:.0f}×: {_met(x['g_train'] >= 8)} |",
        "| DPM-Solver++ in ≤ 10 steps ≥ 40× the seed's sampler at 100-step ancestral quality "
        f"| {solver_cell(x['c_solver'], c_solver, c_anc)} "
        f"| {solver_cell(x['g_solver'], g_solver, g_anc)} |",
        f"| the seed's final quality in ≤ 3 s of training | {ttq:.1f} s: {_met(ttq <= 3)} | |",
        f"| an ensemble of 8 ≥ 3× the model-steps/s of one | {c_k8['speedup_vs_one']:.1f}×: "
        f"{_met(c_k8['speedup_vs_one'] >= 3)} | {g_k8['speedup_vs_one']:.1f}×: "
        f"{_met(g_k8['speedup_vs_one'] >= 3)} |",
        "",
        "Why the CPU misses, measured rather than guessed: this CPU multiplied float32 "
        f"matrices at {peak:.0f} GFLOP/s at best (the goals assumed about 190), and jaxdiff's "
        f"10,000 × 100 chain ran at {c_speed['gflops']:.0f} GFLOP/s, "
        f"{c_speed['fraction_of_peak']:.0%} of it; at that peak the chain's arithmetic alone "
        f"takes {c_speed['flop_limit_s']:.2f} s, {seed_s / c_speed['flop_limit_s']:.1f}× the "
        "seed's time at most, so no implementation reaches 5× here "
        "(`benchmarks/speed_bound.py` does the same for few-step samplers; the training "
        "profile is in "
        "`benchmarks/README.md`). On the GPU small work is bound by dispatch, not "
        "arithmetic: a Python loop over a jitted step took "
        f"{g_speed['loop_s'] / g_speed['scan_s']:.0f}× the scanned chain's time at N = 10,000 "
        f"and {g_train['scan_vs_loop']:.0f}× for training, which is why every loop in "
        "jaxdiff is a `lax.scan` or `while_loop` inside one compiled program.",
    ]
    return "\n".join(out)


# --- docs/benchmarks.md: the GPU ---------------------------------------------------------


def _wall(path: pathlib.Path) -> float:
    """The seconds between ``start=`` and ``end=`` that benchmarks/gpu.sh writes."""
    m = re.search(r"start=([\d.]+) end=([\d.]+)", path.read_text())
    return float(m.group(2)) - float(m.group(1))


def gpu(doc: dict, amd: dict) -> str:
    speed = {(r["n"], r["T"]): r for r in doc["sampling"]["speed"]}
    cpu_speed = {(r["n"], r["T"]): r for r in amd["sampling"]["speed"]}
    seed_10k = cpu_speed[(10_000, 100)]["torch_seed_s"]
    train = {r["batch"]: r for r in doc["training"]["speed"]}
    cpu_train = {r["batch"]: r for r in amd["training"]["speed"]}
    solver, cpu_solver = (_solver_10(d) for d in (doc, amd))
    ens = {r["members"]: r for r in doc["ensembles"]["rows"]}
    report = _load(GPU_DIR / "report.json")
    r10k = speed[(10_000, 100)]
    b128 = train[128]
    big = max(train)
    demo_cpu = amd["training"]["time_to_quality"]["seed_preset_jaxdiff_seconds_at_measured_rate"]
    out = [
        f"`benchmarks/gpu.sh` on one lent NVIDIA H200, {doc['sampling']['date'][:10]} (JAX "
        f"{doc['jax_version']} with CUDA, same code, no flags; "
        f"`benchmarks/results/{GPU.name}` and the files beside it). PyTorch was not "
        "installed there, so × seed compares with the "
        f"seed's PyTorch on the {_cpu(amd)} above (same for × jaxdiff on the CPU). Measured "
        f"matmul peak: {doc['sampling']['matmul']['peak_gflops'] / 1000:.0f} TFLOP/s.",
        "",
        "| what | H200 | × jaxdiff on the CPU | × seed's PyTorch (CPU) |",
        "| --- | --- | --- | --- |",
        f"| DDPM sampling 10,000 × 100 steps (one `lax.scan`) | {1000 * r10k['scan_s']:.1f} ms | "
        f"{cpu_speed[(10_000, 100)]['scan_s'] / r10k['scan_s']:.0f} | "
        f"{seed_10k / r10k['scan_s']:.0f} |",
        f"| same, jitted step in a Python loop | {1000 * r10k['loop_s']:.1f} ms | | |",
    ]
    for n, T in ((10_000_000, 100), (1_000_000, 1000)):
        r = speed[(n, T)]
        out.append(
            f"| DDPM sampling {n:,} × {T:,} steps | {r['scan_s']:.2f} s "
            f"({r['gflops'] / 1000:.0f} TFLOP/s) | | |"
        )
    out += [
        f"| DPM-Solver++ 10 steps, 10,000 samples | {1000 * solver['seconds']:.1f} ms (sliced W2 "
        f"{solver['sliced_w2']:.4f}) | {cpu_solver['seconds'] / solver['seconds']:.0f} | "
        f"{seed_10k / solver['seconds']:.0f} |",
        f"| training, batch 128, scanned epoch | {b128['scan_steps_per_s']:,.0f} steps/s | "
        f"{b128['scan_steps_per_s'] / cpu_train[128]['scan_steps_per_s']:.1f} | "
        f"{b128['scan_steps_per_s'] / cpu_train[128]['torch_seed_steps_per_s']:.0f} |",
        f"| training, batch 128, jitted step per Python call | {b128['loop_steps_per_s']:,.0f} "
        "steps/s | | |",
        f"| training, batch {big:,} | {train[big]['scan_steps_per_s']:,.0f} steps/s "
        f"({train[big]['scan_steps_per_s'] * big / 1e6:.0f} M examples/s) | | |",
        "| ensembles, K = "
        + " / ".join(str(k) for k in ens if k > 1)
        + ", batch 128 | "
        + " / ".join(f"{r['speedup_vs_one']:.1f}×" for k, r in ens.items() if k > 1)
        + " the model-steps/s of K = 1 | | |",
        f"| `jaxdiff demo` (seed preset, {report['steps']:,} steps) | trained in "
        f"{report['train_seconds']:.1f} s, whole command {_wall(GPU_DIR / 'demo.txt'):.0f} s | "
        f"{demo_cpu / report['train_seconds']:.0f} (training) | "
        f"{SEED_RECORDED_DEMO_S / report['train_seconds']:.0f} (the seed's recorded "
        f"{SEED_RECORDED_DEMO_S:.0f} s) |",
        f"| `jaxdiff sample --n 10000000` (DDPM, 100 steps, to disk) | whole command "
        f"{_wall(GPU_DIR / 'sample.txt'):.1f} s | | |",
    ]
    return "\n".join(out)


# --- docs/quality.md: the recipes beside the peer ----------------------------------------


def _params(sec: dict, recipe: str) -> int:
    return next(r["params"] for r in sec["rows"] if r["recipe"] == recipe)


def recipes(intel: dict) -> str:
    sec = intel["recipes"]
    out = [
        f"`python benchmarks/recipes.py`, {sec['date'][:10]}, {_cpu(intel)}, JAX "
        f"{intel['jax_version']}; {sec['eval_n']:,} samples each against fresh points "
        "(held-out rows for the two shapes given as files), the floor in brackets. The "
        f"`default` network has {_params(sec, 'default'):,} parameters on 2-D data, the "
        f"peer's {_params(sec, 'peer (tiny-diffusion)'):,}:",
        "",
        "| data | recipe | train s | MMD² (floor) | precision (floor) | recall (floor) "
        "| sliced W2 (floor) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    held_out = {"pinwheel", "spirals"}
    for r in sec["rows"]:
        if r["recipe"] == "fast":
            continue
        name = f"{r['data']} (held out)" if r["data"] in held_out else r["data"]
        recipe = "jaxdiff default" if r["recipe"] == "default" else "peer"
        out.append(
            f"| {name} | {recipe} | {r['train_seconds']:.1f} | "
            f"{r['mmd2']:.1e} ({r['floor_mmd2']:.1e}) | "
            f"{r['precision']:.3f} ({r['floor_precision']:.3f}) | "
            f"{r['recall']:.3f} ({r['floor_recall']:.3f}) | "
            f"{r['sliced_w2']:.4f} ({r['floor_sliced_w2']:.4f}) |"
        )
    return "\n".join(out)


def _pairs(sec: dict):
    """``(data set, the default recipe's row, the peer's row)`` in the run's order."""
    for name in dict.fromkeys(r["data"] for r in sec["rows"]):
        mine = [r for r in sec["rows"] if r["data"] == name]
        ours = next(r for r in mine if r["recipe"] == "default")
        yield name, ours, next(r for r in mine if r["recipe"].startswith("peer"))


def recipes_findings(intel: dict) -> str:
    """What the recipes table says, in sentences whose every figure is computed here."""
    sec = intel["recipes"]
    pairs = list(_pairs(sec))
    n = len(pairs)
    mmd_wins = [name for name, o, p in pairs if o["mmd2"] < p["mmd2"]]
    sw_losses = [(name, o, p) for name, o, p in pairs if o["sliced_w2"] >= p["sliced_w2"]]
    time = [o["train_seconds"] / p["train_seconds"] for _, o, p in pairs]
    p_losses = [
        (name, o, p) for name, o, p in pairs if round(p["precision"], 3) > round(o["precision"], 3)
    ]
    r_losses = [
        (name, o, p) for name, o, p in pairs if round(p["recall"], 3) > round(o["recall"], 3)
    ]

    def against(items, key, fmt):
        return listed(
            [
                f"{name} ({format(p[key], fmt)} against {format(o[key], fmt)})"
                for name, o, p in items
            ]
        )

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
    fast = [r for r in sec["rows"] if r["recipe"] == "fast"]
    worst = min(fast, key=lambda r: r["precision"])
    digits = intel["digits_flow"]
    ddpm = next(r for r in digits["rows"] if r["model"].startswith("ddpm"))
    reached = "reached" if ddpm["recall"] >= 0.85 else "not reached"
    return "\n".join(
        [
            f"- `default` has the lower MMD² on {len(mmd_wins)} of the {n} sets and the lower "
            f"sliced W2 on {n - len(sw_losses)} (the peer's is lower on "
            f"{against(sw_losses, 'sliced_w2', '.3f')}), in {span(time, '.2f')} of the peer's "
            "training time (both timed in the same run).",
            f"- Precision: the peer is ahead on {against(p_losses, 'precision', '.3f')}. Recall: "
            f"the peer is ahead on {against(r_losses, 'recall', '.3f')}.",
            f"- Against the floor, `default` is within 0.015 of it in precision and recall and "
            f"within 1e-3 in MMD² on {listed(near)}; it misses on {listed(far)}.",
            f"- The `fast` preset, chosen earlier on the S-curve by sliced W2 alone, is worse on "
            f"the other sets (its lowest precision: {worst['data']}, {worst['precision']:.3f}) "
            "and stays only as a preset.",
            "- Digits (64-D, conditional; `benchmarks/digits.py --flow`, "
            f"{digits['date'][:10]}): its digits recipe (`_common.digits_recipe`: the default "
            f"preset, width 512, no input features; {ddpm['epochs']} epochs, "
            f"{ddpm['train_seconds']:.0f} s, sampled by "
            f"{ddpm['model'].split(', ', 1)[1]}) reaches precision {ddpm['precision']:.3f} and "
            f"recall {ddpm['recall']:.3f} (floor {ddpm['floor_precision']:.3f} / "
            f"{ddpm['floor_recall']:.3f}): the 0.85 recall asked for is {reached}.",
        ]
    )


# --- the README's commands, timed (benchmarks/commands.py) ---------------------------------


def _command(intel: dict, name: str) -> dict:
    return next(r for r in intel["commands"]["rows"] if r["command"] == f"jaxdiff {name}")


def _measured_commands(intel: dict) -> str:
    return f"{_cpu(intel)}, `benchmarks/commands.py` {intel['commands']['date'][:10]}"


def demo_time(intel: dict) -> str:
    r = _command(intel, "demo")
    return (
        f"On a {_measured_commands(intel)}, `jaxdiff demo` took {r['wall_seconds'] / 60:.1f} "
        f"minutes ({r['train_seconds']:.0f} s of training, {r['epochs']} epochs, "
        f"{r['steps']:,} steps)."
    )


# (label, key in the quality record, format, lower is better)
EVAL_ROWS = (
    ("sliced W2", "sliced_w2", ".4f", True),
    ("MMD²", "mmd2", ".2e", True),
    ("energy distance²", "energy", ".2e", True),
    ("precision (k = 3)", "precision", ".3f", False),
    ("recall (k = 3)", "recall", ".3f", False),
)


def eval_table(intel: dict) -> str:
    sec = intel["commands"]
    seed, fast = sec["eval"]["seed preset (jaxdiff demo)"], sec["eval"]["fast preset"]
    sq, fq = seed["quality"], fast["quality"]
    out = [
        f"`jaxdiff eval --n {sec['eval_n']}` on a `jaxdiff demo` run ({seed['epochs']} epochs) "
        f"and a `jaxdiff train --preset fast` run ({fast['epochs']} epochs), "
        f"{_measured_commands(intel)}; lower is better except precision and recall:",
        "",
        f"| | seed preset, {seed['epochs']} epochs | fast preset, {fast['epochs']} epochs "
        "| data floor |",
        "| --- | --- | --- | --- |",
    ]
    for label, key, fmt, _ in EVAL_ROWS:
        out.append(
            f"| {label} | {format(sq['samples'][key], fmt)} | {format(fq['samples'][key], fmt)} "
            f"| {format(sq['floor'][key], fmt)} |"
        )
    sl, fl = sq["likelihood"], fq["likelihood"]
    out += [
        f"| NLL, probability-flow ODE (nats/dim, {sl['n']:,} held-out points) | "
        f"{sl['nll_ode_nats_per_dim']:.3f} | {fl['nll_ode_nats_per_dim']:.3f} | |",
        f"| NLL bound, VLB (nats/dim) | {sl['vlb_nats_per_dim']:.3f} | "
        f"{fl['vlb_nats_per_dim']:.3f} | |",
        f"| training time | {seed['train_seconds']:.0f} s | {fast['train_seconds']:.1f} s | |",
        "",
    ]
    better = {"seed": [], "fast": []}
    for label, key, _, lower in EVAL_ROWS:
        s, f = sq["samples"][key], fq["samples"][key]
        better["fast" if (f < s) == lower else "seed"].append(label)
    ode = "fast" if fl["nll_ode_nats_per_dim"] < sl["nll_ode_nats_per_dim"] else "seed"
    vlb = "fast" if fl["vlb_nats_per_dim"] < sl["vlb_nats_per_dim"] else "seed"
    better[ode].append("the ODE likelihood")
    better[vlb].append("the VLB")
    out.append(
        f"The `fast` preset scores better by {listed(better['fast'])}; the seed's preset by "
        f"{listed(better['seed'])}."
    )
    return "\n".join(out)


# --- docs/tests.md: how long the README's test command takes (benchmarks/test_suite.py) -----


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def test_time(intel: dict) -> str:
    sec = intel["test_suite"]
    rows = sec["rows"]
    readme = [r for r in rows if r["variant"] == "readme"]
    walls = [r["wall_seconds"] for r in readme]
    loops = [r["loop_seconds"] for r in rows]
    out = (
        f"`python benchmarks/test_suite.py` ({_cpu(intel)}, {sec['date'][:10]}, alone): the "
        f"README's `pytest` ran {readme[0]['passed'] + readme[0]['failed']} tests "
        + (f"({readme[0]['failed']} failed) " if readme[0]["failed"] else "")
        + "in "
        + " and ".join(_minutes(w) for w in walls)
        + f"; a fixed Python loop took {span(loops, '.2f')} s meanwhile (the machine's "
        "speed at the time). The target is under 5 minutes on 2 cores: "
        + (
            "**met**"
            if max(walls) < 300 and not any(r["failed"] for r in readme)
            else "**not met**"
        )
        + " in this run."
    )
    labels = {
        "new-emitters": "With XLA's current CPU fusion emitters (level 0 alone, the suite's "
        "setting until 2026-12-03)",
        "xla-default": "At XLA's default settings (`JAXDIFF_TEST_XLA=default`, CI's extra step)",
    }
    for variant, label in labels.items():
        others = [r for r in rows if r["variant"] == variant]
        if others:
            out += f" {label}: " + " and ".join(_minutes(r["wall_seconds"]) for r in others) + "."
    if len({r["variant"] for r in rows}) > 1:
        out += " The variants ran alternated, so they share the machine's drift."
    return out


# --- benchmarks/README.md: where a training step's time goes --------------------------------


def step_profile(amd: dict) -> str:
    sec = amd["training"]
    out = [
        f"{_cpu(amd)}, {sec['date'][:10]}, JAX {amd['jax_version']}:",
        "",
        "| part | µs/step |",
        "| --- | --- |",
    ]
    out += [f"| {r['part']} | {r['us']:,.0f} |" for r in sec["profile"]]
    return "\n".join(out)


# --- docs/data.md and docs/scale.md: every data set, ensembles ------------------------------


def datasets(amd: dict) -> str:
    sec = amd["datasets"]
    out = [
        f"Measured by `benchmarks/datasets.py` (since split into `benchmarks/recipes.py` and "
        f"`benchmarks/digits.py`), {sec['date'][:10]}, {_cpu(amd)}, JAX "
        f"{amd['jax_version']} (section `datasets` of `benchmarks/results/cpu-amd-epyc-2c.json`)."
        " Each 2-D set: `--preset fast` as it is (150 epochs, 10,000 points), 5,000 samples "
        "against a fresh draw, beside the floor (a second fresh draw against the same "
        "reference). Digits: the `fast` preset with `--conditional --no-standardize --width "
        "512 --epochs 2000` (the command above; `benchmarks/digits.py`'s recipe starts from "
        "`default` instead), "
        "samples in the data's class proportions against the 359 held-out images, the floor "
        "being 359 training images. Sliced W2 and MMD² lower is better, precision and recall "
        "(k = 3) higher; NLL by the probability-flow ODE on 1,000 held-out points (359 for "
        "digits), nats per dimension.",
        "",
        "| data | D | train s | sliced W2 (floor) | MMD² (floor) | precision (floor) "
        "| recall (floor) | ODE NLL |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sec["rows"]:
        name = f"{r['data']} (conditional)" if r["conditional"] else r["data"]
        out.append(
            f"| {name} | {r['dim']} | {r['train_seconds']:.1f} | "
            f"{r['sliced_w2']:.4f} ({r['floor_sliced_w2']:.4f}) | "
            f"{r['mmd2']:.1e} ({r['floor_mmd2']:.1e}) | "
            f"{r['precision']:.3f} ({r['floor_precision']:.3f}) | "
            f"{r['recall']:.3f} ({r['floor_recall']:.3f}) | {r['nll_ode']:.3f} |"
        )
    return "\n".join(out)


def ensembles(amd: dict, gpu: dict) -> str:
    cpu, dev = amd["ensembles"], gpu["ensembles"]

    def listed(sec):
        return ", ".join(f"{r['members']}: {r['model_steps_per_s']:,.0f}" for r in sec["rows"])

    top_cpu = max(cpu["rows"], key=lambda r: r["members"])
    met = "met" if top_cpu["speedup_vs_one"] >= 3 else "**not met**"
    gpu_rows = [r for r in dev["rows"] if r["members"] > 1]
    return (
        f"`python benchmarks/ensembles.py` ({cpu['date'][:10]}, {_cpu(amd)}) measured the "
        f"aggregate model-steps/s at batch 128, K = {listed(cpu)}: "
        f"{top_cpu['speedup_vs_one']:.1f}× at K = {top_cpu['members']}. The goal of ≥ 3× is "
        f"{met} on this CPU: each step is already bound by the matmul rate, and batching "
        "several models' 128-row products does not make XLA:CPU multiply faster. On an "
        "H200, where one model leaves the device idle, "
        + " and ".join(f"K = {r['members']} gives {r['speedup_vs_one']:.1f}×" for r in gpu_rows)
        + f" ({dev['date'][:10]})."
    )


# Each block: its page, its marker name, and how it is drawn from the results files.
BLOCKS = (
    ("README.md", "three-numbers", lambda d: three_numbers(d["intel"], d["amd"])),
    ("docs/benchmarks.md", "headline", lambda d: headline(d["intel"], d["amd"])),
    ("docs/benchmarks.md", "cpu-sampling", lambda d: cpu_sampling(d["amd"])),
    ("docs/benchmarks.md", "cpu-training", lambda d: cpu_training(d["amd"])),
    ("docs/benchmarks.md", "goals", lambda d: goals(d["amd"], d["gpu"])),
    ("docs/benchmarks.md", "gpu-table", lambda d: gpu(d["gpu"], d["amd"])),
    ("README.md", "demo-time", lambda d: demo_time(d["intel"])),
    ("docs/results-quality.md", "eval-table", lambda d: eval_table(d["intel"])),
    ("docs/data.md", "datasets-table", lambda d: datasets(d["amd"])),
    ("docs/tests.md", "test-time", lambda d: test_time(d["intel"])),
    ("benchmarks/README.md", "step-profile", lambda d: step_profile(d["amd"])),
    ("docs/scale.md", "ensembles", lambda d: ensembles(d["amd"], d["gpu"])),
    ("docs/results-quality.md", "recipes-table", lambda d: recipes(d["intel"])),
    ("docs/results-quality.md", "recipes-findings", lambda d: recipes_findings(d["intel"])),
)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    args = p.parse_args()
    docs = {"intel": _load(INTEL), "amd": _load(AMD), "gpu": _load(GPU)}
    pages: dict[str, str] = {}
    for page, name, render in BLOCKS:
        text = pages.get(page) or (ROOT / page).read_text()
        pages[page] = between(text, name, render(docs))
    stale = 0
    for page, text in pages.items():
        stale |= sync(ROOT / page, text, check=args.check, fix="scripts/docs_pages.py")
    return stale


if __name__ == "__main__":
    sys.exit(main())
