"""The one generic renderer of results tables. A docs page holds markers
``<!-- results:FILE:SECTION:start -->`` / ``<!-- results:FILE:SECTION:end -->`` or, for one
of the blocks a benchmark declares in a section, ``<!-- results:FILE:SECTION:BLOCK:start -->``;
between them it writes what ``benchmarks/results/FILE.json`` holds there:

- a section's ``summary`` rows under the ``columns`` it declared (``[key, header, format]``
  each), after a line naming the run (CPU, date, what it ran);
- a block (``page[BLOCK]``): its ``text``, its ``rows`` under its ``columns``, then its
  ``notes`` as a list.

No per-table code: the benchmarks declare their columns and compute their rows and notes
(benchmarks/summarize.py); this only lays them out.

Usage: python scripts/results_table.py [--check] [PAGE ...]   (default: README.md, docs/*.md,
benchmarks/README.md)
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MARKER = re.compile(r"<!-- results:([\w.-]+):(\w+)(?::([\w-]+))?:start -->")


def between(page: str, name: str, body: str) -> str:
    """``page`` with the text between the markers of ``name`` replaced by ``body``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in page or end not in page:
        raise ValueError(f"the page has no {start} ... {end} block")
    head, rest = page.split(start, 1)
    return f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def sync(path: pathlib.Path, new: str, *, check: bool, fix: str) -> int:
    """Writes ``new`` to ``path``, or with ``check`` exits 1 (saying ``fix``) when it differs."""
    if check and path.read_text() != new:
        print(f"{path} disagrees with its results file: run {fix}")
        return 1
    if not check:
        path.write_text(new)
    return 0


def cell(value, fmt: str) -> str:
    if value is None:
        return "–"
    return fmt.format(value) if fmt else str(value)


def grid(columns: list, rows: list[dict]) -> str:
    """``rows`` as a Markdown table of ``columns`` (``[key, header, format]`` each)."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join(cell(r.get(k), f) for k, _, f in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def render(doc: dict, section: str) -> str:
    """The Markdown table of ``doc[section]``: its declared columns over its summary rows."""
    sec = doc[section]
    ran = ", ".join(f"{k} {v}" for k, v in sec.get("ran", {}).items())
    source = f"{doc.get('cpu', doc.get('device'))}, {sec['date'][:10]}" + (
        f"; {ran}" if ran else ""
    )
    return f"({source})\n\n" + grid(sec["columns"], sec["summary"])


def block(node: dict) -> str:
    """A declared block: its text, its table, its notes (each where it has one)."""
    parts = [node["text"]] if node.get("text") else []
    if node.get("columns"):
        parts.append(grid(node["columns"], node["rows"]))
    if node.get("notes"):
        parts.append("\n".join(f"- {n}" for n in node["notes"]))
    return "\n\n".join(parts)


def fill(page: str) -> str:
    docs = {}  # each results file read once, however many of its blocks the page holds
    for name, section, part in MARKER.findall(page):
        if name not in docs:
            docs[name] = json.loads((RESULTS / f"{name}.json").read_text())
        doc = docs[name]
        if part:
            body, marker = block(doc[section]["page"][part]), f"{section}:{part}"
        else:
            body, marker = render(doc, section), section
        page = between(page, f"results:{name}:{marker}", body)
    return page


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    pages = [pathlib.Path(a) for a in args if a != "--check"] or [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "benchmarks" / "README.md",
    ]
    failed = 0
    for path in pages:
        text = path.read_text()
        if MARKER.search(text):
            failed |= sync(path, fill(text), check=check, fix="python scripts/results_table.py")
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
