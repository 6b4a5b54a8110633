"""How fast 10,000 samples of the ``default`` network can be on this machine: the
arithmetic of 1, 2, 4 and 8 network evaluations against the measured matmul rate, beside
the seed's PyTorch 100-step sampler and our flow sampler, all timed in one run.

The network's floating-point work per evaluation is XLA's own count
(``compiled.cost_analysis()``) of one forward pass on 10,000 rows; the bound is that work
at the best matmul rate measured here (``_common.matmul_peak``), the fastest any sampler of
this network could be if it did nothing but multiply at peak. ``x seed max`` is the seed's
seconds over that bound: a target above it is out of reach on this machine with this
network, whatever the sampler. Speed does not depend on the weights, so the flow is
untrained (``--objective flow``, the ``default`` recipe's network).

Usage: python benchmarks/speed_bound.py [--results-dir DIR]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from _common import (
    cpu_model,
    matmul_peak,
    save,
    seed_sampler_seconds,
    span,
    stolen_seconds,
    table,
    timed,
)
from _flows import measured

from jaxdiff.runs import draw, overrides, presets, setup

N = 10_000
# The speed targets: x the seed's sampler at <= 4 and at <= 2 evaluations.
TARGETS = {4: 25, 2: 50}


def forward_flops(s, params) -> float:
    """XLA's count of one forward pass of the run's network on N rows."""
    x = jnp.zeros((N, s.data_dim))
    t = jnp.zeros((N,))
    compiled = jax.jit(lambda p, x, t: s.apply_fn(p, x, t)).lower(params, x, t).compile()
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis
    return float(analysis["flops"])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()
    stolen = stolen_seconds()
    seed_first = seed_sampler_seconds(N)
    peak = matmul_peak()
    s = setup.setup(overrides.configure(presets.preset("default"), objective="flow"))
    params = setup.model_params(s, s.state)
    flops = forward_flops(s, params)
    rows = []
    for evals, changes in (
        (1, {"method": "euler", "steps": 1}),
        (2, {"method": "midpoint", "steps": 1}),
        (4, {"method": "midpoint", "steps": 2}),
        (8, {"method": "midpoint", "steps": 4}),
    ):
        seconds = timed(lambda c=changes: draw.draw(s, params, s.keys.sample, N, **c), 5)["min_s"]
        bound = evals * flops / (peak["peak_gflops"] * 1e9)
        rows.append(
            {"evals": evals, "bound_s": bound, "seconds": seconds, "target": TARGETS.get(evals)}
        )
    seed = seed_sampler_seconds(N, seed_first)
    for r in rows:
        r["x_seed_max"] = None if seed is None else seed / r["bound_s"]
        r["x_seed"] = None if seed is None else seed / r["seconds"]
        r["share_of_peak"] = r["bound_s"] / r["seconds"]
    stolen_cpu = None if stolen is None else stolen_seconds() - stolen
    columns = [
        ("evals", "evals", "{:d}"),
        ("bound_s", "flop bound s", "{:.4f}"),
        ("x_seed_max", "x seed max", "{:.1f}"),
        ("target", "x seed target", "{}"),
        ("seconds", "measured s", "{:.4f}"),
        ("x_seed", "x seed", "{:.1f}"),
        ("share_of_peak", "of peak", "{:.0%}"),
    ]
    print(
        f"\n{cpu_model()}: forward pass {flops / N:,.0f} FLOP/row, matmul peak "
        f"{peak['peak_gflops']:.0f} GFLOP/s, seed's sampler {seed} s / 10k, "
        f"CPU seconds stolen by the hypervisor during the run: {stolen_cpu}"
    )
    print(table(rows, columns))
    payload = {
        "n": N,
        "flops_per_row": flops / N,
        "matmul": peak,
        "seed_seconds": seed,
        "stolen_cpu_seconds": stolen_cpu,
        "rows": rows,
    }
    print(f"wrote {save('speed_bound', payload, args.results_dir)}")


# --- the page blocks of docs/results-flows.md (benchmarks/summarize.py) -------------------


def blocks(doc: dict, section: str) -> dict:
    """The flop bound beside the measured seconds at each budget, and what it rules out."""
    sec = doc[section]
    text = (
        f"{measured(doc, sec)}, one run of `python benchmarks/speed_bound.py`: the "
        f"`default` network does {sec['flops_per_row']:,.0f} floating-point operations per "
        f"row and evaluation (XLA's count); this machine multiplied float32 matrices at "
        f"{sec['matmul']['peak_gflops']:.0f} GFLOP/s at best; the seed's PyTorch sampler "
        f"took {sec['seed_seconds']:.3f} s for 10,000 samples in the same run."
    )
    columns = [("evals", "evaluations", "{}"), ("bound_s", "flop bound, s / 10k", "{:.4f}"),
               ("x_seed_max", "× seed at most", "{:.1f}×"), ("target", "× seed asked", "{}×"),
               ("seconds", "measured s / 10k", "{:.4f}"), ("x_seed", "× seed measured", "{:.1f}×"),
               ("share_of_peak", "of peak", "{:.0%}")]  # fmt: skip
    rows = {r["evals"]: r for r in sec["rows"]}
    targets = [r for r in rows.values() if r["target"]]
    reach = all(r["x_seed_max"] >= r["target"] for r in targets)
    parts = " and ".join(f"about {r['x_seed_max']:.0f}× at {r['evals']}" for r in targets)
    one = rows[1]
    note = (
        "Even at peak with nothing else to do, the `default` network cannot sample faster "
        f"than the seed's sampler by more than {parts} evaluations on this machine: **the "
        + " and ".join(f"≥ {r['target']}×" for r in targets)
        + (" targets are within reach" if reach else " targets are out of reach")
        + " for this network on this CPU** (our samplers reach "
        f"{span([100 * r['share_of_peak'] for r in rows.values()], '.0f', ' to ')}% of the peak). "
        f"Only 1 evaluation leaves room ({one['x_seed_max']:.0f}× at most, "
        f"{one['x_seed']:.0f}× measured)."
    )
    return {"speed-table": {"text": text, "columns": columns, "rows": sec["rows"]},
            "speed-findings": {"notes": [note]}}  # fmt: skip


if __name__ == "__main__":
    jnp.zeros(())  # JAX's backend up before any clock starts
    main()
