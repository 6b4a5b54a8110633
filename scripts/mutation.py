"""Mutation testing of the math modules with mutmut: how many planted changes the tests catch.

    python scripts/mutation.py                         # every module below (hours on 2 cores)
    python scripts/mutation.py --modules schedules grids --jobs 2
    python scripts/mutation.py --table                 # docs/results-tests.md's table
    python scripts/mutation.py --check                 # exit 1 if the page is stale
    python scripts/mutation.py --modules samplers --collect COPY --minutes 40
                                    # record a stopped run from a copy of its work folder

mutmut (PyPI) rewrites each function of a module into variants that differ by one small
change (an operator, a constant, an argument dropped) and runs the tests that call it
against each. A variant the tests fail on is "killed"; one they pass is a "survivor":
either a change the tests cannot see, or one that computes the same thing ("equivalent").
Each module runs in a scratch copy of ``jaxdiff/`` and ``tests/`` (mutmut writes its
``mutants/`` there) against that module's own fast test files, listed in ``MODULES``.

mutmut runs each variant in a process forked from a server that has collected the tests
but run none (``process_isolation = "forkserver"``): JAX's runtime, whose threads do not
survive a fork, has not started there, and no compiled function is cached from the
unmutated code. Results go to ``benchmarks/results/mutation.json`` (per module: counts,
each survivor's changed line, the equivalent ones with the reason, from ``EQUIVALENT``).
A module that runs past ``--limit`` is recorded as partial: the variants checked of all,
scored over the checked. ``mutmut run`` in a kept work folder resumes where it stopped.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _pages import between, sync

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "mutation.json"
PAGE = ROOT / "docs" / "results-tests.md"

# Each math module and the test files that are its own (the fast ones run; slow ones not).
MODULES = {
    "schedules": ["tests/test_schedules.py"],
    "grids": ["tests/test_grids.py"],
    "diffusion": ["tests/test_diffusion.py"],
    "losses": ["tests/test_losses.py"],
    "metrics": ["tests/test_metrics.py"],
    "flows": ["tests/test_flows.py"],
    "flow_solvers": ["tests/test_flow_solvers.py"],
    # The DDIM and restart chains and the data prediction are checked in test_samplers.py.
    "solvers": ["tests/test_solvers.py", "tests/test_samplers.py"],
    "fast_solvers": ["tests/test_samplers.py", "tests/test_solvers.py"],
    "samplers": ["tests/test_samplers.py", "tests/test_solvers.py"],
    # flow_log_likelihood is checked with the flow solvers, on the Gaussian flow.
    "likelihood": ["tests/test_likelihood.py", "tests/test_flow_solvers.py"],
    "tables": ["tests/test_tables.py"],
    "traces": ["tests/test_traces.py", "tests/test_likelihood.py"],
    "imputation": ["tests/test_imputation.py"],
}

# Survivors read and found to compute the same thing as the original, by mutant name, with
# the changed line mutmut reports (checked on each run: a renumbered mutant is not excused).
EQUIVALENT = {
    "jaxdiff.tables.x_infer_kind__mutmut_8": (
        'integral = all(v.lstrip("XX+-XX").isdigit() for v in cells)',
        "only cells float() reads reach it, and none of them starts with an X",
    ),
    "jaxdiff.tables.xǁColumnǁdecode__mutmut_34": (
        'return np.rint(v).astype(np.int64) if self.kind == "integer" else v.astype(None)',
        "astype(None) is float64, the type asked for",
    ),
    "jaxdiff.schedules.x_from_betas__mutmut_143": (
        "dtype = jnp.zeros(()).dtype if (dtype is None) and False else dtype",
        "dtype None reaches jnp.asarray(..., None), which picks the same default float",
    ),
    "jaxdiff.schedules.x_cosine_schedule__mutmut_13": (
        "t = np.arange(n + 1, dtype=None)",
        "integer t: (t / n + s) is float64 all the same",
    ),
    "jaxdiff.schedules.x_cosine_schedule__mutmut_15": (
        "t = np.arange(n + 1, )",
        "integer t: (t / n + s) is float64 all the same",
    ),
    "jaxdiff.schedules.x_cosine_schedule__mutmut_31": (
        "alphas_cumprod = f * f[0]",
        "only ratios of consecutive alpha-bars make the betas; a constant factor cancels",
    ),
    "jaxdiff.schedules.x_cosine_schedule__mutmut_32": (
        "alphas_cumprod = f / f[1]",
        "only ratios of consecutive alpha-bars make the betas; a constant factor cancels",
    ),
    "jaxdiff.grids.x__strictly_decreasing__mutmut_4": (
        "out = np.empty(k, None)",
        "a float array of whole numbers; timesteps casts the grid to int32",
    ),
    "jaxdiff.grids.x__strictly_decreasing__mutmut_6": (
        "out = np.empty(k, )",
        "a float array of whole numbers; timesteps casts the grid to int32",
    ),
    "jaxdiff.grids.x__strictly_decreasing__mutmut_26": (
        "if np.any(np.diff(out) >= 0) and out[-1] < 0 or out[0] >= num_steps:",
        "the loop makes out strictly decreasing and out[-1] >= 0, so both first tests are "
        "always false: the condition is out[0] >= num_steps either way",
    ),
    "jaxdiff.grids.x__strictly_decreasing__mutmut_27": (
        "if np.any(None) or out[-1] < 0 or out[0] >= num_steps:",
        "the loop makes out strictly decreasing: np.diff(out) >= 0 is never true",
    ),
    "jaxdiff.grids.x__strictly_decreasing__mutmut_29": (
        "if np.any(np.diff(out) > 0) or out[-1] < 0 or out[0] >= num_steps:",
        "the loop makes out strictly decreasing: no difference is >= 0",
    ),
    "jaxdiff.grids.x__strictly_decreasing__mutmut_30": (
        "if np.any(np.diff(out) >= 1) or out[-1] < 0 or out[0] >= num_steps:",
        "the loop makes out strictly decreasing: no difference is >= 0",
    ),
    "jaxdiff.grids.x_timesteps__mutmut_26": (
        "ts = np.round(np.arange(num_steps, 0, -num_steps / steps)).astype(None) - 1",
        "whole floats; the grid is cast to int32 on return",
    ),
    "jaxdiff.grids.x_timesteps__mutmut_42": (
        "ts = np.round(np.linspace(0, num_steps - 1, steps)).astype(None)[::-1]",
        "whole floats; the grid is cast to int32 on return",
    ),
    "jaxdiff.grids.x_timesteps__mutmut_78": (
        "ts = np.round(np.geomspace(num_steps - 1, end, steps)).astype(None)",
        "whole floats; _strictly_decreasing stores them as int64",
    ),
    "jaxdiff.grids.x_timesteps__mutmut_64": (
        "end = max(-(-num_steps // GEOMETRIC_END), steps - 1, )",
        "ceil(T / 25) >= 1 for every T >= 1: the floor of 1 never binds",
    ),
    "jaxdiff.metrics.x__wasserstein_1d__mutmut_10": (
        "ends = jnp.sort(jnp.concatenate([jnp.arange(n + 1) / n, jnp.arange(1, m + 1) / m]))",
        "a breakpoint at 0 adds one interval of width 0, which adds 0",
    ),
    "jaxdiff.metrics.x__wasserstein_1d__mutmut_18": (
        "ends = jnp.sort(jnp.concatenate([jnp.arange(1, n + 1) / n, jnp.arange(m + 1) / m]))",
        "a breakpoint at 0 adds one interval of width 0, which adds 0",
    ),
    "jaxdiff.metrics.x__wasserstein_1d__mutmut_42": (
        "ix = jnp.minimum(jnp.floor(mid * n).astype(jnp.int32), n + 1)",
        "mid < 1 except on a width-0 interval at 1, where JAX clamps the index to n - 1 anyway",
    ),
    "jaxdiff.metrics.x__wasserstein_1d__mutmut_52": (
        "iy = jnp.minimum(jnp.floor(mid * m).astype(jnp.int32), m + 1)",
        "mid < 1 except on a width-0 interval at 1, where JAX clamps the index to m - 1 anyway",
    ),
    "jaxdiff.metrics.x__map_rows__mutmut_33": (
        "return out.reshape(-1, )[:n]",
        "each caller's f gives one value a row: out is (blocks, block), both reshapes agree",
    ),
    "jaxdiff.metrics.x__map_rows__mutmut_36": (
        "return out.reshape(-1, *out.shape[3:])[:n]",
        "each caller's f gives one value a row: out is (blocks, block), both reshapes agree",
    ),
    "jaxdiff.flows.x_ot_pairs__mutmut_16": (
        "return jnp.concatenate([x, eps[ot_permutation(x, eps, g)]], axis=+1)",
        "x and eps are (batch, dim) inside the vmap: axis +1 is axis -1",
    ),
    "jaxdiff.flows.x_flow_loss__mutmut_30": (
        "x0, eps = jnp.split(x0, 2, axis=+1)",
        "given pairs are (batch, 2 dim): axis +1 is axis -1",
    ),
    "jaxdiff.flows.x_reflow_pairs__mutmut_24": (
        "return jnp.concatenate([sample_fn(eps), eps], axis=+1)",
        "both halves are (n, dim): axis +1 is axis -1",
    ),
    "jaxdiff.grids.x__strictly_decreasing__mutmut_25": (
        "if np.any(np.diff(out) >= 0) or out[-1] < 0 and out[0] >= num_steps:",
        "unreachable: timesteps refuses steps > T first; then every step stays in [0, T-1]",
    ),
    "jaxdiff.grids.x__strictly_decreasing__mutmut_36": (
        "if np.any(np.diff(out) >= 0) or out[-1] < 0 or out[0] > num_steps:",
        "unreachable: timesteps refuses steps > T first; then every step stays in [0, T-1]",
    ),
    "jaxdiff.grids.x__strictly_decreasing__mutmut_37": (
        "raise ValueError(None)",
        "unreachable: timesteps refuses steps > T first; then every step stays in [0, T-1]",
    ),
    "jaxdiff.solvers.x_scan_steps__mutmut_6": (
        "return x, (x if (trajectory) or True else None)",
        "the states are kept and then dropped: without trajectory only x_0 is returned",
    ),
    "jaxdiff.solvers.x_scan_steps__mutmut_17": (
        "return jnp.concatenate([x_T[None], xs], )",
        "axis 0 is concatenate's default",
    ),
    "jaxdiff.solvers.x_restart_chain__mutmut_58": (
        "return jnp.concatenate([x_T[None], rest], ) if trajectory else rest",
        "axis 0 is concatenate's default",
    ),
    "jaxdiff.solvers.x_ddim_chain__mutmut_12": (
        "pairs = (jnp.asarray(ts), jnp.asarray(np.append(ts[1:], -2)))",
        "any negative t_prev is the clean end: ddim_step tests t_prev >= 0",
    ),
    "jaxdiff.fast_solvers.x__finish__mutmut_4": (
        "return jnp.concatenate([x_T[None], xs, x_0[None]], )",
        "axis 0 is concatenate's default",
    ),
    "jaxdiff.fast_solvers.x__start__mutmut_7": (
        "return jnp.zeros_like(x_T), jnp.ones((), x_T.dtype), jnp.zeros((), None)",
        "the update counter as a float counts the same: only k > 0 and k > 1 are read",
    ),
    "jaxdiff.fast_solvers.x__start__mutmut_9": (
        "return jnp.zeros_like(x_T), jnp.ones((), x_T.dtype), jnp.zeros((), )",
        "the update counter as a float counts the same: only k > 0 and k > 1 are read",
    ),
    "jaxdiff.fast_solvers.x_dpm_solver_chain__mutmut_48": (
        "return (x, x0, h, k + 2), (x if trajectory else None)",
        "(2M) reads only k > 0, true after the first update either way",
    ),
    "jaxdiff.fast_solvers.x_sde_dpm_solver_chain__mutmut_71": (
        "return (x, x0, h, k + 2), (x if trajectory else None)",
        "(2M) reads only k > 0, true after the first update either way",
    ),
    "jaxdiff.fast_solvers.x_dpm_solver_chain__mutmut_50": (
        "return (x, x0, h, k + 1), (x if (trajectory) or True else None)",
        "the states are kept and then dropped: without trajectory only x_0 is returned",
    ),
    "jaxdiff.fast_solvers.x_sde_dpm_solver_chain__mutmut_73": (
        "return (x, x0, h, k + 1), (x if (trajectory) or True else None)",
        "the states are kept and then dropped: without trajectory only x_0 is returned",
    ),
    "jaxdiff.fast_solvers.x_dpm_solver_3m_chain__mutmut_95": (
        "return (x, m0, m1, h, h0, k + 1), (x if (trajectory) or True else None)",
        "the states are kept and then dropped: without trajectory only x_0 is returned",
    ),
    "jaxdiff.fast_solvers.x_heun_chain__mutmut_102": (
        "return x, (x if (trajectory) or True else None)",
        "the states are kept and then dropped: without trajectory only x_0 is returned",
    ),
    "jaxdiff.fast_solvers.x_heun_chain__mutmut_24": (
        "if gamma >= 0:",
        "with gamma = 0 the churn rounds sigma up to itself (t_hat = t) and adds 0 * z",
    ),
    "jaxdiff.fast_solvers.x_heun_chain__mutmut_39": (
        "t_hat = jnp.minimum(jnp.searchsorted(sigma_all, want), schedule.num_steps + 1)",
        "searchsorted gives at most T; JAX clamps index T to T - 1, as the minimum did",
    ),
    "jaxdiff.fast_solvers.x_sde_dpm_solver_chain__mutmut_66": (
        "x = x - s[t_next] * jnp.sqrt(decay) * z",
        "the same law: -z is N(0, I) as z is (no test fixes the sign of a draw)",
    ),
    "jaxdiff.fast_solvers.x_heun_chain__mutmut_66": (
        "x = a[t_hat] * (x / a[t] - extra * z)",
        "the same law: -z is N(0, I) as z is (no test fixes the sign of a draw)",
    ),
    "jaxdiff.likelihood.x__add__mutmut_5": (
        "return (state[0] + h * k[0], state[1] - h * k[1])",
        "the field reads only the state's x, never its running trace integral",
    ),
    "jaxdiff.likelihood.x__add__mutmut_7": (
        "return (state[0] + h * k[0], state[1] + h / k[1])",
        "the field reads only the state's x, never its running trace integral",
    ),
    "jaxdiff.likelihood.x__rk4_step__mutmut_67": (
        "for s0, a, b, c, e in zip(state, k1, k2, k3, k4, strict=None)",
        "the state and the four stages are pairs: zip stops at the same place",
    ),
    "jaxdiff.likelihood.x__rk4_step__mutmut_73": (
        "for s0, a, b, c, e in zip(state, k1, k2, k3, k4, )",
        "the state and the four stages are pairs: zip stops at the same place",
    ),
    "jaxdiff.likelihood.x__rk4_step__mutmut_74": (
        "for s0, a, b, c, e in zip(state, k1, k2, k3, k4, strict=False)",
        "the state and the four stages are pairs: zip stops at the same place",
    ),
    "jaxdiff.likelihood.x__start__mutmut_4": (
        "columns = 2 if probe is None else probe.shape[1]",
        "the exact trace's one column broadcasts into both: equal columns, the same mean "
        "(a + a) / 2 = a exactly, and variance 0 as for one",
    ),
    "jaxdiff.imputation.x_repaint__mutmut_22": (
        "known = jnp.asarray(known, None)",
        "where() reads any non-zero as True and the shapes are compared, not the dtypes",
    ),
    "jaxdiff.imputation.x_repaint__mutmut_24": (
        "known = jnp.asarray(known, )",
        "where() reads any non-zero as True and the shapes are compared, not the dtypes",
    ),
    "jaxdiff.flow_solvers.x_adaptive_solve__mutmut_50": (
        ")",
        "diffrax's own default max_steps is 4096: dropping the argument keeps the budget",
    ),
    "jaxdiff.flow_solvers.x_adaptive_solve__mutmut_52": (
        "t0=jnp.asarray(1.0, None),",
        "a weak-typed Python-float time beside two of x_T's dtype: diffrax's times keep it",
    ),
    "jaxdiff.flow_solvers.x_adaptive_solve__mutmut_54": (
        "t0=jnp.asarray(1.0, ),",
        "a weak-typed Python-float time beside two of x_T's dtype: diffrax's times keep it",
    ),
    "jaxdiff.flow_solvers.x_adaptive_solve__mutmut_57": (
        "t1=jnp.asarray(0.0, None),",
        "a weak-typed Python-float time beside two of x_T's dtype: diffrax's times keep it",
    ),
    "jaxdiff.flow_solvers.x_adaptive_solve__mutmut_59": (
        "t1=jnp.asarray(0.0, ),",
        "a weak-typed Python-float time beside two of x_T's dtype: diffrax's times keep it",
    ),
    "jaxdiff.flow_solvers.x_adaptive_solve__mutmut_62": (
        "dt0=jnp.asarray(-0.05, None),",
        "a weak-typed Python-float time beside two of x_T's dtype: diffrax's times keep it",
    ),
    "jaxdiff.flow_solvers.x_adaptive_solve__mutmut_64": (
        "dt0=jnp.asarray(-0.05, ),",
        "a weak-typed Python-float time beside two of x_T's dtype: diffrax's times keep it",
    ),
    "jaxdiff.flow_solvers.x_adaptive_solve__mutmut_81": (
        "return (sol.ys[+1] if saves is None else sol.ys), evaluations",
        "SaveAt(t1=True) saves one state: JAX clamps a static index, so ys[1] is ys[-1]",
    ),
    "jaxdiff.flow_solvers.x_adaptive_solve__mutmut_82": (
        "return (sol.ys[-2] if saves is None else sol.ys), evaluations",
        "SaveAt(t1=True) saves one state: JAX clamps a static index, so ys[-2] is ys[-1]",
    ),
    "jaxdiff.samplers.x__run__mutmut_25": (
        "check_fits(apply_fn, data_dim=shape[+1], num_steps=schedule.num_steps, labels=labels)",
        "shape is (n, dim) (checked just above), so shape[+1] is shape[-1]",
    ),
    "jaxdiff.samplers.x__run__mutmut_64": (
        "w = jnp.asarray(w, None)",
        "w is a Python float: without a dtype jnp.asarray gives float_dtype() too",
    ),
    "jaxdiff.samplers.x__run__mutmut_66": (
        "w = jnp.asarray(w, )",
        "w is a Python float: without a dtype jnp.asarray gives float_dtype() too",
    ),
    "jaxdiff.samplers.x__run__mutmut_69": (
        "params = (params, jnp.asarray(labels, None), w)",
        "labels index a table and meet -1: int32 or int64 pick the same rows",
    ),
    "jaxdiff.samplers.x__run__mutmut_71": (
        "params = (params, jnp.asarray(labels, ), w)",
        "labels index a table and meet -1: int32 or int64 pick the same rows",
    ),
    "jaxdiff.samplers.x_sample__mutmut_9": (
        "return _run(key, apply_fn, params, schedule, shape, options, labels, x_T, "
        "trajectory=None)",
        "the chains read the static flag with `if trajectory`: None acts as False",
    ),
    "jaxdiff.samplers.xǁSamplerOptionsǁreplace__mutmut_22": (
        'if {"XXmethodXX", "steps", "spacing"} & set(changes) and "grid" not in changes:',
        "a change of method without steps has put steps into changes just above, so the "
        "grid is dropped all the same",
    ),
    "jaxdiff.samplers.xǁSamplerOptionsǁreplace__mutmut_23": (
        'if {"METHOD", "steps", "spacing"} & set(changes) and "grid" not in changes:',
        "a change of method without steps has put steps into changes just above, so the "
        "grid is dropped all the same",
    ),
    "jaxdiff.samplers.xǁSamplerOptionsǁwith_evaluations__mutmut_43": (
        'steps = (nfe + 2) // 2 if (not flow and self.method == "heun") else nfe // per_step',
        "an even nfe for heun is refused just above: for odd nfe (nfe + 2) // 2 is (nfe + 1) // 2",
    ),
    "jaxdiff.samplers.xǁSamplerOptionsǁfor_schedule__mutmut_42": (
        'abar = schedule.alphas_cumprod if (spacing in ("logsnr", "karras")) or True else None',
        "grids.timesteps reads alphas_cumprod for logsnr and karras only",
    ),
}


def _config(module: str, tests: list[str]) -> str:
    args = ["-p", "no:xdist", "-p", "no:cacheprovider", "-o", "addopts=", "-m", "not slow"]
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["jaxdiff"]\n'
        f'only_mutate = ["jaxdiff/{module}.py"]\n'
        f"pytest_add_cli_args = {json.dumps([*args, '-x', '-q'])}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'process_isolation = "forkserver"\n'
        'forkserver_warmup = "collect"\n'
        "timeout_constant = 20.0\n"
    )


def _changed_line(work: pathlib.Path, name: str) -> str:
    shown = subprocess.run(
        ["mutmut", "show", name], cwd=work, capture_output=True, text=True
    ).stdout
    plus = [ln[1:].strip() for ln in shown.splitlines() if ln.startswith("+") and ln[1:2] != "+"]
    return " / ".join(plus)


# Collects the given test files, as mutmut's fork server does, and says whether that
# started JAX's runtime (an array made at import, e.g. in a parametrize list): the runtime
# starts its thread pools (a CPU backend, 15 threads here), and those threads are what a
# fork cannot carry, so a process that gained more than 4 threads while collecting is
# refused (counted after importing jax, whose import starts two of its own; the test
# files' other imports start at most one).
_COLLECT = """
import os, sys, jax, pytest
threads = len(os.listdir("/proc/self/task"))
pytest.main(["-p", "no:xdist", "-p", "no:cacheprovider", "-o", "addopts=", "--collect-only",
             "-q", *sys.argv[1:]])
