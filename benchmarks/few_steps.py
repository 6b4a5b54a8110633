"""Few steps, one table: every sampler and every distilled student against 100-step
ancestral sampling, per registered 2-D set, in one run with the seed's sampler.

For each set the default recipe (``jaxdiff train``'s) is trained once, in-process. Its
model is sampled as ``solvers.py`` samples it (every method at 1, 2, 4, 8, 10 and 20
network evaluations, on its own grid and on the grid uniform in log-SNR, and ancestral
sampling over 100 steps, the reference), and by ``restart`` at 4 levels; then it is
distilled as ``distill.py`` distils it (light students at ``--light`` evaluations, the
direct student at ``--direct``, progressive students at 8 and 4), with ``jaxdiff
distill``'s budgets. Every row: MMD², precision, recall and sliced W2 of the first
``--eval-n`` of 10,000 samples against fresh data, beside the data's own floor; the
seconds for 10,000 samples (compiled outside the clock, the minimum of 5 draws), × the
seed's PyTorch 100-step sampler timed in the same run (at its start and its end, the
faster of the two), and whether it is within 0.01 of the reference in precision and
recall and 5e-4 in MMD² (issue 16's bound). The summary names, per set, the cheapest
solver within the bound at ≤ 8 evaluations and the fastest student within it.

Usage: python benchmarks/few_steps.py [--only NAME,...] [--evals 1,2,4,8,10,20]
       [--ddpm] [--light 2,4] [--direct 4] [--eval-n 5000] [--results-dir DIR]
"""

from __future__ import annotations

import argparse

import jax
from _common import (
    METHODS,
    SETS,
    STUDENT_COLUMNS,
    cheapest_within,
    cpu_model,
    floor_of,
    listed,
    samplers,
    save,
    seed_sampler_seconds,
    show,
    solver_rows,
    span,
    student_rows,
    table,
    trained_default,
    within,
)

N = 10_000
STUDENTS = ("light student", "direct student", "progressive student")


def summarize(rows: list[dict], seed_s: float | None) -> dict:
    """One set's line: the reference, the cheapest solver within the bound at ≤ 8
    evaluations and the fastest student within it (or "none")."""
    ref = next(r for r in rows if r["sampler"] == "ancestral 100")
    solver = cheapest_within([r for r in rows if r["sampler"] not in STUDENTS], ref)
    student = min((r for r in rows if r["sampler"] in STUDENTS and r["within"]
                   and r["evals"] <= 8),
                  key=lambda r: r["seconds"], default=None)  # fmt: skip
    line = {"data": ref["data"], "ref": f"{ref['precision']:.3f} / {ref['recall']:.3f} / "
            f"{ref['mmd2']:.1e}"}  # fmt: skip
    for kind, row in (("solver", solver), ("student", student)):
        line[kind] = f"{row['sampler']} @ {row['evals']}" if row else "none"
        line[f"{kind}_seconds"] = row["seconds"] if row else None
        if row and seed_s:
            line[f"{kind}_x_seed"] = seed_s / row["seconds"]
    return line


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated data sets")
    p.add_argument("--evals", default="1,2,4,8,10,20")
    p.add_argument("--ddpm", action="store_true", help="add ancestral over all T steps")
    p.add_argument("--light", default="2,4", help="light students' K, comma-separated")
    p.add_argument("--direct", default="4", help="teacher-network students' K")
    p.add_argument("--eval-n", type=int, default=5000)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    evals = [int(e) for e in args.evals.split(",")]
    rows = []
    seed_s = seed_sampler_seconds(N)
    for name in args.only.split(",") if args.only else SETS:
        s, params, info = trained_default(name)
        print(f"{name}: trained in {info['train_seconds']:.1f} s", flush=True)
        chosen = samplers(s.schedule.num_steps, evals, METHODS, (None, "logsnr"), args.ddpm)
        restart = ("teacher restart", 4, {"method": "restart", "steps": 4})
        set_rows = solver_rows(s, params, name, [*chosen, restart], args.eval_n)
        floor = floor_of(set_rows[0])
        for row in student_rows(s, params, args.eval_n, args.light, args.direct, features=False):
            set_rows.append({"data": name, **row, **floor})
            show(row)
        rows += set_rows
        jax.clear_caches()
    seed_s = seed_sampler_seconds(N, seed_s)
    summary = []
    for name in dict.fromkeys(r["data"] for r in rows):
        set_rows = [r for r in rows if r["data"] == name]
        ref = next(r for r in set_rows if r["sampler"] == "ancestral 100")
        for row in set_rows:
            row["within"] = within(row, ref)
            if seed_s:
                row["x_seed"] = seed_s / row["seconds"]
        summary.append(summarize(set_rows, seed_s))
    print(f"\n{cpu_model()}, eval n = {args.eval_n}; seed's PyTorch sampler: {seed_s} s / 10k")
    print(table(rows, STUDENT_COLUMNS))
    print(
        table(
            summary,
            [
                ("data", "data", ""),
                ("ref", "ancestral 100: P / R / MMD^2", ""),
                ("solver", "cheapest solver within, <= 8 evals", ""),
                ("student", "fastest student within", ""),
                ("student_seconds", "s / 10k", "{:.3f}"),
                ("student_x_seed", "x seed", "{:.0f}"),
            ],
        )
    )
    payload = {"eval_n": args.eval_n, "seed_seconds": seed_s, "cpu": cpu_model(), "rows": rows,
               "summary": summary}  # fmt: skip
    print(f"wrote {save('few_steps', payload, args.results_dir)}")


