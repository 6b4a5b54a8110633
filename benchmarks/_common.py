"""Shared helpers of the benchmark scripts: timing, device names, tables, JSON results, and
the rows of the sampler and student tables (``solver_rows``, ``student_rows``). The
scripts import this module and never one another.

Every timing compiles (or warms up) outside the clock, blocks on the result, and keeps
the median and minimum of several repeats; ratios are only taken within one run.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import platform
import re
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

RESULTS = pathlib.Path(__file__).parent / "results"


def cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_label() -> str:
    """``cpu-<model>-<cores>c`` or ``gpu-<kind>x<count>``, for file names and tables."""
    d = jax.devices()[0]
    if d.platform == "cpu":
        name = f"cpu-{cpu_model()}-{os.cpu_count()}c"
    else:
        name = f"{d.platform}-{d.device_kind}x{jax.device_count()}"
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-").lower()


def stolen_seconds() -> float | None:
    """CPU seconds the hypervisor has taken from this machine since boot (``steal`` of
    ``/proc/stat``, all CPUs): the difference over a measurement says how much of its
    wall time other guests took (a shared VM seen losing 40% of its CPU). None off Linux."""
    try:
        fields = pathlib.Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def timed(fn, repeats: int = 5, min_seconds: float = 0.0) -> dict:
    """Runs ``fn()`` (which must block on its result) once to warm up, then ``repeats``
    times (more while the total is under ``min_seconds``); returns median and min."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 50:
            break
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": len(times)}


