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
    cpu_model,
    reference_row,
    save,
    seed_sampler_seconds,
    shape_file,
    table,
)
from _flows import flow_rows


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


if __name__ == "__main__":
    jnp.zeros(())  # JAX's backend up before any clock starts
    main()
