"""The rules of docs/design.md, checked: imports point down only (the import contract in
``pyproject.toml``, run by import-linter), every library module is under that contract,
no module, test, benchmark or example reaches into another module's private names, and
the benchmark scripts share ``_common`` but never import one another. Each check is
also shown failing on a planted violation."""

import ast
import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).parents[1]
BENCHMARKS = {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
# Modules whose names a file may import: the project's own.
OWN = {"jaxdiff", "conftest", "oracles", "doc_pages", *BENCHMARKS}


def _own(module: str) -> bool:
    return module.split(".")[0] in OWN


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def reaches(source: str) -> list[str]:
    """Each place in ``source`` that imports a private name of a project module
    (``from m import _x``) or reads one through an imported module (``m._x``)."""
    tree = ast.parse(source)
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and _own(node.module):
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[0] for a in node.names if _own(a.name)}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def benchmark_imports(source: str) -> list[str]:
    """The benchmark scripts (not the shared ``_`` modules) that ``source`` imports."""
    out = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        out += [n for n in names if n in BENCHMARKS and not n.startswith("_")]
    return out


def _files():
    for folder in ("jaxdiff", "tests", "benchmarks", "scripts", "examples"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_file_reaches_into_another_modules_private_names():
    found = [
        f"{path.relative_to(ROOT)} {place}"
        for path in _files()
        for place in reaches(path.read_text())
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "from jaxdiff.runs.checkpoints import _first_line",
        "from jaxdiff import models\nmodels._lookup",
        "import oracles\noracles._helper(1)",
        "from jaxdiff.runs import checkpoints as c\nc._steps('x')",
    ],
)
def test_a_reach_into_a_private_name_is_found(source):
    assert len(reaches(source)) == 1


def test_benchmark_scripts_never_import_one_another():
    found = {
        path.name: benchmark_imports(path.read_text())
        for path in sorted((ROOT / "benchmarks").glob("*.py"))
    }
    assert {k: v for k, v in found.items() if v} == {}
    assert benchmark_imports("from solvers import within\nimport _common") == ["solvers"]


def _contracts():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


LIBRARY = ("core", "ddpm", "flow", "engine")


def test_every_library_module_is_in_a_package_under_the_import_contracts():
    flat = {p.stem for p in (ROOT / "jaxdiff").glob("*.py")}
    assert flat == {"__init__", "__main__"}
    packages = {p.parent.name for p in (ROOT / "jaxdiff").glob("*/__init__.py")}
    assert packages == {*LIBRARY, "runs", "cli"}
    contracts = {c["name"]: c for c in _contracts()}
    (layers,) = [c for c in contracts.values() if c["type"] == "layers"]
    named = {m.strip() for layer in layers["layers"] for m in layer.split("|")}
    assert named == {f"jaxdiff.{p}" for p in packages}
    (library,) = [c for c in contracts.values() if "jaxdiff.runs" in c.get("forbidden_modules", ())]
    assert set(library["source_modules"]) == {f"jaxdiff.{p}" for p in LIBRARY}


def picture_levels(design: str) -> dict[str, int]:
    """Each package of docs/design.md's opening picture -> its row, top first (the two
    families share one)."""
    block = design.split("```")[1]
    levels = {}
    for line in block.splitlines():
        names = []  # the leading names of a row: the boxes, not the words beside them
        for word in line.split():
            if not word.startswith("jaxdiff."):
                break
            names.append(word)
        row = len(set(levels.values()))
        levels.update(dict.fromkeys(names, row))
    return levels


def package_imports() -> set[tuple[str, str]]:
    """(importer, imported) for each pair of jaxdiff's packages with a direct import."""
    graph = import_graph(ROOT / "jaxdiff")
    top = lambda m: ".".join(m.split(".")[:2])  # noqa: E731
    return {
        (top(a), top(b))
        for a, bs in graph.items()
        for b in bs
        if a.count(".") >= 1 and b.count(".") >= 1 and top(a) != top(b)
    }