sys.exit(3 if len(os.listdir("/proc/self/task")) > threads + 4 else 0)
"""


def check_collection(tests: list[str]) -> None:
    """Refuses test files whose collection starts JAX: every forked variant would deadlock."""
    done = subprocess.run(
        [sys.executable, "-c", _COLLECT, *tests], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode == 3:
        raise RuntimeError(
            f"collecting {', '.join(tests)} starts JAX (an array made at import?): "
            "mutmut's forked variants would deadlock; make it inside the test"
        )


def run_module(module: str, jobs: int, limit: float) -> dict:
    check_collection(MODULES[module])
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"jaxdiff-mutation-{module}-"))
    try:
        shutil.copytree(ROOT / "jaxdiff", work / "jaxdiff")
        shutil.copytree(ROOT / "tests", work / "tests")
        (work / "pyproject.toml").write_text(
            (ROOT / "pyproject.toml").read_text() + _config(module, MODULES[module])
        )
        # One on-disk XLA cache for the module's variants: a function the variant leaves
        # unchanged compiles to the same program and is loaded, not compiled again; a
        # changed one is a different program, so a different entry.
        env = {k: v for k, v in os.environ.items() if k != "JAXDIFF_CACHE_DIR"}
        env["JAX_COMPILATION_CACHE_DIR"] = str(work / "xla-cache")
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        # The tests' own cache folder (tests/conftest.py): one, in the work folder, rather
        # than a fresh temporary folder per variant that its forked process never removes.
        env["JAXDIFF_TEST_CACHE_DIR"] = str(work / "test-cache")
        started = datetime.datetime.now()
        # A wall-clock limit: mutmut's own limit is CPU time, which a forked process that
        # deadlocked (JAX started before the fork) never spends.
        proc = subprocess.Popen(
            ["mutmut", "run", "--max-children", str(jobs)],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        partial = False
        try:
            if proc.wait(timeout=limit) != 0:
                raise RuntimeError(f"mutmut run failed on {module} (exit {proc.returncode})")
        except subprocess.TimeoutExpired:
            # Out of time (or a deadlocked fork): what was checked is still a measurement,
            # recorded as partial with the number left unchecked.
            os.killpg(proc.pid, signal.SIGKILL)
            partial = True
        seconds = (datetime.datetime.now() - started).total_seconds()
        record = collect(work, module, seconds, partial=partial)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return record


def collect(work: pathlib.Path, module: str, seconds: float, *, partial: bool) -> dict:
    """The record of a mutmut run in ``work``: counts, and each survivor's changed line."""
    if not (work / "mutants").is_dir():
        raise RuntimeError(f"{module}: no mutmut results in {work}")
    subprocess.run(["mutmut", "export-cicd-stats"], cwd=work, check=True, capture_output=True)
    stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
    listed = subprocess.run(
        ["mutmut", "results", "--all", "true"], cwd=work, capture_output=True, text=True
    ).stdout
    survivors, unchecked = {}, 0
    for line in listed.splitlines():
        name, _, status = line.strip().partition(": ")
        if status in ("survived", "no tests", "timeout", "suspicious"):
            survivors[name] = {"status": status, "line": _changed_line(work, name)}
        unchecked += status == "not checked"
    if unchecked and not partial:
        raise RuntimeError(f"{module}: mutmut finished with {unchecked} variants unchecked")
    record = {
        "total": stats["total"],
        "killed": stats["killed"],
        "survived": stats["survived"],
        "timeout": stats["timeout"],
        "no_tests": stats["no_tests"],
        "survivors": survivors,
        "tests": MODULES[module],
        "seconds": round(seconds, 1),
    }
    if unchecked:
        record["not_checked"] = unchecked
    return record


