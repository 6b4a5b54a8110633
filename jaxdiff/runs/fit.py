"""One call from data to a trained model: :func:`fit` takes an array, a pandas DataFrame
or a data file, sizes the ``default`` recipe to its shape (:func:`~jaxdiff.runs.presets.sized`),
trains on every row and returns the frozen :class:`~jaxdiff.runs.trained.TrainedModel`
that :func:`jaxdiff.load` returns for a run directory."""

from __future__ import annotations

import dataclasses
import os
import pathlib

import numpy as np

from jaxdiff.core import data as data_sets
from jaxdiff.core import files, tables
from jaxdiff.runs.chunks import held_out_check
from jaxdiff.runs.config import DataConfig
from jaxdiff.runs.keys import RunKeys
from jaxdiff.runs.overrides import configure_for
from jaxdiff.runs.rows import HELD_OUT_ROWS
from jaxdiff.runs.setup import from_arrays, model_params, with_context
from jaxdiff.runs.train import fit as fit_setup
from jaxdiff.runs.trained import TrainedModel

__all__ = ["ARRAY", "fit"]

# ``data.name`` of a model trained on arrays handed over in Python (its rows are not kept).
ARRAY = "array"

# Settings that say what the data are: fit takes the data and labels themselves instead.
_DATA_SETTINGS = ("conditional",)
# A context model keeps this fraction of its rows (at most HELD_OUT_ROWS) out of training
# and stops where their loss stops falling (jaxdiff.engine.stopping), checking it this many
# times over the budget (a command line's run: at each chunk of runs.train.cadence).
STOP_FRACTION = 0.1
STOP_CHECKS = 50


def _as_rows(data, labels, label_column, columns, categorical, integer):
    """``(x, y or None, class names or None, a typed table's encoder or None)`` of what
    ``fit`` was handed."""
    if isinstance(data, (str, os.PathLike)):
        path = pathlib.Path(data)
        typed = files.typed_table(path, label_column, columns, categorical, integer)
        if typed is not None:
            return typed[1], typed[2], typed[3], typed[0]
        if label_column is not None:
            x, y, names = files.load_labelled_file(path, label_column, columns)
            return x, y, names, None
        return files.load_file(path, columns), None, None, None
    if label_column is not None or columns is not None:
        raise ValueError("label_column and columns choose a .csv file's columns; fit got rows")
    encoder = None
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
        typed = categorical or integer
        typed = typed or any(k.kind not in "iuf" for k in data.dtypes)
        if typed:  # a typed table: its cells as text, read as a .csv's
            if data.isna().to_numpy().any():
                raise ValueError("data: the DataFrame has missing cells (not supported yet)")
            header = [str(c) for c in data.columns]
            body = data.astype(str).to_numpy().tolist()
            encoder = tables.TableEncoder.fit(
                header, body, categorical=files.names(categorical), integer=files.names(integer)
            )
            data = encoder.encode(body)
        else:
            data = data.to_numpy(dtype=np.float32)
    elif categorical or integer:
        raise ValueError("categorical and integer name the columns of a DataFrame or a .csv")
    x = data_sets.check_array("data", data)
    y = data_sets.check_labels(labels, x.shape[0])
    return np.asarray(x, np.float32), y, None, encoder


