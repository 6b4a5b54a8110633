"""From a :class:`~jaxdiff.runs.config.Config` to everything a run needs: data, normaliser,
schedule, model, optimiser, training and sampling settings, keys, a fresh state. The one
place where settings become objects.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdiff.core import apply, data, models, tables, validate
from jaxdiff.ddpm import schedules
from jaxdiff.engine import ensembles, sampler_settings, train_spec
from jaxdiff.runs import checkpoints
from jaxdiff.runs.build import (
    build_model,
    build_optimizer,
    build_schedule,
    decay_steps,
    sampler_options,
)
from jaxdiff.runs.config import Config
from jaxdiff.runs.keys import RunKeys
from jaxdiff.runs.rows import load_rows
from jaxdiff.runs.rundir import REFLOW_PAIRS, RunError, load_config

__all__ = [
    "Setup",
    "from_arrays",
    "model_params",
    "restore",
    "setup",
    "with_context",
]


@dataclasses.dataclass(frozen=True)
class Setup:
    """Everything a run needs, rebuilt from its config alone.

    ``data`` (data units) and ``train_data`` (standardised) are the training rows;
    ``labels`` their classes (conditional runs, else None) and ``label_names`` the names
    of the classes (a labelled file's, else ``"0"``, ``"1"``, …); ``held_out`` the rows a
    fixed set keeps back for evaluation (None for generated data sets, which draw fresh
    ones). A reflow run (``config.reflow``) trains on ``pairs`` instead, its teacher's
    ``[x_0 | ε]`` rows (standardised), and is scored against the data as any run.
    ``encoder``: a typed table's (:mod:`jaxdiff.core.tables`); the rows are its encoding.
    ``context`` (a context run's, else None): each training row's context in data units,
    ``context_normalizer`` its standardisation for the model, ``held_context`` the
    held-out rows' contexts (a file's, whose held-out loss stops training).
    """

    config: Config
    data: np.ndarray
    normalizer: data.Normalizer
    train_data: np.ndarray
    schedule: schedules.Schedule
    apply_fn: Callable
    optimizer: optax.GradientTransformation
    learning_rate: float | optax.Schedule
    state: train_spec.TrainState
    keys: RunKeys
    labels: np.ndarray | None = None
    held_out: np.ndarray | None = None
    label_names: tuple[str, ...] | None = None
    pairs: np.ndarray | None = None
    encoder: tables.TableEncoder | None = None
    context: np.ndarray | None = None
    context_normalizer: data.Normalizer | None = None
    held_context: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        """Classes of a conditional run's model; 0 for an unconditional one."""
        return self.apply_fn.model.num_classes

    @property
    def context_dim(self) -> int:
        """Columns of a context run's context; 0 for any other run."""
        return self.apply_fn.model.context

    @functools.cached_property
    def condition(self) -> np.ndarray | None:
        """What training conditions on: the labels, or the standardised contexts (encoded
        once, on first use)."""
        if self.context is None:
            return self.labels
        return np.asarray(self.context_normalizer.encode(self.context), models.float_dtype())

    @property
    def data_dim(self) -> int:
        """Features per row of the data."""
        return self.data.shape[1]

    @property
    def spec(self) -> train_spec.TrainSpec:
        """The training settings of the run."""
        t = self.config.train
        return train_spec.TrainSpec(
            apply_fn=self.apply_fn,
            optimizer=self.optimizer,
            batch_size=t.batch_size,
            target=t.target,
            t_sampler=t.t_sampler,
            ema_decay=t.ema_decay,
            label_drop=t.label_drop if self.condition is not None else 0.0,
            objective=t.objective,
            pairing=t.pairing,
        )

    @property
    def sampler(self) -> sampler_settings.SamplerOptions:
        """The run's own sampler (``config.sample``)."""
        return sampler_options(self.config)

    @property
    def fit_data(self) -> np.ndarray:
        """The rows training reads: ``train_data``, or a reflow run's ``pairs``."""
        if self.config.reflow.teacher is None:
            return self.train_data
        if self.pairs is None:
            raise RunError(
                f"{REFLOW_PAIRS} is missing from the run: a reflow run trains on the pairs "
                "jaxdiff reflow kept there (it samples without them)"
            )
        return self.pairs

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(_fit_rows(self.config, self.data) / self.config.train.batch_size)

    @property
    def last_learning_epoch(self) -> int | None:
        """The last epoch that trains at a rate above 0: a cosine rate is 0 from step
        :func:`decay_steps` on; None for a constant rate."""
        t, per_epoch = self.config.train, self.steps_per_epoch
        if t.lr_schedule != "cosine":
            return None
        return math.ceil(decay_steps(t, per_epoch) / per_epoch)

    def lr_at(self, step: int) -> float:
        """The learning rate at optimiser step ``step``, computed as the jitted training
        step computes it (and about 25x faster than calling the schedule eagerly)."""
        lr = self.learning_rate
        return float(_compiled(lr)(step)) if callable(lr) else float(lr)


@functools.lru_cache(maxsize=16)
def _compiled(schedule):
    return jax.jit(schedule)


@dataclasses.dataclass(frozen=True)
class _Init:
    """``init_params(key)`` of a model (hashable: a static argument of jitted inits)."""

    model: models.MLPDenoiser
    dim: int

    def __call__(self, key):
        x, t = jnp.zeros((1, self.dim)), jnp.zeros((1,), jnp.int32)
        return self.model.init(key, x, t)["params"]


# Sizes beyond these are typing mistakes, not experiments (a hand-edited config with
# ensemble = 13,512,952,379 asked XLA for 54 GB): refused in one line before any array
# is built.
SIZE_LIMITS = {
    ("data", "n"): 100_000_000,
    ("schedule", "num_steps"): 1_000_000,
    ("model", "width"): 65_536,
    ("model", "depth"): 1_024,
    ("model", "feature_size"): 65_536,
    ("train", "ensemble"): 4_096,
    ("train", "batch_size"): 100_000_000,
    ("train", "epochs"): 100_000_000,
    ("sample", "n"): 1_000_000_000,
}


def _check_sizes(cfg: Config) -> None:
    for (section, name), limit in SIZE_LIMITS.items():
        value = getattr(getattr(cfg, section), name)
        if isinstance(value, int) and not isinstance(value, bool) and value > limit:
            raise validate.InvalidValue(f"{section}.{name}", f"at most {limit:,}", value)


def setup(cfg: Config, run_dir=None) -> Setup:
    """Data, schedule, model, optimiser and a fresh state from ``cfg`` (deterministic).

    The keys are :class:`RunKeys` of ``cfg.seed``. With ``data.standardize`` the model
    trains on standardised data and samples are mapped back to data units. A file's rows
    come from ``run_dir/data.npy`` when the run holds that copy.
    """
    _check_sizes(cfg)
    x, y, held_out, names, encoder = load_rows(cfg, RunKeys(cfg.seed), run_dir)
    if cfg.data.given is not None:  # y: the contexts, whose width the model takes
        cfg = with_context(cfg, y.shape[1])
        held_out, held_context = held_out
        s = from_arrays(cfg, x, held_out=held_out, run_dir=run_dir, context=y)
        return dataclasses.replace(s, held_context=held_context)
    return from_arrays(
        cfg, x, y, held_out=held_out, label_names=names, run_dir=run_dir, encoder=encoder
    )


def with_context(cfg: Config, width: int) -> Config:
    """``cfg`` for a model of a context of ``width`` columns."""
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, context=width))


