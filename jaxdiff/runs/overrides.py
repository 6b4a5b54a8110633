"""What a command line's settings mean on top of a preset (:func:`configure`; sized to the
data's shape first: :func:`configure_for`), and whether they may resume a saved run
(:func:`resume_config`)."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from jaxdiff.core.models import NetworkConfig
from jaxdiff.engine import sampler_settings
from jaxdiff.runs.config import DATA_SETS, SCHEDULE_BETAS, Config
from jaxdiff.runs.presets import FAMILY_SAMPLERS, FAMILY_T_SAMPLERS, preset, sized

__all__ = ["NETWORK", "SETTINGS", "configure", "configure_for", "resume_config"]


def _replace(cfg: Config, section: str, **fields) -> Config:
    return dataclasses.replace(
        cfg, **{section: dataclasses.replace(getattr(cfg, section), **fields)}
    )


def _data(cfg: Config, name: str) -> Config:
    if name in DATA_SETS:
        return _replace(cfg, "data", name=name, path=None)
    if name.endswith((".npy", ".csv", ".npz")):
        # Read (and refused, if bad) when the run is set up, before anything is written.
        return _replace(cfg, "data", name="file", path=str(pathlib.Path(name).resolve()))
    raise ValueError(
        f"--data: must be one of {sorted(DATA_SETS)} or a .npy/.csv/.npz file, got {name!r}"
    )


def _epochs(cfg: Config, epochs: int) -> Config:
    cfg = _replace(cfg, "train", epochs=epochs, steps=None)  # given, not derived
    if cfg.train.lr_schedule == "cosine":
        # The decay spans the run asked for (a resumed run keeps its saved horizon).
        cfg = _replace(cfg, "train", lr_decay_epochs=epochs)
    return cfg


def _schedule(cfg: Config, kind: str) -> Config:
    start, end = SCHEDULE_BETAS[kind] if kind in SCHEDULE_BETAS else (None, None)
    return _replace(cfg, "schedule", kind=kind, beta_start=start, beta_end=end)


def _objective(cfg: Config, objective: str) -> Config:
    """The objective with the family's own time draw (``t_sampler``, applied after, may
    change it), and the family's own sampler where the config's is the other's."""
    cfg = _replace(cfg, "train", objective=objective, t_sampler=FAMILY_T_SAMPLERS[objective])
    if (objective == "flow") != (cfg.sample.method in sampler_settings.FLOW_METHODS):
        own = FAMILY_SAMPLERS[objective]
        cfg = dataclasses.replace(cfg, sample=dataclasses.replace(own, n=cfg.sample.n))
    return cfg


# Each setting of a command line and what it sets, in the order they apply: ``data``
# first, because a file switches standardisation on and ``standardize`` may switch it off.
# The network's options (NETWORK) are settings too, applied together after these.
_SETTINGS = {
    "data": _data,
    "conditional": lambda c, v: _replace(c, "model", conditional=v),
    "label_column": lambda c, v: _replace(c, "data", label_column=v),
    "columns": lambda c, v: _replace(c, "data", columns=v),
    "categorical": lambda c, v: _replace(c, "data", categorical=v),
    "integer": lambda c, v: _replace(c, "data", integer=v),
    "given": lambda c, v: _replace(c, "data", given=v),
    "label_drop": lambda c, v: _replace(c, "train", label_drop=v),
    "guidance": lambda c, v: _replace(c, "sample", guidance=v),
    "epochs": _epochs,
    "batch_size": lambda c, v: _replace(c, "train", batch_size=v),
    "learning_rate": lambda c, v: _replace(c, "train", learning_rate=v),
    "target": lambda c, v: _replace(c, "train", target=v),
    "objective": _objective,
    "pairing": lambda c, v: _replace(c, "train", pairing=v),
    "t_sampler": lambda c, v: _replace(c, "train", t_sampler=v),
    "ema_decay": lambda c, v: _replace(c, "train", ema_decay=v or None),
    "ensemble": lambda c, v: _replace(c, "train", ensemble=v),
    "standardize": lambda c, v: _replace(c, "data", standardize=v),
    "num_steps": lambda c, v: _replace(c, "schedule", num_steps=v),
    "schedule": _schedule,
    "seed": lambda c, v: dataclasses.replace(c, seed=v),
}
# Every option of the network, by its own name (declared by models.NetworkConfig).
NETWORK = tuple(f.name for f in dataclasses.fields(NetworkConfig))
# Every setting configure takes; the command line's flags are named after them.
SETTINGS = (*_SETTINGS, *NETWORK)


