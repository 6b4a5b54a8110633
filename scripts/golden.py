"""Record or check the exact outputs of the ``jaxdiff`` command, to show that a change of
shape changed no behaviour.

``--write DIR`` runs a fixed set of commands in subprocesses (no compilation cache) and
stores, in ``DIR``: the bytes of every ``samples.npy`` and sampled file, the losses of every
``metrics.jsonl``, every leaf of every run's newest checkpoint (read with orbax alone, not
through jaxdiff, so the reader does not change with the code), and the numbers of
``jaxdiff eval``. ``--check DIR`` runs the same commands and reports, item by item,
whether each output is bit-identical to the recorded one (and the largest difference
where it is not). Exit status 1 if anything differs.

The runs (tests/golden_runs.toml): the seed preset (30 epochs, seed 5), the fast preset
(20 epochs), a conditional moons run with guidance, a 2-member ensemble; ``sample`` with
every method (ddpm, ddim, dpm-solver, dpm-solver-3m, sde-dpm-solver, heun, restart), a
labelled guided draw and an ensemble member; ``eval`` of three runs.

Usage: python scripts/golden.py --write DIR | --check DIR [--keep WORKDIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import tomllib

import numpy as np

# The runs, as data (tests/golden_runs.toml): train's flags, sample's run and flags, eval's.
RUNS = tomllib.loads((pathlib.Path(__file__).parents[1] / "tests" / "golden_runs.toml").read_text())
TRAIN, EVAL, SAMPLE, IMPUTE = RUNS["train"], RUNS["eval"], RUNS["sample"], RUNS["impute"]


def _inputs(work: pathlib.Path) -> None:
    """The input files of the table, context and imputation runs, the same on every call."""
    rng = np.random.default_rng(0)
    n = 600
    kind = rng.choice(["x", "y", "z"], n)
    a = rng.normal(size=n) + (kind == "y") * 2.0
    b = rng.poisson(4.0, n) + (kind == "z") * 3
    rows = [f"{ai:.5f},{bi},{ki}" for ai, bi, ki in zip(a, b, kind, strict=True)]
    (work / "table.csv").write_text("a,b,kind\n" + "\n".join(rows) + "\n")
    gaps = rng.normal(size=(40, 2)).astype(np.float32)
    np.save(work / "gaps.npy", np.where(rng.random(gaps.shape) < 0.3, np.nan, gaps))
    theta = rng.uniform(-1, 1, (800, 2))
    x = theta + 0.1 * rng.normal(size=theta.shape)
    sims = [",".join(f"{v:.5f}" for v in r) for r in np.hstack([theta, x])]
    (work / "sims.csv").write_text("theta1,theta2,x1,x2\n" + "\n".join(sims) + "\n")
    (work / "obs.csv").write_text("x1,x2\n0.2,-0.3\n-0.5,0.6\n")


def _read(path: pathlib.Path) -> np.ndarray:
    """A written file as an array: a .npy's, or a text file's bytes."""
    return np.load(path) if path.suffix == ".npy" else np.frombuffer(path.read_bytes(), np.uint8)


def _jaxdiff(*args: str) -> None:
    env = {**os.environ, "JAXDIFF_CACHE_DIR": "off", "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "jaxdiff.cli", *args], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise SystemExit(f"jaxdiff {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")


def _checkpoint_leaves(run_dir: pathlib.Path) -> dict[str, np.ndarray]:
    """Every leaf of the newest checkpoint, by orbax alone (independent of jaxdiff)."""
    import jax
    import orbax.checkpoint as ocp

    ckpt = run_dir / "checkpoints"
    step = max(int(p.name) for p in ckpt.iterdir() if p.name.isdigit())
    with ocp.StandardCheckpointer() as ckptr:
        item = ckpt / str(step) / "state"  # since the digest; "default" before it
        item = item if item.is_dir() else ckpt / str(step) / "default"
        tree = ckptr.restore(item.absolute())
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return {f"step{step}{jax.tree_util.keystr(p)}": np.asarray(v) for p, v in leaves}


def _losses(run_dir: pathlib.Path) -> np.ndarray:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return np.array([[r["epoch"], r["loss"], *r.get("member_losses", [])] for r in rows])


def _numbers(tree, prefix="") -> dict[str, float]:
    out = {}
    for k, v in sorted(tree.items()):
        if k == "seconds":  # where the time went: not an output of the computation
            continue
        if isinstance(v, dict):
            out.update(_numbers(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = v
    return out


def produce(work: pathlib.Path) -> dict[str, np.ndarray]:
    """Runs every command in ``work``; returns every output as named arrays."""
    outputs: dict[str, np.ndarray] = {}
    _inputs(work)

    def at(flags):  # the flags with {work} filled in
        return [f.replace("{work}", str(work)) for f in flags]

    for name, flags in TRAIN.items():
        run_dir = work / name
        print(f"train {name}", flush=True)
        _jaxdiff("train", "--out", str(run_dir), "--quiet", "--no-figures", *at(flags))
        outputs[f"train/{name}/samples.npy"] = np.load(run_dir / "samples.npy")
        outputs[f"train/{name}/losses"] = _losses(run_dir)
        for leaf, value in _checkpoint_leaves(run_dir).items():
            outputs[f"train/{name}/checkpoint/{leaf}"] = value
        quality = json.loads((run_dir / "report.json").read_text()).get("quality", {})
        for k, v in _numbers(quality).items():
            outputs[f"train/{name}/report.quality.{k}"] = np.array(v)
    for kind, runs in (("sample", SAMPLE), ("impute", IMPUTE)):
        for name, spec in runs.items():
            print(f"{kind} {name}", flush=True)
            path = work / f"{name}{spec.get('out', '.npy')}"
            quiet = ["--quiet"] if kind == "sample" else []
            run = ["--run", str(work / spec["run"]), "--out", str(path), *quiet]
            _jaxdiff(kind, *run, *at(spec["args"]))
            outputs[f"{kind}/{name}"] = _read(path)
    for run, flags in EVAL.items():
        print(f"eval {run}", flush=True)
        _jaxdiff("eval", "--run", str(work / run), *flags)
        quality = json.loads((work / run / "report.json").read_text())["quality"]
        for k, v in _numbers(quality).items():
            outputs[f"eval/{run}/{k}"] = np.array(v)
    return outputs


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="DIR")
    mode.add_argument("--check", metavar="DIR")
    p.add_argument("--keep", metavar="WORKDIR", help="run in WORKDIR and keep it")
    args = p.parse_args()
    work = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="jaxdiff-golden-"))
    work.mkdir(parents=True, exist_ok=True)
    outputs = produce(work)
    if args.write:
        folder = pathlib.Path(args.write)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "golden.npz", **{k.replace("/", "|"): v for k, v in outputs.items()})
        digests = {k: _digest(v) for k, v in outputs.items()}
        (folder / "golden.json").write_text(json.dumps(digests, indent=1, sort_keys=True))
        print(f"recorded {len(outputs)} outputs in {folder}")
        return 0
    folder = pathlib.Path(args.check)
    stored = np.load(folder / "golden.npz")
    recorded = {k.replace("|", "/"): stored[k] for k in stored.files}
    differ = 0
    for name in sorted(set(recorded) | set(outputs)):
        if name not in outputs or name not in recorded:
            print(f"MISSING    {name} ({'not produced' if name not in outputs else 'new'})")
            differ += 1
            continue
        old, new = recorded[name], outputs[name]
        if _digest(old) == _digest(new):
            print(f"identical  {name}")
            continue
        differ += 1
        if old.shape == new.shape and old.dtype.kind == new.dtype.kind == "f":
            gap = float(np.max(np.abs(old.astype(np.float64) - new.astype(np.float64))))
            print(f"DIFFERS    {name} (max abs difference {gap:.3g})")
        else:
            print(f"DIFFERS    {name} ({old.dtype}{old.shape} vs {new.dtype}{new.shape})")
    total = len(set(recorded) | set(outputs))
    print(f"{total - differ} of {total} outputs bit-identical; {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