def classify(r: dict) -> tuple[dict, dict, float | None]:
    """A module's record read against ``EQUIVALENT`` as it is now: the survivors excused
    (their changed line still the listed one), the rest, and the score killed / (all -
    excused). Records written before survivors were kept whole list the excused ones
    apart, under ``equivalent``."""
    found = {n: {"status": "survived", "line": EQUIVALENT[n][0]} for n in r.get("equivalent", {})
             if n in EQUIVALENT}  # fmt: skip
    found.update(r["survivors"])
    excused = {
        n: EQUIVALENT[n][1]
        for n, f in found.items()
        if n in EQUIVALENT and f["status"] == "survived" and f["line"] == EQUIVALENT[n][0]
    }
    rest = {n: f for n, f in found.items() if n not in excused}
    counted = r["total"] - r.get("not_checked", 0) - len(excused)
    return excused, rest, (r["killed"] / counted if counted else None)


def table(doc: dict) -> str:
    head = (
        "Score: killed / (checked - equivalent). Each row: `python scripts/mutation.py "
        "--modules NAME`, with the date, machine and mutmut version it ran on; a run out "
        "of time (`--limit`) is partial, its mutants shown as checked of all.\n\n"
        "| module | mutants | killed | survived | equivalent | timeout | no test | score | "
        "tests | minutes | run |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"
    )
    rows = []
    for module in MODULES:
        r = doc["modules"].get(module)
        if r is None:
            rows.append(f"| {module} | not run yet | | | | | | | | | |")
            continue
        excused, _, score = classify(r)
        score = "" if score is None else f"{100 * score:.1f}%"
        files = ", ".join(f"`{pathlib.Path(t).name}`" for t in r["tests"])
        total = r["total"]
        if "not_checked" in r:
            total = f"{r['total'] - r['not_checked']} of {r['total']} (partial)"
        rows.append(
            f"| {module} | {total} | {r['killed']} | {r['survived']} | "
            f"{len(excused)} | {r['timeout']} | {r['no_tests']} | {score} | {files} | "
            f"{r['seconds'] / 60:.1f} | {r['date']}, {r['cores']}-core {r['cpu']}, "
            f"mutmut {r['mutmut']} |"
        )
    return "\n".join([head, *rows])


