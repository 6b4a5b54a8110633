"""One call from data to a trained model: :func:`fit` takes an array, a pandas DataFrame
or a data file, sizes the ``default`` recipe to its shape (:func:`~jaxdiff.runs.presets.sized`),
trains on every row and returns the frozen :class:`~jaxdiff.runs.trained.TrainedModel`
that :func:`jaxdiff.load` returns for a run directory."""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np

from jaxdiff import data as data_sets
from jaxdiff import files
from jaxdiff.runs.config import DataConfig
from jaxdiff.runs.overrides import configure_for
from jaxdiff.runs.setup import from_arrays, model_params
from jaxdiff.runs.train import fit as fit_setup
from jaxdiff.runs.trained import TrainedModel

__all__ = ["ARRAY", "fit"]

# ``data.name`` of a model trained on arrays handed over in Python (its rows are not kept).
ARRAY = "array"

# Settings that say where the data comes from: fit takes the data itself instead.
_DATA_SETTINGS = ("data", "columns", "label_column", "conditional")


def _as_rows(data, labels, label_column, columns):
    """``(x, y or None, class names or None)`` of what ``fit`` was handed."""
    if isinstance(data, (str, os.PathLike)):
        path = pathlib.Path(data)
        if label_column is not None:
            x, y, names = files.load_labelled_file(path, label_column, columns)
            return x, y, names
        return files.load_file(path, columns), None, None
    if label_column is not None or columns is not None:
        raise ValueError("label_column and columns choose a .csv file's columns; fit got rows")
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
        kinds = getattr(data, "dtypes", None)
        if kinds is not None:
            bad = [str(c) for c, k in zip(data.columns, kinds, strict=True) if k.kind not in "biuf"]
            if bad:
                raise ValueError(
                    f"data: columns {bad} are not numbers; fit takes numeric columns (give "
                    "the numeric ones, e.g. df.select_dtypes('number'))"
                )
        data = data.to_numpy(dtype=np.float32)
    x = data_sets.check_array("data", data)
    y = data_sets.check_labels(labels, x.shape[0])
    return np.asarray(x, np.float32), y, None


def fit(
    data,
    labels=None,
    *,
    preset: str = "default",
    label_column: str | None = None,
    columns: str | None = None,
    out=None,
    **settings,
) -> TrainedModel:
    """Trains a model on every row of ``data`` and returns it.

    Args:
      data: rows ``(n, dim)``: a numpy array, a pandas DataFrame of numeric columns, or a
        ``.npy``, ``.csv`` or ``.npz`` file's path (as ``jaxdiff train --data``).
      labels: a class per row ``(n,)`` (integers from 0): the model is then
        class-conditional, as with ``--conditional``.
      preset: the recipe (``"default"``, sized to the data's shape; ``"fast"``,
        ``"seed"``).
      label_column, columns: a ``.csv`` file's label column (a conditional model) and
        the columns that hold the rows, as the command line's flags.
      out: a new directory to save the model into (:meth:`TrainedModel.save`), or None.
      **settings: the command line's training settings by name (``epochs``,
        ``batch_size``, ``objective``, ``pairing``, ``width``, ``input_features``, ``seed``,
        …: :data:`jaxdiff.runs.overrides.SETTINGS`); each wins over the preset and the
        size rule.

    Returns:
      The :class:`~jaxdiff.runs.trained.TrainedModel` (``sample``, ``log_prob``,
      ``save``), its parameters the EMA where the recipe keeps one.

    Example:
      >>> model = jaxdiff.fit(np.random.default_rng(0).normal(size=(200, 3)))  # doctest: +SKIP
      >>> model.sample(5, seed=0).shape                                          # doctest: +SKIP
      (5, 3)
    """
    given = sorted(set(settings) & set(_DATA_SETTINGS))
    if given:
        raise TypeError(
            f"fit takes the data as its first argument and labels as its second; "
            f"drop the setting(s) {given}"
        )
    x, y, names = _as_rows(data, labels, label_column, columns)
    conditional = y is not None
    cfg = configure_for(preset, x.shape[0], x.shape[1], conditional=conditional, **settings)
    cfg = dataclasses.replace(
        cfg, data=DataConfig(name=ARRAY, n=x.shape[0], standardize=cfg.data.standardize)
    )
    s = from_arrays(cfg, x, y, label_names=names)
    state, _ = fit_setup(s)
    model = TrainedModel(
        config=cfg,
        params=model_params(s, state),
        normalizer=s.normalizer,
        label_names=s.label_names,
        epoch=cfg.train.epochs,
        apply_fn=s.apply_fn,
        schedule=s.schedule,
    )
    if out is not None:
        model.save(out)
    return model
