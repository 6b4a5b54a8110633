"""The README's commands, run as a user runs them, timed and scored.

Each command runs in a fresh interpreter (``python -m jaxdiff ...``), so its wall time
includes starting Python, importing JAX and compiling: what a user waits for. Training
seconds (compilation excluded) come from each run's ``report.json``. Then ``jaxdiff eval
--n 10000`` scores the seed's demo and a ``fast`` run, as docs/quality.md shows them.

- ``train --data points.npy``: the README's first command, on 10,000 S-curve rows written
  to a ``.npy`` file as a user's own points would be (the ``default`` recipe);
- ``train --data checkerboard``: the same recipe on a registered set;
- ``train --preset fast``;
- ``demo``: the seed's 4000 epochs.

With ``--first``, only the README's first command, twice: with an empty compilation
cache (cold) and again with the cache the first call filled (warm), each with where its
time went (``report.json``'s ``seconds``) and the whole command's wall time over its
training plus compilation (issue 49's target: at most 1.5); section ``first_command``.

Usage: python benchmarks/commands.py [--work DIR] [--demo-epochs N] [--first]
Writes section ``commands`` of ``benchmarks/results/<device>.json``. Run it alone: it
measures the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import cells, cpu_name, listed, save, table
from sklearn.datasets import make_s_curve

EVAL_N = 10_000


def run(argv: list[str], env: dict | None = None) -> float:
    """Wall seconds of ``jaxdiff ARGV`` in a fresh interpreter (it must succeed)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jaxdiff", *argv], check=True, env=env)
    return time.perf_counter() - start


FIRST_COLUMNS = [
    ("cache", "cache", ""),
    ("wall", "whole s", "{:.1f}"),
    ("compilation", "compile s", "{:.1f}"),
    ("training", "train s", "{:.1f}"),
    ("sampling", "sample s", "{:.1f}"),
    ("evaluation", "score s", "{:.1f}"),
    ("figures", "figures s", "{:.1f}"),
    ("other", "start-up, rest s", "{:.1f}"),
    ("ratio", "whole / (train + compile)", "{:.2f}"),
]


def first_command(work: pathlib.Path, points: pathlib.Path) -> list[dict]:
    """The README's first command with a cold, then a warm compilation cache."""
    env = {**os.environ, "JAXDIFF_CACHE_DIR": str(work / "xla-cache")}
    rows = []
    for cache in ("cold", "warm"):
        out = work / f"first-{cache}"
        wall = run(["train", "--data", str(points), "--out", str(out), "--quiet"], env)
        parts = report(out)["seconds"]
        row = {"cache": cache, "wall": wall, **parts}
        row["other"] = wall - sum(parts.values()) + parts.get("setup", 0.0)
        row["ratio"] = wall / (parts["training"] + parts["compilation"])
        rows.append(row)
        print(table([row], FIRST_COLUMNS), flush=True)
    return rows


def report(run_dir: pathlib.Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default=None, help="folder for the runs (default: a temp dir)")
    p.add_argument("--demo-epochs", type=int, default=None, help="a shorter demo (a test)")
    p.add_argument("--first", action="store_true", help="the first command, cold and warm")
    args = p.parse_args()
    work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="jaxdiff-commands-"))
    work.mkdir(parents=True, exist_ok=True)
    points = work / "points.npy"
    x, _ = make_s_curve(10_000, noise=0.1, random_state=0)
    np.save(points, x[:, [0, 2]].astype(np.float32))
    if args.first:
        rows = first_command(work, points)
        payload = {"ran": {"rows": 10_000, "columns": 2}, "columns": FIRST_COLUMNS}
        print(f"wrote {save('first_command', {**payload, 'summary': rows, 'rows': rows})}")
        return

    commands = {
        "train --data points.npy": ["train", "--data", str(points), "--out", str(work / "p")],
        "train --data checkerboard": [
            "train", "--data", "checkerboard", "--out", str(work / "c"),
        ],
        "train --preset fast": ["train", "--preset", "fast", "--out", str(work / "f")],
        "demo": ["demo", "--out", str(work / "demo")]
        + (["--epochs", str(args.demo_epochs)] if args.demo_epochs else []),
    }  # fmt: skip
    rows = []
    for name, argv in commands.items():
        wall = run(argv)
        r = report(pathlib.Path(argv[argv.index("--out") + 1]))
        rows.append(
            {
                "command": f"jaxdiff {name}",
                "wall_seconds": wall,
                "train_seconds": r["train_seconds"],
                "compile_seconds": r["compile_seconds"],
                "epochs": r["epochs"],
                "steps": r["steps"],
            }
        )
        print(f"{name:28s} wall {wall:7.1f} s  training {r['train_seconds']:7.1f} s", flush=True)

    scored = {}
    for name, folder in (("seed preset (jaxdiff demo)", "demo"), ("fast preset", "f")):
        wall = run(["eval", "--run", str(work / folder), "--n", str(EVAL_N)])
        scored[name] = {
            "quality": report(work / folder)["quality"],
            "train_seconds": report(work / folder)["train_seconds"],
            "epochs": report(work / folder)["epochs"],
            "eval_wall_seconds": wall,
        }
        print(f"eval {name}: {json.dumps(scored[name]['quality']['samples'])}", flush=True)
    path = save("commands", {"rows": rows, "eval": scored, "eval_n": EVAL_N})
    print(f"wrote {path}")


