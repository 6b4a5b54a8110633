"""Figures on the docs pages that are generated from benchmark results files: the page
and its results file must agree (the script rewrites the page; nothing is copied by
hand)."""

import importlib
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["flows_table.py", "mutation.py"])
def test_each_generated_page_is_its_results_file(script):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "name, page, row",
    [("flows_table", "flows.md", "| checkerboard |"), ("mutation", "tests.md", "| schedules |")],
)
def test_a_stale_page_is_caught(name, page, row, tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        script = importlib.import_module(name)
    finally:
        sys.path.pop(0)
    edited = tmp_path / page
    text = (ROOT / "docs" / page).read_text()
    edited.write_text(text.replace(row, row[:-2] + " (edited) |", 1))
    monkeypatch.setattr(script, "PAGE", edited)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--check"])
    assert script.main() == 1
