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
    samplers,
    save,
    seed_sampler_seconds,
    show,
    solver_rows,
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


if __name__ == "__main__":
    main()
