"""Run settings as dataclasses, the presets, and their JSON round-trip."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

__all__ = [
    "PRESETS",
    "Config",
    "DataConfig",
    "ModelConfig",
    "SampleConfig",
    "ScheduleConfig",
    "TrainConfig",
    "preset",
]


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which data set, how many points, and whether to standardise it.

    ``name`` is a registered data set, or ``"file"`` with ``path`` a ``.npy``/``.csv``
    file (a run keeps a copy, ``data.npy``). ``n`` is ignored by fixed sets (files,
    ``digits``), which hold out ``held_out`` of their rows for evaluation.
    """

    name: str = "s_curve"
    n: int = 10_000
    standardize: bool = False
    path: str | None = None
    held_out: float = 0.2


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """The noise schedule: ``kind`` in sigmoid (seed) | linear | cosine."""

    kind: str = "sigmoid"
    num_steps: int = 100
    beta_start: float | None = 1e-5
    beta_end: float | None = 5e-3


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """``MLPDenoiser`` sizes and initialisation."""

    width: int = 128
    depth: int = 3
    init_style: str = "torch"
    conditional: bool = False


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
    """How ``sample`` and ``demo`` draw: the reverse chain's switches (``steps = 0``: all T)."""

    method: str = "ddpm"
    steps: int = 0
    spacing: str = "trailing"
    eta: float = 0.0
    variance: str = "beta"
    last_step_noise: bool = True
    n: int = 10_000
    guidance: float = 0.0


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a run; ``config.json`` in a run directory is its JSON form."""

    data: DataConfig = DataConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    sample: SampleConfig = SampleConfig()
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
        sections = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(sections))
        if unknown:
            raise ValueError(f"config has unknown section(s) {unknown}")
        kwargs: dict[str, Any] = {}
        for name, value in d.items():
            sub = sections[name].type
            if name == "seed":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"config seed must be a non-negative integer, got {value!r}")
                kwargs[name] = value
                continue
            sub_cls = globals()[sub] if isinstance(sub, str) else sub
            if not isinstance(value, dict):
                raise ValueError(f"config section {name!r} must be an object, got {value!r}")
            fields = {f.name: f for f in dataclasses.fields(sub_cls)}
            bad = sorted(set(value) - set(fields))
            if bad:
                raise ValueError(f"config section {name!r} has unknown key(s) {bad}")
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
    # Every constant and quirk of the seed (../shared/seed/SEED.md).
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


def preset(name: str) -> Config:
    """The named preset's :class:`Config`."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


def build_schedule(cfg: ScheduleConfig):
    """The :class:`~jaxdiff.schedules.Schedule` that ``cfg`` describes."""
    from jaxdiff import schedules

    if cfg.kind == "sigmoid":
        return schedules.sigmoid_schedule(cfg.num_steps, cfg.beta_start, cfg.beta_end)
    if cfg.kind == "linear":
        return schedules.linear_schedule(cfg.num_steps, cfg.beta_start, cfg.beta_end)
    if cfg.kind == "cosine":
        return schedules.cosine_schedule(cfg.num_steps)
    raise ValueError(f"schedule must be one of ['cosine', 'linear', 'sigmoid'], got {cfg.kind!r}")


def build_optimizer(cfg: Config, steps_per_epoch: int):
    """``make_optimizer`` with the learning-rate schedule that ``cfg.train`` describes.

    The same training settings return the same optimizer object: it is a static argument
    of the compiled epochs, so equal settings then share one compiled program.
    """
    return _build_optimizer(cfg.train, steps_per_epoch)


@functools.lru_cache(maxsize=32)
def _build_optimizer(t: TrainConfig, steps_per_epoch: int):
    import optax

    from jaxdiff.training import make_optimizer

    if t.lr_schedule == "constant":
        lr = t.learning_rate
    elif t.lr_schedule == "cosine":
        decay = max(t.lr_decay_epochs * steps_per_epoch, t.warmup_steps + 1)
        lr = optax.warmup_cosine_decay_schedule(0.0, t.learning_rate, t.warmup_steps, decay)
    else:
        raise ValueError(
            f"lr_schedule must be one of ['constant', 'cosine'], got {t.lr_schedule!r}"
        )
    return make_optimizer(lr, t.clip_norm), lr


def build_model(cfg: Config, data_dim: int, num_classes: int = 0):
    """The :class:`~jaxdiff.models.MLPDenoiser` that ``cfg`` describes, for ``data_dim``
    (and ``num_classes`` when ``cfg.model.conditional``)."""
    from jaxdiff.models import MLPDenoiser

    return MLPDenoiser(
        data_dim=data_dim,
        width=cfg.model.width,
        depth=cfg.model.depth,
        num_steps=cfg.schedule.num_steps,
        init_style=cfg.model.init_style,
        num_classes=num_classes if cfg.model.conditional else 0,
    )