def test_the_design_pages_picture_shows_the_packages_and_their_imports_point_down():
    levels = picture_levels((ROOT / "docs" / "design.md").read_text())
    packages = {f"jaxdiff.{p.parent.name}" for p in (ROOT / "jaxdiff").glob("*/__init__.py")}
    assert set(levels) == packages
    assert levels["jaxdiff.ddpm"] == levels["jaxdiff.flow"]
    edges = {(a, b) for a, b in package_imports() if a in packages and b in packages}
    assert ("jaxdiff.engine", "jaxdiff.ddpm") in edges  # the graph is read at all
    assert [(a, b) for a, b in sorted(edges) if levels[a] >= levels[b]] == []
    # a picture that puts the engine below a family is caught
    wrong = {**levels, "jaxdiff.engine": levels["jaxdiff.core"]}
    assert [(a, b) for a, b in sorted(edges) if wrong[a] >= wrong[b]] != []


def _lint_imports(cwd: pathlib.Path, pythonpath: pathlib.Path | None = None):
    env = None if pythonpath is None else {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "lint-imports")],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_import_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(_contracts())} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        # the library reaching up into the application
        ("core/metrics.py", "from jaxdiff.runs import rundir", "the library never imports"),
        # one family importing the other, either way
        ("ddpm/grids.py", "from jaxdiff.flow import flows", "the two families never"),
        ("flow/meanflow.py", "import jaxdiff.ddpm.schedules", "the two families never"),
        # the core importing a family, or the engine
        ("core/tables.py", "from jaxdiff.ddpm import schedules", "the core never imports"),
        ("core/data.py", "from jaxdiff.engine import training", "the core never imports"),
        # a family importing the engine above it, inside a function
        ("flow/flows.py", "def f():\n    from jaxdiff.engine import samplers", "layers:"),
    ],
)
def test_each_import_contract_fails_on_a_planted_import(tmp_path, module, planted, broken):
    copy = tmp_path / "tree"
    copy.mkdir()
    (copy / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    for path in (ROOT / "jaxdiff").rglob("*.py"):
        target = copy / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    target = copy / "jaxdiff" / module
    target.write_text(target.read_text() + "\n" + planted + "\n")
    result = _lint_imports(copy, pythonpath=copy)
    assert result.returncode == 1
    # the planted import breaks its contract (and, through the chain it opens, maybe more)
    assert broken in result.stdout.split("Broken contracts")[-1], result.stdout


def import_graph(package: pathlib.Path) -> dict[str, set[str]]:
    """Each module of ``package`` (a folder) -> the package's modules it imports anywhere
    in its file: at the top, under ``if TYPE_CHECKING:`` or inside a function."""
    root, modules = package.parent, {}
    for path in package.rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    found.add(full if full in modules else node.module)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_not_even_a_type_only_one(tmp_path):
    """No two library modules import each other, however indirectly: at the top, under
    ``TYPE_CHECKING`` or inside a function (issue 50: runs.draw imported runs.trained for
    a type). Shown failing on a planted type-only cycle."""
    assert cycles(import_graph(ROOT / "jaxdiff")) == []
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n"
    )
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.b"]]


MAX_LINES = 350  # docs/design.md: a module owns one concern and stays at or under this


def long_modules(package: pathlib.Path, limit: int = MAX_LINES) -> dict[str, int]:
    """Each module of ``package`` over ``limit`` lines -> its line count."""
    counts = {
        str(p.relative_to(package.parent)): len(p.read_text().splitlines())
        for p in sorted(package.rglob("*.py"))
    }
    return {name: n for name, n in counts.items() if n > limit}


def test_every_module_is_at_most_350_lines(tmp_path):
    assert long_modules(ROOT / "jaxdiff") == {}
    planted = tmp_path / "pkg"
    planted.mkdir()
    (planted / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (planted / "short.py").write_text("x = 1\n" * MAX_LINES)
    assert long_modules(planted) == {"pkg/long.py": MAX_LINES + 1}
