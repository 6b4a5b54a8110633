"""Your own array of points -> train -> sample -> plot, with the library only.

    python examples/own_points.py [--data points.npy] [--out own_points.png] [--quick]

Without ``--data`` it makes a ring of 5,000 points. ``--quick`` trains 5 epochs and
samples with 20 steps (a smoke run of a few seconds); without it, the ``default``
recipe's 120 epochs and 100 ancestral steps.
"""

import argparse

import jax
import numpy as np

import jaxdiff
from jaxdiff import plotting


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
    epochs, steps = (5, 20) if args.quick else (120, 100)

    norm = jaxdiff.data.Normalizer.fit(x)  # standardise; decode the samples later
    schedule = jaxdiff.cosine_schedule(1000)
    model = jaxdiff.MLPDenoiser(
        data_dim=x.shape[1],
        num_steps=1000,
        config=jaxdiff.NetworkConfig(
            init_style="flax",
            input_features="fourier",
            feature_scale=3.0,
            time_embedding="sinusoidal",
            residual=True,
            activation="gelu",
        ),
    )
    apply_fn, params = jaxdiff.functional(model, jax.random.key(0))
    optimizer = jaxdiff.make_optimizer(5e-3, clip_norm=1.0)  # clip, then Adam
    state = jaxdiff.init_state(jax.random.key(1), params, optimizer)
    spec = jaxdiff.TrainSpec(apply_fn, optimizer, batch_size=512, target="v")
    state, info = jaxdiff.fit(state, norm.encode(x), spec=spec, schedule=schedule, epochs=epochs)
    opts = jaxdiff.SamplerOptions(method="ddim", steps=steps, eta=1.0, target="v")
    z = jaxdiff.sample(jax.random.key(2), apply_fn, state.params, schedule, x.shape, opts)
    samples = norm.decode(z)

    plotting.samples_grid(x, {"samples": np.asarray(samples)}, args.out, title="yours")
    print(f"trained {epochs} epochs in {info['train_seconds']:.1f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
