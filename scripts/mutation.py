"""Mutation testing of the math modules with mutmut: how many planted changes the tests catch.

    python scripts/mutation.py                         # every module below (hours on 2 cores)
    python scripts/mutation.py --modules schedules grids --jobs 2
    python scripts/mutation.py --table                 # the table's block, from the records
    python scripts/mutation.py --check                 # exit 1 if that block is stale
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
each survivor's changed line), with docs/results-tests.md's table as a declared block
(``scripts/results_table.py`` lays it out); the equivalent survivors and why are in
``tests/mutation_equivalent.toml``.
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
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "mutation.json"

# Each library module and its own fast test files, kept as data beside the tests.
MODULES = tomllib.loads((ROOT / "tests" / "mutation_modules.toml").read_text())

# Survivors read and found equivalent, by mutant name: the changed line mutmut reports (checked
# on each run: a renumbered mutant is not excused) and why, kept as data beside the tests.
EQUIVALENT = {
    name: (entry["line"], entry["why"])
    for name, entry in tomllib.loads(
        (ROOT / "tests" / "mutation_equivalent.toml").read_text()
    ).items()
}


def _config(module: str, tests: list[str]) -> str:
    args = ["-p", "no:xdist", "-p", "no:cacheprovider", "-o", "addopts=", "-m", "not slow"]
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["jaxdiff"]\n'
        f'only_mutate = ["jaxdiff/{module.replace(".", "/")}.py"]\n'
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


COLUMNS = [("module", "module", ""), ("mutants", "mutants", "{}"), ("killed", "killed", "{}"),
           ("survived", "survived", "{}"), ("equivalent", "equivalent", "{}"),
           ("timeout", "timeout", "{}"), ("no_tests", "no test", "{}"),
           ("score", "score", "{:.1%}"), ("files", "tests", ""), ("minutes", "minutes", "{:.1f}"),
           ("run", "run", "")]  # fmt: skip


def block(doc: dict) -> dict:
    """docs/results-tests.md's table (scripts/results_table.py lays it out): a row a module."""
    rows = []
    for module in MODULES:
        r = doc["modules"].get(module)
        if r is None:
            rows.append({"module": module, "mutants": "not run yet"})
            continue
        excused, _, score = classify(r)
        total = r["total"]
        if "not_checked" in r:
            total = f"{r['total'] - r['not_checked']} of {r['total']} (partial)"
        rows.append({
            "module": module, "mutants": total, "killed": r["killed"], "survived": r["survived"],
            "equivalent": len(excused), "timeout": r["timeout"], "no_tests": r["no_tests"],
            "score": score, "files": ", ".join(f"`{pathlib.Path(t).name}`" for t in r["tests"]),
            "minutes": r["seconds"] / 60,
            "run": f"{r['date']}, {r['cores']}-core {r['cpu']}, mutmut {r['mutmut']}",
        })  # fmt: skip
    text = (
        "Score: killed / (checked - equivalent). Each row: `python scripts/mutation.py "
        "--modules NAME`, with the date, machine and mutmut version it ran on; a run out "
        "of time (`--limit`) is partial, its mutants shown as checked of all."
    )
    return {"text": text, "columns": COLUMNS, "rows": rows}


def save(doc: dict) -> None:
    """The records and the table derived from them, into ``mutation.json``."""
    doc["table"] = {"page": {"mutation-table": block(doc)}}
    RESULTS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--modules", nargs="+", choices=list(MODULES), default=list(MODULES))
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at once")
    p.add_argument("--limit", type=float, default=3600, help="seconds a module may take")
    p.add_argument("--table", action="store_true", help="only rewrite the table's block")
    p.add_argument("--check", action="store_true", help="exit 1 if the table's block is stale")
    p.add_argument(
        "--collect",
        metavar="DIR",
        help="record the work folder of a run that was stopped (a copy of it), as partial; "
        "with one --modules and --minutes, the time it ran",
    )
    p.add_argument("--minutes", type=float, help="with --collect: how long the run ran")
    args = p.parse_args()
    doc = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"modules": {}}
    if args.check:
        if doc.get("table") != json.loads(json.dumps({"page": {"mutation-table": block(doc)}})):
            print(f"{RESULTS}'s table is stale: run python scripts/mutation.py --table")
            return 1
        return 0
    if args.table:
        save(doc)
        return 0
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
        save(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
