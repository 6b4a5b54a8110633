"""The 64-D data set: class-conditional digits, the default recipe's architecture
without input features (64 coordinates × 128 features would be 8,192 inputs).

Trains in-process with the code path of ``jaxdiff train`` and scores samples in the
data's class proportions against the 359 held-out images, beside the floor (as many
training images against the same held-out ones).

With ``--flow``, the same run also trains the same network as a flow with OT pairs
(paired within each class) and samples it with the midpoint method at ``--nfe``
evaluations, both guided as the run's own.

Usage: python benchmarks/digits.py [--epochs 600] [--samples 2000] [--figure PATH]
       [--flow] [--nfe 8] [--results-dir DIR]
"""

from __future__ import annotations

import argparse

from _common import QUALITY_COLUMNS, cpu_model, digits_measure, digits_recipe, save, table

from jaxdiff.runs import overrides


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=600)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--figure", default=None, help="write a grid of generated digits here")
    p.add_argument("--flow", action="store_true", help="also the flow with OT pairs")
    p.add_argument("--nfe", type=int, default=8, help="the flow's evaluations (midpoint)")
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    cfg = digits_recipe(args.epochs)
    row, x, labels = digits_measure(cfg, "ddpm, all 1000 steps", args.samples, args.epochs)
    rows = [row]
    if args.flow:
        flow = overrides.configure(cfg, objective="flow", pairing="ot")
        label = f"flow ot, midpoint {args.nfe} evals"
        nfe = {"method": "midpoint", "nfe": args.nfe}
        rows.append(digits_measure(flow, label, args.samples, args.epochs, **nfe)[0])
    print(f"{cpu_model()}")
    print(
        table(
            rows,
            [
                ("data", "data", ""),
                ("model", "model", ""),
                ("epochs", "epochs", "{}"),
                ("train_seconds", "train s", "{:.1f}"),
                ("n", "n", "{}"),
                *QUALITY_COLUMNS,
            ],
        )
    )
    if args.figure:
        from jaxdiff import plotting

        plotting.image_grid(x, labels, args.figure)
    section = "digits_flow" if args.flow else "digits"
    print(f"wrote {save(section, {'rows': rows}, args.results_dir)}")


if __name__ == "__main__":
    main()