def from_arrays(
    cfg: Config,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    held_out: np.ndarray | None = None,
    label_names: tuple[str, ...] | None = None,
    run_dir=None,
    encoder: tables.TableEncoder | None = None,
    context: np.ndarray | None = None,
) -> Setup:
    """:func:`setup` of rows already in memory: ``x`` the training rows ``(n, dim)``,
    ``y`` their classes (a conditional run; ``label_names`` their names, default ``"0"``,
    ``"1"``, …), ``held_out`` the rows kept back for scoring (None: none), ``encoder`` a
    typed table's (the rows are its encoding), ``context`` each row's context (a context
    run: ``cfg.model.context`` columns, standardised with the data). ``cfg.data`` only
    says where they came from."""
    _check_sizes(cfg)
    keys = RunKeys(cfg.seed)
    context_norm = _context_normalizer(cfg, x, y, context)
    names = label_names
    if cfg.model.conditional and names is None:
        if y is None:
            raise ValueError("a conditional model needs labels: give y, one class per row")
        names = tuple(str(i) for i in range(int(np.max(y)) + 1))
    rows = _fit_rows(cfg, x)
    if cfg.train.batch_size > rows:
        raise validate.InvalidValue(
            "batch_size", f"at most the {rows} rows training reads", cfg.train.batch_size
        )
    num_classes = len(names) if cfg.model.conditional else 0
    norm = data.Normalizer.fit(x) if cfg.data.standardize else data.Normalizer.identity(x.shape[1])
    train_x = np.asarray(norm.encode(x), models.float_dtype())
    pairs = _reflow_pairs(cfg, run_dir, x.shape[1])
    schedule = build_schedule(cfg.schedule)
    model = build_model(cfg.model, cfg.schedule.num_steps, x.shape[1], num_classes)
    apply_fn, params = apply.functional(model, keys.init)
    t = cfg.train
    optimizer, lr = build_optimizer(t, math.ceil(_fit_rows(cfg, x) / t.batch_size))
    ensemble = validate.positive_int("ensemble", t.ensemble)
    if ensemble == 1:
        state = train_spec.init_state(keys.train, params, optimizer, ema=t.ema_decay is not None)
    else:
        state = ensembles.init_ensemble(
            keys.members(ensemble),
            _Init(model, x.shape[1]),
            optimizer,
            ema=t.ema_decay is not None,
        )
    return Setup(
        cfg,
        x,
        norm,
        train_x,
        schedule,
        apply_fn,
        optimizer,
        lr,
        state,
        keys,
        labels=y,
        held_out=held_out,
        label_names=names if cfg.model.conditional else None,
        pairs=pairs,
        encoder=encoder,
        context=context,
        context_normalizer=context_norm,
    )


