"""Sample quality on every registered data set: the README's per-data-set table.

For each data set, trains the ``fast`` preset (digits: conditional, width 512, 2000
epochs, not standardised; see ``RECIPES``) in-process through ``runs.train.train_run`` (the code
path of ``jaxdiff train``), then scores its samples with ``runs.evaluate.quality``: against a fresh
draw for the 2-D generators, against the held-out fifth for ``digits``, each beside the
data's own floor.

Usage: python benchmarks/datasets.py [--only NAME,...] [--eval-n N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import tempfile

from _common import save, table

from jaxdiff import data
from jaxdiff.runs import config, setup, train

# Changes to the fast preset per data set (everything else as `--preset fast`).
RECIPES = {
    "digits": dict(
        data=dict(standardize=False),
        model=dict(conditional=True, width=512),
        train=dict(epochs=2000, lr_decay_epochs=2000),
    ),
}


def recipe(name: str) -> config.Config:
    cfg = config.preset("fast")
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, name=name))
    for section, changes in RECIPES.get(name, {}).items():
        cfg = dataclasses.replace(
            cfg, **{section: dataclasses.replace(getattr(cfg, section), **changes)}
        )
    return cfg


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated data set names")
    p.add_argument("--eval-n", type=int, default=5000)
    p.add_argument("--results-dir", default=None)
    p.add_argument("--keep", default=None, help="keep the run directories (with figures) here")
    args = p.parse_args()
    names = args.only.split(",") if args.only else list(data.DATASETS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(args.keep or tmp)
        for name in names:
            cfg = recipe(name)
            report = train.train_run(
                cfg,
                root / name,
                progress=False,
                eval_n=args.eval_n,
                figures=args.keep is not None,
            )
            q = report["quality"]
            row = {
                "data": name,
                "dim": int(setup.setup(cfg).data.shape[1]),
                "conditional": cfg.model.conditional,
                "epochs": cfg.train.epochs,
                "train_seconds": report["train_seconds"],
                "n": q["n"],
                **{f"{k}": v for k, v in q["samples"].items()},
                **{f"floor_{k}": v for k, v in q["floor"].items()},
            }
            if "likelihood" in q:
                row["nll_ode"] = q["likelihood"]["nll_ode_nats_per_dim"]
            rows.append(row)
            print(f"{name}: done in {report['train_seconds']:.1f} s of training", flush=True)
    print(
        table(
            rows,
            [
                ("data", "data", ""),
                ("dim", "D", "{}"),
                ("epochs", "epochs", "{}"),
                ("train_seconds", "train s", "{:.1f}"),
                ("n", "n", "{}"),
                ("sliced_w2", "sliced W2", "{:.4f}"),
                ("floor_sliced_w2", "floor", "{:.4f}"),
                ("mmd2", "MMD^2", "{:.2e}"),
                ("floor_mmd2", "floor", "{:.2e}"),
                ("precision", "precision", "{:.3f}"),
                ("recall", "recall", "{:.3f}"),
                ("floor_precision", "floor P", "{:.3f}"),
                ("nll_ode", "ODE NLL", "{:.3f}"),
            ],
        )
    )
    path = save("datasets", {"rows": rows}, args.results_dir)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
