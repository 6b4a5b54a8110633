"""Argument checks shared by the library, the application layer and the command line.

Each check returns the value (converted where that is safe) or raises
:class:`InvalidValue`, a ``ValueError`` whose one-line message names the argument, the
value received and what was expected: ``batch_size must be a positive integer, got 0``.
The command line reuses the same checks for its flags (:func:`flag_type`), so a flag
and the library argument behind it are refused by the same rule.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = [
    "InvalidValue",
    "finite_number",
    "flag_type",
    "non_negative_int",
    "number_in",
    "one_of",
    "positive_int",
]


class InvalidValue(ValueError):
    """``name must be <expected>, got <value>``; ``expected`` is kept for the CLI."""

    def __init__(self, name: str, expected: str, value: Any):
        self.name, self.expected, self.value = name, expected, value
        super().__init__(f"{name} must be {expected}, got {value!r}")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def positive_int(name: str, value) -> int:
    """``value`` as an int ``>= 1``."""
    if not _is_int(value) or value < 1:
        raise InvalidValue(name, "a positive integer", value)
    return int(value)


def non_negative_int(name: str, value) -> int:
    """``value`` as an int ``>= 0``."""
    if not _is_int(value) or value < 0:
        raise InvalidValue(name, "a non-negative integer", value)
    return int(value)


def finite_number(name: str, value) -> float:
    """``value`` as a finite float."""
    if not _is_number(value) or not math.isfinite(value):
        raise InvalidValue(name, "a finite number", value)
    return float(value)


def number_in(
    name: str, value, low: float, high: float, *, high_open: bool = False, low_open: bool = False
) -> float:
    """``value`` as a float in ``[low, high]`` (``high_open``: ``[low, high)``, ``low_open``:
    ``(low, high]``); ``high = inf`` reads "a positive finite number" for ``(0, inf)``."""
    ok = _is_number(value) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
    if not ok:
        if math.isinf(high):
            expected = "a positive finite number" if low == 0 and low_open else f">= {low}"
        else:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            expected = f"a number in {left}{low:g}, {high:g}{right}"
        raise InvalidValue(name, expected, value)
    return float(value)


def one_of(name: str, value, choices: Iterable):
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def flag_type(check: Callable, parse: Callable = int, **options) -> Callable[[str], Any]:
    """An ``argparse`` ``type=`` that parses the flag's text with ``parse`` and applies
    ``check(name, value, **options)``; a refusal reads ``must be <expected>, got <text>``
    (argparse prefixes the flag's name)."""

    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = text
        try:
            return check("value", value, **options)
        except InvalidValue as err:
            raise argparse.ArgumentTypeError(f"must be {err.expected}, got {text!r}") from None

    convert.__name__ = getattr(check, "__name__", "value")
    return convert
