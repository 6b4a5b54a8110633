"""A model's own files beside its config: the data's units (``normalizer.json``, a
context model's ``context_normalizer.json``), a conditional model's class names
(``classes.json``), a typed table's encoder (``encoder.json``); written when a run
starts or a model is saved (:func:`write_model`), read when it loads."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil

import numpy as np

from jaxdiff.core import data, files
from jaxdiff.runs import checkpoints
from jaxdiff.runs.config import Config
from jaxdiff.runs.rundir import ENCODER, RunError, write_json, write_text

__all__ = [
    "CONTEXT_UNITS",
    "label_names_of",
    "read_normalizer",
    "write_data_units",
    "write_model",
]


def write_data_units(
    folder: pathlib.Path, norm: data.Normalizer, label_names, encoder=None, context_norm=None
) -> None:
    """What a model needs of its data, beside its config: ``normalizer.json``, for a
    conditional model (``label_names`` not None) ``classes.json``, for a typed table
    its encoder, ``encoder.json``, and for a context model ``context_normalizer.json``."""
    for name, units in (("normalizer.json", norm), (CONTEXT_UNITS, context_norm)):
        if units is not None:
            units_json = {"mean": units.mean.tolist(), "std": units.std.tolist()}
            write_text(folder / name, json.dumps(units_json))
    if label_names is not None:
        write_json(folder / "classes.json", {"names": list(label_names)})
    if encoder is not None:
        write_json(folder / ENCODER, encoder.to_dict())


# A context model's context units, beside normalizer.json.
CONTEXT_UNITS = "context_normalizer.json"


def read_normalizer(folder: pathlib.Path, name: str = "normalizer.json") -> data.Normalizer:
    path = folder / name
    try:
        d = json.loads(path.read_text())
        mean, std = (np.asarray(d[k], np.float32) for k in ("mean", "std"))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RunError(f"cannot read {str(path)!r}: {err}") from err
    if mean.ndim != 1 or mean.shape != std.shape or not np.all(std > 0):
        raise RunError(f"{str(path)!r} must hold a mean and a positive std of equal length")
    return data.Normalizer(mean, std)


def label_names_of(folder: pathlib.Path, cfg: Config) -> tuple[str, ...] | None:
    """A conditional model's class names: ``classes.json``; for runs written before it,
    a labelled file's copy (``data.npz``) or a registered set's class count."""
    if not cfg.model.conditional:
        return None
    if (folder / "classes.json").is_file():
        return tuple(json.loads((folder / "classes.json").read_text())["names"])
    if (folder / "data.npz").is_file():
        return files.load_labelled_file(folder / "data.npz")[2]
    if cfg.data.name in data.NUM_CLASSES:
        return tuple(str(i) for i in range(data.NUM_CLASSES[cfg.data.name]))
    raise RunError(f"{str(folder)!r} has no classes.json: its class names are unknown")


def write_model(path, model) -> pathlib.Path:
    """Writes ``model`` (a :class:`~jaxdiff.runs.trained.TrainedModel`) alone to a new
    directory ``path``: its config as one member, its data units, its parameters; the
    directory appears whole or not at all (a temporary sibling, renamed). Returns
    ``path``."""
    path = pathlib.Path(path)
    if path.exists():
        raise RunError(f"{str(path)!r} already exists; save writes a new directory")
    if not path.parent.is_dir():
        raise RunError(f"folder {str(path.parent)!r} does not exist")
    tmp = path.with_name(f".{path.name}.saving-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        train = dataclasses.replace(model.config.train, ensemble=1)  # one member's params
        write_text(tmp / "config.json", dataclasses.replace(model.config, train=train).to_json())
        write_data_units(
            tmp, model.normalizer, model.label_names, model.encoder, model.context_normalizer
        )
        checkpoints.save_params(tmp, model.params)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path