# --- the page blocks of the README and docs/results-quality.md (benchmarks/summarize.py) ---

# (label, key in the quality record, format, lower is better)
EVAL_ROWS = (
    ("sliced W2", "sliced_w2", ".4f", True),
    ("MMD²", "mmd2", ".2e", True),
    ("energy distance²", "energy", ".2e", True),
    ("precision (k = 3)", "precision", ".3f", False),
    ("recall (k = 3)", "recall", ".3f", False),
)


def blocks(doc: dict, section: str) -> dict:
    """The demo's time (README) and `jaxdiff eval` on a demo run and a fast run."""
    sec = doc[section]
    where = f"{cpu_name(doc)}, `benchmarks/commands.py` {sec['date'][:10]}"
    demo = next(r for r in sec["rows"] if r["command"] == "jaxdiff demo")
    demo_text = (
        f"On a {where}, `jaxdiff demo` took {demo['wall_seconds'] / 60:.1f} "
        f"minutes ({demo['train_seconds']:.0f} s of training, {demo['epochs']} epochs, "
        f"{demo['steps']:,} steps)."
    )
    seed, fast = sec["eval"]["seed preset (jaxdiff demo)"], sec["eval"]["fast preset"]
    sq, fq = seed["quality"], fast["quality"]
    rows = [[label, format(sq["samples"][key], fmt), format(fq["samples"][key], fmt),
             format(sq["floor"][key], fmt)] for label, key, fmt, _ in EVAL_ROWS]  # fmt: skip
    sl, fl = sq["likelihood"], fq["likelihood"]
    rows += [
        [f"NLL, probability-flow ODE (nats/dim, {sl['n']:,} held-out points)",
         f"{sl['nll_ode_nats_per_dim']:.3f}", f"{fl['nll_ode_nats_per_dim']:.3f}", ""],
        ["NLL bound, VLB (nats/dim)", f"{sl['vlb_nats_per_dim']:.3f}",
         f"{fl['vlb_nats_per_dim']:.3f}", ""],
        ["training time", f"{seed['train_seconds']:.0f} s", f"{fast['train_seconds']:.1f} s", ""],
    ]  # fmt: skip
    better = {"seed": [], "fast": []}
    for label, key, _, lower in EVAL_ROWS:
        s, f = sq["samples"][key], fq["samples"][key]
        better["fast" if (f < s) == lower else "seed"].append(label)
    ode = "fast" if fl["nll_ode_nats_per_dim"] < sl["nll_ode_nats_per_dim"] else "seed"
    vlb = "fast" if fl["vlb_nats_per_dim"] < sl["vlb_nats_per_dim"] else "seed"
    better[ode].append("the ODE likelihood")
    better[vlb].append("the VLB")
    text = (
        f"`jaxdiff eval --n {sec['eval_n']}` on a `jaxdiff demo` run ({seed['epochs']} epochs) "
        f"and a `jaxdiff train --preset fast` run ({fast['epochs']} epochs), {where}; lower is "
        "better except precision and recall:"
    )
    note = (f"The `fast` preset scores better by {listed(better['fast'])}; the seed's preset by "
            f"{listed(better['seed'])}.")  # fmt: skip
    heads = ["", f"seed preset, {seed['epochs']} epochs", f"fast preset, {fast['epochs']} epochs",
             "data floor"]  # fmt: skip
    return {"demo-time": {"text": demo_text},
            "eval-table": cells(heads, rows, text=text, notes=[note])}  # fmt: skip


if __name__ == "__main__":
    main()
