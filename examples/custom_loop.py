"""Your own training loop around ``train_step``, and ``sample`` inside your own
``jax.jit`` and ``jax.vmap``: four independent sample batches in one compiled call.

    python examples/custom_loop.py [--steps 3000] [--quick]

The loop is plain Python over a jitted ``train_step`` (keys split by you, batches drawn
by you); then one jitted function draws a batch per key with ``jax.vmap`` over
``jaxdiff.sample`` and returns each batch's mean, printed beside the data's.
"""

import argparse

import jax
import jax.numpy as jnp

import jaxdiff


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--quick", action="store_true", help="50 steps, for a smoke run")
    args = p.parse_args()
    steps = 50 if args.quick else args.steps

    data = jnp.asarray(jaxdiff.core.data.load("moons", jax.random.key(0), 5000))
    data = (data - data.mean(0)) / data.std(0)
    schedule = jaxdiff.cosine_schedule(200)
    model = jaxdiff.MLPDenoiser(
        num_steps=200, config=jaxdiff.NetworkConfig(time_embedding="sinusoidal", residual=True)
    )
    apply_fn, params = jaxdiff.functional(model, jax.random.key(1))
    optimizer = jaxdiff.make_optimizer(1e-3, clip_norm=1.0)
    state = jaxdiff.init_state(jax.random.key(2), params, optimizer)
    spec = jaxdiff.TrainSpec(apply_fn, optimizer, batch_size=256)
    step = jax.jit(jaxdiff.train_step, static_argnames="spec")

    key = jax.random.key(3)
    for i in range(steps):
        key, k_batch, k_loss = jax.random.split(key, 3)
        batch = data[jax.random.choice(k_batch, data.shape[0], (256,), replace=False)]
        state, loss = step(state, batch, k_loss, spec=spec, schedule=schedule)
        if i % max(1, steps // 5) == 0:
            print(f"step {i:5d}  loss {float(loss):.4f}")

    opts = jaxdiff.SamplerOptions(method="ddim", steps=50, eta=1.0)

    @jax.jit
    def batch_means(params, keys):
        draw = lambda k: jaxdiff.sample(k, apply_fn, params, schedule, (2000, 2), opts)  # noqa: E731
        return jax.vmap(draw)(keys).mean(axis=1)

    means = batch_means(state.params, jax.random.split(jax.random.key(4), 4))
    print("data mean", data.mean(0), "\nbatch means\n", means)
    assert means.shape == (4, 2) and bool(jnp.all(jnp.isfinite(means)))


if __name__ == "__main__":
    main()
