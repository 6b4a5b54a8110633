"""A run directory on disk: its paths, atomic writes, and the config, metrics and report.

The layout::

    config.json      every setting (Config); enough to rebuild model and schedule
    checkpoints/     orbax checkpoints of the whole TrainState (latest few)
    metrics.jsonl    one line per epoch: epoch, loss, lr, seconds
    samples.npy      final samples (sample_labels.npy: their classes, conditional runs)
    data.npy         a copy of the data file (``--data PATH`` runs), normalizer.json
    report.json      timings, device, schedule facts; ``quality`` after ``eval``
    *.png, *.gif     figures

Every file is written to a temporary name beside its place and renamed into it, so a
reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import platform
import tempfile

import jax
import numpy as np

from jaxdiff.runs.config import Config

__all__ = [
    "RunError",
    "atomic_path",
    "device_name",
    "load_config",
    "read_metrics",
    "read_report",
    "save_npy",
    "write_json",
    "write_text",
]


class RunError(ValueError):
    """A run directory cannot be used as asked (missing, foreign, or inconsistent)."""


@contextlib.contextmanager
def atomic_path(path: pathlib.Path, suffix: str = ""):
    """Yields a temporary path beside ``path``; renames it onto ``path`` when the block
    ends without an exception (a reader never sees a half-written file)."""
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    yield tmp
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_text(path: pathlib.Path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        pathlib.Path(tmp).write_text(text)


def write_json(path: pathlib.Path, value) -> None:
    """Writes ``value`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(value, indent=2))


def save_npy(path: pathlib.Path, array) -> None:
    """Saves ``array`` as a ``.npy`` file at ``path`` atomically."""
    with atomic_path(path, ".npy") as tmp:
        np.save(tmp, np.asarray(array))


def load_config(run_dir) -> Config:
    """Reads ``run_dir/config.json``; a missing or malformed one raises :class:`RunError`."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"run directory {str(run_dir)!r} does not exist")
    path = run_dir / "config.json"
    if not path.is_file():
        raise RunError(f"{str(run_dir)!r} is not a jaxdiff run directory: no config.json")
    try:
        return Config.from_json(path.read_text())
    except ValueError as err:
        raise RunError(f"{str(path)!r} is not a valid jaxdiff config: {err}") from err


def read_metrics(path: pathlib.Path, upto_epoch: float = math.inf) -> list[dict]:
    """The rows of a ``metrics.jsonl`` up to ``upto_epoch``; unreadable lines are skipped."""
    path = pathlib.Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("epoch", math.inf) <= upto_epoch:
            rows.append(row)
    return rows


def read_report(run_dir) -> dict:
    """``report.json`` of a run as a dict; empty if it is missing or unreadable."""
    path = pathlib.Path(run_dir) / "report.json"
    if not path.is_file():
        return {}
    try:
        report = json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}
    return report if isinstance(report, dict) else {}


def device_name() -> str:
    """The platform, kind and count of JAX's devices, and the host's architecture."""
    d = jax.devices()[0]
    kind = getattr(d, "device_kind", d.platform)
    return f"{d.platform}:{kind} x{jax.device_count()} ({platform.machine()})"
