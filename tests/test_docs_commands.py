"""Every ``jaxdiff …`` command line of README.md and docs/*.md runs as printed.

A page's shell blocks (fenced ``bash`` or unlabelled blocks with a line that starts with
``jaxdiff``) run in the page's order, each as one ``bash -e`` script, in a folder of the
page's own that holds the files the pages name (``points.npy``, ``table.csv``,
``gaps.csv``, …; :func:`_files`). Only ``jaxdiff`` and ``export`` lines run (a ``pip
install … &&`` before ``jaxdiff`` is dropped; ``pytest`` is the README's other command).
The one shrink is the documented ``JAXDIFF_SMOKE=1`` (:mod:`jaxdiff.cli.smoke`): every
command at a token budget, its files and checks unchanged. A block that is not meant to
run sits under ``<!-- not run: why -->``.
"""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from doc_pages import PAGES, ROOT, fences

SHELL = ("bash", "sh", "")
PIP = re.compile(r"^pip install [^&]*&& ")


def script_lines(block: str) -> list[str]:
    """The lines of a shell block that run: ``jaxdiff …`` (continuations joined) and
    ``export …``; a leading ``pip install … &&`` dropped."""
    joined = re.sub(r"\\\n\s*", "", block)
    out = []
    for line in joined.splitlines():
        line = PIP.sub("", line.strip())
        if line.startswith(("jaxdiff ", "export ")):
            out.append(line)
    return out


def shell_blocks() -> dict[str, list[tuple[int, list[str], bool]]]:
    """``{page: [(line, its command lines, marked not to run), …]}`` of the pages with a
    ``jaxdiff`` command line."""
    found = {}
    for page in PAGES:
        for language, body, line, marked in fences(page.read_text()):
            lines = script_lines(body)
            if language not in SHELL or not any(x.startswith("jaxdiff ") for x in lines):
                continue
            found.setdefault(str(page.relative_to(ROOT)), []).append((line, lines, marked))
    return found


BLOCKS = shell_blocks()


def test_the_pages_hold_command_lines_and_the_finder_sees_them():
    assert {"README.md", "docs/cli.md", "docs/tables.md", "docs/conditioning.md"} <= set(BLOCKS)
    assert sum(len(lines) for b in BLOCKS.values() for _, lines, _ in b) >= 40
    block = "pip install -e . && jaxdiff demo   # x\npytest\njaxdiff train \\\n  --out r\n"
    assert script_lines(block) == ["jaxdiff demo   # x", "jaxdiff train --out r"]
    marked = [(p, line) for p, b in BLOCKS.items() for line, _, skip in b if skip]
    assert len(marked) <= 2, marked


def _files(folder: pathlib.Path) -> None:
    """The data files the pages name, small."""
    rng = np.random.default_rng(0)
    n = 400
    angle = rng.uniform(0, 2 * np.pi, n)
    ring = np.stack([np.cos(angle), np.sin(angle)], 1) + 0.05 * rng.standard_normal((n, 2))
    np.save(folder / "points.npy", ring.astype(np.float32))
    np.savetxt(folder / "mine.csv", ring, delimiter=",", header="x,y", comments="")
    kind = np.where(ring[:, 0] > 0, "healthy", "sick")
    with open(folder / "cells.csv", "w") as f:
        f.write("x,y,kind\n")
        f.writelines(f"{a:.5f},{b:.5f},{k}\n" for (a, b), k in zip(ring, kind, strict=True))
    np.savez(folder / "cells.npz", x=ring.astype(np.float32), y=(kind == "sick").astype(int))
    a = rng.standard_normal(n)
    table = np.column_stack([a, 0.8 * a + 0.6 * rng.standard_normal(n), rng.integers(0, 2, n)])
    np.savetxt(
        folder / "table.csv", table, delimiter=",", header="a,b,label", comments="", fmt="%.5f"
    )
    gaps = [",".join("" if rng.random() < 0.3 else f"{v:.5f}" for v in row) for row in table[:20]]
    (folder / "gaps.csv").write_text("a,b,label\n" + "\n".join(gaps) + "\n")
    zone = rng.choice(["north", "south", "east"], n)
    with open(folder / "homes.csv", "w") as f:
        f.write("area,rooms,zone\n")
        f.writelines(
            f"{50 + 20 * abs(x):.1f},{r},{z}\n"
            for x, r, z in zip(a, rng.integers(1, 6, n), zone, strict=True)
        )
    theta = rng.uniform(-1, 1, (n, 2))
    x = theta + 0.1 * rng.standard_normal((n, 2))
    sims = np.column_stack([theta, x])
    np.savetxt(folder / "sims.csv", sims, delimiter=",", header="t1,t2,x1,x2", comments="")
    np.savetxt(folder / "obs.csv", x[:2], delimiter=",", header="x1,x2", comments="")


@pytest.mark.slow  # a page's trainings, each a fresh process at the smoke budget
@pytest.mark.parametrize("page", sorted(BLOCKS))
def test_every_command_line_of_the_page_runs(page, tmp_path):
    _files(tmp_path)
    env = {**os.environ, "JAXDIFF_SMOKE": "1", "JAX_PLATFORMS": "cpu"}
    run = f'jaxdiff() {{ "{sys.executable}" -m jaxdiff.cli "$@"; }}\n'
    for line, lines, skip in BLOCKS[page]:
        if skip:
            continue
        # A line ending in & runs beside the next; each such job's exit status counts.
        script = run + "\n".join(lines) + '\nfor job in $(jobs -p); do wait "$job"; done\n'
        proc = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, (
            f"{page}:{line} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
        )
