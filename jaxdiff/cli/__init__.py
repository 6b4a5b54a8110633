"""The ``jaxdiff`` command: ``demo``, ``train``, ``sample``, ``eval``, ``plot``, ``check``,
``export``, ``distill``, ``reflow``.

Every mistake of the user's ends in one line on stderr and exit code 2, never a
traceback. This package only parses (:mod:`~jaxdiff.cli.parser`) and calls
(:mod:`~jaxdiff.cli.commands`): flags become settings (``runs.overrides.configure``) or
arguments of the application layer (``jaxdiff.runs``), whose checks and rules apply.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings

from jaxdiff.cli import commands, draws, smoke
from jaxdiff.cli import parser as parser_lib
from jaxdiff.core import validate

__all__ = ["main"]


def _enable_compilation_cache() -> None:
    """Keeps compiled programs on disk, so a second ``jaxdiff`` call skips XLA compilation.

    The folder is ``$JAXDIFF_CACHE_DIR`` or ``~/.cache/jaxdiff/xla``; ``JAXDIFF_CACHE_DIR=off``
    turns it off, and a ``JAX_COMPILATION_CACHE_DIR`` set by the user wins.
    """
    import jax

    folder = os.environ.get("JAXDIFF_CACHE_DIR", "")
    if folder == "off" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    folder = folder or os.path.join(os.path.expanduser("~"), ".cache", "jaxdiff", "xla")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def _quiet_closed_loops() -> None:
    """Drops one kind of unraisable exception: ``RuntimeError('Event loop is closed')``,
    raised in tensorstore's threads when orbax has given up on a damaged checkpoint and
    closed its event loop while reads were still in flight. jaxdiff has already named the
    damage in one line; the stale callbacks have nothing left to report. Every other
    unraisable exception goes to Python's own hook."""
    default = sys.unraisablehook

    def hook(unraisable):
        err = unraisable.exc_value
        if isinstance(err, RuntimeError) and str(err) == "Event loop is closed":
            return
        default(unraisable)

    sys.unraisablehook = hook


class Terminated(KeyboardInterrupt):
    """SIGTERM (what a cluster sends before SIGKILL), raised in the main thread so that
    it takes Ctrl-C's path: ``train`` checkpoints its last completed chunk."""


def _terminate(signum, frame):
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxdiff`` console script; returns the exit code."""
    parser, commands_ = parser_lib.build()
    args = parser.parse_args(argv)
    smoke.shrink(args)
    _enable_compilation_cache()
    _quiet_closed_loops()
    warnings.formatwarning = lambda message, *rest, **kw: f"jaxdiff: warning: {message}\n"
    handlers = {
        "demo": commands.train,
        "train": commands.train,
        "sample": draws.sample,
        "eval": commands.eval_,
        "impute": draws.impute,
        "plot": commands.plot,
        "check": commands.check,
        "export": commands.export,
        "distill": commands.distill,
        "reflow": commands.reflow,
    }
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt as err:
        how = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
        kept = "rounds" if args.command == "distill" else "epochs"
        then = (
            f"; the last completed {kept} are checkpointed, rerun with --resume to continue"
            if args.command in ("demo", "train", "distill", "reflow")
            else ""
        )
        print(f"\njaxdiff {args.command}: {how}{then}", file=sys.stderr)
        return 128 + (signal.SIGTERM if isinstance(err, Terminated) else signal.SIGINT)
    except _write_error() as err:
        print(f"jaxdiff {args.command}: error: {err}", file=sys.stderr)
        return 1
    except RuntimeError as err:
        import jax

        from jaxdiff.engine import fitting

        if "RESOURCE_EXHAUSTED" in str(err):  # XLA could not allocate: say so in one line
            first = str(err).strip().splitlines()[0]
            print(f"jaxdiff {args.command}: error: out of memory ({first[:200]})", file=sys.stderr)
            return 1
        if not isinstance(err, fitting.TrainingDiverged):
            raise
        kept = int(max(jax.numpy.ravel(err.state.epoch)))
        where = f"checkpoint of epoch {kept} kept" if kept else "nothing to keep"
        print(f"jaxdiff {args.command}: error: {err} ({where})", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        flag = "--" + getattr(err, "name", "").replace("_", "-")
        if isinstance(err, validate.InvalidValue) and flag in commands_[args.command].flags:
            # The library's check, in the command line's words.
            message = f"{flag} must be {err.expected}, got {err.value!r}"
        print(f"jaxdiff {args.command}: error: {message}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_error() -> type:
    """:class:`jaxdiff.runs.rundir.WriteError`, imported when needed (exit code 1: the
    machine failed, not the user's command)."""
    from jaxdiff.runs.rundir import WriteError

    return WriteError
