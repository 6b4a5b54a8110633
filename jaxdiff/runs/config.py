"""Run settings as frozen dataclasses, the presets, the JSON round-trip, and the meaning
of a command line's settings. Pure data: nothing here builds a model or reads a file.

:func:`configure` applies named settings (what the command line's flags say) on top of a
preset; :func:`resume_config` decides whether a command line agrees with a saved run.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

from jaxdiff import validate

__all__ = [
    "DATA_SETS",
    "PRESETS",
    "Config",
    "DataConfig",
    "DistillConfig",
    "ModelConfig",
    "SampleConfig",
    "ScheduleConfig",
    "TrainConfig",
    "configure",
    "preset",
    "resume_config",
]

# The registered data sets (``jaxdiff.data.DATASETS``), their classes and fixed sets, as
# names: settings are checked against them without importing the data module.
DATA_SETS = (
    "s_curve",
    "moons",
    "swiss_roll",
    "circles",
    "eight_gaussians",
    "checkerboard",
    "digits",
)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which data set, how many points, and whether to standardise it.

    ``name`` is a registered data set, or ``"file"`` with ``path`` a ``.npy``, ``.csv``
    or ``.npz`` file (a run keeps a copy: ``data.npy``, or ``data.npz`` with the labels
    of a conditional run). ``label_column`` names a labelled ``.csv``'s label column.
    ``n`` is ignored by fixed sets (files, ``digits``), which hold out ``held_out`` of
    their rows for evaluation.
    """

    name: str = "s_curve"
    n: int = 10_000
    standardize: bool = False
    path: str | None = None
    held_out: float = 0.2
    label_column: str | None = None


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """The noise schedule: ``kind`` in sigmoid (seed) | linear | cosine."""

    kind: str = "sigmoid"
    num_steps: int = 100
    beta_start: float | None = 1e-5
    beta_end: float | None = 5e-3


