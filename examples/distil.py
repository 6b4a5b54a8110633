"""Distil a trained DDPM run into a student that samples in 4 network evaluations, then
score the student beside its teacher's own 4-step sampler and its 100 ancestral steps.

    python examples/distil.py [--quick]

Writes ``moons-teacher/`` (the run ``jaxdiff train --data moons`` writes) and
``moons-student/`` (the run ``jaxdiff distill --run moons-teacher --student light --nfe 4``
writes), and prints MMD², precision and recall of each sampler against fresh data.
"""

import argparse
import shutil

import jax.numpy as jnp
import numpy as np

import jaxdiff
from jaxdiff.core import data, metrics
from jaxdiff.runs import config, distill, overrides, presets, train


def scores(reference, x) -> str:
    reference, x = jnp.asarray(reference), jnp.asarray(x, jnp.float32)
    precision, recall = (float(v) for v in metrics.precision_recall(reference, x))
    mmd2 = metrics.mmd2(reference, x)
    return f"MMD² {float(mmd2):8.1e}   precision {precision:.3f}   recall {recall:.3f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few epochs, iterations and pairs")
    args = p.parse_args()
    # None: the method's own (12,000 iterations on 40,000 pairs for the light student).
    epochs, iterations, pairs = (5, 200, 2000) if args.quick else (120, None, None)
    cfg = overrides.configure(presets.preset("default"), data="moons", epochs=epochs)
    shutil.rmtree("moons-teacher", ignore_errors=True)
    train.train_run(cfg, "moons-teacher", progress=False, eval_n=0, figures=False)

    # The light student: the teacher's network with blocks dropped, trained on the
    # teacher's own ODE endpoints at 4 noise levels (`jaxdiff distill --student light`).
    spec = config.DistillConfig(steps=4, student="light", iterations=iterations, pairs=pairs)
    shutil.rmtree("moons-student", ignore_errors=True)
    distill.distill_run("moons-teacher", "moons-student", spec, eval_n=0, figures=False)

    teacher, student = jaxdiff.load("moons-teacher"), jaxdiff.load("moons-student")
    fresh = data.load("moons", 12345, 2000)  # points training never saw
    n = 2000
    rows = {
        "teacher, 100 ancestral steps": teacher.sample(n, seed=0),
        "teacher, DDIM 4 evaluations": teacher.sample(n, seed=0, method="ddim", steps=4, eta=0.0),
        "student, 4 evaluations": student.sample(n, seed=0),
        "data floor (a second draw)": data.load("moons", 54321, n),
    }
    for name, x in rows.items():
        print(f"{name:30s} {scores(fresh, np.asarray(x))}")


if __name__ == "__main__":
    main()
