"""A user's data files: ``.npy``, ``.csv`` and ``.npz`` rows, and labelled files (a
``.npz`` with ``x`` and ``y`` or a ``.csv`` with a label column), which train a
conditional model whose class names ``sample --label`` takes; every bad file or labelling
is one line (library: ValueError; CLI: exit 2)."""

import re

import numpy as np
import pytest
from conftest import jaxdiff

from jaxdiff.core import data, files


def _moons(tmp_path, n=400):
    x, y = data.load("moons", 0, n, labels=True)
    return x, y


def test_npz_with_names_and_csv_with_integers(tmp_path):
    x, y = _moons(tmp_path)
    np.savez(tmp_path / "m.npz", x=x, y=np.array(["upper", "lower"])[y])
    rows, labels, names = files.load_labelled_file(tmp_path / "m.npz")
    assert names == ("lower", "upper")  # sorted names; index = position
    np.testing.assert_array_equal(labels, 1 - y)
    np.testing.assert_array_equal(rows, x)

    lines = ["a,cls,b"] + [f"{u},{c},{v}" for (u, v), c in zip(x, y, strict=True)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    rows, labels, names = files.load_labelled_file(tmp_path / "m.csv", "cls")
    assert names == ("0", "1")
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_allclose(rows, x, rtol=1e-6)


BAD = [
    ("y.npz", {"x": np.ones((4, 2))}, None, "needs arrays 'x' and 'y'"),
    ("y.npz", {"x": np.ones((4, 2)), "y": np.array([0.5, 1, 0, 1])}, None, "integers or names"),
    ("y.npz", {"x": np.ones((4, 2)), "y": np.array([0, 1, 0])}, None, "one per row (4)"),
    ("y.npz", {"x": np.ones((4, 2)), "y": np.array([0, 2, 0, 2])}, None, "class 1 has no rows"),
    ("y.npz", {"x": np.ones((4, 2)), "y": np.array([0, -1, 0, 1])}, None, "classes 0..C-1"),
    ("y.npz", {"x": np.ones((4, 2)), "y": np.zeros(4, int)}, None, "at least 2 classes"),
    ("y.npz", {"x": np.ones((4, 2)), "y": np.array([0, 1, 0, 1])}, "c", "for .csv files"),
    ("y.csv", "a,b,c\n1,2,0\n3,4,1\n", None, "needs --label-column"),
    ("y.csv", "a,b,c\n1,2,0\n3,4,1\n", "d", "is not in the header"),
    ("y.csv", "a,b,c\n1,2,0\n3,x,1\n", "c", "cannot read data file"),
    ("y.csv", "a,b,c\n1,2,0\n3,1\n", "c", "every row needs 3 fields"),
    ("y.npy", np.ones((4, 2)), None, "must end in .npz or .csv"),
]


def _refused_in_one_line(path, content, message, load, *args):
    """``content`` written to ``path`` (arrays of a .npz, text, or one array) and read by
    ``load(path, *args)``: a one-line ValueError holding ``message``."""
    if isinstance(content, dict):
        np.savez(path, **content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load(path, *args)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("name", "content", "column", "message"), BAD)
def test_bad_labelled_files_are_one_line(tmp_path, name, content, column, message):
    _refused_in_one_line(tmp_path / name, content, message, files.load_labelled_file, column)


@pytest.mark.slow
def test_conditional_run_from_a_labelled_file(tmp_path):
    x, y = _moons(tmp_path, 2000)
    np.savez(tmp_path / "m.npz", x=x, y=np.array(["upper", "lower"])[y])
    run = tmp_path / "r"
    common = ["--preset", "fast", "--epochs", "3", "--quiet", "--eval-n", "0", "--no-figures"]
    jaxdiff("train", "--data", tmp_path / "m.npz", "--conditional", "--out", run, *common)
    saved = np.load(run / "data.npz")
    assert saved["names"].tolist() == ["lower", "upper"]

    out = {}
    for label in ("upper", "1", "lower"):
        out[label] = tmp_path / f"{label}.npy"
        jaxdiff("sample", "--run", run, "--label", label, "--n", "64", "--out", out[label])
    # A name is its index: "upper" is class 1 (sorted names), the same samples.
    assert np.array_equal(np.load(out["upper"]), np.load(out["1"]))
    assert not np.array_equal(np.load(out["upper"]), np.load(out["lower"]))

    bad = jaxdiff("sample", "--run", run, "--label", "side", "--out", out["1"], check=False)
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "jaxdiff sample: error: --label must be a class index or one of "
        "['lower', 'upper'], got 'side'"
    )
    for args, message in (
        (["--data", tmp_path / "m.npz"], "--label-column needs --conditional"),
        (["--data", tmp_path / "u.npy", "--conditional"], "needs labels: a .npz"),
    ):
        np.save(tmp_path / "u.npy", x)
        extra = ["--label-column", "c"] if "--conditional" not in args else []
        r = jaxdiff("train", *args, *extra, "--out", tmp_path / "o", *common, check=False)
        assert r.returncode == 2 and message in r.stderr, r.stderr
        assert r.stderr.strip().count("\n") == 0