# The betas each schedule kind takes when the kind is set by name (None: the kind's own).
SCHEDULE_BETAS = {"sigmoid": (1e-5, 5e-3), "linear": (None, None), "cosine": (None, None)}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """``MLPDenoiser``: sizes, initialisation and the options of the small-data recipes
    (input features, step encoding, residual blocks, activation; tabulated inputs, which
    only a distilled light student has); the defaults are the seed's ``MLPDiffusion``,
    written out so that reading settings does not import flax (a test keeps them equal to
    ``MLPDenoiser``'s)."""

    width: int = 128
    depth: int = 3
    init_style: str = "torch"
    conditional: bool = False
    input_features: str = "none"
    feature_size: int = 128
    feature_scale: float = 25.0
    time_embedding: str = "table"
    residual: bool = False
    activation: str = "relu"
    input_table: int = 0
    input_bound: float = 8.0


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimiser and loop settings.

    ``lr_schedule`` is ``"constant"`` (seed) or ``"cosine"``: linear warm-up over
    ``warmup_steps``, then cosine decay to zero over ``lr_decay_epochs`` epochs (a fixed
    horizon, so that resuming with more ``epochs`` replays the same rates).
    """

    epochs: int = 4000
    batch_size: int = 128
    learning_rate: float = 1e-3
    clip_norm: float | None = 1.0
    target: str = "eps"
    t_sampler: str = "antithetic"
    ema_decay: float | None = None
    lr_schedule: str = "constant"
    lr_decay_epochs: int = 0
    warmup_steps: int = 0
    ensemble: int = 1
    label_drop: float = 0.1


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    """How ``sample`` and ``demo`` draw: the fields of ``samplers.SamplerOptions`` (``steps
    = 0``: all T; ``spacing`` None: the method's own), the number of samples a run draws,
    and the guidance weight."""

    method: str = "ddpm"
    steps: int = 0
    spacing: str | None = None
    eta: float = 0.0
    variance: str = "beta"
    last_step_noise: bool = True
    n: int = 10_000
    guidance: float = 0.0
    churn: float = 0.0


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """A distilled student's origin (``jaxdiff distill``): the ``teacher`` run directory,
    the ``method`` (``"direct"``: endpoints at ``steps`` noise levels, sampled by
    ``restart``; ``"progressive"``: rounds halving from ``start_steps`` DDIM steps), the
    student's ``steps``, and the ``iterations`` (per round for progressive) and peak
    ``learning_rate``, None for the method's own (direct 6000 at 1e-3, 12,000 for the
    light student; progressive 1000 per round at 3e-4), the ``student``'s network:
    ``"teacher"`` (the teacher's own) or ``"light"`` (direct only: the teacher's made
    cheaper by ``models.lighten``), and (direct only) the ``pairs`` of points and teacher
    endpoints per noise level it learns from, None for the student's own (20,000; light
    40,000). ``teacher`` None: an ordinary run."""

    teacher: str | None = None
    method: str = "direct"
    steps: int = 4
    start_steps: int = 64
    iterations: int | None = None
    learning_rate: float | None = None
    student: str = "teacher"
    pairs: int | None = None


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a run; ``config.json`` in a run directory is its JSON form."""

    data: DataConfig = DataConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    sample: SampleConfig = SampleConfig()
    distill: DistillConfig = DistillConfig()
    seed: int = 1234

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        """Rebuilds a config; unknown or ill-typed entries raise ValueError naming them."""
        if not isinstance(d, dict):
            raise ValueError(f"config must be a JSON object, got {type(d).__name__}")
        _no_unknown("config has unknown section(s)", d, [*_SECTIONS, "seed"])
        kwargs: dict[str, Any] = {}
        for name, value in d.items():
            if name == "seed":
                kwargs[name] = validate.non_negative_int("config seed", value)
                continue
            sub_cls = _SECTIONS[name]
            if not isinstance(value, dict):
                raise ValueError(f"config section {name!r} must be an object, got {value!r}")
            fields = {f.name: f for f in dataclasses.fields(sub_cls)}
            _no_unknown(f"config section {name!r} has unknown key(s)", value, fields)
            if name == "distill" and value.get("teacher") and "method" not in value:
                value = {**value, "method": "progressive"}  # a student from before "direct"
            defaults = sub_cls()
            for key, v in value.items():
                _check_type(f"{name}.{key}", v, getattr(defaults, key), fields[key].type)
            kwargs[name] = sub_cls(**value)
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> Config:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"config is not valid JSON: {err.msg} at line {err.lineno}") from err
        return cls.from_dict(d)


_SECTIONS = {
    "data": DataConfig,
    "schedule": ScheduleConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "sample": SampleConfig,
    "distill": DistillConfig,
}


def _no_unknown(what: str, given, known) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"{what} {unknown}")


def _check_type(name: str, value, default, annotation: str) -> None:
    allowed: tuple[type, ...]
    if "bool" in annotation:
        allowed = (bool,)
    elif "float" in annotation:
        allowed = (int, float)
    elif "int" in annotation:
        allowed = (int,)
    else:
        allowed = (str,)
    if value is None and "None" in annotation:
        return
    if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
        raise ValueError(
            f"config {name} must be of type {annotation}, got {value!r} (default {default!r})"
        )


PRESETS: dict[str, Config] = {
    # Every constant and quirk of the seed (the seed's demo, README "The seed").
    "seed": Config(),
    # The least training time to the seed's 4000-epoch quality, chosen by measurement
    # (benchmarks/fast_preset.py, README): unit-variance data, a schedule that reaches
    # noise, large batches with a decaying learning rate, EMA, and DPM-Solver++; Flax's
    # initialisation (the seed's N(0, 1) step embeddings keep the MLP near its linear
    # solution on `circles`: loss 0.996 and precision 0.55, against 0.947 and 0.90).
    "fast": Config(
        data=DataConfig(standardize=True),
        model=ModelConfig(init_style="flax"),
        schedule=ScheduleConfig(kind="cosine", num_steps=100, beta_start=None, beta_end=None),
        train=TrainConfig(
            epochs=150,
            batch_size=256,
            learning_rate=3e-3,
            clip_norm=1.0,
            target="v",
            t_sampler="antithetic",
            ema_decay=0.99,
            lr_schedule="cosine",
            lr_decay_epochs=150,
            warmup_steps=100,
        ),
        sample=SampleConfig(
            method="dpm-solver", steps=20, variance="beta_tilde", last_step_noise=False
        ),
    ),
}


