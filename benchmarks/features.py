"""What one network evaluation costs, and what the Fourier features' sine and cosine take
of it: ``features.sincos_turns`` against XLA's own ``jnp.sin``/``jnp.cos`` of the same
angles, alone and inside the ``default`` recipe's network; the light student's network
(``students.lighten`` of it), with its Fourier inputs computed and read from tables
(``students.tabulate_inputs``, as ``jaxdiff distill --student light`` writes it), and the
seed's beside them.

All on 10,000 rows (the size of every sampling table), one step ``t`` per call as a
sampler makes it; the minimum of ``--repeats`` calls after one compiling call. The XLA
rows swap ``features.sincos_turns`` for ``jnp.sin``/``jnp.cos`` of ``2πu`` while they are
traced, so the two networks differ in nothing else.

Usage: python benchmarks/features.py [--repeats 30] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import math

import jax
import jax.numpy as jnp
from _common import block, cpu_model, save, table, timed

from jaxdiff.core import apply, features, models
from jaxdiff.ddpm import students
from jaxdiff.runs import build, presets
from jaxdiff.runs.distill import TABLE_BOUND, TABLE_POINTS

N = 10_000


def _xla_sincos(u):
    angle = 2.0 * math.pi * u
    return jnp.sin(angle), jnp.cos(angle)


@contextlib.contextmanager
def _xla_features():
    fast = features.sincos_turns
    features.sincos_turns = _xla_sincos
    try:
        yield
    finally:
        features.sincos_turns = fast


def _network(model):
    apply_fn, params = apply.functional(model, jax.random.key(0))
    return jax.jit(lambda p, x, t: apply_fn(p, x, t)), params


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args()

    x = jax.random.normal(jax.random.key(1), (N, 2))
    t = jnp.int32(500)
    default = build.build_model(presets.preset("default").model, num_steps=1000, data_dim=2)
    rows = []

    def row(label, fn):
        rows.append({"what": label, "ms": 1e3 * timed(fn, args.repeats)["min_s"]})
        print(f"{label:<44} {rows[-1]['ms']:7.2f} ms", flush=True)

    size, scale = default.config.feature_size, default.config.feature_scale
    fourier = jax.jit(lambda x: features.fourier(x, size, scale))
    with _xla_features():
        xla_features = jax.jit(lambda x: features.fourier(x, size, scale))
        row("Fourier features, XLA sin/cos", lambda: block(xla_features(x)))
    row("Fourier features, sincos_turns", lambda: block(fourier(x)))

    with _xla_features():
        f, params = _network(default)
        row("default network, XLA sin/cos", lambda: block(f(params, x, t)))
    f, params = _network(default)
    row("default network, sincos_turns", lambda: block(f(params, x, t)))
    f, params = _network(default.clone(config=default.config.replace(input_features="none")))
    row("default network without input features", lambda: block(f(params, x, t)))
    light = students.lighten(default, apply.functional(default, jax.random.key(0))[1])[0].model
    f, params = _network(light)
    row("light student network (models.lighten)", lambda: block(f(params, x, t)))
    tables = light.config.replace(input_table=TABLE_POINTS, input_bound=TABLE_BOUND)
    f, params = _network(light.clone(config=tables))
    row("light, inputs from tables (tabulate_inputs)", lambda: block(f(params, x, t)))
    f, params = _network(models.MLPDenoiser())
    row("seed network", lambda: block(f(params, x, t)))

    seed_ms = rows[-1]["ms"]
    for r in rows:
        r["x_seed_network"] = r["ms"] / seed_ms
    print()
    print(
        table(
            rows,
            [
                ("what", "10,000 rows", ""),
                ("ms", "ms", "{:.2f}"),
                ("x_seed_network", "x seed net", "{:.1f}"),
            ],
        )
    )
    print(f"\n{cpu_model()}, JAX {jax.__version__}, min of {args.repeats}")
    path = save("features", {"n": N, "repeats": args.repeats, "rows": rows}, args.results_dir)
    print(f"wrote {path}")


# The rows docs/results-samplers.md shows: its label, the row's ``what``.
SHOWN = (
    ("`default` network", "default network, sincos_turns"),
    ("light student network (`students.lighten` of it), features computed",
     "light student network (models.lighten)"),
    ("the same, inputs read from tables (`students.tabulate_inputs`)",
     "light, inputs from tables (tabulate_inputs)"),
    ("seed network", "seed network"),
)  # fmt: skip


def blocks(doc: dict, section: str) -> dict:
    """The page block of docs/results-samplers.md (benchmarks/summarize.py)."""
    sec = doc[section]
    rows = {r["what"]: r for r in sec["rows"]}
    text = (
        f"`python benchmarks/features.py`, {sec['date'][:10]}, 2-core Intel Xeon: one "
        f"evaluation of the network on {sec['n']:,} rows (minimum of {sec['repeats']})."
    )
    columns = [("label", f"{sec['n']:,} rows, one evaluation", ""), ("ms", "ms", "{:.1f}"),
               ("x_seed_network", "× seed network", "{:.1f}")]  # fmt: skip
    shown = [{**rows[key], "label": label} for label, key in SHOWN]
    return {"features-table": {"text": text, "columns": columns, "rows": shown}}


if __name__ == "__main__":
    main()
