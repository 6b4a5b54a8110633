"""The shared argument checks, and their command-line form."""

import argparse
import math

import numpy as np
import pytest

from jaxdiff.core import validate


@pytest.mark.parametrize("good", [1, 7, np.int32(3)])
def test_positive_int_accepts_and_converts(good):
    assert validate.positive_int("k", good) == int(good)
    assert type(validate.positive_int("k", good)) is int


@pytest.mark.parametrize("bad", [0, -2, 1.0, True, "3", None])
def test_positive_int_names_argument_value_and_expectation(bad):
    with pytest.raises(validate.InvalidValue) as info:
        validate.positive_int("batch_size", bad)
    assert str(info.value) == f"batch_size must be a positive integer, got {bad!r}"
    assert (info.value.name, info.value.value) == ("batch_size", bad)


def test_non_negative_int_allows_zero_only_beside_the_positives():
    assert validate.non_negative_int("n", 0) == 0
    with pytest.raises(ValueError, match="n must be a non-negative integer, got -1"):
        validate.non_negative_int("n", -1)


@pytest.mark.parametrize(
    "value, kw, ok",
    [
        (0.0, dict(low=0.0, high=1.0), True),
        (1.0, dict(low=0.0, high=1.0), True),
        (1.0, dict(low=0.0, high=1.0, high_open=True), False),
        (0.0, dict(low=0.0, high=math.inf, low_open=True), False),
        (1e9, dict(low=0.0, high=math.inf, low_open=True), True),
        (math.inf, dict(low=0.0, high=math.inf, low_open=True), False),
        (math.nan, dict(low=0.0, high=1.0), False),
        (True, dict(low=0.0, high=1.0), False),
    ],
)
def test_number_in_respects_open_and_closed_ends(value, kw, ok):
    if ok:
        assert validate.number_in("x", value, **kw) == float(value)
    else:
        with pytest.raises(validate.InvalidValue):
            validate.number_in("x", value, **kw)


def test_number_in_says_which_interval():
    with pytest.raises(ValueError, match=r"eta must be a number in \[0, 1\], got 1.5"):
        validate.number_in("eta", 1.5, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"ema must be a number in \[0, 1\), got 1"):
        validate.number_in("ema", 1, 0.0, 1.0, high_open=True)
    with pytest.raises(ValueError, match="lr must be a positive finite number, got 0"):
        validate.number_in("lr", 0, 0.0, math.inf, low_open=True)
    with pytest.raises(ValueError, match=r"^w must be >= 0.0, got -1$"):  # closed at 0
        validate.number_in("w", -1, 0.0, math.inf)
    with pytest.raises(ValueError, match=r"^p must be a number in \(0, 1\], got 0$"):
        validate.number_in("p", 0, 0.0, 1.0, low_open=True)


def test_finite_number_and_one_of():
    assert validate.finite_number("w", -2) == -2.0
    with pytest.raises(ValueError, match="w must be a finite number, got nan"):
        validate.finite_number("w", math.nan)
    assert validate.one_of("m", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"m must be one of \['a', 'b'\], got 'c'"):
        validate.one_of("m", "c", ("a", "b"))


def test_flag_type_applies_the_same_check_to_the_flags_text():
    as_flag = validate.flag_type(validate.positive_int)
    assert as_flag("12") == 12
    for text in ("0", "-1", "two", "1.5"):
        with pytest.raises(
            argparse.ArgumentTypeError, match=f"must be a positive integer, got '{text}'"
        ):
            as_flag(text)
    unit = validate.flag_type(validate.number_in, float, low=0.0, high=1.0)
    assert unit("0.25") == 0.25
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be a number in \[0, 1\]"):
        unit("2")
    # argparse names a type by its __name__ where it reports the type itself
    assert as_flag.__name__ == "positive_int" and unit.__name__ == "number_in"
