"""Aggregate training speed of K vmapped models against one model, batch 128, seed model.

Usage: python benchmarks/ensembles.py [--sizes 1,2,4,8] [--epochs 3] [--results-dir DIR]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from _common import block, cpu_name, results, save, table, timed

from jaxdiff.core import apply, data, models
from jaxdiff.ddpm import schedules
from jaxdiff.engine import ensembles, train_spec, training


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1,2,4,8")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    model = models.MLPDenoiser()
    apply_fn, _ = apply.functional(model, jax.random.key(0))

    def init_params(key):
        return model.init(key, jnp.zeros((1, 2)), jnp.zeros((1,), jnp.int32))["params"]

    opt = train_spec.make_optimizer(1e-3, 1.0)
    sched = schedules.sigmoid_schedule(100, 1e-5, 5e-3)
    x = jnp.asarray(data.s_curve(1234))
    steps_per_epoch = -(-x.shape[0] // 128)
    spec = train_spec.TrainSpec(apply_fn=apply_fn, optimizer=opt, batch_size=128)
    kw = dict(spec=spec, schedule=sched)
    rows = []
    for k in (int(v) for v in args.sizes.split(",")):
        keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(k))
        states = ensembles.init_ensemble(keys, init_params, opt)
        t = timed(
            lambda states=states: block(ensembles.train_epochs(states, x, args.epochs, **kw)[1]),
            3,
        )
        rows.append(
            {"members": k, "model_steps_per_s": k * args.epochs * steps_per_epoch / t["min_s"]}
        )
    base = rows[0]["model_steps_per_s"] if rows[0]["members"] == 1 else None
    for r in rows:
        r["speedup_vs_one"] = r["model_steps_per_s"] / base if base else None
    single = train_spec.init_state(jax.random.key(0), init_params(jax.random.key(1)), opt)
    t = timed(
        lambda: block(training.train_epochs(single, x, args.epochs, **kw)[1]),
        3,
    )
    plain = args.epochs * steps_per_epoch / t["min_s"]
    print(f"one model, plain train_epochs: {plain:,.0f} steps/s")
    print(
        table(
            rows,
            [
                ("members", "K", "{}"),
                ("model_steps_per_s", "model-steps/s", "{:,.0f}"),
                ("speedup_vs_one", "x vs K=1", "{:.2f}"),
            ],
        )
    )
    path = save("ensembles", {"rows": rows, "single_model_steps_per_s": plain}, args.results_dir)
    print(f"wrote {path}")


# --- the page block of docs/scale.md (benchmarks/summarize.py) ------------------------------


def blocks(doc: dict, section: str) -> dict:
    """The ensembles' speed-up on this CPU beside the lent H200's."""
    cpu, dev = doc[section], results("gpu-nvidia-h200x1")["ensembles"]
    rates = ", ".join(f"{r['members']}: {r['model_steps_per_s']:,.0f}" for r in cpu["rows"])
    top = max(cpu["rows"], key=lambda r: r["members"])
    met = "met" if top["speedup_vs_one"] >= 3 else "**not met**"
    gpu = " and ".join(f"K = {r['members']} gives {r['speedup_vs_one']:.1f}×"
                       for r in dev["rows"] if r["members"] > 1)  # fmt: skip
    return {"ensembles": {"text": (
        f"`python benchmarks/ensembles.py` ({cpu['date'][:10]}, {cpu_name(doc)}) measured the "
        f"aggregate model-steps/s at batch 128, K = {rates}: "
        f"{top['speedup_vs_one']:.1f}× at K = {top['members']}. The goal of ≥ 3× is "
        f"{met} on this CPU: each step is already bound by the matmul rate, and batching "
        "several models' 128-row products does not make XLA:CPU multiply faster. On an "
        f"H200, where one model leaves the device idle, {gpu} ({dev['date'][:10]})."
    )}}  # fmt: skip


if __name__ == "__main__":
    main()