def _page(doc: dict) -> str:
    return between(PAGE.read_text(), "mutation-table", table(doc))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modules", nargs="+", choices=list(MODULES), default=list(MODULES))
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at once")
    p.add_argument("--limit", type=float, default=3600, help="seconds a module may take")
    p.add_argument("--table", action="store_true", help="only rewrite the docs table")
    p.add_argument("--check", action="store_true", help="exit 1 if the docs table is stale")
    p.add_argument(
        "--collect",
        metavar="DIR",
        help="record the work folder of a run that was stopped (a copy of it), as partial; "
        "with one --modules and --minutes, the time it ran",
    )
    p.add_argument("--minutes", type=float, help="with --collect: how long the run ran")
    args = p.parse_args()
    doc = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"modules": {}}
    if args.check or args.table:
        return sync(PAGE, _page(doc), check=args.check, fix="scripts/mutation.py --table")
    if shutil.which("mutmut") is None:
        print("mutation.py: needs mutmut (pip install mutmut)", file=sys.stderr)
        return 2
    version = importlib.metadata.version("mutmut")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _common import cpu_model  # the CPU name the benchmarks record

    for module in args.modules:
        try:
            if args.collect:
                if len(args.modules) != 1 or args.minutes is None:
                    p.error("--collect takes one --modules and --minutes")
                r = collect(pathlib.Path(args.collect), module, 60 * args.minutes, partial=True)
            else:
                print(f"{module}: mutating against {', '.join(MODULES[module])}", flush=True)
                r = run_module(module, args.jobs, args.limit)
        except RuntimeError as err:
            print(f"  {err}", flush=True)
            continue
        r.update(
            date=datetime.date.today().isoformat(),
            cpu=cpu_model(),
            cores=os.cpu_count(),
            mutmut=version,
        )
        doc["modules"][module] = r
        print(f"  {r['killed']}/{r['total']} killed, {len(classify(r)[1])} not excused", flush=True)
        RESULTS.write_text(json.dumps(doc, indent=1) + "\n")
    PAGE.write_text(_page(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
