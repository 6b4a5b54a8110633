"""Figures on the docs pages that are generated from benchmark results files: the page
and its results file must agree (the script rewrites the page; nothing is copied by
hand)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_flows_page_is_its_results_file():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "flows_table.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_stale_page_is_caught(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import flows_table
    finally:
        sys.path.pop(0)
    page = tmp_path / "flows.md"
    text = (ROOT / "docs" / "flows.md").read_text()
    page.write_text(text.replace("| checkerboard |", "| checkerboard (edited) |", 1))
    monkeypatch.setattr(flows_table, "PAGE", page)
    monkeypatch.setattr(sys, "argv", ["flows_table.py", "--check"])
    assert flows_table.main() == 1


def test_the_mutation_table_is_its_results_file():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "mutation.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_stale_mutation_table_is_caught(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import mutation
    finally:
        sys.path.pop(0)
    page = tmp_path / "tests.md"
    text = (ROOT / "docs" / "tests.md").read_text()
    page.write_text(text.replace("| schedules |", "| schedules (edited) |", 1))
    monkeypatch.setattr(mutation, "PAGE", page)
    monkeypatch.setattr(sys, "argv", ["mutation.py", "--check"])
    assert mutation.main() == 1
