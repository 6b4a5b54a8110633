"""The one generic renderer of results tables: a docs page that holds the markers
``<!-- results:FILE:SECTION:start -->`` and ``<!-- results:FILE:SECTION:end -->`` gets,
between them, the ``summary`` rows of that section of ``benchmarks/results/FILE.json`` as
a Markdown table, with the columns the benchmark declared in the section (``columns``:
``[key, header, format]`` each) and a line naming the run (date, CPU, what it ran). No
per-table code: a benchmark that saves ``columns`` and ``summary`` is rendered.

Usage: python scripts/results_table.py [--check] [PAGE ...]   (default: README.md, docs/*.md)
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

from _pages import between, sync

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MARKER = re.compile(r"<!-- results:([\w.-]+):(\w+):start -->")


def cell(value, fmt: str) -> str:
    if value is None:
        return "–"
    return fmt.format(value) if fmt else str(value)


def render(doc: dict, section: str) -> str:
    """The Markdown table of ``doc[section]``: its declared columns over its summary rows."""
    sec = doc[section]
    columns = sec["columns"]
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = [
        "| " + " | ".join(cell(r.get(k), f) for k, _, f in columns) + " |" for r in sec["summary"]
    ]
    ran = ", ".join(f"{k} {v}" for k, v in sec.get("ran", {}).items())
    source = f"{doc.get('cpu', doc.get('device'))}, {sec['date'][:10]}" + (
        f"; {ran}" if ran else ""
    )
    return "\n".join([f"({source})", "", head, rule, *body])


def fill(page: str) -> str:
    for name, section in MARKER.findall(page):
        doc = json.loads((RESULTS / f"{name}.json").read_text())
        page = between(page, f"results:{name}:{section}", render(doc, section))
    return page


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    pages = [pathlib.Path(a) for a in args if a != "--check"] or [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
    ]
    failed = 0
    for path in pages:
        text = path.read_text()
        if MARKER.search(text):
            failed |= sync(path, fill(text), check=check, fix="python scripts/results_table.py")
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