# The default of `jaxdiff train`: chosen by measurement on every registered 2-D data set
# by MMD², precision, recall and sliced W2 beside their floors, against the peer recipe
# (benchmarks/recipes.py, README): random Fourier features of each coordinate, sinusoidal
# step features, residual GELU blocks; a cosine schedule of 1000 steps (fewer points left
# between modes than with 100), v target, EMA; large batches at a decaying rate. Its
# sampler is ancestral over 100 of the 1000 steps (DDIM with eta = 1, i.e. the posterior
# variance of the coarser chain): within the same bounds as all 1000 steps, 10x faster.
PRESETS["default"] = Config(
    data=DataConfig(standardize=True),
    model=ModelConfig(
        init_style="flax",
        input_features="fourier",
        feature_size=128,
        feature_scale=3.0,
        time_embedding="sinusoidal",
        residual=True,
        activation="gelu",
    ),
    schedule=ScheduleConfig(kind="cosine", num_steps=1000, beta_start=None, beta_end=None),
    train=TrainConfig(
        epochs=120,
        batch_size=512,
        learning_rate=5e-3,
        clip_norm=1.0,
        target="v",
        t_sampler="antithetic",
        ema_decay=0.99,
        lr_schedule="cosine",
        lr_decay_epochs=120,
        warmup_steps=100,
    ),
    sample=SampleConfig(method="ddim", steps=100, eta=1.0),
)


def preset(name: str) -> Config:
    """The named preset's :class:`Config`."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


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
        f"--data must be one of {sorted(DATA_SETS)} or a .npy/.csv/.npz file, got {name!r}"
    )


def _epochs(cfg: Config, epochs: int) -> Config:
    cfg = _replace(cfg, "train", epochs=epochs)
    if cfg.train.lr_schedule == "cosine":
        # The decay spans the run asked for (a resumed run keeps its saved horizon).
        cfg = _replace(cfg, "train", lr_decay_epochs=epochs)
    return cfg


def _schedule(cfg: Config, kind: str) -> Config:
    start, end = SCHEDULE_BETAS[kind] if kind in SCHEDULE_BETAS else (None, None)
    return _replace(cfg, "schedule", kind=kind, beta_start=start, beta_end=end)


# Each setting of a command line and what it sets, in the order they apply: ``data``
# first, because a file switches standardisation on and ``standardize`` may switch it off.
_SETTINGS = {
    "data": _data,
    "conditional": lambda c, v: _replace(c, "model", conditional=v),
    "label_column": lambda c, v: _replace(c, "data", label_column=v),
    "label_drop": lambda c, v: _replace(c, "train", label_drop=v),
    "guidance": lambda c, v: _replace(c, "sample", guidance=v),
    "epochs": _epochs,
    "batch_size": lambda c, v: _replace(c, "train", batch_size=v),
    "learning_rate": lambda c, v: _replace(c, "train", learning_rate=v),
    "target": lambda c, v: _replace(c, "train", target=v),
    "ema_decay": lambda c, v: _replace(c, "train", ema_decay=v or None),
    "ensemble": lambda c, v: _replace(c, "train", ensemble=v),
    "standardize": lambda c, v: _replace(c, "data", standardize=v),
    "width": lambda c, v: _replace(c, "model", width=v),
    "depth": lambda c, v: _replace(c, "model", depth=v),
    "input_features": lambda c, v: _replace(c, "model", input_features=v),
    "feature_scale": lambda c, v: _replace(c, "model", feature_scale=v),
    "time_embedding": lambda c, v: _replace(c, "model", time_embedding=v),
    "residual": lambda c, v: _replace(c, "model", residual=v),
    "activation": lambda c, v: _replace(c, "model", activation=v),
    "num_steps": lambda c, v: _replace(c, "schedule", num_steps=v),
    "schedule": _schedule,
    "seed": lambda c, v: dataclasses.replace(c, seed=v),
}


def configure(base: Config, **settings) -> Config:
    """``base`` with the named settings applied (None: not given), as a command line means
    them: ``data`` a registered name or a ``.npy``/``.csv`` path (files are standardised
    unless ``standardize=False``), ``epochs`` also the horizon of a cosine learning rate,
    ``ema_decay=0`` no EMA, ``schedule`` a kind with that kind's own betas."""
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown}; known: {sorted(_SETTINGS)}")
    given = {k: v for k, v in settings.items() if v is not None}
    if not given.get("conditional") and (
        given.get("label_drop") is not None or given.get("guidance") is not None
    ):
        raise ValueError("--label-drop and --guidance need --conditional")
    if given.get("conditional") is False:
        del given["conditional"]
    cfg = base
    for name, apply in _SETTINGS.items():
        if name in given:
            cfg = apply(cfg, given[name])
            if name == "data" and cfg.data.name == "file":
                cfg = _replace(cfg, "data", standardize=True)
    batch = given.get("batch_size")
    if batch is not None and batch > cfg.data.n and cfg.data.name not in ("file", "digits"):
        raise ValueError(f"--batch-size must be at most the data size {cfg.data.n}, got {batch}")
    return cfg


