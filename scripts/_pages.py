"""Generated blocks of the README and docs pages: the text between two markers,
``<!-- NAME:start -->`` and ``<!-- NAME:end -->``, is written by a script from a results
file, never by hand (``results_table.py``, ``mutation.py``)."""

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
