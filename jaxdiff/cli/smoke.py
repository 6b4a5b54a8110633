"""``JAXDIFF_SMOKE=1``: every command at a token budget, so that the command lines of the
README and docs/ can all run in CI (``tests/test_docs_commands.py``) in minutes.

It changes how much a command computes, never what it computes or writes: a new run
trains :data:`EPOCHS` epochs and a continued one :data:`EPOCHS` + 1, a distillation
:data:`ITERATIONS` Adam steps on :data:`PAIRS` points a level, and every count of samples
or scored points is capped at :data:`SAMPLES` (likelihoods at :data:`LIKELIHOOD`). The
files, flags, checks and errors are those of the full command. Not for real work.
"""

from __future__ import annotations

import os

__all__ = ["EPOCHS", "ITERATIONS", "LIKELIHOOD", "PAIRS", "SAMPLES", "VARIABLE", "shrink"]

VARIABLE = "JAXDIFF_SMOKE"
EPOCHS = 2
ITERATIONS = 10
PAIRS = 512
SAMPLES = 500
LIKELIHOOD = 50


def _cap(args, name: str, most: int) -> None:
    value = getattr(args, name, None)
    if value is not None:
        setattr(args, name, min(value, most))


def shrink(args) -> None:
    """Caps the budgets of the parsed ``args`` in place when ``$JAXDIFF_SMOKE`` is set
    (to anything but ``""`` or ``"0"``)."""
    if os.environ.get(VARIABLE, "") in ("", "0"):
        return
    if hasattr(args, "epochs"):  # demo, train, reflow
        continued = args.command == "train" and (args.run is not None or args.resume)
        args.epochs = EPOCHS + 1 if continued else EPOCHS
    if args.command == "distill":
        args.iterations = ITERATIONS
    if args.command in ("distill", "reflow"):
        args.pairs = PAIRS
    for name in ("eval_n", "n"):
        _cap(args, name, SAMPLES)
    _cap(args, "likelihood_n", LIKELIHOOD)
