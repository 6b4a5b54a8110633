"""The real tables of benchmarks/tables.py and benchmarks/impute.py and the scoring of
ForestDiffusion's protocol (Jolicoeur-Martineau et al., AISTATS 2024, arXiv:2309.09968):
the data sets, their stratified splits, the scoring space, exact W1 and coverage."""

from __future__ import annotations

import numpy as np
from sklearn import datasets, metrics, model_selection

SETS = {
    "iris": (datasets.load_iris, "class"),
    "wine": (datasets.load_wine, "class"),
    "breast_cancer": (datasets.load_breast_cancer, "class"),
    "diabetes": (datasets.load_diabetes, "target"),
    "digits": (datasets.load_digits, "class"),
    # A typed table (categories, integers, numbers): PyPI palmerpenguins' bundled CSV, the
    # species as the class, rows with a missing cell left out.
    "penguins": (None, "class"),
}


def _statsmodels(name: str, target: str):
    """A loader of statsmodels' bundled data set ``name`` (PyPI ``statsmodels``, bench
    extra): its numeric columns, ``target`` apart, rows with a missing cell left out."""

    def load(return_X_y=True):
        import statsmodels.api as sm

        frame = getattr(sm.datasets, name).load_pandas().data
        frame = frame.select_dtypes("number").dropna()
        y = frame[target].to_numpy()
        return frame.drop(columns=[target]).to_numpy(np.float64), y

    return load


# Tables kept apart to check the default, never used to choose it (issue 46): other shapes,
# from 32 rows to 20,190 and from 3 columns to 21 (`--sets spector,...`, its own section).
CHECK_SETS = {
    "spector": (_statsmodels("spector", "GRADE"), "class"),  # 32 x 3, binary class
    "statecrime": (_statsmodels("statecrime", "murder"), "target"),  # 51 x 5
    "grunfeld": (_statsmodels("grunfeld", "invest"), "target"),  # 220 x 3 (+ year)
    "star98": (_statsmodels("star98", "NABOVE"), "target"),  # 303 x 21
    "anes96": (_statsmodels("anes96", "PID"), "class"),  # 944 x 10, 7 classes
    "fair": (_statsmodels("fair", "affairs"), "target"),  # 6,366 x 8
    "randhie": (_statsmodels("randhie", "mdvis"), "target"),  # 20,190 x 9
}
SETS.update(CHECK_SETS)
SET_ORDER = tuple(SETS)


def load(name: str):
    """``(x, y, classifier)``: ``x`` numbers, or for a typed table its text cells
    (an object array, the header as ``x.header``)."""
    if name == "penguins":
        return penguins()
    loader, kind = SETS[name]
    x, y = loader(return_X_y=True)
    if kind == "class":  # classes as 0 … C-1 (statsmodels' are floats)
        y = np.unique(np.asarray(y), return_inverse=True)[1]
    return np.asarray(x, np.float64), np.asarray(y), kind == "class"


class Cells(np.ndarray):
    """Text cells of a typed table, with its ``header``."""

    header: tuple[str, ...] = ()


def penguins():
    import csv
    import importlib.resources

    text = importlib.resources.files("palmerpenguins").joinpath("data/penguins.csv")
    rows = list(csv.reader(text.read_text().splitlines()))
    header, body = rows[0], [r for r in rows[1:] if "NA" not in r]
    label = header.index("species")
    species = sorted({r[label] for r in body})
    y = np.array([species.index(r[label]) for r in body])
    cells = np.array([[c for j, c in enumerate(r) if j != label] for r in body], object)
    cells = cells.view(Cells)
    cells.header = tuple(h for j, h in enumerate(header) if j != label)
    return cells, y, True


def splits(y, classifier: bool, count: int):
    strata = y if classifier else np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75]))
    cut = model_selection.StratifiedShuffleSplit(n_splits=count, test_size=0.2, random_state=0)
    yield from cut.split(np.zeros(len(y)), strata)


class Space:
    """The protocol's scoring space: min-max of the training split, labels one-hot ÷ 2."""

    def __init__(self, x, y, classifier: bool):
        self.classifier = classifier
        self.classes = np.unique(y) if classifier else None
        full = x if classifier else np.column_stack([x, y])
        self.low, span = full.min(0), np.ptp(full, 0)
        self.span = np.where(span > 0, span, 1.0)

    def __call__(self, x, y):
        full = x if self.classifier else np.column_stack([x, y])
        z = (full - self.low) / self.span
        if self.classifier:
            z = np.column_stack([z, (y[:, None] == self.classes[None]).astype(float) / 2])
        return z


def l1(a, b):
    return metrics.pairwise_distances(a, b, metric="cityblock")


def w1(a, b) -> float:
    import ot

    return float(ot.emd2(ot.unif(len(a)), ot.unif(len(b)), l1(a, b), numItermax=10_000_000))


def coverage(real, fake) -> float:
    own = l1(real, real)
    own_sorted = np.sort(own, axis=1)  # column 0: the row itself

    def cover(k, nearest):
        return float(np.mean(nearest < own_sorted[:, k]))

    k, reached = 1, 0.0
    while reached < 0.95 and k < len(real) - 1:
        reached = cover(k, own_sorted[:, 0])
        k += 1
    return cover(k, l1(real, fake).min(1))
