"""Tables with typed columns: one reversible encoder per table maps its rows to the
model's space of numbers and back.

A column is a ``number`` (kept as it is; decoded clipped to the training range), an
``integer`` (its value; decoded rounded and clipped to the training range), a
``boolean`` (0 or 1; decoded above one half) or a ``category`` (one-hot over its
training values, the representation of TabDDPM's Gaussian part and ForestDiffusion's
dummy coding; decoded as the largest coordinate). The model never sees a type: the
decoder is the only place that rounds or picks a category, so every decoded category is
one of its column's and every integer column holds integers within its range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

__all__ = ["KINDS", "Column", "TableEncoder", "infer_kind"]

KINDS = ("number", "integer", "boolean", "category")
_TRUE, _FALSE = ("true", "yes", "t", "y"), ("false", "no", "f", "n")


def _is_number(text: str) -> bool:
    try:
        return np.isfinite(float(text))
    except ValueError:
        return False


def infer_kind(values: Sequence[str]) -> str:
    """The kind of a column of text cells: every cell a number with no decimal point or
    exponent: ``integer``; every cell a number: ``number``; every cell true/false (yes/no,
    t/f, y/n; any case): ``boolean``; anything else: ``category``."""
    cells = [v.strip() for v in values]
    if all(_is_number(v) for v in cells):
        integral = all(v.lstrip("+-").isdigit() for v in cells)
        return "integer" if integral else "number"
    if {v.lower() for v in cells} <= {*_TRUE, *_FALSE}:
        return "boolean"
    return "category"


@dataclasses.dataclass(frozen=True)
class Column:
    """One column: its ``name``, ``kind`` (:data:`KINDS`), the training range ``low`` to
    ``high`` of a number or an integer, and a category's ``categories`` (sorted)."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    categories: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column kind must be one of {list(KINDS)}, got {self.kind!r}")
        if self.kind == "category" and len(self.categories) < 1:
            raise ValueError(f"category column {self.name!r} needs at least one category")

    @property
    def width(self) -> int:
        """Coordinates of the column in the model's space."""
        return len(self.categories) if self.kind == "category" else 1

    def encode(self, cells: Sequence[str]) -> np.ndarray:
        """``(n, width)`` float64 coordinates of the column's text cells."""
        cells = [c.strip() for c in cells]
        if self.kind == "category":
            index = {c: i for i, c in enumerate(self.categories)}
            unknown = sorted({c for c in cells if c not in index})
            if unknown:
                raise ValueError(
                    f"column {self.name!r}: {unknown[0]!r} is not one of its categories "
                    f"{list(self.categories)}"
                )
            out = np.zeros((len(cells), self.width))
            out[np.arange(len(cells)), [index[c] for c in cells]] = 1.0
            return out
        if self.kind == "boolean":
            bad = [c for c in cells if c.lower() not in (*_TRUE, *_FALSE)]
            if bad:
                raise ValueError(f"column {self.name!r}: {bad[0]!r} is not true or false")
            return np.array([[1.0 if c.lower() in _TRUE else 0.0] for c in cells])
        try:
            return np.array([[float(c)] for c in cells])
        except ValueError as err:
            raise ValueError(f"column {self.name!r}: {err}") from err

    def decode(self, z: np.ndarray) -> np.ndarray:
        """The column's values from its ``(n, width)`` coordinates: floats, integers,
        booleans or category names."""
        if self.kind == "category":
            return np.asarray(self.categories, dtype=object)[np.argmax(z, axis=1)]
        v = z[:, 0]
        if self.kind == "boolean":
            return v > 0.5
        v = np.clip(v, self.low, self.high)
        return np.rint(v).astype(np.int64) if self.kind == "integer" else v.astype(np.float64)


# How a missing cell is written (case aside): empty, NA or nan.
MISSING_CELLS = ("", "na", "nan")


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_CELLS


@dataclasses.dataclass(frozen=True)
class TableEncoder:
    """The columns of a table, in order; :meth:`encode` rows of text cells to ``(n,
    width)`` numbers, :meth:`decode` numbers back to typed columns."""

    columns: tuple[Column, ...]

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @classmethod
    def fit(
        cls,
        header: Sequence[str],
        body: Sequence[Sequence[str]],
        *,
        categorical: Sequence[str] = (),
        integer: Sequence[str] = (),
    ) -> TableEncoder:
        """The encoder of a table of text cells (``body``: rows, as many cells as
        ``header``): each column's kind by :func:`infer_kind`, or ``category`` for the
        names in ``categorical`` and ``integer`` for those in ``integer``; ranges and
        categories from these rows."""
        for flag, names in (("categorical", categorical), ("integer", integer)):
            missing = [n for n in names if n not in header]
            if missing:
                raise ValueError(f"--{flag} {missing[0]!r} is not in the header {list(header)}")
        both = sorted(set(categorical) & set(integer))
        if both:
            raise ValueError(f"column {both[0]!r} cannot be both --categorical and --integer")
        columns = []
        for j, name in enumerate(header):
            cells = [row[j].strip() for row in body]
            kind = infer_kind(cells)
            if name in categorical:
                kind = "category"
            elif name in integer:
                if kind not in ("integer", "number"):
                    raise ValueError(f"--integer {name!r}: the column holds {kind} cells")
                kind = "integer"
            if kind == "category":
                columns.append(Column(name, kind, categories=tuple(sorted(set(cells)))))
            elif kind == "boolean":
                columns.append(Column(name, kind))
            else:
                values = np.array([float(c) for c in cells])
                if kind == "integer" and not np.all(values == np.rint(values)):
                    raise ValueError(f"--integer {name!r}: the column holds non-integers")
                columns.append(Column(name, kind, float(values.min()), float(values.max())))
        return cls(tuple(columns))

    def encode(self, body: Sequence[Sequence[str]]) -> np.ndarray:
        """``(n, width)`` float32 coordinates of rows of text cells."""
        if not body:
            return np.zeros((0, self.width), np.float32)
        parts = [c.encode([row[j] for row in body]) for j, c in enumerate(self.columns)]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def encode_gaps(self, body: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of text cells with gaps (:func:`is_missing`): ``(z, known)``, both ``(n,
        width)``, ``z`` float64 coordinates with 0 in a gap and ``known`` False over every
        coordinate of a missing cell (all of a category's, so it is drawn whole)."""
        parts, known = [], []
        for j, c in enumerate(self.columns):
            cells = [row[j] for row in body]
            gap = np.array([is_missing(x) for x in cells], bool)
            z = np.zeros((len(cells), c.width))
            if not gap.all():
                z[~gap] = c.encode([x for x, g in zip(cells, gap, strict=True) if not g])
            parts.append(z)
            known.append(np.repeat(~gap[:, None], c.width, axis=1))
        return np.concatenate(parts, axis=1), np.concatenate(known, axis=1)

    def decode(self, z) -> dict[str, np.ndarray]:
        """Each column's values, by name in order, from ``(n, width)`` coordinates."""
        z = np.asarray(z, np.float64)
        if z.ndim != 2 or z.shape[1] != self.width:
            raise ValueError(f"rows must have shape (n, {self.width}), got {z.shape}")
        out, start = {}, 0
        for c in self.columns:
            out[c.name] = c.decode(z[:, start : start + c.width])
            start += c.width
        return out

    def to_dict(self) -> dict:
        return {"columns": [dataclasses.asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict) -> TableEncoder:
        columns = []
        for c in d["columns"]:
            columns.append(Column(**{**c, "categories": tuple(c.get("categories", ()))}))
        return cls(tuple(columns))
