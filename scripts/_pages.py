"""Generated blocks of the README and docs pages: the text between two markers,
``<!-- NAME:start -->`` and ``<!-- NAME:end -->``, is written by a script from a results
file, never by hand. Shared by ``docs_pages.py``, ``samplers_page.py``, ``flows_table.py``
and ``mutation.py``, with the two ways their findings print figures: ``span`` and ``listed``."""

from __future__ import annotations

import pathlib


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def between(page: str, name: str, body: str) -> str:
    """``page`` with the text between the markers of ``name`` replaced by ``body``."""
    start, end = markers(name)
    if start not in page or end not in page:
        raise ValueError(f"the page has no {start} ... {end} block")
    head, rest = page.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def sync(path: pathlib.Path, new: str, *, check: bool, fix: str) -> int:
    """Writes ``new`` to ``path``, or with ``check`` exits 1 (saying ``fix``) when it differs."""
    if check:
        if path.read_text() != new:
            print(f"{path} disagrees with its results file: run {fix}")
            return 1
        return 0
    path.write_text(new)
    return 0


def span(values, fmt: str, sep: str = "-") -> str:
    """The smallest and largest of ``values`` as ``fmt`` prints them, ``sep`` between
    (one figure when the two print alike)."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}{sep}{hi}"


def listed(names) -> str:
    """``names`` joined by commas, or "none"."""
    names = list(names)
    return ", ".join(names) if names else "none"
