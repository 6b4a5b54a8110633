"""Kill CLI training with SIGKILL at random moments, resume each time, and check that the
end result equals an uninterrupted run bit for bit.

Each round starts ``jaxdiff train`` (or ``--resume`` once a checkpoint exists) in a
subprocess, waits until it has finished a random number of further epochs, sleeps a
random fraction of an epoch so that kills also land inside checkpoint writes, and sends
SIGKILL. After every kill the run directory must restore without error at a whole epoch.
A final resume runs to the end; its parameters, optimiser state and samples.npy are
compared with an uninterrupted run of the same command.

Usage: python scripts/crash_resume.py [--kills 10] [--epochs 40] [--seed 0] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

from jaxdiff.runs import checkpoints, rundir, setup


def _cmd(out, epochs, resume):
    base = [sys.executable, "-m", "jaxdiff.cli", "train", "--out", str(out)]
    base += ["--epochs", str(epochs)]
    flags = ["--checkpoint-every", "1", "--quiet", "--eval-n", "0", "--no-figures"]
    return [*base, *(["--resume"] if resume else ["--batch-size", "1000"]), *flags]


def _epochs_logged(out):
    path = pathlib.Path(out) / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def _equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return all(np.array_equal(x, y) for x, y in zip(la, lb, strict=True))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=None)
    args = p.parse_args()
    rng = random.Random(args.seed)
    work = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="crash-resume-"))
    env = {**os.environ, "JAXDIFF_CACHE_DIR": str(work / "xla")}
    ref, out = work / "uninterrupted", work / "killed"

    t0 = time.time()
    done = subprocess.run(_cmd(ref, args.epochs, False), env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"uninterrupted run failed:\n{done.stderr}")
    print(f"uninterrupted run: {args.epochs} epochs in {time.time() - t0:.1f} s")

    kills = 0
    while kills < args.kills:
        has_ckpt = checkpoints.latest_epoch(out / "checkpoints") is not None
        start = _epochs_logged(out)
        cmd = _cmd(out, args.epochs, has_ckpt)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        target = start + rng.randint(1, 3)
        while _epochs_logged(out) < target and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.08))
        if proc.poll() is not None:
            print(f"round {kills + 1}: training finished before the kill")
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        try:
            _, state = setup.restore(out)
            at = f"restores at epoch {int(state.epoch)} (step {int(state.step)})"
        except rundir.RunError as err:
            at = f"no checkpoint yet ({err})"
        print(f"kill {kills:2d}: {_epochs_logged(out):3d} epochs logged; {at}")

    final = subprocess.run(_cmd(out, args.epochs, True), env=env, capture_output=True, text=True)
    if final.returncode:
        raise SystemExit(f"final resume failed:\n{final.stderr}")
    _, a = setup.restore(ref)
    _, b = setup.restore(out)
    same_params = _equal(a.params, b.params) and _equal(a.opt_state, b.opt_state)
    same_samples = (ref / "samples.npy").read_bytes() == (out / "samples.npy").read_bytes()
    print(
        f"after {kills} kills and resumes: epoch {int(b.epoch)}, parameters and optimiser "
        f"state {'identical' if same_params else 'DIFFERENT'}, samples.npy "
        f"{'identical' if same_samples else 'DIFFERENT'} to the uninterrupted run"
    )
    raise SystemExit(0 if same_params and same_samples else 1)


if __name__ == "__main__":
    main()