def matmul_peak(repeats: int = 5) -> dict:
    """Measured float32 matmul rate (GFLOP/s) of this device: the MLP's own shape
    ``(N, 128) @ (128, 128)`` at a large N, and a square matmul."""
    out = {}
    big = 65_536 if jax.devices()[0].platform == "cpu" else 4_194_304
    for label, (m, k, n) in {
        f"({big}x128)@(128x128)": (big, 128, 128),
        "2048^3": (2048, 2048, 2048),
    }.items():
        a = jax.random.normal(jax.random.key(0), (m, k))
        b = jax.random.normal(jax.random.key(1), (k, n))
        f = jax.jit(lambda a, b: a @ b)
        t = timed(lambda f=f, a=a, b=b: f(a, b).block_until_ready(), repeats)
        out[label] = 2.0 * m * k * n / t["min_s"] / 1e9
    out["peak_gflops"] = max(out.values())
    return out


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table: ``columns`` are (key, header, format)."""

    def cell(row, key, fmt):
        value = row.get(key)
        if value is None:
            return "-"
        return fmt.format(value) if fmt else str(value)

    body = [[cell(r, k, f) for k, _, f in columns] for r in rows]
    heads = [h for _, h, _ in columns]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(heads)
    ]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines)


def saved(section: str) -> dict:
    """``section`` of this device's results file as last saved (empty if none), for a
    rerun that keeps the rows it does not redo."""
    path = RESULTS / f"{device_label()}.json"
    return json.loads(path.read_text()).get(section, {}) if path.is_file() else {}


def save(section: str, payload: dict, results_dir=None) -> pathlib.Path:
    """Merges ``payload`` as ``section`` into ``<results_dir>/<device>.json``."""
    folder = pathlib.Path(results_dir) if results_dir else RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{device_label()}.json"
    doc = json.loads(path.read_text()) if path.is_file() else {}
    doc.update(
        device=device_label(),
        device_detail=str(jax.devices()[0]),
        cpu=cpu_model(),
        cpu_count=os.cpu_count(),
        jax_version=jax.__version__,
    )
    doc[section] = {"date": datetime.datetime.now().isoformat(timespec="seconds"), **payload}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, path)
    return path


def mlp_flops_per_row(data_dim: int = 2, width: int = 128, depth: int = 3) -> int:
    """Multiply-adds ×2 of one forward pass of the MLP for one row."""
    macs = data_dim * width + (depth - 1) * width * width + width * data_dim
    return 2 * macs


def seed_sampler_seconds(n: int, earlier: float | None = None) -> float | None:
    """The seed's PyTorch 100-step sampler on ``n`` samples (``torch_seed``, its own
    process): the minimum of 5 draws, and of ``earlier`` (a time from the start of the
    same run: on a shared machine a run can slow down, and the faster seed is the harder
    comparison). None without torch."""
    import _torch_seed as torch_seed

    if not torch_seed.available():
        return None
    now = torch_seed.measure("sample", n=n, num_steps=100, repeats=5)
    return now if earlier is None else min(now, earlier)


def block(x):
    return jax.block_until_ready(x)


__all__ = [
    "block",
    "device_label",
    "jnp",
    "matmul_peak",
    "mlp_flops_per_row",
    "save",
    "saved",
    "seed_sampler_seconds",
    "stolen_seconds",
    "table",
    "timed",
]


# The quality columns of every table, each beside its data floor.
QUALITY_COLUMNS = [
    ("mmd2", "MMD^2", "{:.1e}"),
    ("floor_mmd2", "floor", "{:.1e}"),
    ("precision", "precision", "{:.3f}"),
    ("floor_precision", "floor", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("floor_recall", "floor", "{:.3f}"),
]

# A table of samplers (one row per ``sampler_row``): which, quality, seconds.
SAMPLER_COLUMNS = [
    ("data", "data", ""),
    ("sampler", "sampler", ""),
    ("evals", "evals", "{:d}"),
    *QUALITY_COLUMNS,
    ("sliced_w2", "sliced W2", "{:.4f}"),
    ("seconds", "s / 10k", "{:.3f}"),
]


def trained_default(name: str, **settings):
    """The ``default`` recipe (``jaxdiff train``'s) with ``settings`` (as the command
    line's, e.g. ``objective="flow"``) trained on ``name`` (a data set or a file)
    in-process, with ``jaxdiff train``'s code path: ``(setup, params, fit info)``."""
    from jaxdiff.runs import overrides, presets, setup, train

    s = setup.setup(overrides.configure(presets.preset("default"), data=name, **settings))
    state, info = train.fit(s, epochs_per_call=s.config.train.epochs)
    return s, setup.model_params(s, state), info


def floor_of(row: dict) -> dict:
    """The floor columns (``floor_*``, the data's own scores) of a :func:`sampler_row`."""
    return {k: v for k, v in row.items() if k.startswith("floor_")}


def sampler_row(s, params, eval_n, label, evals, floor=False, n=10_000, **changes) -> dict:
    """One sampler of one run's model: ``n`` samples drawn with the run's sampler and
    ``changes``, the seconds to draw them (compiled outside the clock, the minimum of 5
    draws, as the seed's PyTorch sampler is timed: the least disturbed by other work), and
    their quality against fresh data (``runs.evaluate.quality``; ``floor`` adds the floor)."""
    from jaxdiff.runs import draw, evaluate

    key = s.keys.sample
    x = draw.draw(s, params, key, n, **changes)
    repeats = 1 if evals > 100 else 5
    seconds = timed(lambda: draw.draw(s, params, key, n, **changes), repeats=repeats)
    q = evaluate.quality(s, None, x, n=eval_n, likelihood_n=0, floor=floor)
    row = {"sampler": label, "evals": evals, "seconds": seconds["min_s"], **q["samples"]}
    return row | {f"floor_{k}": v for k, v in q.get("floor", {}).items()}


# The sampler and student tables of solvers.py, distill.py and few_steps.py.

SETS = ("s_curve", "moons", "swiss_roll", "circles", "eight_gaussians", "checkerboard")
METHODS = ("ddim", "dpm-solver", "dpm-solver-3m", "sde-dpm-solver", "heun")


def samplers(num_steps, evals, methods=METHODS, spacings=(None, "logsnr"), ddpm=True):
    """(label, evaluations, changes) of every sampler measured."""
    if ddpm:
        yield "ddpm (all T)", num_steps, {"method": "ddpm"}
    yield "ancestral 100", 100, {"method": "ddim", "steps": 100, "eta": 1.0}
    for method in methods:
        for spacing in spacings:
            grid_points = sorted({(b + 1) // 2 if method == "heun" else b for b in evals})
            for k in grid_points:
                n_evals = 2 * k - 1 if method == "heun" else k
                label = f"{method} {spacing or 'default'}"
                yield label, n_evals, {"method": method, "steps": k, "spacing": spacing}


def reference(name: str, data: str, eval_n: int) -> tuple:
    """The reference of the flow tables: the ``default`` recipe (DDPM) on ``data`` (a set
    or a file) sampled by its own ancestral 100 steps, with the floor: ``(row, floor,
    (setup, params, fit info))``."""
    s, params, info = trained_default(data)
    ref = sampler_row(s, params, eval_n, "ancestral 100", 100, floor=True)
    ref |= {"data": name, "model": "ddpm default", "train_seconds": info["train_seconds"]}
    show(ref)
    return ref, floor_of(ref), (s, params, info)


def reference_row(name: str, data: str, eval_n: int) -> tuple[dict, dict]:
    """:func:`reference`'s ``(row, floor)``."""
    return reference(name, data, eval_n)[:2]


def model_rows(s, params, name, model, train_seconds, chosen, eval_n, ref, floor) -> list:
    """One model's rows of a flow table: each sampler ``(label, evaluations, changes)`` of
    ``chosen`` scored (:func:`sampler_row`), beside ``floor``, marked whether it is
    :func:`within` the reference row ``ref``; printed as they come."""
    rows = []
    for label, evals, changes in chosen:
        row = sampler_row(s, params, eval_n, label, evals, **changes)
        row |= {"data": name, "model": model, "train_seconds": train_seconds, **floor}
        row["within"] = within(row, ref)
        rows.append(row)
        show(row)
    return rows


# The columns of the flow tables (flows.py, reflow.py, flow_peer.py): model and sampler,
# quality beside the floor, training seconds, and whether a row is within the reference.
MODEL_COLUMNS = [
    ("data", "data", ""),
    ("model", "model", ""),
    ("train_seconds", "train s", "{:.1f}"),
    ("sampler", "sampler", ""),
    ("evals", "evals", "{:d}"),
    *QUALITY_COLUMNS,
    ("sliced_w2", "sliced W2", "{:.4f}"),
]


def within(row, ref) -> bool:
    return (
        abs(row["precision"] - ref["precision"]) <= 0.01
        and abs(row["recall"] - ref["recall"]) <= 0.01
        and row["mmd2"] - ref["mmd2"] <= 5e-4
    )


def cheapest_within(rows: list[dict], ref: dict) -> dict | None:
    """The row of fewest network evaluations (then lowest MMD²) within ``ref``'s bounds
    (:func:`within`) at ≤ 8 evaluations, or None."""
    ok = [r for r in rows if r["evals"] <= 8 and within(r, ref)]
    return min(ok, key=lambda r: (r["evals"], r["mmd2"]), default=None)


def solver_rows(s, params, name, chosen, eval_n) -> list[dict]:
    """The rows of the samplers ``chosen`` (:func:`samplers`) of the model ``(s, params)``
    on the data set ``name``, each with the floor (the data's own scores), printed as
    they come."""
    rows, floor = [], {}
    for label, n_evals, changes in chosen:
        row = sampler_row(s, params, eval_n, label, n_evals, not floor, **changes)
        floor = floor or floor_of(row)
        row = {"data": name, **row, **floor}
        rows.append(row)
        show(row)
    return rows


def show(row: dict) -> None:
    """Prints one row as it comes: sampler, evaluations, P, R, MMD², seconds (and the
    distillation's seconds where it has them)."""
    distilled = f", distilled in {row['distill_seconds']:.1f} s" if "distill_seconds" in row else ""
    print(f"  {row['sampler']:28s} {row['evals']:4d}  P {row['precision']:.3f}"
          f" R {row['recall']:.3f} MMD {row['mmd2']:.1e} {row['seconds']:.3f} s{distilled}",
          flush=True)  # fmt: skip


# The table's columns: each sampler's, then × the seed's sampler, the distillation's
# seconds and whether the row is within issue 16's bounds.
STUDENT_COLUMNS = [
    *SAMPLER_COLUMNS,
    ("x_seed", "x seed", "{:.1f}"),
    ("distill_seconds", "distill s", "{:.1f}"),
    ("within", "within bounds", ""),
]
# The students' samplers: restart at geometric levels (direct), DDIM (progressive).
RESTART = {"method": "restart", "spacing": "geometric"}
DDIM = {"method": "ddim", "eta": 0.0, "spacing": "trailing"}


def student_rows(
    s, teacher, eval_n, light_ks="1,2,4", direct_ks="4", progressive=True, features=True
):
    """The distilled students' rows for the teacher ``(s, teacher)``, as ``jaxdiff distill``
    makes them: light students at ``light_ks`` evaluations (with their inputs read from
    tables, and with ``features`` first with their Fourier features computed: the same
    function, drawn slower), direct students (the teacher's network) at ``direct_ks``, and
    the progressive ones at 8 and 4 (rounds 64 → 4); each with its distillation seconds."""
    from jaxdiff.ddpm import distillation
    from jaxdiff.runs.distill import BUDGETS, light_model, light_network, tabulated

    rows = []
    light_cfg = light_model(s.config, s.train_data.shape[-1])  # jaxdiff distill's
    light_fn, light_init = light_network(s.apply_fn, teacher, light_cfg)
    light = dataclasses.replace(s, apply_fn=light_fn)
    for label, student_s, init, ks, budget in (
        ("light student", light, light_init, light_ks, BUDGETS["direct", "light"]),
        ("direct student", s, teacher, direct_ks, BUDGETS["direct", "teacher"]),
    ):
        for k in [int(v) for v in ks.split(",") if v]:
            t0 = time.perf_counter()
            student, _ = distillation.distill_endpoints(
                jax.random.fold_in(s.keys.train, 1), s.apply_fn, teacher, s.schedule,
                s.train_data, k, target=s.config.train.target,
                student=(student_s.apply_fn, init), **budget._asdict(),
            )  # fmt: skip
            jax.block_until_ready(student)
            spent = time.perf_counter() - t0
            draw_s = student_s
            if label == "light student":  # as jaxdiff distill writes it: input tables
                if features:
                    row = sampler_row(light, student, eval_n, "light, features", k,
                                      steps=k, **RESTART)  # fmt: skip
                    rows.append(row | {"distill_seconds": spent})
                t0 = time.perf_counter()
                tab_fn, student = tabulated(light_cfg, light_fn, student)
                spent += time.perf_counter() - t0
                draw_s = dataclasses.replace(s, apply_fn=tab_fn)
            row = sampler_row(draw_s, student, eval_n, label, k, steps=k, **RESTART)
            rows.append(row | {"distill_seconds": spent})
    student, spent = teacher, 0.0
    plan = distillation.rounds(64, 4) if progressive else []
    for r, k in enumerate(plan, start=1):
        t0 = time.perf_counter()
        student, _ = distillation.distill_round(
            jax.random.fold_in(s.keys.train, r), s.apply_fn, student, s.schedule,
            s.train_data, k, target=s.config.train.target,
        )  # fmt: skip
        jax.block_until_ready(student)
        spent += time.perf_counter() - t0
        if k in (8, 4):
            row = sampler_row(s, student, eval_n, "progressive student", k, steps=k,
                              **DDIM)  # fmt: skip
            rows.append(row | {"distill_seconds": spent})
    return rows


# The held-out shapes: never used to choose a recipe, they confirm a choice. They enter as
# .npy files (a fifth held out for evaluation), as a user's own points would.
SHAPES = ("pinwheel", "spirals")


def pinwheel(seed: int, n: int = 10_000) -> np.ndarray:
    """Five curved arms (Johnson et al. 2016's pinwheel): radial spread 0.3, tangential
    0.05, rate 0.25."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 5, n)
    feats = rng.standard_normal((n, 2)) * np.array([0.3, 0.05]) + np.array([1.0, 0.0])
    angle = 2 * np.pi * arm / 5 + 0.25 * np.exp(feats[:, 0])
    c, s = np.cos(angle), np.sin(angle)
    x = np.stack([c * feats[:, 0] - s * feats[:, 1], s * feats[:, 0] + c * feats[:, 1]], 1)
    return x.astype(np.float32)


def spirals(seed: int, n: int = 10_000) -> np.ndarray:
    """Two interleaved spirals, 1.5 turns each, with N(0, 0.05²) noise."""
    rng = np.random.default_rng(seed)
    u = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    sign = np.where(rng.integers(0, 2, n) == 0, 1.0, -1.0)
    x = np.stack([sign * u * np.cos(u), sign * u * np.sin(u)], 1) / (3 * np.pi)
    return (x + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)


def shape_file(name: str, folder) -> str:
    """Writes the held-out shape ``name`` (seed 7, 10,000 rows) to ``folder`` as a .npy
    file and returns its path."""
    path = pathlib.Path(folder) / f"{name}.npy"
    np.save(path, {"pinwheel": pinwheel, "spirals": spirals}[name](7))
    return str(path)


# The 64-D data set (digits.py, families.py): class-conditional digits, the default
# recipe's architecture without input features (64 coordinates × 128 features would be
# 8,192 inputs).


def digits_recipe(epochs: int):
    """``--data digits --conditional --no-standardize --features none --width 512`` on the
    default preset, batch 128 at 2e-3 for ``epochs``, sampled over all 1000 steps (a
    ``runs.config.Config``)."""
    from jaxdiff.runs import overrides, presets

    cfg = overrides.configure(
        presets.preset("default"),
        data="digits",
        conditional=True,
        standardize=False,
        input_features="none",
        width=512,
        batch_size=128,
        learning_rate=2e-3,
        epochs=epochs,
    )
    sample = dataclasses.replace(cfg.sample, method="ddpm", steps=None, variance="beta_tilde")
    return dataclasses.replace(cfg, sample=sample)


def digits_measure(cfg, label: str, samples: int, epochs: int, **changes):
    """Trains ``cfg`` (:func:`digits_recipe`'s) and scores ``samples`` in the data's class
    proportions: ``(row, samples, labels)``."""
    from jaxdiff.core import apply
    from jaxdiff.runs import draw, evaluate, setup, train

    s = setup.setup(cfg)
    state, info = train.fit(s, epochs_per_call=min(epochs, 200))
    params = setup.model_params(s, state)
    labels = draw.final_labels(s, samples)
    x = draw.draw(s, params, s.keys.sample, samples, labels=labels, **changes)
    q = evaluate.quality(s, params, x, n=samples, likelihood_n=0)
    row = {
        "data": "digits (conditional)",
        "model": label,
        "epochs": epochs,
        "train_seconds": info["train_seconds"],
        "params": apply.param_count(params),
        "n": q["n"],
        **q["samples"],
        **{f"floor_{k}": v for k, v in q["floor"].items()},
    }
    return row, x, labels


def parse_settings(text: str | None) -> dict:
    """``K=V,K=V`` as a dict of ``jaxdiff.fit`` settings: each value an int, a float, a
    bool (``true``/``false``) or else the text itself."""
    out = {}
    for item in filter(None, (text or "").split(",")):
        key, value = item.split("=", 1)
        for cast in (int, float):
            try:
                value = cast(value)
                break
            except ValueError:
                continue
        out[key] = {"true": True, "false": False}.get(value, value)
    return out


# --- how the page blocks' notes print figures (benchmarks/summarize.py) ------------------


def span(values, fmt: str, sep: str = "-") -> str:
    """The smallest and largest of ``values`` as ``fmt`` prints them, ``sep`` between
    (one figure when the two print alike)."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}{sep}{hi}"


def listed(names) -> str:
    """``names`` joined by commas, or "none"."""
    names = list(names)
    return ", ".join(names) if names else "none"


def cells(headers, rows, **block) -> dict:
    """A page block whose cells are printed already: its columns are ``headers`` (each its
    own key), its rows the lists of cells under them; ``block`` adds its text and notes."""
    return {"columns": [(h, h, "") for h in headers],
            "rows": [dict(zip(headers, r, strict=True)) for r in rows], **block}  # fmt: skip


def results(label: str) -> dict:
    """The results file ``benchmarks/results/<label>.json`` as saved (a block that reads
    another machine's run beside its own)."""
    return json.loads((RESULTS / f"{label}.json").read_text())


def cpu_name(doc: dict) -> str:
    """A results file's machine as the pages name it: ``2-core AMD EPYC``."""
    names = {"Xeon": "Intel Xeon", "EPYC": "AMD EPYC"}
    name = next((v for k, v in names.items() if k in doc["cpu"]), doc["cpu"])
    return f"{doc['cpu_count']}-core {name}"
