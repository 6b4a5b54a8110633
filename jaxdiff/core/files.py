"""A user's data files: rows from a ``.npy``, ``.npz`` or ``.csv`` (a ``.csv``'s columns
chosen by the names of its header row), with class labels from a ``.npz``'s ``y`` or a
``.csv``'s label column. Anything else is a one-line ``ValueError`` naming the file."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from jaxdiff.core import tables

__all__ = ["load_file", "load_labelled_file", "names", "typed_table", "write_table"]


def _check_rows(x, path, min_rows: int = 2) -> np.ndarray:
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


def _read_error(path, err) -> ValueError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ValueError(f"cannot read data file {str(path)!r}: {first}")


def _existing(path, suffixes):
    import pathlib

    path = pathlib.Path(path)
    if path.suffix not in suffixes:
        raise ValueError(f"data file must end in {' or '.join(suffixes)}, got {str(path)!r}")
    if not path.is_file():
        raise ValueError(f"data file {str(path)!r} does not exist")
    return path


def _npz_arrays(path) -> dict[str, np.ndarray]:
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise _read_error(path, err) from err


def load_file(path, columns: Sequence[str] | None = None, *, min_rows: int = 2) -> np.ndarray:
    """A user's data set from a ``.npy``, ``.csv`` (comma-separated numbers, under an
    optional header row of column names) or ``.npz`` (its ``x``) file, as float32 ``(n,
    dim)`` of at least ``min_rows`` rows (a data set 2; contexts to sample given, 1);
    anything else is a one-line ``ValueError``.

    ``columns`` names the header's columns that hold the rows, in that order (a ``.csv``
    with a header only); the other columns are not read, so they may hold text."""
    path = _existing(path, (".npy", ".csv", ".npz"))
    if columns is not None:
        if path.suffix != ".csv":
            raise ValueError(f"--columns is for .csv files with a header, got {str(path)!r}")
        if not _header_rows(path):
            raise ValueError(f"--columns needs a header row of column names in {str(path)!r}")
        header, body = _csv_table(path)
        return _check_rows(_numbers(body, _column_indices(header, columns, path), path), path)
    try:
        if path.suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            x = _npz_arrays(path).get("x")
            if x is None:
                raise ValueError(f"a .npz data file needs an array 'x' in {str(path)!r}")
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an empty file is reported below, once
                x = np.loadtxt(
                    path, delimiter=",", dtype=np.float64, ndmin=2, skiprows=_header_rows(path)
                )
    except (ValueError, OSError, EOFError) as err:
        raise _read_error(path, err) from err
    return _check_rows(x, path, min_rows)


def load_context_file(path, given, columns: Sequence[str] | None = None):
    """Rows and the context each is drawn given: ``(x float32 (n, dim), context float32
    (n, K))``. ``given`` names the context: a ``.csv``'s columns (comma-separated; the
    rows are ``columns``, default every other column) or a ``.npz``'s array (the rows
    are its ``x``)."""
    path = _existing(path, (".npz", ".csv"))
    if not names(given):
        raise ValueError(f"--given must name the context's columns or array, got {given!r}")
    if path.suffix == ".npz":
        arrays = _npz_arrays(path)
        if given not in arrays:
            raise ValueError(f"--given {given!r} is not an array of {str(path)!r}")
        x, c = load_file(path), _check_rows(arrays[given], path)
        if c.shape[0] != x.shape[0]:
            raise ValueError(f"{str(path)!r}: {given!r} has {c.shape[0]} rows, 'x' {x.shape[0]}")
        return x, c
    if not _header_rows(path):
        raise ValueError(f"--given names columns of a .csv with a header row: {str(path)!r}")
    header, body = _csv_table(path)
    context = _column_indices(header, given, path)
    rows = [k for k in range(len(header)) if k not in context]
    if columns is not None:
        rows = _column_indices(header, columns, path)
        if set(rows) & set(context):
            raise ValueError("--columns must not name a column of --given")
    if not rows:
        raise ValueError(f"--given names every column of {str(path)!r}; none is left to draw")
    return (
        _check_rows(_numbers(body, rows, path), path),
        _check_rows(_numbers(body, context, path), path),
    )


def _header_rows(path) -> int:
    """1 if the first row of a ``.csv`` names its columns, else 0 (:func:`_is_header`)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    return int(_is_header(first.split(",")))


def _is_header(tokens) -> bool:
    """Whether a row's fields name columns: the first that is not a number is text (as
    spreadsheets write ``x,y``), not empty."""
    for token in tokens:
        try:
            float(token)
        except ValueError:
            return bool(token.strip())
    return False


