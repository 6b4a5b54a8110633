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
from _common import QUALITY_COLUMNS, SHAPES, cpu_model, save, shape_file, table

from jaxdiff import models
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
            "params": models.param_count(params),
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
                from jaxdiff import plotting

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


if __name__ == "__main__":
    main()
