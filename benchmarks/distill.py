"""Distilled students against their teachers on every registered 2-D set: quality at 1-8
network evaluations beside 100-step ancestral sampling of the teacher, and the seconds.

For each set the default recipe (``jaxdiff train``'s) is trained in-process, then
distilled the ways ``jaxdiff distill`` can: direct (``--method direct``, the default: the
teacher's ODE endpoints at K geometric levels, sampled by ``restart``) into the teacher's
own network (the default: 6,000 Adam steps at batch 512 on 20,000 pairs per level; rows
"direct student") for K = ``--direct`` (default 4) and into the light network
(``--student light``: ``runs.distill.light_network`` of the teacher's, as ``light_model``
chooses it, with its own 12,000 steps on 40,000 pairs, ``runs.distill.BUDGETS``;
sampled with its Fourier inputs computed and, as ``jaxdiff distill`` writes it, read from
tables: ``runs.distill.tabulated``) for K = ``--light`` (default 1, 2, 4); and
progressively (64 → 32 → 16 → 8 → 4 DDIM steps, 1,000 Adam steps per round; the 8-step
student is the third round's, the 4-step student the fourth's). Rows: the teacher's
ancestral 100 (the reference), the teacher's own DDIM at 8 and 4 steps and its own
``restart`` at 4 levels (what a student replaces), and the students: MMD², precision,
recall, sliced W2 of 10,000 samples (the first ``--eval-n`` scored against fresh data,
``runs.evaluate.quality``), seconds for 10,000 samples (compiled outside the clock), and
the distillation's seconds (compilation included). The seed's PyTorch 100-step sampler
is timed in the same run, at its start and at its end (the faster of the two; every time
is the minimum of 5 draws).

Usage: python benchmarks/distill.py [--only NAME,...] [--light 1,2,4] [--direct 4]
       [--no-progressive]
       [--eval-n 5000] [--results-dir DIR]
"""

from __future__ import annotations

import argparse

import jax
from _common import (
    DDIM,
    RESTART,
    SETS,
    STUDENT_COLUMNS,
    cpu_model,
    floor_of,
    sampler_row,
    save,
    seed_sampler_seconds,
    student_rows,
    table,
    trained_default,
    within,
)

N = 10_000


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None)
    p.add_argument("--light", default="1,2,4", help="light students' K, comma-separated")
    p.add_argument("--direct", default="4", help="teacher-network students' K")
    p.add_argument("--no-progressive", action="store_true")
    p.add_argument("--eval-n", type=int, default=5000)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    rows = []
    seed_s = seed_sampler_seconds(N)
    for name in args.only.split(",") if args.only else SETS:
        s, teacher, _ = trained_default(name)
        ref = sampler_row(s, teacher, args.eval_n, "teacher ancestral", 100, True,
                   method="ddim", steps=100, eta=1.0)  # fmt: skip
        floor = floor_of(ref)
        set_rows = [ref]
        for k in (8, 4):
            row = sampler_row(s, teacher, args.eval_n, "teacher ddim", k, steps=k, **DDIM)
            set_rows.append(row)
        set_rows.append(sampler_row(s, teacher, args.eval_n, "teacher restart", 4, steps=4,
                                    **RESTART))  # fmt: skip
        set_rows += student_rows(s, teacher, args.eval_n, args.light, args.direct,
                                 not args.no_progressive)  # fmt: skip
        for row in set_rows:
            row.update(data=name, **floor)
            print(f"{name:16s} {row['sampler']:20s} {row['evals']:4d} P {row['precision']:.3f}"
                  f" R {row['recall']:.3f} MMD {row['mmd2']:.1e} {row['seconds']:.3f} s",
                  flush=True)  # fmt: skip
        rows += set_rows
        jax.clear_caches()
    seed_s = seed_sampler_seconds(N, seed_s)
    for row in rows:
        if seed_s:
            row["x_seed"] = seed_s / row["seconds"]
        ref = next(r for r in rows if r["data"] == row["data"] and r["evals"] == 100)
        row["within"] = within(row, ref)
    print(f"\n{cpu_model()}, eval n = {args.eval_n}; seed's PyTorch sampler: {seed_s} s / 10k")
    print(table(rows, STUDENT_COLUMNS))
    payload = {"eval_n": args.eval_n, "seed_seconds": seed_s, "cpu": cpu_model(), "rows": rows}
    print(f"wrote {save('distill', payload, args.results_dir)}")


if __name__ == "__main__":
    main()
