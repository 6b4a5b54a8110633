"""The blocks each benchmark declares for the results pages, derived from its saved rows.

A benchmark module that owns page blocks defines ``blocks(doc, section)``: from its section
of a results file (``doc``, the whole file, for the CPU and JAX version) it returns
``{name: {"text", "columns", "rows", "notes"}}`` (each key where it has one), its own
choice of rows and columns, and its findings as notes. ``python benchmarks/summarize.py``
stores them in the file as the section's ``page``; ``scripts/results_table.py`` lays them
out between the page's ``<!-- results:FILE:SECTION:BLOCK:start -->`` markers. Run it after a
benchmark saves; ``--check`` exits 1 where a file's blocks are not what its rows give
(run by tests/test_docs_tables.py).

Usage: python benchmarks/summarize.py [--check]
"""

from __future__ import annotations

import importlib
import json
import os
import sys

from _common import RESULTS

INTEL, AMD = "cpu-intel-r-xeon-r-processor-2c", "cpu-amd-epyc-2c"
GPU = "gpu-nvidia-h200x1"
# (results file, section, the benchmark module whose ``blocks`` derive its page blocks, or
# ``module:function`` where one module derives blocks of two machines' files)
OWNERS = (
    ("fast_preset", "fast_preset", "fast_preset"),
    (INTEL, "few_steps", "few_steps"),
    (INTEL, "features", "features"),
    (INTEL, "flows_logit_normal", "flows"),
    (INTEL, "flows_logit_normal_pinwheel_spirals", "flows"),
    (INTEL, "reflow", "reflow"),
    (INTEL, "flow_peer", "flow_peer"),
    (INTEL, "digits_flow", "digits"),
    (INTEL, "ot_cost", "ot_cost"),
    (INTEL, "speed_bound", "speed_bound"),
    (AMD, "families", "families"),
    (INTEL, "recipes", "recipes"),
    (AMD, "datasets", "recipes:datasets_blocks"),
    (AMD, "sampling", "sampling"),
    (GPU, "sampling", "sampling:gpu_blocks"),
    (AMD, "training", "training"),
    (AMD, "ensembles", "ensembles"),
    (INTEL, "commands", "commands"),
    (INTEL, "test_suite", "test_suite"),
)


def derived(name: str, section: str, module: str) -> tuple[dict, dict]:
    """The file ``name`` as saved, and ``section``'s blocks as ``module`` derives them."""
    doc = json.loads((RESULTS / f"{name}.json").read_text())
    module, _, function = module.partition(":")
    return doc, getattr(importlib.import_module(module), function or "blocks")(doc, section)


def main(argv=None) -> int:
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = 0
    for name, section, module in OWNERS:
        doc, new = derived(name, section, module)
        for node in new.values():  # a block keeps only the cells its columns show
            node["rows"] = [
                {k: r.get(k) for k, _, _ in node["columns"]} for r in node.get("rows", [])
            ]
        # Through JSON, as saved, so that tuples and lists compare alike.
        new = json.loads(json.dumps(new))
        if doc[section].get("page") == new:
            continue
        if check:
            print(f"{name}.json {section}: blocks stale, run python benchmarks/summarize.py")
            stale = 1
            continue
        doc[section]["page"] = new
        path = RESULTS / f"{name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=2))
        os.replace(tmp, path)
        print(f"wrote {section} blocks to {path}")
    return stale


if __name__ == "__main__":
    raise SystemExit(main())
