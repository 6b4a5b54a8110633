"""Run settings as frozen dataclasses and their JSON round-trip (``config.json``). Pure
data: nothing here builds a model or reads a file.

The named recipes are in :mod:`~jaxdiff.runs.presets`; what a command line's settings
mean on top of one, and whether they may resume a saved run, in
:mod:`~jaxdiff.runs.overrides`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from jaxdiff.core import data, validate
from jaxdiff.core.models import NetworkConfig
from jaxdiff.engine.sampler_settings import SamplerSettings

__all__ = [
    "DATA_SETS",
    "SCHEDULE_BETAS",
    "Config",
    "DataConfig",
    "DistillConfig",
    "ModelConfig",
    "ReflowConfig",
    "SampleConfig",
    "ScheduleConfig",
    "TrainConfig",
]

# The names of the registered data sets.
DATA_SETS = tuple(data.DATASETS)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which data set, how many points, and whether to standardise it.

    ``name`` is a registered data set, or ``"file"`` with ``path`` a ``.npy``, ``.csv``
    or ``.npz`` file (a run keeps a copy: ``data.npy``, or ``data.npz`` with the labels
    of a conditional run). ``label_column`` names a labelled ``.csv``'s label column and
    ``columns`` the header's columns that hold the rows (comma-separated, in order; None:
    every column, the label column apart). ``categorical`` and ``integer`` name a
    ``.csv``'s columns of those types (comma-separated); a ``.csv`` with a column that is
    not numbers, or with either given, is a typed table (:mod:`jaxdiff.core.tables`).
    ``given`` names a ``.csv``'s columns that are the context each row is drawn given
    (comma-separated; a ``.npz`` holds it as ``context``): the model learns the other
    columns given these (a posterior ``p(θ | x)``, a regression's ``p(y | x)``).
    ``n`` is ignored by fixed sets (files, ``digits``), which hold out ``held_out`` of
    their rows for evaluation.
    """

    name: str = "s_curve"
    n: int = 10_000
    standardize: bool = False
    path: str | None = None
    held_out: float = 0.2
    label_column: str | None = None
    columns: str | None = None
    categorical: str | None = None
    integer: str | None = None
    given: str | None = None


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
class ModelConfig(NetworkConfig):
    """The network: its options, declared once by :class:`jaxdiff.core.models.NetworkConfig`
    (sizes, initialisation, input features, step encoding, residual blocks, activation;
    tabulated inputs, which only a distilled light student has), whether the model is
    class-conditional (its number of classes comes from the data), and the columns of a
    context model's context (0: none; from the data)."""

    conditional: bool = False
    context: int = 0

    @property
    def network(self) -> NetworkConfig:
        """The network's options alone."""
        fields = dataclasses.fields(NetworkConfig)
        return NetworkConfig(**{f.name: getattr(self, f.name) for f in fields})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimiser and loop settings.

    ``lr_schedule`` is ``"constant"`` (seed) or ``"cosine"``: linear warm-up over
    ``warmup_steps``, then cosine decay to zero over ``lr_decay_epochs`` epochs (a fixed
    horizon, so that resuming with more ``epochs`` replays the same rates).

    ``objective`` is ``"ddpm"`` (the seed's denoising loss, with ``target``) or ``"flow"``
    (flow matching, :mod:`jaxdiff.flow.flows`: the network predicts the velocity, ``target``
    is not used), with ``pairing`` of data and noise ``"independent"`` or ``"ot"``.
    ``t_sampler`` is the objective's draw of times (a flow's may be ``"logit_normal"``).
    ``steps``: the optimiser-step budget that :func:`jaxdiff.runs.presets.sized` derived
    ``epochs`` (and ``batch_size``) from for the data's shape; None where the epochs were
    given.
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
    objective: str = "ddpm"
    pairing: str = "independent"
    steps: int | None = None


@dataclasses.dataclass(frozen=True)
class SampleConfig(SamplerSettings):
    """How ``sample`` and ``demo`` draw: the sampler, declared once by
    :class:`jaxdiff.engine.sampler_settings.SamplerSettings` (``steps`` None: all T;
    ``spacing`` None: the method's own; ``guidance``: the run's own weight), and the
    number of samples a run draws."""

    n: int = 10_000


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """A distilled student's origin (``jaxdiff distill``): the ``teacher`` run directory,
    the ``method`` (``"direct"``: endpoints at ``steps`` noise levels, sampled by
    ``restart``; ``"progressive"``: rounds halving from ``start_steps`` DDIM steps), the
    student's ``steps``, and the ``iterations`` (per round for progressive) and peak
    ``learning_rate``, None for the method's own (direct 6000 at 1e-3, 12,000 for the
    light student; progressive 1000 per round at 3e-4), the ``student``'s network:
    ``"teacher"`` (the teacher's own) or ``"light"`` (direct only: the teacher's made
    cheaper by ``students.lighten``), and (direct only) the ``pairs`` of points and teacher
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
class ReflowConfig:
    """A reflowed flow's origin (``jaxdiff reflow``; Liu et al. 2023, arXiv:2209.03003,
    §2.3): the ``teacher`` flow run directory, and the number of ``pairs`` ``[x_0 | ε]``
    its ODE drew (noise carried to a sample), which the run trains on; they are kept in
    the run as ``reflow_pairs.npy``. ``teacher`` None: an ordinary run."""

    teacher: str | None = None
    pairs: int = 16_000


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a run; ``config.json`` in a run directory is its JSON form."""

    data: DataConfig = DataConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    sample: SampleConfig = SampleConfig()
    distill: DistillConfig = DistillConfig()
    reflow: ReflowConfig = ReflowConfig()
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
            if name == "sample" and value.get("steps") == 0:
                value = {**value, "steps": None}  # "all T", as runs wrote it before None
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
    "reflow": ReflowConfig,
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
