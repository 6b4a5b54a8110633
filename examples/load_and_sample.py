"""Train a run with the command line's own recipe, then load it as a model in one line
and sample, score and save it.

    python examples/load_and_sample.py [--quick]

Writes ``moons-run/`` (the run directory ``jaxdiff train`` writes), ``moons-model/`` (the
model alone, from ``save``) and ``moons_samples.npy``.
"""

import argparse
import shutil

import numpy as np

import jaxdiff
from jaxdiff.runs import overrides, presets, train


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="5 epochs instead of 120")
    args = p.parse_args()
    # The `default` recipe of `jaxdiff train --data moons` (its EMA, cosine rate, sampler).
    epochs = 5 if args.quick else 120
    cfg = overrides.configure(presets.preset("default"), data="moons", epochs=epochs)
    shutil.rmtree("moons-run", ignore_errors=True)
    train.train_run(cfg, "moons-run", progress=False, eval_n=0, figures=False)

    model = jaxdiff.load("moons-run")
    x = model.sample(2000, seed=0)  # the run's sampler: 100 ancestral steps
    x8 = model.sample(2000, seed=0, method="dpm-solver", steps=8)  # 8 evaluations
    np.save("moons_samples.npy", x)
    inside = model.log_prob(x[:50])
    outside = model.log_prob(np.full((50, 2), 5.0, np.float32))
    print(f"loaded epoch {model.epoch}: {x.shape[0]} samples, mean {x.mean(0).round(2)}")
    print(f"8-evaluation samples, mean {x8.mean(0).round(2)}")
    print(f"log p: on the samples {inside.mean():.2f}, at (5, 5) {outside.mean():.2f} nats")

    shutil.rmtree("moons-model", ignore_errors=True)
    again = jaxdiff.load(model.save("moons-model"))
    assert np.array_equal(again.sample(2000, seed=0), x)
    print("saved to moons-model/ and loaded again: the same samples")


if __name__ == "__main__":
    main()
