"""Reading a user's file, the steps every reader of :mod:`jaxdiff.core.files` shares:
the path and its suffix, a ``.npz``'s arrays, a ``.csv``'s header and rows, the
positions of named columns, numbers from cells, class labels from a column; each failure
is one line naming the file (a ``ValueError``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "check_rows",
    "classes",
    "column_indices",
    "csv_table",
    "existing",
    "header_rows",
    "is_header",
    "label_and_rows",
    "npz_arrays",
    "numbers",
    "raw_labels",
    "read_error",
]


def check_rows(x, path, min_rows: int = 2) -> np.ndarray:
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"data file {str(path)!r} must hold numbers, got dtype {x.dtype}")
    if x.ndim != 2 or x.shape[0] < min_rows or x.shape[1] < 1:
        rows = "row" if min_rows == 1 else "rows"
        raise ValueError(
            f"data file {str(path)!r} must hold a 2-D array of at least {min_rows} {rows}, "
            f"got shape {x.shape}"
        )
    bad = int(x.size - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise ValueError(f"data file {str(path)!r} must be finite, got {bad} NaN or inf values")
    return x.astype(np.float32)


def read_error(path, err) -> ValueError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ValueError(f"cannot read data file {str(path)!r}: {first}")


def existing(path, suffixes):
    import pathlib

    path = pathlib.Path(path)
    if path.suffix not in suffixes:
        raise ValueError(f"data file must end in {' or '.join(suffixes)}, got {str(path)!r}")
    if not path.is_file():
        raise ValueError(f"data file {str(path)!r} does not exist")
    return path


def npz_arrays(path) -> dict[str, np.ndarray]:
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise read_error(path, err) from err


def header_rows(path) -> int:
    """1 if the first row of a ``.csv`` names its columns, else 0 (:func:`is_header`)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    return int(is_header(first.split(",")))


def is_header(tokens) -> bool:
    """Whether a row's fields name columns: the first that is not a number is text (as
    spreadsheets write ``x,y``), not empty."""
    for token in tokens:
        try:
            float(token)
        except ValueError:
            return bool(token.strip())
    return False


def csv_table(path) -> tuple[list[str], list[list[str]]]:
    """A ``.csv``'s header (its first row, stripped names) and its non-empty rows, each
    with as many fields as the header."""
    import csv

    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as err:
        raise read_error(path, err) from err
    if len(rows) < 3:
        raise ValueError(f"data file {str(path)!r} needs a header and at least 2 rows")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if r]
    if any(len(r) != len(header) for r in body):
        raise ValueError(f"data file {str(path)!r}: every row needs {len(header)} fields")
    return header, body


def column_indices(header: list[str], columns: Sequence[str], path) -> list[int]:
    """The positions in ``header`` of the names ``columns`` (a sequence, or one string of
    comma-separated names as the command line gives them), in their order."""
    names = [str(c).strip() for c in (columns.split(",") if isinstance(columns, str) else columns)]
    if not names or not all(names):
        raise ValueError(f"--columns must name at least one column, got {names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"--columns must name each column once, got {names}")
    missing = [n for n in names if n not in header]
    if missing:
        raise ValueError(f"--columns {missing[0]!r} is not in the header {header} of {str(path)!r}")
    return [header.index(n) for n in names]


def numbers(body: list[list[str]], indices: list[int], path) -> np.ndarray:
    try:
        return np.array([[float(r[k]) for k in indices] for r in body], np.float64)
    except ValueError as err:
        raise read_error(path, err) from err


def label_and_rows(header: list[str], label_column, columns, path):
    """``(position of the label column or None, positions of the rows' columns)`` in a
    ``.csv``'s ``header``: ``columns`` by name, or every column but the label's."""
    j = None
    if label_column is not None:
        if label_column not in header:
            raise ValueError(f"--label-column {label_column!r} is not in the header {header}")
        j = header.index(label_column)
    if columns is None:
        return j, [k for k in range(len(header)) if k != j]
    indices = column_indices(header, columns, path)
    if j in indices:
        raise ValueError(f"--columns must not name the label column {label_column!r}")
    return j, indices


def raw_labels(cells: list[str]) -> np.ndarray:
    """A label column's cells: integers where every one is, else names."""
    labels = [c.strip() for c in cells]
    integral = all(v.lstrip("-").isdigit() for v in labels)
    return np.array([int(v) for v in labels]) if integral else np.array(labels)


def classes(raw, path, names=None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices ``0..C-1`` and their names from raw labels: integers (every class
    ``0..max`` present; names ``"0"``, ``"1"``, …, or ``names`` when given) or strings
    (the names, sorted)."""
    raw = np.asarray(raw)
    where = f"labels of {str(path)!r}"
    if raw.dtype.kind in "US":
        names_ = tuple(sorted({str(v) for v in raw.tolist()}))
        lookup = {n: i for i, n in enumerate(names_)}
        return np.array([lookup[str(v)] for v in raw.tolist()], np.int32), names_
    if raw.dtype.kind not in "iu":
        raise ValueError(f"{where} must be integers or names, got dtype {raw.dtype}")
    if raw.size and raw.min() < 0:
        raise ValueError(f"{where} must be classes 0..C-1, got {int(raw.min())}")
    count = int(raw.max()) + 1 if raw.size else 0
    if names is not None:
        names = tuple(str(n) for n in np.asarray(names).tolist())
        if count > len(names):
            raise ValueError(f"{where} go up to {count - 1}, but 'names' has {len(names)}")
        count = len(names)
    missing = sorted(set(range(count)) - set(raw.tolist()))
    if missing:
        raise ValueError(
            f"{where} must use every class 0..{count - 1}, class {missing[0]} has no rows"
        )
    return raw.astype(np.int32), names or tuple(str(i) for i in range(count))
