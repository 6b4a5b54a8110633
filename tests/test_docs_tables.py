"""Figures on the docs pages that are generated from benchmark results files: the page
and its results file must agree (the script rewrites the page; nothing is copied by
hand)."""

import importlib
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "script",
    ["mutation.py", "results_table.py"],
)
def test_each_generated_page_is_its_results_file(script):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _script(name):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def test_a_mutation_record_edited_without_its_table_is_caught(tmp_path, monkeypatch):
    """mutation.py --check fails when a module's record no longer gives the stored table
    (a count edited by hand, or a new record saved without ``--table``)."""
    script = _script("mutation")
    doc = json.loads(script.RESULTS.read_text())
    doc["modules"]["ddpm.schedules"]["killed"] -= 1
    edited = tmp_path / "mutation.json"
    edited.write_text(json.dumps(doc))
    monkeypatch.setattr(script, "RESULTS", edited)
    monkeypatch.setattr(sys, "argv", ["mutation.py", "--check"])
    assert script.main() == 1


@pytest.mark.parametrize(
    "page, old, new",
    [
        # The README's first number, and a cell of each generated docs table.
        ("README.md", "× closer to the data", "0× closer to the data"),
        ("docs/benchmarks.md", "| 10,000 | 100 |", "| 10,000 | 101 |"),
        ("docs/benchmarks.md", "**met**", "**not met**"),
        ("docs/results-quality.md", "| s_curve | jaxdiff default |", "| s_curve | jaxdiff |"),
        ("docs/results-quality.md", "peer is ahead on swiss_roll", "peer is ahead on moons"),
        ("docs/data.md", "| checkerboard | 2 |", "| checkerboard | 3 |"),
        ("docs/tests.md", "under 5 minutes on 2 cores", "under 9 minutes on 2 cores"),
        ("docs/results-quality.md", "| sliced W2 |", "| sliced W2 (edited) |"),
        ("benchmarks/README.md", "| + Adam |", "| + Adam (edited) |"),
        ("docs/scale.md", "The goal of ≥ 3× is", "The goal of ≥ 2× is"),
        ("docs/results-samplers.md", "| checkerboard |", "| checkerboard (edited) |"),
        ("docs/results-samplers.md", "light student is within", "light student is"),
        ("docs/results-samplers.md", "(150 epochs)** | 0.0046", "(150 epochs)** | 0.0045"),
        ("docs/results-flows.md", "| checkerboard |", "| checkerboard (edited) |"),
        ("docs/results-flows.md", "target of at most 1.3×", "target of at most 1.5×"),
        ("docs/results-tests.md", "| ddpm.schedules |", "| ddpm.schedules (edited) |"),
    ],
)
def test_a_stale_readme_or_docs_number_is_caught(page, old, new, tmp_path):
    """The generic renderer's --check fails when one figure of a generated block is edited
    by hand, and passes on the untouched copy (so the edit, not the copying, is what it
    sees)."""
    script = _script("results_table")
    edited = tmp_path / pathlib.Path(page).name
    text = (ROOT / page).read_text()
    edited.write_text(text)
    assert script.main(["--check", str(edited)]) == 0
    assert old in text
    edited.write_text(text.replace(old, new, 1))
    assert script.main(["--check", str(edited)]) == 1


def test_every_docs_link_and_anchor_resolves_and_a_wrong_anchor_is_caught(tmp_path, monkeypatch):
    """build_docs.broken_links (a CI step) finds nothing in the repository, and finds a
    link to a heading that is not there."""
    script = _script("build_docs")
    assert script.broken_links() == []
    assert "every-2-d-set-in-one-table" in script.anchors(ROOT / "docs" / "benchmarks.md")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Which to use\n")
    (tmp_path / "README.md").write_text("[ok](docs/a.md#which-to-use) [bad](docs/a.md#which)\n")
    (tmp_path / "CHANGELOG.md").write_text("")
    monkeypatch.setattr(script, "ROOT", tmp_path)
    assert script.broken_links() == ["README.md: docs/a.md#which"]


def test_the_generic_renderer_catches_an_edited_cell_and_renders_declared_columns(tmp_path):
    """results_table.py renders any section that declares its columns; a cell edited by
    hand on the page fails --check."""
    script = _script("results_table")
    doc = {
        "cpu": "a CPU",
        "s": {
            "date": "2026-12-06T00:00:00",
            "ran": {"splits": 3},
            "columns": [["name", "set", ""], ["w", "W1", "{:.2f}"], ["c", "cov", "{:.3f}"]],
            "summary": [{"name": "iris", "w": 0.2371, "c": None}],
        },
    }
    table = script.render(doc, "s")
    assert table.splitlines()[0] == "(a CPU, 2026-12-06; splits 3)"
    assert "| set | W1 | cov |" in table and "| iris | 0.24 | – |" in table
    page = (ROOT / "docs" / "results-tables.md").read_text()
    assert "results:cpu-amd-epyc-2c:tables:start" in page
    edited = tmp_path / "results-tables.md"
    lines = script.fill(page).splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("| iris |"))
    lines[row] = lines[row].replace("| iris |", "| iris (edited) |")
    edited.write_text("\n".join(lines) + "\n")
    assert script.main(["--check", str(edited)]) == 1


def test_every_saved_block_is_what_its_benchmark_derives_from_its_rows():
    """benchmarks/summarize.py --check: the blocks in the results files are what each
    owning benchmark's ``blocks`` gives from the rows saved beside them (a block edited in
    the file, or code changed without rerunning the summary, fails)."""
    proc = subprocess.run(
        [sys.executable, "summarize.py", "--check"],
        cwd=ROOT / "benchmarks",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_block_edited_in_its_results_file_is_caught(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    summarize = importlib.import_module("summarize")
    name = "fast_preset"
    doc = json.loads((summarize.RESULTS / f"{name}.json").read_text())
    doc["fast_preset"]["page"]["fast-preset"]["rows"][1]["sw2"] = 0.001
    (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    monkeypatch.setattr(summarize, "RESULTS", tmp_path)
    monkeypatch.setattr(summarize, "OWNERS", (("fast_preset", "fast_preset", "fast_preset"),))
    assert summarize.main(["--check"]) == 1