def configure(base: Config, *, context: bool = False, **settings) -> Config:
    """``base`` with the named settings (:data:`SETTINGS`; None: not given) applied, as a
    command line means them: every option of the network by its name, ``data`` a
    registered name or a ``.npy``/``.csv`` path (files are standardised
    unless ``standardize=False``), ``epochs`` also the horizon of a cosine learning rate,
    ``ema_decay=0`` no EMA, ``schedule`` a kind with that kind's own betas. ``context``:
    the model is given a context (rows handed to ``jaxdiff.fit`` with one), so that
    ``label_drop`` and ``guidance`` apply as they do with ``conditional`` or ``given``."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown}; known: {sorted(SETTINGS)}")
    given = {k: v for k, v in settings.items() if v is not None}
    conditioned = given.get("conditional") or given.get("given") is not None or context
    if not conditioned and (
        given.get("label_drop") is not None or given.get("guidance") is not None
    ):
        raise ValueError("--label-drop and --guidance need --conditional or --given")
    if given.get("conditional") is False:
        del given["conditional"]
    cfg = base
    for name, apply in _SETTINGS.items():
        if name in given:
            cfg = apply(cfg, given[name])
            if name == "data" and cfg.data.name == "file":
                cfg = _replace(cfg, "data", standardize=True)
    network = {name: given[name] for name in NETWORK if name in given}
    if network:  # together: NetworkConfig checks the combination
        cfg = _replace(cfg, "model", **network)
    batch = given.get("batch_size")
    if batch is not None and batch > cfg.data.n and cfg.data.name not in ("file", "digits"):
        raise ValueError(f"--batch-size: must be at most the data size {cfg.data.n}, got {batch}")
    return cfg


# Settings a preset does not hold: a run's own, kept from the saved run unless given.
_RUN_OWN = (
    (
        "data",
        (
            "name",
            "path",
            "n",
            "held_out",
            "label_column",
            "columns",
            "categorical",
            "integer",
            "given",
        ),
    ),
    ("model", ("conditional", "context")),
)


def _fields(cfg: Config) -> dict[str, Any]:
    out = {}
    for section, value in cfg.to_dict().items():
        if isinstance(value, dict):
            out.update({f"{section}.{k}": v for k, v in value.items()})
        else:
            out[section] = value
    return out


def configure_for(
    preset_name: str, rows: int, columns: int, context: int = 0, /, **settings
) -> Config:
    """:func:`configure` on the preset ``preset_name`` sized for ``rows`` training rows of
    ``columns`` columns (given a context of ``context`` columns): the ``default`` preset
    is first sized to the shape
    (:func:`~jaxdiff.runs.presets.sized`), so that a setting given by name always wins;
    the other presets are fixed recipes. The shape is positional only: ``columns`` among
    ``settings`` is the setting (a ``.csv``'s columns to read), not the width."""
    base = preset(preset_name)
    if preset_name == "default":
        base = sized(base, rows, columns, context=context)
    return configure(base, context=context > 0, **settings)


def resume_config(
    saved: Config,
    preset_name: str | None = None,
    *,
    epochs: int | None = None,
    shape: tuple[int, int, int] | None = None,
    **settings,
) -> Config:
    """The config to resume ``saved`` with, given a command line's preset and settings.

    A setting the command line gives must equal the saved one, as the command that started
    the run gives it; ``preset_name`` stands for every setting of that preset (not the data,
    the seed or ``conditional``, which the run holds). Only ``epochs`` may differ. A
    difference raises ``ValueError`` naming the setting, the saved value and the given one.
    (:func:`jaxdiff.runs.train.train_run` refuses more epochs than the run's rate
    learns in: a cosine rate's horizon is part of the run.) ``shape``: the run's training
    ``(rows, columns, context columns)``, which size the ``default`` preset as when the
    run started.
    """
    base = saved
    if preset_name is not None and saved.data.name == "file" and settings.get("data") is None:
        settings["data"] = saved.data.path  # as the command that started the run gave it
    if preset_name is not None:
        base = preset(preset_name)
        if preset_name == "default" and shape is not None:
            base = sized(base, shape[0], shape[1], context=shape[2])
        base = dataclasses.replace(base, seed=saved.seed)
        for section, names in _RUN_OWN:
            own = {n: getattr(getattr(saved, section), n) for n in names}
            base = _replace(base, section, **own)
    given = configure(base, context=saved.model.context > 0, **settings)
    old, new = _fields(saved), _fields(given)
    for name in old:
        if name in ("train.epochs", "train.lr_decay_epochs", "train.steps"):
            continue
        if old[name] != new[name]:
            raise ValueError(
                f"--resume: the run was started with {name} = {old[name]!r}, this command "
                f"line gives {new[name]!r}; only --epochs may change"
            )
    return saved if epochs is None else _replace(saved, "train", epochs=epochs)
