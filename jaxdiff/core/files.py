"""A user's data files: rows from a ``.npy``, ``.npz`` or ``.csv`` (a ``.csv``'s columns
chosen by the names of its header row), with class labels from a ``.npz``'s ``y`` or a
``.csv``'s label column. Anything else is a one-line ``ValueError`` naming the file."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from jaxdiff.core import reading, tables

__all__ = ["load_file", "load_labelled_file", "names", "typed_table", "write_table"]


def load_file(path, columns: Sequence[str] | None = None, *, min_rows: int = 2) -> np.ndarray:
    """A user's data set from a ``.npy``, ``.csv`` (comma-separated numbers, under an
    optional header row of column names) or ``.npz`` (its ``x``) file, as float32 ``(n,
    dim)`` of at least ``min_rows`` rows (a data set 2; contexts to sample given, 1);
    anything else is a one-line ``ValueError``.

    ``columns`` names the header's columns that hold the rows, in that order (a ``.csv``
    with a header only); the other columns are not read, so they may hold text."""
    path = reading.existing(path, (".npy", ".csv", ".npz"))
    if columns is not None:
        if path.suffix != ".csv":
            raise ValueError(f"--columns is for .csv files with a header, got {str(path)!r}")
        if not reading.header_rows(path):
            raise ValueError(f"--columns needs a header row of column names in {str(path)!r}")
        header, body = reading.csv_table(path)
        return reading.check_rows(
            reading.numbers(body, reading.column_indices(header, columns, path), path), path
        )
    if path.suffix == ".npz":  # npz_arrays names the file in its own errors
        x = reading.npz_arrays(path).get("x")
        if x is None:
            raise ValueError(f"a .npz data file needs an array 'x' in {str(path)!r}")
        return reading.check_rows(x, path, min_rows)
    try:
        if path.suffix == ".npy":
            x = np.load(path, allow_pickle=False)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an empty file is reported below, once
                x = np.loadtxt(
                    path,
                    delimiter=",",
                    dtype=np.float64,
                    ndmin=2,
                    skiprows=reading.header_rows(path),
                )
    except (ValueError, OSError, EOFError) as err:
        raise reading.read_error(path, err) from err
    return reading.check_rows(x, path, min_rows)


def load_context_file(path, given, columns: Sequence[str] | None = None):
    """Rows and the context each is drawn given: ``(x float32 (n, dim), context float32
    (n, K))``. ``given`` names the context: a ``.csv``'s columns (comma-separated; the
    rows are ``columns``, default every other column) or a ``.npz``'s array (the rows
    are its ``x``)."""
    path = reading.existing(path, (".npz", ".csv"))
    if not names(given):
        raise ValueError(f"--given must name the context's columns or array, got {given!r}")
    if path.suffix == ".npz":
        arrays = reading.npz_arrays(path)
        if given not in arrays:
            raise ValueError(f"--given {given!r} is not an array of {str(path)!r}")
        x, c = load_file(path), reading.check_rows(arrays[given], path)
        if c.shape[0] != x.shape[0]:
            raise ValueError(f"{str(path)!r}: {given!r} has {c.shape[0]} rows, 'x' {x.shape[0]}")
        return x, c
    if not reading.header_rows(path):
        raise ValueError(f"--given names columns of a .csv with a header row: {str(path)!r}")
    header, body = reading.csv_table(path)
    context = reading.column_indices(header, given, path)
    rows = [k for k in range(len(header)) if k not in context]
    if columns is not None:
        rows = reading.column_indices(header, columns, path)
        if set(rows) & set(context):
            raise ValueError("--columns must not name a column of --given")
    if not rows:
        raise ValueError(f"--given names every column of {str(path)!r}; none is left to draw")
    return (
        reading.check_rows(reading.numbers(body, rows, path), path),
        reading.check_rows(reading.numbers(body, context, path), path),
    )


def load_labelled_file(path, label_column: str | None = None, columns: Sequence[str] | None = None):
    """Rows and their classes from a file: ``(x float32 (n, dim), y int32 (n,), names)``.

    * ``.npz`` with ``x`` (rows) and ``y`` (one label per row: integer classes ``0..C-1``
      or strings, the class names), optionally ``names`` (the names of integer classes);
    * ``.csv`` with a header row: ``label_column`` names the column of labels (integers
      or names); ``columns`` names the columns of the rows, in that order (default: every
      other column), which must hold numbers.

    Every class must have rows. Errors are one-line ``ValueError``s naming the file.
    """
    path = reading.existing(path, (".npz", ".csv"))
    if path.suffix == ".npz":
        if label_column is not None or columns is not None:
            flag = "--label-column" if label_column is not None else "--columns"
            raise ValueError(
                f"{flag} is for .csv files; a .npz holds its rows in 'x', labels in 'y'"
            )
        arrays = reading.npz_arrays(path)
        if "x" not in arrays or "y" not in arrays:
            raise ValueError(
                f"a labelled .npz needs arrays 'x' and 'y', got {sorted(arrays)} in {str(path)!r}"
            )
        x, raw, names = arrays["x"], arrays["y"], arrays.get("names")
    else:
        if not label_column:
            raise ValueError("a labelled .csv needs --label-column NAME (a column of its header)")
        header, body = reading.csv_table(path)
        j, indices = reading.label_and_rows(header, label_column, columns, path)
        x = reading.numbers(body, indices, path)
        names = None
        raw = reading.raw_labels([r[j] for r in body])
    x = reading.check_rows(x, path)
    if np.ndim(raw) != 1 or len(raw) != x.shape[0]:
        raise ValueError(
            f"labels of {str(path)!r} must be one per row ({x.shape[0]}), got shape {np.shape(raw)}"
        )
    y, names = reading.classes(raw, path, names)
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
    path = reading.existing(path, (".npy", ".csv", ".npz"))
    cat, ints = names(categorical), names(integer)
    if path.suffix != ".csv" or not reading.header_rows(path):
        if cat or ints:
            raise ValueError(
                "--categorical and --integer name columns of a .csv with a header, "
                f"got {str(path)!r}"
            )
        return None
    header, body = reading.csv_table(path)
    for i, row in enumerate(body):
        for name, cell in zip(header, row, strict=True):
            if not cell.strip():
                raise ValueError(
                    f"data file {str(path)!r}: line {i + 2}, column {name!r} is empty "
                    "(tables with missing cells are not supported yet)"
                )
    j, indices = reading.label_and_rows(header, label_column, columns, path)
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
    y, classes = reading.classes(reading.raw_labels([r[j] for r in body]), path)
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
    path = reading.existing(path, (".npy", ".csv"))
    if path.suffix == ".npy":
        try:
            x = np.asarray(np.load(path, allow_pickle=False), np.float64)
        except (ValueError, OSError, EOFError, TypeError) as err:
            raise reading.read_error(path, err) from err
        header = cells = None
    else:
        import csv

        try:
            with open(path, newline="") as f:
                cells = [r for r in csv.reader(f) if r]
        except (OSError, UnicodeDecodeError) as err:
            raise reading.read_error(path, err) from err
        header = (
            [h.strip() for h in cells.pop(0)] if cells and reading.is_header(cells[0]) else None
        )
        try:
            x = np.array(
                [[np.nan if tables.is_missing(c) else float(c) for c in r]
                 for r in cells], np.float64,
            )  # fmt: skip
        except ValueError as err:
            raise reading.read_error(path, err) from err
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"data file {str(path)!r} must hold rows of numbers, got shape {x.shape}")
    if header is not None and len(header) != x.shape[1]:
        raise ValueError(f"data file {str(path)!r}: every row needs {len(header)} fields")
    return x, header, cells


def csv_cells(path) -> tuple[list[str], list[list[str]]]:
    """A ``.csv`` with a header as text: its header and its rows of cells (gaps kept as
    written), every row as wide as the header."""
    path = reading.existing(path, (".csv",))
    if not reading.header_rows(path):
        raise ValueError(f"data file {str(path)!r} needs a header row naming its columns")
    return reading.csv_table(path)


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