def _csv_table(path) -> tuple[list[str], list[list[str]]]:
    """A ``.csv``'s header (its first row, stripped names) and its non-empty rows, each
    with as many fields as the header."""
    import csv

    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as err:
        raise _read_error(path, err) from err
    if len(rows) < 3:
        raise ValueError(f"data file {str(path)!r} needs a header and at least 2 rows")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if r]
    if any(len(r) != len(header) for r in body):
        raise ValueError(f"data file {str(path)!r}: every row needs {len(header)} fields")
    return header, body


def _column_indices(header: list[str], columns: Sequence[str], path) -> list[int]:
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


def _numbers(body: list[list[str]], indices: list[int], path) -> np.ndarray:
    try:
        return np.array([[float(r[k]) for k in indices] for r in body], np.float64)
    except ValueError as err:
        raise _read_error(path, err) from err


def _label_and_rows(header: list[str], label_column, columns, path):
    """``(position of the label column or None, positions of the rows' columns)`` in a
    ``.csv``'s ``header``: ``columns`` by name, or every column but the label's."""
    j = None
    if label_column is not None:
        if label_column not in header:
            raise ValueError(f"--label-column {label_column!r} is not in the header {header}")
        j = header.index(label_column)
    if columns is None:
        return j, [k for k in range(len(header)) if k != j]
    indices = _column_indices(header, columns, path)
    if j in indices:
        raise ValueError(f"--columns must not name the label column {label_column!r}")
    return j, indices


def _raw_labels(cells: list[str]) -> np.ndarray:
    """A label column's cells: integers where every one is, else names."""
    labels = [c.strip() for c in cells]
    integral = all(v.lstrip("-").isdigit() for v in labels)
    return np.array([int(v) for v in labels]) if integral else np.array(labels)


def _classes(raw, path, names=None) -> tuple[np.ndarray, tuple[str, ...]]:
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


def load_labelled_file(path, label_column: str | None = None, columns: Sequence[str] | None = None):
    """Rows and their classes from a file: ``(x float32 (n, dim), y int32 (n,), names)``.

    * ``.npz`` with ``x`` (rows) and ``y`` (one label per row: integer classes ``0..C-1``
      or strings, the class names), optionally ``names`` (the names of integer classes);
    * ``.csv`` with a header row: ``label_column`` names the column of labels (integers
      or names); ``columns`` names the columns of the rows, in that order (default: every
      other column), which must hold numbers.

    Every class must have rows. Errors are one-line ``ValueError``s naming the file.
    """
    path = _existing(path, (".npz", ".csv"))
    if path.suffix == ".npz":
        if label_column is not None or columns is not None:
            flag = "--label-column" if label_column is not None else "--columns"
            raise ValueError(
                f"{flag} is for .csv files; a .npz holds its rows in 'x', labels in 'y'"
            )
        arrays = _npz_arrays(path)
        if "x" not in arrays or "y" not in arrays:
            raise ValueError(
                f"a labelled .npz needs arrays 'x' and 'y', got {sorted(arrays)} in {str(path)!r}"
            )
        x, raw, names = arrays["x"], arrays["y"], arrays.get("names")
    else:
        if not label_column:
            raise ValueError("a labelled .csv needs --label-column NAME (a column of its header)")
        header, body = _csv_table(path)
        j, indices = _label_and_rows(header, label_column, columns, path)
        x = _numbers(body, indices, path)
        names = None
        raw = _raw_labels([r[j] for r in body])
    x = _check_rows(x, path)
    if np.ndim(raw) != 1 or len(raw) != x.shape[0]:
        raise ValueError(
            f"labels of {str(path)!r} must be one per row ({x.shape[0]}), got shape {np.shape(raw)}"
        )
    y, names = _classes(raw, path, names)
    if len(names) < 2:
        raise ValueError(f"labels of {str(path)!r} must name at least 2 classes, got {len(names)}")
    return x, y, names


def names(text) -> list[str]:
    """Column names from a comma-separated string or a sequence (None: none)."""
    if text is None:
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    return [str(n).strip() for n in items if str(n).strip()]