def fit(
    data,
    labels=None,
    *,
    context=None,
    given: str | None = None,
    preset: str = "default",
    label_column: str | None = None,
    columns: str | None = None,
    categorical: str | None = None,
    integer: str | None = None,
    out=None,
    **settings,
) -> TrainedModel:
    """Trains a model on every row of ``data`` and returns it.

    Args:
      data: rows ``(n, dim)``: a numpy array, a pandas DataFrame, or a
        ``.npy``, ``.csv`` or ``.npz`` file's path (as ``jaxdiff train --data``).
      labels: a class per row ``(n,)`` (integers from 0): the model is then
        class-conditional, as with ``--conditional``.
      context: a context per row ``(n, K)``: the model then draws rows given a context
        (a posterior ``p(θ | x)`` from simulated pairs: ``fit(theta, context=x)``), as
        with ``--given``; it samples and scores given one (``sample(n, context=c)``,
        ``log_prob(x, context=c)``).
      given: a ``.csv`` file's context columns (comma-separated) or a ``.npz``'s context
        array, as ``--given``.
      preset: the recipe (``"default"``, sized to the data's shape; ``"fast"``,
        ``"seed"``).
      label_column, columns: a ``.csv`` file's label column (a conditional model) and
        the columns that hold the rows, as the command line's flags.
      categorical, integer: columns (comma-separated names) to read as categories or
        integers. A DataFrame or ``.csv`` with a column that is not numbers, or with
        either given, is a typed table (:mod:`jaxdiff.core.tables`): the model's rows are its
        encoding, and ``TrainedModel.sample_table`` decodes samples to its columns.
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
    misplaced = sorted(set(settings) & set(_DATA_SETTINGS))
    if misplaced:
        raise TypeError(
            f"fit takes the data as its first argument and labels as its second; "
            f"drop the setting(s) {misplaced}"
        )
    if given is not None:
        if not isinstance(data, (str, os.PathLike)) or context is not None:
            raise ValueError("given names a file's context columns; give context= with rows")
        x, c = files.load_context_file(pathlib.Path(data), given, columns)
        y, names, encoder = data_sets.check_labels(labels, x.shape[0]), None, None
    else:
        x, y, names, encoder = _as_rows(data, labels, label_column, columns, categorical, integer)
        c = None if context is None else data_sets.check_context(context, x.shape[0])
    if c is not None and (y is not None or encoder is not None):
        raise ValueError("context is for rows of numbers without labels (a model takes one)")
    conditional = y is not None
    width = 0 if c is None else c.shape[1]
    cfg = configure_for(preset, x.shape[0], x.shape[1], width, conditional=conditional, **settings)
    cfg = dataclasses.replace(
        cfg, data=DataConfig(name=ARRAY, n=x.shape[0], standardize=cfg.data.standardize)
    )
    held = None
    if c is not None:
        cfg = with_context(cfg, c.shape[1])
        train, held = data_sets.split(x.shape[0], RunKeys(cfg.seed).split, _stop_fraction(x))
        x, c, held = x[train], c[train], (x[held], c[held])
    s = from_arrays(cfg, x, y, label_names=names, encoder=encoder, context=c)
    if held is None:
        state, _ = fit_setup(s)
        params, epoch = model_params(s, state), cfg.train.epochs
    else:
        params, epoch = _fit_stopping(s, *held)
    model = TrainedModel(
        config=cfg,
        params=params,
        normalizer=s.normalizer,
        label_names=s.label_names,
        epoch=epoch,
        apply_fn=s.apply_fn,
        schedule=s.schedule,
        encoder=s.encoder,
        context_normalizer=s.context_normalizer,
    )
    if out is not None:
        model.save(out)
    return model


def _stop_fraction(x) -> float:
    """The held-out fraction of a context model's rows: :data:`STOP_FRACTION`, at most
    :data:`~jaxdiff.runs.rows.HELD_OUT_ROWS` rows."""
    return min(STOP_FRACTION, HELD_OUT_ROWS / x.shape[0])


def _fit_stopping(s, x_held, c_held):
    """Trains ``s`` and returns the parameters of the lowest loss on the held-out rows
    ``x_held`` given ``c_held`` (data units) and their epoch: checked :data:`STOP_CHECKS`
    times over the budget, stopped after :data:`jaxdiff.engine.stopping.PATIENCE` checks without
    a new best (:func:`~jaxdiff.runs.chunks.held_out_check`)."""
    check, stopper = held_out_check(s, x_held, c_held)
    epochs_per_call = max(1, s.config.train.epochs // STOP_CHECKS)
    fit_setup(s, epochs_per_call=epochs_per_call, callback=lambda st, *_: check(st))
    return stopper.params, stopper.epoch
