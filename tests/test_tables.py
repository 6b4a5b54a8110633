"""Typed tables (jaxdiff.core.tables): kinds inferred from text cells, an encoding that round
trips, a decoder that only ever returns values a column can hold."""

import numpy as np
import pytest

from jaxdiff.core import files, tables

HEADER = ["city", "rooms", "garden", "price"]
BODY = [
    ["paris", "3", "true", "410.5"],
    ["lyon", "1", "false", "150.25"],
    ["nice", "4", "yes", "380"],
    ["lyon", "2", "no", "-12.75"],
    ["paris", "7", "True", "999.125"],
]


@pytest.mark.parametrize(
    "cells, kind",
    [
        (["1", "-2", "+30"], "integer"),
        (["1", "2.0"], "number"),
        (["1e3", "4"], "number"),
        (["true", "False", "YES", "n"], "boolean"),
        (["0", "1"], "integer"),
        (["a", "1"], "category"),
        (["nan", "1"], "category"),
        (["red", "blue"], "category"),
    ],
)
def test_infer_kind(cells, kind):
    assert tables.infer_kind(cells) == kind


def test_the_encoding_round_trips_every_kind():
    """decode(encode(rows)) gives back each cell: the category's name, the integer, the
    boolean, the number (to float32)."""
    enc = tables.TableEncoder.fit(HEADER, BODY)
    assert [c.kind for c in enc.columns] == ["category", "integer", "boolean", "number"]
    assert enc.columns[0].categories == ("lyon", "nice", "paris")
    assert enc.width == 3 + 1 + 1 + 1
    z = enc.encode(BODY)
    assert z.dtype == np.float32 and z.shape == (5, 6)
    np.testing.assert_array_equal(z[:, :3].sum(1), 1.0)  # one-hot
    back = enc.decode(z)
    assert list(back) == HEADER
    assert back["city"].tolist() == [r[0] for r in BODY]
    assert back["rooms"].tolist() == [3, 1, 4, 2, 7] and back["rooms"].dtype == np.int64
    assert back["garden"].tolist() == [True, False, True, False, True]
    np.testing.assert_allclose(back["price"], [float(r[3]) for r in BODY], rtol=1e-6)


def test_decoding_any_coordinates_gives_values_the_columns_can_hold():
    """Noisy coordinates (what a model samples): categories are names of the column,
    integers whole and within the training range, numbers within it, booleans booleans."""
    enc = tables.TableEncoder.fit(HEADER, BODY)
    z = np.random.default_rng(0).normal(scale=50.0, size=(1000, enc.width))
    out = enc.decode(z)
    assert set(out["city"]) <= {"lyon", "nice", "paris"} and len(set(out["city"])) == 3
    assert out["rooms"].min() >= 1 and out["rooms"].max() <= 7
    assert np.all(out["rooms"] == np.rint(out["rooms"]))
    assert out["price"].min() >= -12.75 and out["price"].max() <= 999.125
    assert out["garden"].dtype == bool
    # The largest coordinate picks the category; 0.5 splits the booleans; integers round.
    pick = enc.decode(np.array([[0.1, 0.7, 0.2, 2.4, 0.51, 0.0], [0.0, 0.0, 0.3, 2.6, 0.49, 0.0]]))
    assert pick["city"].tolist() == ["nice", "paris"]
    assert pick["garden"].tolist() == [True, False] and pick["rooms"].tolist() == [2, 3]


def test_named_columns_override_the_inferred_kind():
    enc = tables.TableEncoder.fit(HEADER, BODY, categorical=["rooms"])
    assert enc.columns[1].kind == "category" and enc.columns[1].categories == tuple("12347")
    codes = [["1.0", "a"], ["3.0", "b"]]
    assert tables.TableEncoder.fit(["n", "t"], codes, integer=["n"]).columns[0].kind == "integer"
    with pytest.raises(ValueError, match="--integer 'price': the column holds non-integers"):
        tables.TableEncoder.fit(HEADER, BODY, integer=["price"])
    with pytest.raises(ValueError, match="--integer 'city': the column holds category cells"):
        tables.TableEncoder.fit(HEADER, BODY, integer=["city"])
    with pytest.raises(ValueError, match="cannot be both"):
        tables.TableEncoder.fit(HEADER, BODY, categorical=["rooms"], integer=["rooms"])
    with pytest.raises(ValueError, match="--categorical 'town' is not in the header"):
        tables.TableEncoder.fit(HEADER, BODY, categorical=["town"])


def test_unknown_cells_and_bad_shapes_are_refused_in_one_line():
    enc = tables.TableEncoder.fit(HEADER, BODY)
    with pytest.raises(ValueError, match="'lille' is not one of its categories"):
        enc.encode([["lille", "1", "true", "1"]])
    with pytest.raises(ValueError, match="'maybe' is not true or false"):
        enc.encode([["lyon", "1", "maybe", "1"]])
    with pytest.raises(ValueError, match=r"rows must have shape \(n, 6\)"):
        enc.decode(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="column kind must be one of"):
        tables.Column("x", "text")


def test_the_encoder_survives_json():
    import json

    enc = tables.TableEncoder.fit(HEADER, BODY)
    again = tables.TableEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    assert again == enc


def _write(path, header, body):
    path.write_text("\n".join(",".join(r) for r in [header, *body]) + "\n")
    return path