# Settings a preset does not hold: a run's own, kept from the saved run unless given.
_RUN_OWN = (
    ("data", ("name", "path", "n", "held_out", "label_column")),
    ("model", ("conditional",)),
)


def _fields(cfg: Config) -> dict[str, Any]:
    out = {}
    for section, value in cfg.to_dict().items():
        if isinstance(value, dict):
            out.update({f"{section}.{k}": v for k, v in value.items()})
        else:
            out[section] = value
    return out


def resume_config(
    saved: Config, preset_name: str | None = None, *, epochs: int | None = None, **settings
) -> Config:
    """The config to resume ``saved`` with, given a command line's preset and settings.

    A setting the command line gives must equal the saved one, as the command that started
    the run gives it; ``preset_name`` stands for every setting of that preset (not the data,
    the seed or ``conditional``, which the run holds). Only ``epochs`` may differ. A
    difference raises ``ValueError`` naming the setting, the saved value and the given one.

    A run with a cosine learning rate cannot be resumed past its rate's horizon (the
    epochs it was started with), where the rate is 0: that raises ``ValueError`` naming
    the horizon, rather than training at rate 0.
    """
    base = saved
    if preset_name is not None and saved.data.name == "file" and settings.get("data") is None:
        settings["data"] = saved.data.path  # as the command that started the run gave it
    if preset_name is not None:
        base = preset(preset_name)
        base = dataclasses.replace(base, seed=saved.seed)
        for section, names in _RUN_OWN:
            own = {n: getattr(getattr(saved, section), n) for n in names}
            base = _replace(base, section, **own)
    given = configure(base, **settings)
    old, new = _fields(saved), _fields(given)
    for name in old:
        if name in ("train.epochs", "train.lr_decay_epochs"):
            continue
        if old[name] != new[name]:
            raise ValueError(
                f"--resume: the run was started with {name} = {old[name]!r}, this command "
                f"line gives {new[name]!r}; only --epochs may change"
            )
    if epochs is None:
        return saved
    horizon = saved.train.lr_decay_epochs
    if saved.train.lr_schedule == "cosine" and epochs > horizon:
        # The rate's horizon is part of the run (its decay is what the checkpoints'
        # optimiser state has followed); past it the cosine schedule gives 0.
        raise ValueError(
            f"--epochs {epochs}: the run's learning rate decays to 0 at epoch {horizon} "
            f"(a cosine schedule over the --epochs it was started with), so epochs "
            f"{horizon + 1} to {epochs} would not learn; resume with --epochs {horizon} at "
            f"most, or start a new run with --epochs {epochs}"
        )
    return _replace(saved, "train", epochs=epochs)
