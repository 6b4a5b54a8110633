"""Sampling speed and quality: jaxdiff's scanned chain vs a Python loop over a jitted step
vs the seed's PyTorch loop, and every sampler's quality per network evaluation.

Part 1 (speed): DDPM ancestral sampling of N points through T steps with the seed's model
(untrained weights: speed does not depend on them), for several N and T; achieved
GFLOP/s against this device's measured matmul rate.
Part 2 (quality): one model trained with the ``fast`` preset, sampled by ddpm, ddim and
dpm-solver at several step counts; sliced W2 against a fresh draw of the data, and time.

Usage: python benchmarks/sampling.py [--quick] [--large] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import time

import _torch_seed as torch_seed
import jax
from _common import block, matmul_peak, mlp_flops_per_row, save, table, timed

from jaxdiff import data, metrics, models, samplers, schedules, solvers
from jaxdiff.runs import draw, presets, setup, train


def _model(num_steps):
    apply_fn, params = models.functional(models.MLPDenoiser(num_steps=num_steps), jax.random.key(0))
    sched = schedules.sigmoid_schedule(num_steps, 1e-5, 5e-3)
    return apply_fn, params, sched


_step = jax.jit(
    solvers.ddpm_step, static_argnames=("apply_fn", "variance", "last_step_noise", "target")
)


def speed_row(n, num_steps, torch_ok, torch_limit):
    apply_fn, params, sched = _model(num_steps)
    key = jax.random.key(1)
    shape = (n, 2)

    def scan():
        return block(samplers.sample(key, apply_fn, params, sched, shape))

    keys = jax.random.split(key, num_steps)

    def loop():
        x = jax.random.normal(key, shape)
        for t in range(num_steps - 1, -1, -1):
            x = _step(keys[t], apply_fn, params, sched, x, t)
        return block(x)

    t0 = time.perf_counter()
    scan()
    compile_s = time.perf_counter() - t0
    work = mlp_flops_per_row() * n * num_steps
    reps = 5 if work < 1e11 else 2
    row = {"n": n, "T": num_steps}
    row["scan_s"] = timed(scan, reps)["min_s"]
    row["scan_first_call_s"] = compile_s
    row["loop_s"] = timed(loop, reps)["min_s"]
    row["gflops"] = work / row["scan_s"] / 1e9
    if torch_ok and n * num_steps <= torch_limit:
        r = 3 if n * num_steps <= 1e6 else 1
        row["torch_seed_s"] = torch_seed.measure("sample", n=n, num_steps=num_steps, repeats=r)
        row["torch_inference_s"] = torch_seed.measure(
            "sample", n=n, num_steps=num_steps, repeats=r, inference_mode=True
        )
        row["speedup_vs_seed"] = row["torch_seed_s"] / row["scan_s"]
        row["speedup_vs_torch_inference"] = row["torch_inference_s"] / row["scan_s"]
    return row


def quality_rows(n):
    cfg = presets.preset("fast")
    s = setup.setup(cfg)
    t0 = time.perf_counter()
    state, info = train.fit(s, epochs_per_call=cfg.train.epochs)
    params = state.ema_params
    fresh = data.s_curve(99, n)
    key = jax.random.key(0)
    T = s.schedule.num_steps
    settings = [("ddpm", T, dict(variance="beta_tilde", last_step_noise=False))]
    settings += [("ddpm", T, dict(variance="beta", last_step_noise=True))]
    settings += [("ddim", k, {}) for k in (10, 20, 50, 100)]
    settings += [("dpm-solver", k, {}) for k in (5, 8, 10, 15, 20)]
    rows = []
    for method, k, extra in settings:
        opts = dict(method=method, steps=k, spacing="trailing", **extra)

        def go(opts=opts):
            return block(draw.draw(s, params, s.keys.sample, n, **opts))

        seconds = timed(go, 3)["min_s"]
        x = go()
        rows.append(
            {
                "sampler": method + (f" ({extra['variance']})" if method == "ddpm" else ""),
                "steps": k,
                "seconds": seconds,
                "sliced_w2": float(metrics.sliced_wasserstein(key, x, fresh)),
            }
        )
    floor = float(metrics.sliced_wasserstein(key, data.s_curve(5, n), fresh))
    return rows, {
        "train_seconds": info["train_seconds"],
        "floor_sliced_w2": floor,
        "setup_and_train_wall_s": time.perf_counter() - t0,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--large", action="store_true", help="GPU sizes: N up to 1e7")
    p.add_argument("--no-quality", action="store_true")
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()

    torch_ok = torch_seed.available()
    if not torch_ok:
        print(
            "torch is not installed: the PyTorch seed columns are missing "
            "(pip install -e '.[bench]')"
        )
    if args.quick:
        grid, torch_limit = [(1000, 100), (1000, 1000)], 1e6
    elif args.large:
        grid = [(n, 100) for n in (10**3, 10**4, 10**5, 10**6, 10**7)]
        grid += [(n, 1000) for n in (10**3, 10**4, 10**5, 10**6)]
        torch_limit = 0
    else:
        grid = [(n, 100) for n in (10**3, 10**4, 10**5)] + [(n, 1000) for n in (10**3, 10**4)]
        torch_limit = 1e6
    peak = matmul_peak()
    print(f"measured matmul peak: {peak['peak_gflops']:.0f} GFLOP/s ({peak})")
    rows = [speed_row(n, T, torch_ok, torch_limit) for n, T in grid]
    for r in rows:
        r["fraction_of_peak"] = r["gflops"] / peak["peak_gflops"]
        r["flop_limit_s"] = mlp_flops_per_row() * r["n"] * r["T"] / peak["peak_gflops"] / 1e9
    print("\nDDPM sampling, seed model (min of repeats, seconds)")
    print(
        table(
            rows,
            [
                ("n", "N", "{:,}"),
                ("T", "T", "{}"),
                ("scan_s", "jaxdiff scan", "{:.4f}"),
                ("loop_s", "jitted-step loop", "{:.4f}"),
                ("torch_seed_s", "torch seed", "{:.3f}"),
                ("torch_inference_s", "torch inference_mode", "{:.3f}"),
                ("speedup_vs_seed", "x vs seed", "{:.1f}"),
                ("gflops", "GFLOP/s", "{:.1f}"),
                ("flop_limit_s", "FLOP limit s", "{:.4f}"),
                ("scan_first_call_s", "1st call s", "{:.2f}"),
            ],
        )
    )
    payload = {"matmul": peak, "speed": rows}
    if not args.no_quality:
        n = 2000 if args.quick else 10_000
        qrows, meta = quality_rows(n)
        seed_100 = next((r for r in rows if r["n"] == 10_000 and r["T"] == 100), None)
        for r in qrows:
            if seed_100 and "torch_seed_s" in seed_100:
                r["speedup_vs_seed_sampler"] = seed_100["torch_seed_s"] / r["seconds"]
        print(
            f"\nSampler quality, fast preset model, {n:,} samples "
            f"(data floor sliced W2 {meta['floor_sliced_w2']:.4f})"
        )
        print(
            table(
                qrows,
                [
                    ("sampler", "sampler", ""),
                    ("steps", "steps", "{}"),
                    ("seconds", "seconds", "{:.4f}"),
                    ("sliced_w2", "sliced W2", "{:.4f}"),
                    ("speedup_vs_seed_sampler", "x vs seed 100-step", "{:.1f}"),
                ],
            )
        )
        payload["quality"] = {"n": n, **meta, "rows": qrows}
    path = save("sampling_quick" if args.quick else "sampling", payload, args.results_dir)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
