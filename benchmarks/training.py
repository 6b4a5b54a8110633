"""Training speed: jaxdiff's scanned epoch vs a Python loop over a jitted step vs the
seed's PyTorch loop, over batch sizes; where the time of one step goes; and the time to
reach the seed's final sample quality.

Usage: python benchmarks/training.py [--quick] [--large] [--no-quality] [--trace DIR]
       [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import time

import _torch_seed as torch_seed
import jax
import jax.numpy as jnp
import optax
from _common import block, cells, cpu_name, matmul_peak, mlp_flops_per_row, save, table, timed

from jaxdiff.core import apply, data, metrics, models
from jaxdiff.ddpm import losses, schedules
from jaxdiff.engine import train_spec, training
from jaxdiff.runs import draw, presets, setup, train

SEED_STEPS = 4000 * 79  # the seed's 4000 epochs of 79 batches


def _setup(num_steps=100):
    apply_fn, params = apply.functional(models.MLPDenoiser(num_steps=num_steps), jax.random.key(0))
    sched = schedules.sigmoid_schedule(num_steps, 1e-5, 5e-3)
    opt = train_spec.make_optimizer(1e-3, clip_norm=1.0)
    state = train_spec.init_state(jax.random.key(1), params, opt)
    return apply_fn, sched, opt, state


def speed_row(x, batch, torch_ok):
    apply_fn, sched, opt, state = _setup()
    kw = dict(
        spec=train_spec.TrainSpec(apply_fn=apply_fn, optimizer=opt, batch_size=batch),
        schedule=sched,
    )
    steps_per_epoch = -(-x.shape[0] // batch)
    epochs = max(1, min(20, 4000 // steps_per_epoch))

    t0 = time.perf_counter()
    st, _ = training.train_epochs(state, x, epochs, **kw)  # compiles
    block(st.params)
    first_call = time.perf_counter() - t0

    def scanned():
        return block(training.train_epochs(state, x, epochs, **kw)[1])

    t = timed(scanned, 3)
    row = {"batch": batch, "scan_steps_per_s": epochs * steps_per_epoch / t["min_s"]}
    row["scan_first_call_s"] = first_call

    # A Python loop over the jitted step, batches pre-cut on the device (the fairest loop).
    perm = jax.random.permutation(jax.random.key(2), x.shape[0])
    full = (x.shape[0] // batch) * batch
    batches = [x[perm[i : i + batch]] for i in range(0, full, batch)][:200]
    keys = list(jax.random.split(jax.random.key(3), len(batches)))
    step_kw = kw

    def loop():
        st = state
        for b, k in zip(batches, keys, strict=True):
            st, loss = training.train_step(st, b, k, **step_kw)
        return block(loss)

    t = timed(loop, 3)
    row["loop_steps_per_s"] = len(batches) / t["min_s"]
    row["scan_vs_loop"] = row["scan_steps_per_s"] / row["loop_steps_per_s"]
    row["gflops"] = row["scan_steps_per_s"] * batch * 3 * mlp_flops_per_row() / 1e9
    if torch_ok and batch <= 4096:
        row["torch_seed_steps_per_s"] = torch_seed.measure(
            "train", batch_size=batch, epochs=2 if batch < 512 else 4
        )
        row["speedup_vs_seed"] = row["scan_steps_per_s"] / row["torch_seed_steps_per_s"]
    return row


def profile(x, batch=128, trace_dir=None):
    """Where one training step's time goes, by removing one part at a time (all jitted
    loops over 200 steps, so dispatch costs are amortised)."""
    apply_fn, sched, opt, state = _setup()
    params = state.params
    xb = x[:batch]
    n = 200

    def run_loop(body, carry):
        f = jax.jit(lambda c: jax.lax.fori_loop(0, n, body, c))
        f(carry)
        return timed(lambda: block(f(carry)), 3)["min_s"] / n

    t = jnp.arange(batch) % 100

    def fwd(i, acc):
        return acc + apply_fn(params, xb + acc * 0, t).sum()

    def lossgrad(i, p):
        g = jax.grad(
            lambda p: losses.denoising_loss(
                jax.random.fold_in(jax.random.key(0), i), apply_fn, p, sched, xb
            )
        )(p)
        return jax.tree_util.tree_map(lambda a, b: a - 1e-9 * b, p, g)

    plain_adam = optax.adam(1e-3)

    def adam_step(i, c):
        p, o = c
        g = jax.grad(
            lambda p: losses.denoising_loss(
                jax.random.fold_in(jax.random.key(0), i), apply_fn, p, sched, xb
            )
        )(p)
        u, o = plain_adam.update(g, o, p)
        return optax.apply_updates(p, u), o

    rows = [
        {"part": "forward pass (B=128)", "us": 1e6 * run_loop(fwd, jnp.float32(0))},
        {"part": "+ loss and backward", "us": 1e6 * run_loop(lossgrad, params)},
        {"part": "+ Adam", "us": 1e6 * run_loop(adam_step, (params, plain_adam.init(params)))},
    ]
    apply_kw = dict(
        spec=train_spec.TrainSpec(apply_fn=apply_fn, optimizer=opt, batch_size=batch),
        schedule=sched,
    )
    steps_per_epoch = -(-x.shape[0] // batch)
    training.train_epochs(state, x, 10, **apply_kw)
    secs = timed(lambda: block(training.train_epochs(state, x, 10, **apply_kw)[1]), 3)["min_s"]
    rows.append(
        {
            "part": "+ clipping, shuffling, ragged batch (scanned epoch)",
            "us": 1e6 * secs / (10 * steps_per_epoch),
        }
    )
    if trace_dir:
        with jax.profiler.trace(trace_dir):
            block(training.train_epochs(state, x, 2, **apply_kw)[1])
    return rows


def time_to_quality(threshold, chunk=10, max_epochs=300):
    """Training seconds of the fast preset until its samples reach ``threshold`` sliced
    W2 against a fresh draw (sampling and scoring are outside the clock)."""
    cfg = presets.preset("fast")
    s = setup.setup(cfg)
    fresh = data.s_curve(99, 10_000)
    key = jax.random.key(0)
    state, seconds, history = s.state, 0.0, []
    # Compile outside the clock: one chunk from a throwaway copy.
    train.fit(s, state, epochs_per_call=chunk)
    while int(state.epoch) < max_epochs:
        target = int(state.epoch) + chunk
        sub = s.__class__(**{**s.__dict__, "config": config_with_epochs(cfg, target)})
        state, info = train.fit(sub, state, epochs_per_call=chunk)
        seconds += info["train_seconds"]
        x = draw.draw(s, state.ema_params, s.keys.sample, 10_000)
        sw = float(metrics.sliced_wasserstein(key, x, fresh))
        history.append({"epoch": int(state.epoch), "train_seconds": seconds, "sliced_w2": sw})
        if sw <= threshold:
            return seconds, history
    return None, history


def config_with_epochs(cfg, epochs):
    import dataclasses

    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="batch 128 only, no quality run")
    p.add_argument("--large", action="store_true", help="GPU batch sizes up to 65536")
    p.add_argument("--no-quality", action="store_true")
    p.add_argument(
        "--seed-quality",
        type=float,
        default=None,
        help="sliced W2 of the seed preset after 4000 epochs (default: "
        "benchmarks/results/fast_preset.json's measurement)",
    )
    p.add_argument("--trace", default=None, help="also write a jax.profiler trace here")
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    torch_ok = torch_seed.available()
    if not torch_ok:
        print(
            "torch is not installed: the PyTorch seed columns are missing "
            "(pip install -e '.[bench]')"
        )
    x = jnp.asarray(data.s_curve(1234))
    if args.quick:
        batches = [128]
    elif args.large:
        batches = [128, 1024, 8192, 65536]
        x = jnp.asarray(data.s_curve(1234, 200_000))
    else:
        batches = [32, 128, 512, 1024, 4096]
    peak = matmul_peak()
    rows = [speed_row(x, b, torch_ok and not args.large) for b in batches]
    for r in rows:
        r["fraction_of_peak"] = r["gflops"] / peak["peak_gflops"]
    print(f"measured matmul peak: {peak['peak_gflops']:.0f} GFLOP/s")
    print(f"\nTraining steps/s on {x.shape[0]:,} points (max of repeats)")
    print(
        table(
            rows,
            [
                ("batch", "batch", "{}"),
                ("scan_steps_per_s", "jaxdiff scanned epoch", "{:,.0f}"),
                ("loop_steps_per_s", "jitted-step loop", "{:,.0f}"),
                ("torch_seed_steps_per_s", "torch seed", "{:,.0f}"),
                ("speedup_vs_seed", "x vs seed", "{:.1f}"),
                ("gflops", "GFLOP/s", "{:.1f}"),
                ("scan_first_call_s", "compile+1st s", "{:.2f}"),
            ],
        )
    )
    payload = {"matmul": peak, "speed": rows}
    prof = profile(x, 128, args.trace)
    print("\nOne step at batch 128, cumulative (microseconds per step)")
    print(table(prof, [("part", "part", ""), ("us", "us/step", "{:.0f}")]))
    payload["profile"] = prof
    if not (args.quick or args.no_quality or args.large):
        threshold = args.seed_quality
        if threshold is None:
            import json
            import pathlib

            ref = pathlib.Path(__file__).parent / "results" / "fast_preset.json"
            rows_ref = json.loads(ref.read_text())
            seed_rows = [r for r in rows_ref["rows"] if r["name"].startswith("seed preset, 4000")]
            threshold = seed_rows[0]["sw2"]
        secs, hist = time_to_quality(threshold)
        r128 = next(r for r in rows if r["batch"] == 128)
        q = {
            "threshold_sliced_w2": threshold,
            "fast_preset_train_seconds": secs,
            "fast_history": hist,
            "seed_preset_jaxdiff_seconds_at_measured_rate": SEED_STEPS / r128["scan_steps_per_s"],
            "seed_preset_torch_seconds_at_measured_rate": (
                SEED_STEPS / r128["torch_seed_steps_per_s"]
                if "torch_seed_steps_per_s" in r128
                else None
            ),
        }
        print(f"\nTime to the seed's final quality (sliced W2 <= {threshold:.4f}):")
        print(f"  fast preset: {secs:.1f} s of training" if secs else "  fast preset: not reached")
        print(
            f"  seed preset, 316,000 steps at the rates above: jaxdiff "
            f"{q['seed_preset_jaxdiff_seconds_at_measured_rate']:.0f} s"
            + (
                f", torch {q['seed_preset_torch_seconds_at_measured_rate']:.0f} s"
                if q["seed_preset_torch_seconds_at_measured_rate"]
                else ""
            )
        )
        payload["time_to_quality"] = q
    path = save("training_quick" if args.quick else "training", payload, args.results_dir)
    print(f"\nwrote {path}")


# --- the page blocks of docs/benchmarks.md, benchmarks/README.md (benchmarks/summarize.py) -


def blocks(doc: dict, section: str) -> dict:
    """Training speed against the seed's, the time to the seed's quality, and where a
    step's time goes."""
    sec = doc[section]
    rows = [[str(r["batch"]), f"{r['scan_steps_per_s']:,.0f}", f"{r['loop_steps_per_s']:,.0f}",
             f"{r['torch_seed_steps_per_s']:,.0f}", f"{r['speedup_vs_seed']:.1f}"]
            for r in sec["speed"]]  # fmt: skip
    t = sec["time_to_quality"]
    hist = t["fast_history"]
    last, before = hist[-1], hist[-2] if len(hist) > 1 else None
    prior = f"; epoch {before['epoch']} gave {before['sliced_w2']:.4f}" if before else ""
    note = (
        f"Time to the seed's final quality (sliced W2 ≤ {t['threshold_sliced_w2']:.4f}, "
        "10,000 samples against a fresh draw, scored every 10 epochs of one `fast` run): "
        f"**{t['fast_preset_train_seconds']:.1f} s** of training (epoch {last['epoch']}, "
        f"sliced W2 {last['sliced_w2']:.4f}{prior}); the seed preset's 316,000 steps take "
        f"{t['seed_preset_jaxdiff_seconds_at_measured_rate']:,.0f} s in jaxdiff and "
        f"{t['seed_preset_torch_seconds_at_measured_rate']:,.0f} s in the seed's PyTorch at "
        "these rates."
    )
    text = (
        f"`python benchmarks/training.py`, {sec['date'][:10]}, {cpu_name(doc)}: training "
        "steps/s of the seed's model and loss (clipping and Adam):"
    )
    heads = ["batch", "jaxdiff scanned epoch", "jitted-step loop", "seed's PyTorch", "× seed"]
    profile = {"text": f"{cpu_name(doc)}, {sec['date'][:10]}, JAX {doc['jax_version']}:",
               "columns": [("part", "part", ""), ("us", "µs/step", "{:,.0f}")],
               "rows": sec["profile"]}  # fmt: skip
    return {"cpu-training": cells(heads, rows, text=text, notes=[note]), "step-profile": profile}


if __name__ == "__main__":
    main()