def test_load_file_reads_npy_and_csv(tmp_path):
    from jaxdiff.core import files

    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.save(tmp_path / "a.npy", x)
    np.savetxt(tmp_path / "a.csv", x, delimiter=",")
    # As spreadsheets write it: a header row of column names, skipped.
    np.savetxt(tmp_path / "h.csv", x, delimiter=",", header="x,y", comments="")
    assert (tmp_path / "h.csv").read_text().startswith("x,y\n")
    for name in ("a.npy", "a.csv", "h.csv"):
        got = files.load_file(tmp_path / name)
        assert got.dtype == np.float32 and np.array_equal(got, x)


@pytest.mark.parametrize(
    "name, write, message",
    [
        ("t.csv", lambda p: p.write_text("a,b\nc,d\n"), "cannot read data file"),
        ("n.npy", lambda p: np.save(p, np.array([[1.0, np.nan], [2.0, 3.0]])), "1 NaN or inf"),
        ("o.npy", lambda p: np.save(p, np.arange(5.0)), "2-D array of at least 2 rows"),
        ("e.csv", lambda p: p.write_text(""), "at least 2 rows, got shape (0, 1)"),
        ("s.npy", lambda p: np.save(p, np.array([["x", "y"], ["z", "w"]])), "must hold numbers"),
        ("x.txt", lambda p: p.write_text("1,2"), "must end in .npy or .csv"),
        ("missing.npy", lambda p: None, "does not exist"),
    ],
)
def test_load_file_rejects_bad_files_in_one_line(tmp_path, name, write, message):
    from jaxdiff.core import files

    path = tmp_path / name
    write(path)
    with pytest.raises(ValueError, match=r"data file|cannot read") as info:
        files.load_file(path)
    assert message in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_csv_columns_chosen_by_name(tmp_path):
    """A .csv with more columns than the data: --columns picks them by name, in the
    order given, and leaves the others unread (text there is fine)."""
    x = np.arange(12, dtype=np.float64).reshape(6, 2) / 4
    lines = ["id,y,note,x,kind"] + [
        f"{i},{b},cell {i},{a},{'ab'[i % 2]}" for i, (a, b) in enumerate(x)
    ]
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    got = files.load_file(tmp_path / "c.csv", ("x", "y"))
    assert got.dtype == np.float32 and np.array_equal(got, x)
    assert np.array_equal(files.load_file(tmp_path / "c.csv", ["y"]), x[:, 1:])
    assert np.array_equal(files.load_file(tmp_path / "c.csv", " x, y"), x)  # as typed
    # Without --columns the text column stops the read, as it should.
    with pytest.raises(ValueError, match="cannot read data file"):
        files.load_file(tmp_path / "c.csv")

    rows, labels, names = files.load_labelled_file(tmp_path / "c.csv", "kind", ("x", "y"))
    assert names == ("a", "b") and np.array_equal(labels, np.arange(6) % 2)
    assert np.array_equal(rows, x)


COLUMN_ERRORS = [
    ("c.csv", "x,y,z\n1,2,3\n4,5,6\n", ("x", "w"), "--columns 'w' is not in the header"),
    ("c.csv", "x,y,z\n1,2,3\n4,5,6\n", ("x", "x"), "each column once"),
    ("c.csv", "x,y,z\n1,2,3\n4,5,6\n", (), "at least one column"),
    ("c.csv", "x,y,z\n1,2,3\n4,5,6\n", ("x", ""), "at least one column"),
    ("c.csv", "1,2,3\n1,2,3\n4,5,6\n", ("x",), "needs a header row"),
    ("c.csv", "x,y,z\n1,2,3\n4,b,6\n", ("x", "y"), "cannot read data file"),
    ("c.csv", "x,y,z\n1,2,3\n4,5\n", ("x", "y"), "every row needs 3 fields"),
    ("c.npy", np.ones((4, 2)), ("x",), "--columns is for .csv files"),
]


@pytest.mark.parametrize(("name", "content", "columns", "message"), COLUMN_ERRORS)
def test_bad_columns_are_one_line(tmp_path, name, content, columns, message):
    _refused_in_one_line(tmp_path / name, content, message, files.load_file, columns)


def test_labelled_columns_refusals(tmp_path):
    (tmp_path / "l.csv").write_text("x,y,c\n1,2,0\n3,4,1\n")
    with pytest.raises(ValueError, match="must not name the label column 'c'"):
        files.load_labelled_file(tmp_path / "l.csv", "c", ("x", "c"))
    np.savez(tmp_path / "l.npz", x=np.ones((4, 2)), y=np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=re.escape("--columns is for .csv files")):
        files.load_labelled_file(tmp_path / "l.npz", columns=("x",))
