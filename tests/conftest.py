"""Shared test setup: float64 on demand, strict dtype promotion, and Gaussian oracles."""

import atexit
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import types
import warnings

import jax
import numpy as np
import pytest

# The tests compile hundreds of small programs and run few large ones, so most of their
# time is XLA's compiler. Two flags halve it (benchmarks/test_suite.py): backend
# optimisation level 0, and XLA's older CPU code generator for fused loops
# (--xla_cpu_use_fusion_emitters=false), which compiles each fusion about twice as fast.
# Neither changes what is computed, only the machine code that computes it (a float may
# round differently in its last bit). Set before the first computation, they hold in this
# process, its xdist workers and the CLI subprocesses (ENV below). XLA aborts the process on
# a flag its version does not know, so the second flag is added only after a child process
# has accepted it. JAXDIFF_TEST_XLA=default keeps XLA's own settings: CI runs the slow tier
# and, once more, the fast tier so (docs/tests.md).
_PROBE = """
try:
    from jaxlib import _jax
    _jax.get_tfrt_cpu_client(asynchronous=True)
except (ImportError, AttributeError):
    import jax
    jax.devices("cpu")
"""


def _xla_accepts(flags: str) -> bool:
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    probe = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True)
    return probe.returncode == 0


def _test_xla_flags(flags: str) -> str:
    if "xla_backend_optimization_level" not in flags:
        flags = f"{flags} --xla_backend_optimization_level=0".strip()
    emitters = "--xla_cpu_use_fusion_emitters=false"
    if "xla_cpu_use_fusion_emitters" not in flags and _xla_accepts(f"{flags} {emitters}"):
        flags = f"{flags} {emitters}"
    return flags


if os.environ.get("JAXDIFF_TEST_XLA", "fast") != "default":
    os.environ["XLA_FLAGS"] = _test_xla_flags(os.environ.get("XLA_FLAGS", ""))

# cli.main, called in process by the tests, switches the test process to an on-disk
# compilation cache: a fresh one for this session (never the user's), shared with the
# CLI subprocesses of the tests (ENV below), which then skip compiling what the in-process
# runs already compiled.
# With pytest-xdist the workers inherit the controller's folder, so all of them share one
# cache; only the process that made the folder removes it.
# A caller that runs pytest many times (scripts/mutation.py, once per variant, in processes
# that end without running atexit) names one folder instead: JAXDIFF_TEST_CACHE_DIR.
if os.environ.get("JAXDIFF_TEST_CACHE_DIR"):
    os.environ["JAXDIFF_CACHE_DIR"] = os.environ["JAXDIFF_TEST_CACHE_DIR"]
elif "JAXDIFF_CACHE_DIR" not in os.environ or "PYTEST_XDIST_WORKER" not in os.environ:
    os.environ["JAXDIFF_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxdiff-test-xla-")
    atexit.register(shutil.rmtree, os.environ["JAXDIFF_CACHE_DIR"], ignore_errors=True)


@pytest.fixture
def x64():
    """Runs the test body in float64 with strict dtype promotion."""
    with jax.enable_x64(True), jax.numpy_dtype_promotion("strict"):
        yield


@pytest.fixture
def fit_budget(monkeypatch):
    """``fit_budget(steps)``: ``jaxdiff.fit`` (through ``runs.overrides``) sizes its
    recipe by the rule with a budget of ``steps`` optimiser steps, for runnable docs
    blocks that would otherwise train for minutes."""
    from jaxdiff.runs import overrides, presets

    real = presets.sized

    def shorten(steps: int) -> None:
        monkeypatch.setattr(
            overrides,
            "sized",
            lambda cfg, rows, columns, context=0: real(cfg, rows, columns, steps=steps),
        )

    return shorten