# --- the page blocks of docs/results-samplers.md (benchmarks/summarize.py) ---------------

# The bounds of "within" (_common.within): precision and recall, then MMD².
BOUND_PR, BOUND_MMD = 0.01, 5e-4
REFERENCE = "ancestral 100"
COLUMNS = [
    ("data", "data", ""), ("sampler", "sampler", ""), ("evals", "evaluations", "{}"),
    ("mmd2", "MMD²", "{:.1e}"), ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"), ("sliced_w2", "sliced W2", "{:.4f}"),
    ("seconds", "s / 10k", "{:.3f}"), ("x_seed", "× seed", "{:.1f}"),
    ("distill_seconds", "distill s", "{:.1f}"), ("mark", "within", ""),
]  # fmt: skip


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


def _within_at(rows: list[dict], evals: int) -> bool:
    return any(r["within"] and r["evals"] <= evals for r in rows)


def blocks(doc: dict, section: str) -> dict:
    """The table (per set: the reference, the solver closest to it within 4, 8 and 20
    evaluations, every student) and its findings."""
    sec = doc[section]
    sets = list(_sets(sec))
    shown = []
    for _, ref, solvers, students in sets:
        closest = [ref]
        for k in (4, 8, 20):
            if (r := _closest(solvers, ref, k)) not in closest:
                closest.append(r)
        for r in closest + students:
            mark = "" if r is ref else ("**yes**" if r["within"] else "no")
            shown.append({**r, "mark": mark})
    text = (
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
        f"{len(sec['rows'])} rows, with the floors, are in the results file."
    )
    return {
        "one-table": {"text": text, "columns": COLUMNS, "rows": shown},
        "one-table-findings": {"notes": findings(sets)},
    }


def findings(sets: list) -> list[str]:
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
        f"**Solvers.** A training-free solver is within the bounds at ≤ 8 evaluations on "
        f"{len(solver8)} of {n} sets ({listed(solver8)}), at ≤ 20 on {len(solver20)} "
        f"({listed(solver20)}). The closest at 8 is `{best8}` on {at8.count(best8)} of {n}; "
        "the deterministic solvers thin the modes and leave points between them.",
        f"**Students.** At 4 evaluations the light student is within on {len(light_in)} "
        f"of {n} ({listed(light_in)}), the direct student on {len(direct_in)} "
        f"({listed(direct_in)}). The light student draws 10,000 samples in "
        f"{span([light[s]['seconds'] for s in light_in], '.3f')} s on those sets, "
        f"{span([light[s]['x_seed'] for s in light_in], '.0f')}× the seed's sampler; the "
        f"direct student is {span(speed, '.1f')}× slower per draw and distils faster "
        f"({span([direct[s]['distill_seconds'] for s in direct], '.0f')} s against "
        f"{span([light[s]['distill_seconds'] for s in light], '.0f')} s).",
        f"**Direct against progressive**, at 4 evaluations: precision "
        f"{span(dp, '+.3f', ' to ')}, recall {span(dr, '+.3f', ' to ')}. The progressive student "
        "reproduces its teacher's ODE, which sprays points between the modes (why: "
        "[the cap](#why-direct-is-the-default)).",
    ]
    for name in lose:
        r, ref = direct[name], refs[name]
        out.append(
            f"**Where we lose: {name}.** No student is within: the direct student's "
            f"precision is {r['precision'] - ref['precision']:+.3f} from the reference's, its "
            f"recall {r['recall'] - ref['recall']:+.3f}, its MMD² "
            f"{r['mmd2'] - ref['mmd2']:+.1e}; the light student's precision "
            f"{light[name]['precision'] - ref['precision']:+.3f}. In the picture its squares' "
            "corners are softer."
        )
    return out


if __name__ == "__main__":
    main()
