"""Your own array of points -> train -> sample -> plot, with the library's functions and
the `default` recipe's own settings (the ones `jaxdiff train` uses, read from the preset,
not retyped).

    python examples/own_points.py [--data points.npy] [--out own_points.png] [--quick]

Without ``--data`` it makes a ring of 5,000 points. ``--quick`` trains 5 epochs and
samples with 20 steps (a smoke run of a few seconds); without it, the ``default``
recipe's 120 epochs, warm-up and cosine rate, EMA and 100 ancestral steps.
"""

import argparse
import dataclasses

import jax
import numpy as np

import jaxdiff
from jaxdiff.core import plotting
from jaxdiff.runs import build, presets


def ring(n=5_000, seed=0):
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(angle), np.sin(angle)], 1) + 0.05 * rng.standard_normal((n, 2))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help=".npy file of rows (default: a ring)")
    p.add_argument("--out", default="own_points.png")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    x = (np.load(args.data) if args.data else ring()).astype(np.float32)
    cfg = presets.preset("default")  # the recipe of `jaxdiff train`
    if args.quick:
        train = dataclasses.replace(cfg.train, epochs=5, lr_decay_epochs=5)
        cfg = dataclasses.replace(
            cfg, train=train, sample=dataclasses.replace(cfg.sample, steps=20)
        )
    t = cfg.train

    norm = jaxdiff.core.data.Normalizer.fit(x)  # standardise; decode the samples later
    schedule = build.build_schedule(cfg.schedule)  # cosine, T = 1000
    model = build.build_model(cfg.model, cfg.schedule.num_steps, x.shape[1])
    apply_fn, params = jaxdiff.functional(model, jax.random.key(0))
    steps_per_epoch = -(-x.shape[0] // t.batch_size)
    optimizer, _ = build.build_optimizer(t, steps_per_epoch)  # clip, Adam, warm-up + cosine
    state = jaxdiff.init_state(jax.random.key(1), params, optimizer, ema=True)
    spec = jaxdiff.TrainSpec(apply_fn, optimizer, t.batch_size, t.target, ema_decay=t.ema_decay)
    state, info = jaxdiff.fit_state(
        state, norm.encode(x), spec=spec, schedule=schedule, epochs=t.epochs
    )
    opts = build.sampler_options(cfg)  # ancestral (DDIM, η = 1) over 100 steps
    z = jaxdiff.sample(jax.random.key(2), apply_fn, state.ema_params, schedule, x.shape, opts)
    samples = norm.decode(z)

    plotting.samples_grid(x, {"samples": np.asarray(samples)}, args.out, title="yours")
    print(f"trained {t.epochs} epochs in {info['train_seconds']:.1f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
