"""The measured blocks of docs/results-samplers.md, generated from the benchmark results files.

``python scripts/samplers_page.py`` rewrites every block between ``<!-- NAME:start -->``
and ``<!-- NAME:end -->`` that it owns on docs/results-samplers.md; ``--check`` exits 1 when the
page and its results files disagree (run by tests/test_docs_tables.py). The findings under
each table are computed here too, so no figure on the page is copied by hand.

Sources: ``benchmarks/results/fast_preset.json`` (``benchmarks/fast_preset.py``) and the
``few_steps`` and ``features`` sections of the Intel Xeon results file
(``benchmarks/few_steps.py``, ``benchmarks/features.py``).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _pages import between, listed, span, sync

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "results-samplers.md"
RESULTS = ROOT / "benchmarks" / "results"
INTEL = RESULTS / "cpu-intel-r-xeon-r-processor-2c.json"
FAST = RESULTS / "fast_preset.json"
# The bounds of "within" (benchmarks/_common.within): precision and recall, then MMD².
BOUND_PR, BOUND_MMD = 0.01, 5e-4
REFERENCE = "ancestral 100"
STUDENTS = ("light student", "direct student", "progressive student")


# --- the fast preset ----------------------------------------------------------------------


def fast_preset(doc: dict) -> str:
    rows = {r["name"]: r for r in doc["rows"]}
    floor = rows.pop("data floor (two draws)")
    seed = rows["seed preset, 4000 epochs (jaxdiff demo)"]
    out = [
        f"`python benchmarks/fast_preset.py`, {doc['date']}, 2-core Intel Xeon, JAX "
        f"{doc['jax_version']}: sliced 2-Wasserstein distance (256 directions) between 10,000 "
        "samples and a fresh draw of 10,000 S-curve points training never saw; lower is "
        "better; training seconds exclude compilation.",
        "",
        "| recipe | sliced W2 | train s | steps |",
        "| --- | --- | --- | --- |",
        f"| data floor (two draws of the data) | {floor['sw2']:.4f} | | |",
    ]
    for name, r in rows.items():
        seconds = f"{r['train_seconds']:.1f}" if "train_seconds" in r else "(an earlier run)"
        steps = f"{r['steps']:,}" if "steps" in r else ""
        bold = "**" if name.startswith("fast preset") else ""
        out.append(f"| {bold}{name}{bold} | {r['sw2']:.4f} | {seconds} | {steps} |")
    fast = rows["fast preset (150 epochs)"]
    short = rows["fast, 60 epochs"]
    beats = "below" if short["sw2"] < seed["sw2"] else "not below"
    out += [
        "",
        f"The `fast` preset at 150 epochs ({fast['train_seconds']:.1f} s) scores "
        f"{fast['sw2']:.4f} against the seed's 4000 epochs' {seed['sw2']:.4f}; at 60 epochs "
        f"({short['train_seconds']:.1f} s) {short['sw2']:.4f}, {beats} the seed's. "
        f"The ε target scores {rows['fast, eps target']['sw2']:.4f} with this schedule "
        "(x̂₀ = (x - s ε̂)/a divides by a ≈ 5e-4 at the last step; v does not), and EMA "
        f"changes nothing measurable at this length ({rows['fast, no EMA']['sw2']:.4f} "
        "without).",
    ]
    return "\n".join(out)


# --- every sampler and every student, one run ----------------------------------------------


def _miss(row: dict, ref: dict) -> float:
    """How far outside the bounds a row is: the largest of |Δprecision| and |Δrecall| over
    0.01 and the MMD² above the reference over 5e-4 (at most 1 when within)."""
    return max(
        abs(row["precision"] - ref["precision"]) / BOUND_PR,
        abs(row["recall"] - ref["recall"]) / BOUND_PR,
        max(0.0, row["mmd2"] - ref["mmd2"]) / BOUND_MMD,
    )


def _sets(sec: dict):
    """``(data set, its reference row, its solver rows, its student rows)`` in run order."""
    for name in dict.fromkeys(r["data"] for r in sec["rows"]):
        mine = [r for r in sec["rows"] if r["data"] == name]
        ref = next(r for r in mine if r["sampler"] == REFERENCE)
        students = [r for r in mine if r["sampler"] in STUDENTS]
        solvers = [r for r in mine if r not in students and r is not ref]
        yield name, ref, solvers, students


def _closest(solvers: list[dict], ref: dict, evals: int) -> dict:
    return min((r for r in solvers if r["evals"] <= evals), key=lambda r: _miss(r, ref))


def _row(name: str, r: dict) -> str:
    distill = f"{r['distill_seconds']:.1f}" if "distill_seconds" in r else ""
    within = "" if r["sampler"] == REFERENCE else ("**yes**" if r["within"] else "no")
    return (
        f"| {name} | {r['sampler']} | {r['evals']} | {r['mmd2']:.1e} | {r['precision']:.3f} | "
        f"{r['recall']:.3f} | {r['sliced_w2']:.4f} | {r['seconds']:.3f} | {r['x_seed']:.1f} | "
        f"{distill} | {within} |"
    )


def one_table(doc: dict) -> str:
    sec = doc["few_steps"]
    sets = list(_sets(sec))
    out = [
        f"`python benchmarks/few_steps.py`, {sec['date'][:10]}, 2-core Intel Xeon, JAX "
        f"{doc['jax_version']}: the `default` recipe trained once per registered 2-D set, "
        "then sampled by every solver at 1 to 20 evaluations on its own grid and on the grid "
        "uniform in log-SNR, by `restart`, by 100 ancestral steps (the reference) and by its "
        f"distilled students; {sec['eval_n']:,} of 10,000 samples against {sec['eval_n']:,} "
        "fresh points; seconds are the minimum of 5 draws of 10,000; × seed is the seed's "
        f'PyTorch 100-step sampler in the same run ({sec["seed_seconds"]:.3f} s); "within" '
        "is 0.01 in precision and recall and 5e-4 in MMD² of the reference. Per set: the "
        "reference, the solver closest to it within 4, 8 and 20 evaluations (the smallest "
        "worst of |Δprecision|/0.01, |Δrecall|/0.01, ΔMMD²/5e-4), then every student. All "
        f"{len(sec['rows'])} rows, with the floors, are in the results file.",
        "",
        "| data | sampler | evaluations | MMD² | precision | recall | sliced W2 | s / 10k "
        "| × seed | distill s | within |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, ref, solvers, students in sets:
        out.append(_row(name, ref))
        shown = []
        for k in (4, 8, 20):
            r = _closest(solvers, ref, k)
            if r not in shown:
                shown.append(r)
                out.append(_row(name, r))
        out += [_row(name, r) for r in students]
    return "\n".join(out)


def _within_at(rows: list[dict], evals: int) -> bool:
    return any(r["within"] and r["evals"] <= evals for r in rows)


def findings(doc: dict) -> str:
    sec = doc["few_steps"]
    sets = list(_sets(sec))
    n = len(sets)
    solver8 = [name for name, _, solvers, _ in sets if _within_at(solvers, 8)]
    at8 = [_closest(solvers, ref, 8)["sampler"].split()[0] for _, ref, solvers, _ in sets]
    best8 = max(dict.fromkeys(at8), key=at8.count)
    solver20 = [name for name, _, solvers, _ in sets if _within_at(solvers, 20)]

    def student(kind, evals):
        return {name: next(r for r in st if r["sampler"] == kind and r["evals"] == evals)
                for name, _, _, st in sets}  # fmt: skip

    light, direct = student("light student", 4), student("direct student", 4)
    prog = student("progressive student", 4)
    light_in = [name for name, r in light.items() if r["within"]]
    direct_in = [name for name, r in direct.items() if r["within"]]
    lose = [name for name in light if name not in light_in and name not in direct_in]
    refs = {name: ref for name, ref, _, _ in sets}
    dp = [direct[s]["precision"] - prog[s]["precision"] for s in direct]
    dr = [direct[s]["recall"] - prog[s]["recall"] for s in direct]
    speed = [direct[s]["seconds"] / light[s]["seconds"] for s in light]
    out = [
        f"- **Solvers.** A training-free solver is within the bounds at ≤ 8 evaluations on "
        f"{len(solver8)} of {n} sets ({listed(solver8)}), at ≤ 20 on {len(solver20)} "
        f"({listed(solver20)}). The closest at 8 is `{best8}` on {at8.count(best8)} of {n}; "
        "the deterministic solvers thin the modes and leave points between them.",
        f"- **Students.** At 4 evaluations the light student is within on {len(light_in)} "
        f"of {n} ({listed(light_in)}), the direct student on {len(direct_in)} "
        f"({listed(direct_in)}). The light student draws 10,000 samples in "
        f"{span([light[s]['seconds'] for s in light_in], '.3f')} s on those sets, "
        f"{span([light[s]['x_seed'] for s in light_in], '.0f')}× the seed's sampler; the "
        f"direct student is {span(speed, '.1f')}× slower per draw and distils faster "
        f"({span([direct[s]['distill_seconds'] for s in direct], '.0f')} s against "
        f"{span([light[s]['distill_seconds'] for s in light], '.0f')} s).",
        f"- **Direct against progressive**, at 4 evaluations: precision "
        f"{span(dp, '+.3f', ' to ')}, recall {span(dr, '+.3f', ' to ')}. The progressive student "
        "reproduces its teacher's ODE, which sprays points between the modes (why: "
        "[the cap](#why-direct-is-the-default)).",
    ]
    for name in lose:
        r, ref = direct[name], refs[name]
        out.append(
            f"- **Where we lose: {name}.** No student is within: the direct student's "
            f"precision is {r['precision'] - ref['precision']:+.3f} from the reference's, its "
            f"recall {r['recall'] - ref['recall']:+.3f}, its MMD² "
            f"{r['mmd2'] - ref['mmd2']:+.1e}; the light student's precision "
            f"{light[name]['precision'] - ref['precision']:+.3f}. In the picture its squares' "
            "corners are softer."
        )
    return "\n".join(out)


def features(doc: dict) -> str:
    sec = doc["features"]
    rows = {r["what"]: r for r in sec["rows"]}
    shown = [
        ("`default` network", "default network, sincos_turns"),
        ("light student network (`students.lighten` of it), features computed",
         "light student network (models.lighten)"),
        ("the same, inputs read from tables (`students.tabulate_inputs`)",
         "light, inputs from tables (tabulate_inputs)"),
        ("seed network", "seed network"),
    ]  # fmt: skip
    out = [
        f"`python benchmarks/features.py`, {sec['date'][:10]}, 2-core Intel Xeon: one "
        f"evaluation of the network on {sec['n']:,} rows (minimum of {sec['repeats']}).",
        "",
        f"| {sec['n']:,} rows, one evaluation | ms | × seed network |",
        "| --- | --- | --- |",
    ]
    for label, key in shown:
        r = rows[key]
        out.append(f"| {label} | {r['ms']:.1f} | {r['x_seed_network']:.1f} |")
    return "\n".join(out)


# Each block: its marker name and how it is drawn from the results files.
BLOCKS = (
    ("fast-preset", lambda d: fast_preset(d["fast"])),
    ("one-table", lambda d: one_table(d["intel"])),
    ("one-table-findings", lambda d: findings(d["intel"])),
    ("features-table", lambda d: features(d["intel"])),
)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = p.parse_args()
    docs = {"intel": json.loads(INTEL.read_text()), "fast": json.loads(FAST.read_text())}
    text = PAGE.read_text()
    for name, render in BLOCKS:
        text = between(text, name, render(docs))
    return sync(PAGE, text, check=args.check, fix="scripts/samplers_page.py")


if __name__ == "__main__":
    sys.exit(main())
