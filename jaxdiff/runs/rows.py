"""The rows a run trains on and the rows it holds out: a registered set drawn with the
run's seed, a user's file (numbers, labels, or a typed table: :mod:`jaxdiff.core.tables`),
or the run's own copy of it, split by the run's seed."""

from __future__ import annotations

import pathlib

from jaxdiff.core import data, files
from jaxdiff.runs.config import Config
from jaxdiff.runs.keys import RunKeys
from jaxdiff.runs.rundir import read_encoder

__all__ = ["HELD_OUT_ROWS", "load_rows", "training_shape"]


def load_rows(cfg: Config, keys: RunKeys, run_dir=None):
    """The rows of ``cfg.data``: ``(train rows, train labels or None, held-out rows or
    None, class names or None, a typed table's encoder or None)``; with ``data.given``
    the second is each training row's context ``(n, K)`` instead of labels, and the third
    the pair ``(held-out rows, their contexts)``. A file's rows
    come from the run's copy in ``run_dir`` where it holds one; a fixed set (a file,
    ``digits``) holds out ``data.held_out`` of its rows, at most :data:`HELD_OUT_ROWS`."""
    d = cfg.data
    conditional = cfg.model.conditional
    names, encoder = None, None
    if d.given is not None:
        x, y = _context_rows(cfg, run_dir)
        train, held = _split(cfg, keys, x.shape[0])
        return x[train], y[train], (x[held], y[held]), None, None
    if d.name == "array":
        raise ValueError(
            "this model was trained on rows handed to jaxdiff.fit in Python, which it does "
            "not keep: it samples and scores (jaxdiff.load), but cannot be rebuilt from its config"
        )
    if d.name == "file":
        if not d.path:
            raise ValueError("data name 'file' needs data.path, a .npy, .csv or .npz file")
        if d.label_column is not None and not conditional:
            raise ValueError("--label-column needs --conditional")
        run_dir = pathlib.Path(run_dir) if run_dir is not None else None
        copy = run_dir / ("data.npz" if conditional else "data.npy") if run_dir else None
        kept = copy is not None and copy.is_file()
        typed = None
        if kept:
            encoder = read_encoder(run_dir)  # a typed table's copy holds its encoded rows
        elif not conditional or d.label_column is not None:  # (else: labels are missing)
            label = d.label_column if conditional else None
            typed = files.typed_table(d.path, label, d.columns, d.categorical, d.integer)
        if typed is not None:
            encoder, x, y, names = typed
        elif conditional:
            if not d.path.endswith((".npz", ".csv")):
                raise ValueError(
                    "--conditional with --data FILE needs labels: a .npz with 'x' and 'y', "
                    f"or a .csv with --label-column NAME; got {d.path!r}"
                )
            if kept:
                x, y, names = files.load_labelled_file(copy)
            else:
                x, y, names = files.load_labelled_file(d.path, d.label_column, d.columns)
        else:
            x = files.load_file(copy) if kept else files.load_file(d.path, d.columns)
            y = None
    else:
        if d.columns is not None:
            raise ValueError(f"--columns needs a .csv --data file, got the data set {d.name!r}")
        if d.categorical is not None or d.integer is not None:
            raise ValueError(
                f"--categorical and --integer need a .csv --data file, got the data set {d.name!r}"
            )
        if conditional and d.name not in data.NUM_CLASSES:
            raise ValueError(
                f"--conditional needs a labelled data set {sorted(data.NUM_CLASSES)}, "
                f"got {d.name!r}"
            )
        if conditional:
            x, y = data.load(d.name, keys.data, d.n, labels=True)
            names = tuple(str(i) for i in range(data.NUM_CLASSES[d.name]))
        else:
            x, y = data.load(d.name, keys.data, d.n), None
        if d.name not in data.FINITE:
            return x, y, None, names, None
    train, held = _split(cfg, keys, x.shape[0])
    if y is not None:
        missing = sorted(set(range(len(names))) - set(y[train].tolist()))
        if missing:
            raise ValueError(
                f"class {names[missing[0]]!r} has no rows in the training part of the data "
                f"(the other {d.held_out:.0%} is held out); give it more rows"
            )
    return x[train], (None if y is None else y[train]), x[held], names, encoder


def _context_rows(cfg: Config, run_dir):
    """The rows of a context run and their contexts: the run's copy (``data.npz``, its
    ``x`` and ``context``) where it holds one, else the file's ``data.given``."""
    d = cfg.data
    if d.name != "file" or not d.path:
        raise ValueError(f"--given needs a .csv or .npz --data file, got the data set {d.name!r}")
    if cfg.model.conditional:
        raise ValueError("--given and --conditional: a model takes a context or class labels")
    if d.label_column is not None or d.categorical is not None or d.integer is not None:
        raise ValueError("--given takes columns of numbers, without --label-column or types")
    copy = pathlib.Path(run_dir) / "data.npz" if run_dir is not None else None
    if copy is not None and copy.is_file():
        return files.load_context_file(copy, "context")
    return files.load_context_file(d.path, d.given, d.columns)


def _split(cfg: Config, keys: RunKeys, rows: int):
    """The training and held-out rows of a fixed set of ``rows`` rows."""
    held_out = cfg.data.held_out
    if not 0.0 < held_out < 1.0:
        raise ValueError(f"data.held_out must be in (0, 1), got {held_out!r}")
    if rows < 4:
        raise ValueError(f"a data file needs at least 4 rows to hold some out, got {rows}")
    return data.split(rows, keys.split, min(held_out, HELD_OUT_ROWS / rows))


# A fixed set holds out ``data.held_out`` of its rows, and never more than this many: a
# large table trains on nearly all of its rows, and scoring reads at most this many.
HELD_OUT_ROWS = 5000


def training_shape(cfg: Config, run_dir=None) -> tuple[int, int, int]:
    """``(rows, columns, context columns)`` of the rows a run of ``cfg`` trains on (a
    fixed set's training part; 0 context columns but for ``data.given``): what
    :func:`jaxdiff.runs.presets.sized` sizes the ``default`` recipe by."""
    x, y = load_rows(cfg, RunKeys(cfg.seed), run_dir)[:2]
    context = int(y.shape[1]) if cfg.data.given is not None else 0
    return int(x.shape[0]), int(x.shape[1]), context
