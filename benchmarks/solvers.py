"""Few steps, same quality? Every sampler at 1-20 network evaluations on every registered
2-D set, scored by every metric beside the 100-step ancestral sampler of the same model.

For each data set the default recipe (``jaxdiff train``'s) is trained once, in-process,
with the code path of ``jaxdiff train``. Its model is then sampled by every method at 1,
2, 4, 8, 10 and 20 network evaluations (heun takes ``2K - 1`` evaluations for K grid
points, so it runs the largest K within the budget), on each method's own spacing and
on the grid uniform in log-SNR, and by ancestral sampling at 100 steps (ddim, η = 1: the
reference) and over all T steps (ddpm). Each row: MMD², precision, recall and sliced W2
of the first 5,000 of 10,000 samples against 5,000 data points training never saw
(``runs.evaluate.quality``; ``--eval-n``: 5,000 keeps the O(n²) metrics of 372 rows
within half an hour on two cores), and the seconds to draw 10,000 samples (compiled
outside the clock, the minimum of 5 draws). The seed's PyTorch 100-step sampler
(``benchmarks/_torch_seed.py``) is timed in the same run, at its start and its end (the
faster of the two).

The summary names, per set, the cheapest sampler at ≤ 8 evaluations within 0.01 of the
reference in precision and recall and within 5e-4 in MMD² (issue 16's bound).

Usage: python benchmarks/solvers.py [--only NAME,...] [--evals 1,2,4,8,10,20]
       [--methods M,...] [--spacings default,logsnr] [--no-ddpm] [--eval-n 5000]
       [--results-dir DIR]
"""

from __future__ import annotations

import argparse

import jax
from _common import (
    METHODS,
    SAMPLER_COLUMNS,
    SETS,
    cheapest_within,
    cpu_model,
    samplers,
    save,
    seed_sampler_seconds,
    solver_rows,
    table,
    trained_default,
)

N = 10_000


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated data sets")
    p.add_argument("--evals", default="1,2,4,8,10,20")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--spacings", default="default,logsnr", help="default: the method's own")
    p.add_argument("--no-ddpm", action="store_true", help="skip ancestral over all T steps")
    p.add_argument("--eval-n", type=int, default=5000)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    names = args.only.split(",") if args.only else list(SETS)
    evals = [int(e) for e in args.evals.split(",")]
    rows, summary = [], []
    seed_s = seed_sampler_seconds(N)
    for name in names:
        s, params, info = trained_default(name)
        print(f"{name}: trained in {info['train_seconds']:.1f} s", flush=True)
        spacings = [None if x == "default" else x for x in args.spacings.split(",")]
        chosen = samplers(
            s.schedule.num_steps, evals, args.methods.split(","), spacings, not args.no_ddpm
        )
        set_rows = solver_rows(s, params, name, chosen, args.eval_n)
        rows += set_rows
        ref = next(r for r in set_rows if r["sampler"] == "ancestral 100")
        best = cheapest_within(set_rows, ref)
        summary.append(
            {
                "data": name,
                "best": f"{best['sampler']} @ {best['evals']}" if best else "none",
                "ref_precision": ref["precision"],
                "ref_recall": ref["recall"],
                "ref_mmd2": ref["mmd2"],
                "ref_seconds": ref["seconds"],
                "best_seconds": best["seconds"] if best else None,
            }
        )
        jax.clear_caches()
    seed_s = seed_sampler_seconds(N, seed_s)
    if seed_s:
        for r in summary:
            if r["best_seconds"]:
                r["speedup_vs_seed"] = seed_s / r["best_seconds"]
    columns = SAMPLER_COLUMNS
    print(f"\n{cpu_model()}, eval n = {args.eval_n}")
    print(table(rows, columns))
    print(f"\nseed's PyTorch 100-step sampler, 10,000 samples: {seed_s}")
    print(
        table(
            summary,
            [
                ("data", "data", ""),
                ("best", "cheapest within bounds at <= 8 evals", ""),
                ("ref_precision", "ref P", "{:.3f}"),
                ("ref_recall", "ref R", "{:.3f}"),
                ("ref_mmd2", "ref MMD^2", "{:.1e}"),
                ("best_seconds", "s / 10k", "{:.3f}"),
                ("speedup_vs_seed", "x seed", "{:.0f}"),
            ],
        )
    )
    payload = {"eval_n": args.eval_n, "seed_seconds": seed_s, "rows": rows, "summary": summary}
    print(f"wrote {save('solvers', payload, args.results_dir)}")


if __name__ == "__main__":
    main()