def _context_normalizer(cfg: Config, x, y, context) -> data.Normalizer | None:
    """The standardisation of a context run's contexts (None for any other run), after
    checking that they fit the config: one row each of ``cfg.model.context`` columns."""
    width = cfg.model.context
    if context is None:
        if width:
            raise ValueError(f"a context model needs context: {width} columns for each row")
        return None
    if y is not None:
        raise ValueError("a model takes class labels or a context, not both")
    context = data.check_context(context, x.shape[0])
    if context.shape[1] != width:
        raise validate.InvalidValue("context", f"{width} columns (model.context)", context.shape)
    if cfg.data.standardize:
        return data.Normalizer.fit(context)
    return data.Normalizer.identity(width)


def _fit_rows(cfg: Config, x: np.ndarray) -> int:
    """Rows per epoch of training: the data's, or a reflow run's pairs."""
    return x.shape[0] if cfg.reflow.teacher is None else cfg.reflow.pairs


def _reflow_pairs(cfg: Config, run_dir, data_dim: int) -> np.ndarray | None:
    """A reflow run's pairs, ``run_dir/reflow_pairs.npy`` (``jaxdiff reflow`` writes
    them before it trains); None for any other run, or where the file is not there
    (training then says so: :attr:`Setup.fit_data`)."""
    if cfg.reflow.teacher is None or run_dir is None:
        return None
    path = pathlib.Path(run_dir) / REFLOW_PAIRS
    if not path.is_file():
        return None
    pairs = np.load(path)
    if pairs.shape != (cfg.reflow.pairs, 2 * data_dim):
        raise RunError(
            f"{str(path)!r} holds shape {pairs.shape}, expected "
            f"({cfg.reflow.pairs}, {2 * data_dim}): rows [x_0 | noise] of the config's pairs"
        )
    return np.asarray(pairs, models.float_dtype())


def model_params(s: Setup, state: train_spec.TrainState, member: int = 0):
    """The parameters to sample with: the EMA when there is one; member ``member`` of an
    ensemble."""
    k = s.config.train.ensemble
    if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < k:
        raise validate.InvalidValue("member", f"in [0, {k}) for this run", member)
    if k > 1:
        state = ensembles.member(state, member)
    return state.ema_params if state.ema_params is not None else state.params


def restore(run_dir) -> tuple[Setup, train_spec.TrainState]:
    """Rebuilds a run from ``config.json`` and its newest good checkpoint."""
    cfg = load_config(run_dir)
    s = setup(cfg, run_dir)
    try:
        state = checkpoints.restore(pathlib.Path(run_dir) / "checkpoints", s.state)
    except checkpoints.CheckpointError as err:
        raise RunError(str(err)) from err
    return s, state
