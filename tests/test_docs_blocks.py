"""Every fenced Python block of README.md and docs/*.md runs as printed.

Each block runs in its own namespace inside one folder that holds what the pages name:
``points.npy`` (a ring), the runs ``runs/p`` (a DDPM), ``runs/f`` (an OT flow) and
``runs/moons``, and ``s.jaxexport`` (``runs/p``'s exported sampler). The runs are trained
for 2 epochs, and the blocks are shrunk in two documented ways only, so that they run in
the slow tier's minutes: ``jaxdiff.fit``'s size rule gets a budget of 40 optimiser steps
(``SHRUNK_STEPS``) and the literal settings in ``SHRINK`` are replaced (long trainings).
A block that is not meant to run sits under ``<!-- not run: why -->``; there are none
today (``test_few_blocks_are_marked_not_to_run``)."""

import numpy as np
import pytest
from conftest import jaxdiff
from doc_pages import PAGES, ROOT, fences

SHRUNK_STEPS = 40
# Literal training lengths of the pages, replaced by short ones (nothing else is edited).
SHRINK = {"epochs=400": "epochs=2", "epochs=120": "epochs=2"}


def blocks() -> list[tuple[str, str, bool]]:
    """``(where, code, marked not to run)`` of every fenced Python block of the pages."""
    found = []
    for page in PAGES:
        for language, code, line, marked in fences(page.read_text()):
            if language == "python":
                found.append((f"{page.relative_to(ROOT)}:{line}", code, marked))
    return found


BLOCKS = blocks()


def test_the_pages_hold_python_blocks_and_the_finder_sees_them():
    assert len(BLOCKS) >= 10
    where = {w.split(":")[0] for w, _, _ in BLOCKS}
    assert {"README.md", "docs/library.md", "docs/flows.md", "docs/tables.md"} <= where
    code = "```python\nx = 1\n```\n\n<!-- not run: a sketch -->\n```python\ny\n```\n"
    assert [(b, m) for _, b, _, m in fences(code)] == [("x = 1\n", False), ("y\n", True)]


def test_the_readme_stays_a_first_page():
    """Under 10,000 characters (issue 49): the detail belongs to docs/."""
    assert len((ROOT / "README.md").read_text()) < 10_000


# Not guides: the project's map (docs/design.md) and the results pages, which hold the
# tables the guides link to.
NOT_GUIDES = ("design.md",)


def test_the_scripts_stay_under_1000_lines():
    """Issue 49: no per-table rendering code; scripts/ stays at most 1,000 lines (the pages'
    blocks are each benchmark's, laid out by scripts/results_table.py)."""
    lines = {p.name: len(p.read_text().splitlines()) for p in (ROOT / "scripts").glob("*.py")}
    assert sum(lines.values()) <= 1_000, lines


def test_every_guide_page_answers_in_150_lines():
    """A guide answers its questions and links to its results page (issue 49)."""
    guides = [
        p
        for p in sorted((ROOT / "docs").glob("*.md"))
        if p.name not in NOT_GUIDES and not p.name.startswith("results-")
    ]
    assert len(guides) >= 12
    long = {p.name: n for p in guides if (n := len(p.read_text().splitlines())) > 150}
    assert long == {}, long


def test_few_blocks_are_marked_not_to_run():
    marked = [w for w, _, skip in BLOCKS if skip]
    assert len(marked) <= 2, marked


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The files and runs the pages name, each trained for 2 epochs."""
    root = tmp_path_factory.mktemp("docs")
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, 600)
    ring = np.stack([np.cos(angle), np.sin(angle)], 1) + 0.05 * rng.standard_normal((600, 2))
    np.save(root / "points.npy", ring.astype(np.float32))
    short = ("--epochs", "2", "--eval-n", "0", "--no-figures", "--quiet")
    jaxdiff("train", "--data", root / "points.npy", "--out", root / "runs/p", *short)
    jaxdiff("train", "--data", root / "points.npy", "--objective", "flow", "--pairing", "ot",
            "--out", root / "runs/f", *short)  # fmt: skip
    jaxdiff("train", "--data", "moons", "--out", root / "runs/moons", *short)
    jaxdiff("export", "--run", root / "runs/p", "--out", root / "s.jaxexport")
    return root


@pytest.mark.slow  # about a dozen small trainings and compilations
@pytest.mark.parametrize("where, code, skip", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_every_python_block_of_the_pages_runs(where, code, skip, folder, monkeypatch, fit_budget):
    if skip:
        pytest.skip(f"{where} is marked not to run")
    fit_budget(SHRUNK_STEPS)
    monkeypatch.chdir(folder)
    for long, short in SHRINK.items():
        code = code.replace(long, short)
    exec(compile(code, where, "exec"), {"__name__": "__docs__"})