def test_a_csv_of_numbers_stays_numbers_and_a_typed_one_is_encoded(tmp_path):
    numbers = _write(tmp_path / "n.csv", ["a", "b"], [["1", "2.5"], ["3", "4"], ["5", "6"]])
    assert files.typed_table(numbers) is None  # read as before, by load_file
    enc, x, y, names = files.typed_table(numbers, integer="a")
    assert enc.columns[0].kind == "integer" and y is None and x.shape == (3, 2)
    mixed = _write(tmp_path / "m.csv", HEADER, BODY)
    enc, x, y, names = files.typed_table(mixed, columns="price,city")
    assert enc.names == ("price", "city") and x.shape == (5, 4)
    enc, x, y, names = files.typed_table(mixed, label_column="garden")
    assert "garden" not in enc.names and y.shape == (5,)
    assert names == ("True", "false", "no", "true", "yes")  # labels are names, as they are


def test_an_empty_cell_is_refused_naming_its_line_and_column(tmp_path):
    body = [r[:] for r in BODY]
    body[2][1] = " "
    path = _write(tmp_path / "gaps.csv", HEADER, body)
    with pytest.raises(ValueError, match=r"line 4, column 'rooms' is empty") as info:
        files.typed_table(path)
    assert "\n" not in str(info.value)


def test_write_table_writes_the_header_and_each_type(tmp_path):
    enc = tables.TableEncoder.fit(HEADER, BODY)
    path = tmp_path / "out.csv"
    files.write_table(path, enc.decode(enc.encode(BODY)))
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(HEADER)
    assert lines[1] == "paris,3,true,410.5" and lines[2] == "lyon,1,false,150.25"
    assert not list(tmp_path.glob(".out.csv.*"))  # written atomically, no leftovers


def test_edges_of_each_kind():
    """The exact boundaries: every true/false spelling at once is still boolean, 0.5
    decodes to false, a category needs one name (one is enough), numbers that are not
    are named, an empty table encodes to no rows, float32 coordinates decode to float64."""
    assert tables.infer_kind(["true", "yes", "t", "y", "false", "no", "f", "n"]) == "boolean"
    boolean = tables.Column("g", "boolean")
    np.testing.assert_array_equal(boolean.encode(["yes", "no"]), [[1.0], [0.0]])
    assert boolean.decode(np.array([[0.5], [0.5001]])).tolist() == [False, True]
    with pytest.raises(ValueError, match="category column 'c' needs at least one category"):
        tables.Column("c", "category")
    assert tables.Column("c", "category", categories=("only",)).width == 1
    with pytest.raises(ValueError, match="column 'p': could not convert"):
        tables.Column("p", "number", 0.0, 1.0).encode(["abc"])
    enc = tables.TableEncoder.fit(HEADER, BODY)
    empty = enc.encode([])
    assert empty.shape == (0, 6) and empty.dtype == np.float32
    out = enc.decode(enc.encode(BODY))
    assert out["city"].dtype == object and out["price"].dtype == np.float64
    assert enc.decode(enc.encode(BODY).astype(np.float32))["price"].dtype == np.float64
    np.testing.assert_array_equal(enc.encode(BODY)[:, 4], [1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="--integer 'town' is not in the header"):
        tables.TableEncoder.fit(HEADER, BODY, integer=["town"])
    # A column written without its (empty) categories still loads.
    plain = {"columns": [{"name": "a", "kind": "number", "low": 0.0, "high": 1.0}]}
    assert tables.TableEncoder.from_dict(plain).columns[0].categories == ()


def test_a_bound_is_kept_exactly_whatever_the_coordinates_dtype():
    """Clipping happens in float64: a float32 sample beyond a bound that float32 cannot
    hold (0.1) decodes to the bound itself."""
    enc = tables.TableEncoder.fit(["p"], [["0"], ["0.1"]])
    assert enc.decode(np.array([[5.0]], np.float32))["p"][0] == 0.1


def test_encode_gaps_masks_every_coordinate_of_a_missing_cell_and_keeps_the_rest():
    """A known cell is coded as ``encode`` codes it; a missing one (empty, NA, nan, any
    case) is unknown over its column's whole width (a category's every coordinate, so it
    is drawn whole), its coordinates 0."""
    header = ["a", "b", "kind", "ok"]
    full = [["1.5", "2", "x", "true"], ["0.5", "3", "y", "false"], ["2.5", "1", "z", "yes"]]
    enc = tables.TableEncoder.fit(header, full)
    gapped = [["1.5", "", "x", "true"], ["NA", "3", " ", "false"], ["2.5", "1", "z", "NaN"]]
    z, known = enc.encode_gaps(gapped)
    assert z.shape == known.shape == (3, enc.width) == (3, 6)
    expect = np.array([
        [1, 0, 1, 1, 1, 1], [0, 1, 0, 0, 0, 1], [1, 1, 1, 1, 1, 0],
    ], bool)  # fmt: skip
    np.testing.assert_array_equal(known, expect)
    np.testing.assert_array_equal(z[known], enc.encode(full).astype(np.float64)[known])
    assert np.all(z[~known] == 0.0)
    # a row with nothing missing is coded as encode codes it
    z2, k2 = enc.encode_gaps(full)
    assert k2.all() and np.array_equal(z2, enc.encode(full).astype(np.float64))
    with pytest.raises(ValueError, match="'w' is not one of its categories"):
        enc.encode_gaps([["1", "2", "w", "true"]])
