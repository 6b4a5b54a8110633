"""Every refusal of the file readers (``core.files`` over ``core.reading``) is one exact
line naming the file, and what they accept comes back as documented: rows, contexts,
labels, typed tables, rows with gaps and a written table."""

import numpy as np
import pytest

from jaxdiff.core import files, reading

HEADER_CSV = "a,b\n1,2\n3,4\n5,6\n"


def _write(path, content):
    """``content``: text for a file, a dict of arrays for a ``.npz``, an array for a
    ``.npy``, bytes as they are."""
    if isinstance(content, dict):
        np.savez(path, **content)
    elif isinstance(content, np.ndarray):
        np.save(path, content, allow_pickle=True)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


X4 = np.arange(8.0).reshape(4, 2)
OBJECTS = np.array([{"a": 1}, None], dtype=object)

# (file name, its content, the call, the whole message: {p} is repr(str(path))).
REFUSALS = {
    "npz without x": ("d.npz", {"y": X4}, lambda p: files.load_file(p),
                      "a .npz data file needs an array 'x' in {p}"),
    "columns of a npy": ("d.npy", X4, lambda p: files.load_file(p, ["a"]),
                         "--columns is for .csv files with a header, got {p}"),
    "columns without header": ("d.csv", "1,2\n3,4\n", lambda p: files.load_file(p, ["a"]),
                               "--columns needs a header row of column names in {p}"),
    "column not in header": ("d.csv", HEADER_CSV, lambda p: files.load_file(p, ["c"]),
                             "--columns 'c' is not in the header ['a', 'b'] of {p}"),
    "text in a chosen column": ("d.csv", "a,b\n1,x\n3,4\n", lambda p: files.load_file(p, ["b"]),
                                "cannot read data file {p}: could not convert string to "
                                "float: 'x'"),
    "chosen column of one row": ("d.csv", "a,b\n1,2\n", lambda p: files.load_file(p, ["a"]),
                                 "data file {p} needs a header and at least 2 rows"),
    "ragged csv": ("d.csv", "a,b\n1,2\n3\n", lambda p: files.load_file(p, ["a"]),
                   "data file {p}: every row needs 2 fields"),
    "object npy": ("d.npy", OBJECTS, lambda p: files.load_file(p),
                   "cannot read data file {p}: Object arrays cannot be loaded when "
                   "allow_pickle=False"),
    "text npy": ("d.npy", np.array([["a", "b"]]), lambda p: files.load_file(p),
                 "data file {p} must hold numbers, got dtype <U1"),
    "one row of two": ("d.npy", X4[:1], lambda p: files.load_file(p),
                       "data file {p} must hold a 2-D array of at least 2 rows, got shape (1, 2)"),
    "no row of one": ("d.npy", X4[:0], lambda p: files.load_file(p, min_rows=1),
                      "data file {p} must hold a 2-D array of at least 1 row, got shape (0, 2)"),
    "nan": ("d.npy", np.array([[1.0, np.nan], [np.inf, 0.0]]), lambda p: files.load_file(p),
            "data file {p} must be finite, got 2 NaN or inf values"),
    "suffix": ("d.txt", "1,2\n", lambda p: files.load_file(p),
               "data file must end in .npy or .csv or .npz, got {p}"),
    "object npz": ("d.npz", {"x": OBJECTS}, lambda p: files.load_file(p),
                   "cannot read data file {p}: Object arrays cannot be loaded when "
                   "allow_pickle=False"),
    # load_context_file
    "given nothing": ("d.csv", HEADER_CSV, lambda p: files.load_context_file(p, " , "),
                      "--given must name the context's columns or array, got ' , '"),
    "given not in npz": ("d.npz", {"x": X4}, lambda p: files.load_context_file(p, "c"),
                         "--given 'c' is not an array of {p}"),
    "given rows differ": ("d.npz", {"x": X4, "c": X4[:3]},
                          lambda p: files.load_context_file(p, "c"),
                          "{p}: 'c' has 3 rows, 'x' 4"),
    "given without header": ("d.csv", "1,2\n3,4\n", lambda p: files.load_context_file(p, "a"),
                             "--given names columns of a .csv with a header row: {p}"),
    "given column unknown": ("d.csv", HEADER_CSV, lambda p: files.load_context_file(p, "z"),
                             "--columns 'z' is not in the header ['a', 'b'] of {p}"),
    "columns unknown": ("d.csv", HEADER_CSV,
                        lambda p: files.load_context_file(p, "a", ["z"]),
                        "--columns 'z' is not in the header ['a', 'b'] of {p}"),
    "columns overlap given": ("d.csv", HEADER_CSV,
                              lambda p: files.load_context_file(p, "a", ["a", "b"]),
                              "--columns must not name a column of --given"),
    "given everything": ("d.csv", HEADER_CSV, lambda p: files.load_context_file(p, "a,b"),
                         "--given names every column of {p}; none is left to draw"),
    "given text": ("d.csv", "a,b\n1,x\n3,4\n", lambda p: files.load_context_file(p, "b"),
                   "cannot read data file {p}: could not convert string to float: 'x'"),
    "rows text": ("d.csv", "a,b\nx,1\n3,4\n", lambda p: files.load_context_file(p, "b"),
                  "cannot read data file {p}: could not convert string to float: 'x'"),
    "context file suffix": ("d.npy", X4, lambda p: files.load_context_file(p, "a"),
                            "data file must end in .npz or .csv, got {p}"),
    # load_labelled_file
    "npz label column": ("d.npz", {"x": X4, "y": np.array([0, 1, 0, 1])},
                         lambda p: files.load_labelled_file(p, "y"),
                         "--label-column is for .csv files; a .npz holds its rows in 'x', "
                         "labels in 'y'"),
    "npz columns": ("d.npz", {"x": X4, "y": np.array([0, 1, 0, 1])},
                    lambda p: files.load_labelled_file(p, None, ["a"]),
                    "--columns is for .csv files; a .npz holds its rows in 'x', labels in 'y'"),
    "npz without y": ("d.npz", {"x": X4}, lambda p: files.load_labelled_file(p),
                      "a labelled .npz needs arrays 'x' and 'y', got ['x'] in {p}"),
    "csv without label column": ("d.csv", HEADER_CSV, lambda p: files.load_labelled_file(p),
                                 "a labelled .csv needs --label-column NAME (a column of its "
                                 "header)"),
    "labelled text": ("d.csv", "a,b\nx,0\n3,1\n", lambda p: files.load_labelled_file(p, "b"),
                      "cannot read data file {p}: could not convert string to float: 'x'"),
    "labelled columns unknown": ("d.csv", HEADER_CSV,
                                 lambda p: files.load_labelled_file(p, "b", ["z"]),
                                 "--columns 'z' is not in the header ['a', 'b'] of {p}"),
    "labelled one row": ("d.npz", {"x": X4[:1], "y": np.array([0])},
                         lambda p: files.load_labelled_file(p),
                         "data file {p} must hold a 2-D array of at least 2 rows, got shape "
                         "(1, 2)"),
    "labels not one a row": ("d.npz", {"x": X4, "y": np.array([0, 1, 0])},
                             lambda p: files.load_labelled_file(p),
                             "labels of {p} must be one per row (4), got shape (3,)"),
    "one class": ("d.npz", {"x": X4, "y": np.zeros(4, int)}, lambda p: files.load_labelled_file(p),
                  "labels of {p} must name at least 2 classes, got 1"),
    "float labels": ("d.npz", {"x": X4, "y": np.zeros(4)}, lambda p: files.load_labelled_file(p),
                     "labels of {p} must be integers or names, got dtype float64"),
    "negative label": ("d.csv", "a,b\n1,-1\n3,0\n", lambda p: files.load_labelled_file(p, "b"),
                       "labels of {p} must be classes 0..C-1, got -1"),
    "names too few": ("d.npz", {"x": X4, "y": np.array([0, 1, 2, 0]),
                                "names": np.array(["u", "v"])},
                      lambda p: files.load_labelled_file(p),
                      "labels of {p} go up to 2, but 'names' has 2"),
    "class without rows": ("d.npz", {"x": X4, "y": np.array([0, 2, 2, 0])},
                           lambda p: files.load_labelled_file(p),
                           "labels of {p} must use every class 0..2, class 1 has no rows"),
    "named class without rows": ("d.npz", {"x": X4, "y": np.array([0, 1, 1, 0]),
                                           "names": np.array(["u", "v", "w"])},
                                 lambda p: files.load_labelled_file(p),
                                 "labels of {p} must use every class 0..2, class 2 has no rows"),
    # typed_table
    "categorical of a npy": ("d.npy", X4, lambda p: files.typed_table(p, categorical="a"),
                             "--categorical and --integer name columns of a .csv with a "
                             "header, got {p}"),
    "integer without header": ("d.csv", "1,2\n3,4\n", lambda p: files.typed_table(p, integer="a"),
                               "--categorical and --integer name columns of a .csv with a "
                               "header, got {p}"),
    "empty cell": ("d.csv", "a,b\n1,2\n3, \n", lambda p: files.typed_table(p),
                   "data file {p}: line 3, column 'b' is empty (tables with missing cells "
                   "are not supported yet)"),
    "categorical not read": ("d.csv", HEADER_CSV,
                             lambda p: files.typed_table(p, columns="a", categorical="y,z"),
                             "--categorical 'y' is not one of the columns read ['a']"),
    "integer not read": ("d.csv", HEADER_CSV, lambda p: files.typed_table(p, integer=["z"]),
                         "--integer 'z' is not one of the columns read ['a', 'b']"),
    "typed columns unknown": ("d.csv", HEADER_CSV, lambda p: files.typed_table(p, columns="z"),
                              "--columns 'z' is not in the header ['a', 'b'] of {p}"),
    "typed one class": ("d.csv", "a,c\n1,u\n3,u\n",
                        lambda p: files.typed_table(p, "c", integer="a"),
                        "labels of {p} must name at least 2 classes, got 1"),
    # load_gaps and csv_cells
    "gaps suffix": ("d.npz", {"x": X4}, lambda p: files.load_gaps(p),
                    "data file must end in .npy or .csv, got {p}"),
    "gaps object npy": ("d.npy", OBJECTS, lambda p: files.load_gaps(p),
                        "cannot read data file {p}: Object arrays cannot be loaded when "
                        "allow_pickle=False"),
    "gaps text": ("d.csv", "a,b\n1,x\n", lambda p: files.load_gaps(p),
                  "cannot read data file {p}: could not convert string to float: 'x'"),
    "gaps one-d": ("d.npy", np.arange(3.0), lambda p: files.load_gaps(p),
                   "data file {p} must hold rows of numbers, got shape (3,)"),
    "gaps no rows": ("d.csv", "a,b\n", lambda p: files.load_gaps(p),
                     "data file {p} must hold rows of numbers, got shape (0,)"),
    "gaps header width": ("d.csv", "a,b,c\n1,2\n", lambda p: files.load_gaps(p),
                          "data file {p}: every row needs 3 fields"),
    "cells without header": ("d.csv", "1,2\n3,4\n", lambda p: files.csv_cells(p),
                             "data file {p} needs a header row naming its columns"),
    "cells suffix": ("d.npy", X4, lambda p: files.csv_cells(p),
                     "data file must end in .csv, got {p}"),
    "npz rows nan": ("d.npz", {"x": np.array([[1.0, np.nan], [2.0, 3.0]])},
                     lambda p: files.load_file(p),
                     "data file {p} must be finite, got 1 NaN or inf values"),
    "chosen column nan": ("d.csv", "a,b\n1,nan\n3,4\n", lambda p: files.load_file(p, ["b"]),
                          "data file {p} must be finite, got 1 NaN or inf values"),
    "context array nan": ("d.npz", {"x": X4, "c": np.full((4, 1), np.nan)},
                          lambda p: files.load_context_file(p, "c"),
                          "data file {p} must be finite, got 4 NaN or inf values"),
    "context column nan": ("d.csv", "a,b\n1,nan\n3,4\n",
                           lambda p: files.load_context_file(p, "b"),
                           "data file {p} must be finite, got 1 NaN or inf values"),
    "drawn column nan": ("d.csv", "a,b\nnan,1\n3,4\n", lambda p: files.load_context_file(p, "b"),
                         "data file {p} must be finite, got 1 NaN or inf values"),
    "integer not integral": ("d.csv", "a,b\n1,2.5\n3,4\n",
                             lambda p: files.typed_table(p, integer="b"),
                             "--integer 'b': the column holds non-integers"),
    "typed negative label": ("d.csv", "a,c\n1,-1\n3,0\n",
                             lambda p: files.typed_table(p, "c", categorical="a"),
                             "labels of {p} must be classes 0..C-1, got -1"),
    "gaps not utf-8": ("d.csv", b"a,b\n1,caf\xe9\n", lambda p: files.load_gaps(p),
                       "cannot read data file {p}: 'utf-8' codec can't decode byte 0xe9 in "
                       "position 9: invalid continuation byte"),
    "missing file": ("d.csv", None, lambda p: files.load_file(p), "data file {p} does not exist"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_refusal_is_its_exact_line_naming_the_file(tmp_path, case):
    name, content, call, message = REFUSALS[case]
    path = tmp_path / name
    if content is not None:
        _write(path, content)
    with pytest.raises(ValueError) as err:
        call(path)
    assert str(err.value) == message.format(p=repr(str(path)))


def test_readers_return_what_they_document(tmp_path):
    p = _write(tmp_path / "d.npz", {"x": X4, "c": X4[:, :1]})
    assert files.load_file(p).tolist() == X4.tolist()
    x, c = files.load_context_file(p, "c")
    assert x.dtype == c.dtype == np.float32 and c.tolist() == X4[:, :1].tolist()
    csv = _write(tmp_path / "s.csv", "t,x1,x2\n1,2,3\n4,5,6\n")
    x, c = files.load_context_file(csv, "x1, x2")
    assert x.tolist() == [[1], [4]] and c.tolist() == [[2, 3], [5, 6]]
    x, c = files.load_context_file(csv, "x1", ["x2"])
    assert x.tolist() == [[3], [6]] and c.tolist() == [[2], [5]]
    one = _write(tmp_path / "one.npy", X4[:1])
    assert files.load_file(one, min_rows=1).shape == (1, 2)
    one_npz = _write(tmp_path / "one.npz", {"x": X4[:1]})
    assert files.load_file(one_npz, min_rows=1).shape == (1, 2)
    assert files.typed_table(_write(tmp_path / "t.npz", {"x": X4})) is None
    row = _write(tmp_path / "row.csv", "1,2\n")
    assert files.load_file(row, min_rows=1).tolist() == [[1, 2]]
    ints = _write(tmp_path / "i.npy", np.arange(4).reshape(2, 2))
    assert files.load_file(ints).dtype == np.float32
    named = _write(tmp_path / "n.npz", {"x": X4, "y": np.array([0, 1, 1, 0]),
                                        "names": np.array(["u", "v"])})  # fmt: skip
    _, y, names = files.load_labelled_file(named)
    assert names == ("u", "v") and y.dtype == np.int32 and y.tolist() == [0, 1, 1, 0]
    text = _write(tmp_path / "t.csv", "a,b,k\n1,2,dog\n3,4,cat\n5,6,dog\n")
    x, y, names = files.load_labelled_file(text, "k", ["b"])
    assert names == ("cat", "dog") and y.dtype == np.int32 and y.tolist() == [1, 0, 1]
    assert x.tolist() == [[2], [4], [6]]
    assert files.names(" a, b,,c ") == ["a", "b", "c"] and files.names(("a ", " ")) == ["a"]
    assert files.names(None) == [] and files.names(["x,y"]) == ["x,y"]


def test_typed_tables_and_gaps_read_as_documented(tmp_path):
    assert files.typed_table(_write(tmp_path / "d.npy", X4)) is None
    assert files.typed_table(_write(tmp_path / "n.csv", "a,b\n1,2.5\n3,4\n5,6\n")) is None
    enc, x, y, classes = files.typed_table(tmp_path / "n.csv", integer="a")
    assert [c.kind for c in enc.columns] == ["integer", "number"] and y is None
    enc, *_ = files.typed_table(tmp_path / "n.csv", categorical=["b"])
    assert [c.kind for c in enc.columns] == ["integer", "category"]
    labelled = _write(tmp_path / "l.csv", "a,c\n1,u\n3,v\n")
    enc, x, y, classes = files.typed_table(labelled, "c", integer="a")
    assert classes == ("u", "v") and y.tolist() == [0, 1] and x.shape == (2, 1)
    gaps = _write(tmp_path / "g.csv", "a,b\n1,NA\n,4\n")
    x, header, cells = files.load_gaps(gaps)
    assert header == ["a", "b"] and cells == [["1", "NA"], ["", "4"]]
    np.testing.assert_array_equal(x, [[1.0, np.nan], [np.nan, 4.0]])
    assert x.dtype == np.float64
    x, header, cells = files.load_gaps(_write(tmp_path / "h.csv", "1,nan\n3,4\n"))
    assert header is None and cells == [["1", "nan"], ["3", "4"]] and x.shape == (2, 2)
    x, header, cells = files.load_gaps(_write(tmp_path / "g.npy", np.array([[1, np.nan]])))
    assert header is None and cells is None and x.dtype == np.float64
    assert files.load_gaps(_write(tmp_path / "i.npy", np.array([[1, 2]])))[0].dtype == np.float64
    assert files.csv_cells(tmp_path / "n.csv") == (
        ["a", "b"],
        [["1", "2.5"], ["3", "4"], ["5", "6"]],
    )


def test_reading_helpers(tmp_path):
    assert str(reading.read_error("p.csv", KeyError())) == "cannot read data file 'p.csv': KeyError"
    err = reading.read_error("p.csv", ValueError("first\nsecond"))
    assert str(err) == "cannot read data file 'p.csv': first"
    assert reading.raw_labels(["0", " -1"]).dtype.kind == "i"
    assert reading.raw_labels(["X1", "2"]).dtype.kind == "U"
    y, names = reading.classes(np.array([], int), "p")
    assert y.shape == (0,) and names == ()
    y, names = reading.classes(np.array(["b", "a"]), "p")
    assert y.dtype == np.int32 and y.tolist() == [1, 0] and names == ("a", "b")
    # A header row that is not UTF-8 is still read as a header.
    latin = _write(tmp_path / "l.csv", b"caf\xe9,b\n1,2\n3,4\n")
    assert reading.header_rows(latin) == 1
    # A body that is not UTF-8: one line naming the file.
    body = _write(tmp_path / "b.csv", b"a,b\n1,caf\xe9\n3,4\n")
    with pytest.raises(ValueError) as err:
        reading.csv_table(body)
    assert str(err.value).startswith(
        f"cannot read data file {str(body)!r}: 'utf-8' codec can't decode byte 0xe9"
    )
    # A quoted cell keeps its line break as written.
    quoted = _write(tmp_path / "q.csv", b'a,b\n1,"x\r\ny"\n3,4\n')
    assert reading.csv_table(quoted)[1][0] == ["1", "x\r\ny"]


def test_written_tables(tmp_path):
    assert [files.cell_text(v) for v in (True, np.int64(3), 1.23456789, 1e-10, "cat")] == [
        "true", "3", "1.234568", "1e-10", "cat"]  # fmt: skip
    with pytest.raises(ValueError):
        files.write_table(tmp_path / "w.csv", {"a": [1, 2], "b": [1]})
    files.write_table(tmp_path / "w.csv", {"a": [1, 2], "b": ["u", "v"]})
    assert (tmp_path / "w.csv").read_bytes() == b"a,b\r\n1,u\r\n2,v\r\n"
