"""A run directory on disk: its paths, atomic writes, and the config, metrics and report.

The layout::

    config.json      every setting (Config); enough to rebuild model and schedule
    checkpoints/     orbax checkpoints of the whole TrainState (latest few)
    metrics.jsonl    one line per epoch: epoch, loss, lr, seconds
    samples.npy      final samples (sample_labels.npy: their classes, conditional runs)
    data.npy         a copy of the data file (``--data PATH`` runs), normalizer.json;
    data.npz         instead, for a labelled file: rows ``x``, classes ``y``, ``names``
    reflow_pairs.npy a reflow run's training rows [x_0 | noise], from its teacher's ODE
    report.json      timings, device, schedule facts; ``quality`` after ``eval``
    *.png, *.gif     figures
    .lock            the pid of the training that holds the run (``fcntl`` lock)

Every file is written to a temporary name beside its place and renamed into it, so a
reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
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
    "ENCODER",
    "REFLOW_PAIRS",
    "TEACHER_FILES",
    "RunError",
    "WriteError",
    "atomic_path",
    "device_name",
    "hold",
    "load_config",
    "read_encoder",
    "read_metrics",
    "read_report",
    "save_npy",
    "save_npz",
    "write_json",
    "write_text",
]

REFLOW_PAIRS = "reflow_pairs.npy"
# Files a run made from another (a distilled student, a reflow) shares with it: the data
# copy, the normaliser, the class names.
TEACHER_FILES = ("data.npy", "data.npz", "normalizer.json", "classes.json", "encoder.json")
# A typed table's encoder (jaxdiff.core.tables): its data copy holds encoded rows.
ENCODER = "encoder.json"


def read_encoder(folder):
    """The :class:`~jaxdiff.core.tables.TableEncoder` in ``folder/encoder.json``, or None where
    the run's data are numbers."""
    from jaxdiff.core import tables

    path = pathlib.Path(folder) / ENCODER
    if not path.is_file():
        return None
    try:
        return tables.TableEncoder.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RunError(f"cannot read {str(path)!r}: {err}") from err


class RunError(ValueError):
    """A run directory cannot be used as asked (missing, foreign, or inconsistent)."""


class WriteError(OSError):
    """A file or checkpoint could not be written (disk full, file-size limit, permission);
    what was there before is intact."""


@contextlib.contextmanager
def atomic_path(path: pathlib.Path, suffix: str = ""):
    """Yields a temporary path beside ``path``; renames it onto ``path`` when the block
    ends without an exception (a reader never sees a half-written file). A failed write
    removes the temporary file, leaves ``path`` as it was and raises :class:`WriteError`."""
    path = pathlib.Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
    except OSError as err:
        raise WriteError(f"cannot write {str(path)!r}: {err.strerror or err}") from err
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise WriteError(f"cannot write {str(path)!r}: {err.strerror or err}") from err
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def hold(run_dir: pathlib.Path):
    """Holds the run directory for one writer: an advisory ``fcntl`` lock on
    ``run_dir/.lock``, which holds the holder's pid. The kernel drops the lock when its
    process ends however it ends, so a lock left by a dead process is simply taken over.

    Raises:
      RunError: if another process holds it (naming that process's pid).
    """
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunError(
            f"{str(run_dir)!r} is being trained by process {holder}; wait for it to "
            "finish (or stop it) before training this run again"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


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


def save_npz(path: pathlib.Path, **arrays) -> None:
    """Saves ``arrays`` as an uncompressed ``.npz`` at ``path`` atomically."""
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()})


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
