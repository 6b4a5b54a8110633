"""Executes a notebook top to bottom in a fresh kernel and checks that it wrote what it
promises (CI's notebook step).

    python scripts/run_notebook.py examples/seed_story.ipynb --expect seed_story_samples.png ...

Needs the ``notebook`` extra (``pip install -e '.[notebook]'``: nbclient runs the cells in
an ipykernel). The kernel runs in a scratch folder, so what the notebook writes to its
working directory lands there, not in the tree; a failing cell fails the run with its
traceback.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebook", type=pathlib.Path)
    p.add_argument("--expect", nargs="*", default=[], help="files the notebook must write")
    p.add_argument("--timeout", type=int, default=900, help="seconds a cell may take")
    args = p.parse_args()

    import nbclient
    import nbformat

    nb = nbformat.read(args.notebook, as_version=4)
    with tempfile.TemporaryDirectory() as out:  # the kernel's working directory
        started = time.perf_counter()
        nbclient.NotebookClient(
            nb, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": out}}
        ).execute()
        seconds = time.perf_counter() - started
        missing = [f for f in args.expect if not (pathlib.Path(out) / f).is_file()]
        errors = [
            o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"
        ]  # fmt: skip
        printed = "".join(
            o.get("text", "") for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "stream"
        )  # fmt: skip
    print(printed)
    if missing or errors:
        print(f"{args.notebook}: missing {missing}, {len(errors)} error outputs", file=sys.stderr)
        return 1
    print(f"{args.notebook}: ran in {seconds:.0f} s; wrote {', '.join(args.expect) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