@pytest.fixture
def x64_standard():
    """Float64 with standard promotion, for code paths inside optax (not strict-clean)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def small():
    """A small model, state and data set, and ``kw(batch_size=16, **spec settings)`` giving
    the ``spec`` and ``schedule`` arguments of the training functions."""
    from jaxdiff.core import apply, models
    from jaxdiff.ddpm import schedules
    from jaxdiff.engine import train_spec

    sched = schedules.sigmoid_schedule()
    apply_fn, params = apply.functional(
        models.MLPDenoiser(config=models.NetworkConfig(width=32)), jax.random.key(0)
    )
    opt = train_spec.make_optimizer()
    state = train_spec.init_state(jax.random.key(1), params, opt)
    x = jax.random.normal(jax.random.key(2), (101, 2)) * 0.1

    def kw(batch_size=16, **settings):
        spec = train_spec.TrainSpec(apply_fn, opt, batch_size=batch_size, **settings)
        return dict(spec=spec, schedule=sched)

    return state, x, kw


def leaves_equal(a, b) -> bool:
    """Whether two pytrees hold bit-identical leaves."""
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(
        np.array_equal(np.asarray(p), np.asarray(q)) for p, q in zip(la, lb, strict=True)
    )


def scores(reference, x) -> dict:
    """MMD², precision and recall (k = 3) of ``x`` against ``reference``."""
    import jax.numpy as jnp

    from jaxdiff.core import metrics

    reference, x = jnp.asarray(reference, jnp.float32), jnp.asarray(x, jnp.float32)
    precision, recall = metrics.precision_recall(reference, x)
    return {
        "mmd2": float(metrics.mmd2(reference, x)),
        "precision": float(precision),
        "recall": float(recall),
    }


def impostors(data, n: int, blur: float, seed: int = 0) -> dict:
    """Plausible wrong answers for a sampler of ``data``: a uniform box and a Gaussian
    with the data's mean and std, and the data blurred by N(0, blur²) noise."""
    rng = np.random.default_rng(seed)
    mean, std = data.mean(0), data.std(0)
    return {
        "box": mean + std * np.sqrt(3.0) * rng.uniform(-1.0, 1.0, (n, data.shape[1])),
        "gaussian": mean + std * rng.standard_normal((n, data.shape[1])),
        f"blur {blur}": data[:n] + blur * rng.standard_normal((n, data.shape[1])),
    }


def passes(got: dict, floor: dict, *, mmd2: float, precision: float, recall: float) -> bool:
    """Whether scores are within the given distances of the data's own floor."""
    return (
        got["mmd2"] <= floor["mmd2"] + mmd2
        and got["precision"] >= floor["precision"] - precision
        and got["recall"] >= floor["recall"] - recall
    )


def seed_betas_np(num_steps=100, start=1e-5, end=5e-3):
    """The seed's betas, written out in float64 numpy as SEED.md states them."""
    x = np.linspace(-6, 6, num_steps)
    return 1 / (1 + np.exp(-x)) * (end - start) + start


ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}
ENV.pop("JAX_COMPILATION_CACHE_DIR", None)


def jaxdiff(*args, check=True):
    """``cli.main(args)`` with its output captured, as a finished process would report it."""
    from jaxdiff import cli

    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        code = cli.main([str(a) for a in args])
    result = types.SimpleNamespace(
        returncode=code, stdout=out.getvalue(), stderr=err.getvalue(), warnings=caught
    )
    if check and code != 0:
        raise AssertionError(f"jaxdiff {args} exited {code}:\n{result.stderr}")
    return result


def jaxdiff_subprocess(*args):
    return subprocess.run(
        [sys.executable, "-m", "jaxdiff.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """One uninterrupted 4-epoch run and one of 2 epochs resumed to 4."""
    root = tmp_path_factory.mktemp("runs")
    full, split = root / "full", root / "split"
    common = ["--checkpoint-every", "1", "--quiet"]
    jaxdiff(
        "train",
        "--data",
        "s_curve",
        "--preset",
        "seed",
        "--out",
        str(full),
        "--epochs",
        "4",
        "--eval-n",
        "200",
        "--likelihood-n",
        "200",
        *common,
    )
    common += ["--eval-n", "0", "--no-figures"]
    jaxdiff("train", "--preset", "seed", "--out", str(split), "--epochs", "2", *common)
    resumed = jaxdiff("train", "--out", str(split), "--epochs", "4", "--resume", *common)
    return full, split, resumed


@pytest.fixture
def trained(runs):
    return runs[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under pytest-xdist (``--dist loadgroup``), every test that uses the trained ``runs``
    sends to one worker, so the 30-second fixture is built once, not once per worker.
    ``tryfirst``: xdist reads the group markers in its own hook of the same name; marked
    after it, the groups were ignored and both workers built the fixture (measured: two
    39-second setups). On pytest 9.2 xdist's grouping does nothing at all (pytest-xdist
    issue #1386), hence ``pytest<9.2`` in the test extra."""
    for item in items:
        if {"runs", "trained"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("runs"))
