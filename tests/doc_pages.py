"""The pages whose fenced blocks the docs tests run (README.md and docs/*.md), and the
one reader of those blocks, shared by ``test_docs_blocks.py`` (Python) and
``test_docs_commands.py`` (shell)."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A block under this line (the nearest line above it that is not blank) is not run.
NOT_RUN = "<!-- not run:"


def fences(text: str):
    """``(language, body, line of its opening fence, marked not to run)`` of each fenced
    block of a Markdown page, in order."""
    lines, i = text.splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("```"):
            start, language = i, lines[i][3:].strip()
            before = next((x for x in reversed(lines[:start]) if x.strip()), "")
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            body = "\n".join(lines[start + 1 : i]) + "\n"
            yield language, body, start + 1, before.startswith(NOT_RUN)
        i += 1