def typed_table(
    path,
    label_column: str | None = None,
    columns: Sequence[str] | str | None = None,
    categorical: Sequence[str] | str | None = None,
    integer: Sequence[str] | str | None = None,
):
    """A ``.csv`` with a header read as a typed table: ``(encoder, x float32 (n, width),
    labels int32 or None, class names or None)`` with ``encoder`` a
    :class:`~jaxdiff.core.tables.TableEncoder` of the chosen columns; None where the file is
    read as numbers (not a ``.csv`` with a header, or every chosen column numbers and no
    ``categorical`` or ``integer`` named). An empty cell is refused naming its line and
    column."""
    path = _existing(path, (".npy", ".csv", ".npz"))
    cat, ints = names(categorical), names(integer)
    if path.suffix != ".csv" or not _header_rows(path):
        if cat or ints:
            raise ValueError(
                "--categorical and --integer name columns of a .csv with a header, "
                f"got {str(path)!r}"
            )
        return None
    header, body = _csv_table(path)
    for i, row in enumerate(body):
        for name, cell in zip(header, row, strict=True):
            if not cell.strip():
                raise ValueError(
                    f"data file {str(path)!r}: line {i + 2}, column {name!r} is empty "
                    "(tables with missing cells are not supported yet)"
                )
    j, indices = _label_and_rows(header, label_column, columns, path)
    chosen = [header[k] for k in indices]
    rows = [[r[k] for k in indices] for r in body]
    kinds = [tables.infer_kind([r[m] for r in rows]) for m in range(len(chosen))]
    if not cat and not ints and all(k in ("number", "integer") for k in kinds):
        return None
    for flag, given in (("--categorical", cat), ("--integer", ints)):
        outside = [n for n in given if n not in chosen]
        if outside:
            raise ValueError(f"{flag} {outside[0]!r} is not one of the columns read {chosen}")
    encoder = tables.TableEncoder.fit(chosen, rows, categorical=cat, integer=ints)
    x = encoder.encode(rows)
    if j is None:
        return encoder, x, None, None
    y, classes = _classes(_raw_labels([r[j] for r in body]), path)
    if len(classes) < 2:
        raise ValueError(
            f"labels of {str(path)!r} must name at least 2 classes, got {len(classes)}"
        )
    return encoder, x, y, classes


def load_gaps(path) -> tuple[np.ndarray, list[str] | None, list[list[str]] | None]:
    """Rows with missing cells: a ``.npy`` (NaN marks a gap) or a ``.csv`` of numbers
    under an optional header, an empty, ``NA`` or ``nan`` cell a gap. Returns the rows
    ``(n, D)`` as float64 with NaN in the gaps, the header (or None) and the ``.csv``'s
    cells as text (or None), so that a filled copy can keep the known ones verbatim."""
    path = _existing(path, (".npy", ".csv"))
    if path.suffix == ".npy":
        try:
            x = np.asarray(np.load(path, allow_pickle=False), np.float64)
        except (ValueError, OSError, EOFError, TypeError) as err:
            raise _read_error(path, err) from err
        header = cells = None
    else:
        import csv

        try:
            with open(path, newline="") as f:
                cells = [r for r in csv.reader(f) if r]
        except (OSError, UnicodeDecodeError) as err:
            raise _read_error(path, err) from err
        header = [h.strip() for h in cells.pop(0)] if cells and _is_header(cells[0]) else None
        try:
            x = np.array(
                [[np.nan if tables.is_missing(c) else float(c) for c in r]
                 for r in cells], np.float64,
            )  # fmt: skip
        except ValueError as err:
            raise _read_error(path, err) from err
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"data file {str(path)!r} must hold rows of numbers, got shape {x.shape}")
    if header is not None and len(header) != x.shape[1]:
        raise ValueError(f"data file {str(path)!r}: every row needs {len(header)} fields")
    return x, header, cells


def csv_cells(path) -> tuple[list[str], list[list[str]]]:
    """A ``.csv`` with a header as text: its header and its rows of cells (gaps kept as
    written), every row as wide as the header."""
    path = _existing(path, (".csv",))
    if not _header_rows(path):
        raise ValueError(f"data file {str(path)!r} needs a header row naming its columns")
    return _csv_table(path)


def cell_text(v) -> str:
    """A typed value as a table's cell: ``true``/``false``, an integer, a float to 7
    significant digits, a category's name."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return format(float(v), ".7g")
    return str(v)


def write_table(path, columns: dict) -> None:
    """Writes ``columns`` (name -> values, equal lengths) to a ``.csv`` with a header,
    atomically: integers as integers, booleans as ``true``/``false``, floats to 7
    significant digits, categories as their names."""
    import csv
    import os
    import pathlib

    path = pathlib.Path(path)
    names = list(columns)
    values = [np.asarray(columns[n]) for n in names]

    tmp = path.with_name(f".{path.name}.writing-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        for row in zip(*values, strict=True):
            out.writerow([cell_text(v) for v in row])
    os.replace(tmp, path)
