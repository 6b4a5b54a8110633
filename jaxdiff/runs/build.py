"""A run's :class:`~jaxdiff.runs.config.Config` to each library object it describes,
built in one place: the schedule, the optimiser (and its rate), the network, the
sampler's options, what the network predicts, and the run's ODE log-likelihood.
:mod:`jaxdiff.runs.setup` puts them together into a run."""

from __future__ import annotations

import dataclasses
import functools

import optax

from jaxdiff.core import models, traces
from jaxdiff.ddpm import schedules
from jaxdiff.engine import likelihood, sampler_settings, train_spec
from jaxdiff.flow import flows
from jaxdiff.runs.config import Config, ModelConfig, ScheduleConfig, TrainConfig

__all__ = [
    "FAST_ODE_STEPS",
    "build_model",
    "build_optimizer",
    "build_schedule",
    "decay_steps",
    "log_likelihood",
    "model_target",
    "sampler_options",
]


def build_schedule(cfg: ScheduleConfig) -> schedules.Schedule:
    """The :class:`~jaxdiff.ddpm.schedules.Schedule` that ``cfg`` describes."""
    if cfg.kind == "sigmoid":
        return schedules.sigmoid_schedule(cfg.num_steps, cfg.beta_start, cfg.beta_end)
    if cfg.kind == "linear":
        return schedules.linear_schedule(cfg.num_steps, cfg.beta_start, cfg.beta_end)
    if cfg.kind == "cosine":
        return schedules.cosine_schedule(cfg.num_steps)
    raise ValueError(f"schedule must be one of ['cosine', 'linear', 'sigmoid'], got {cfg.kind!r}")


def decay_steps(t: TrainConfig, steps_per_epoch: int) -> int:
    """The step at which a cosine rate reaches 0: ``lr_decay_epochs`` epochs, and at least
    one step past the warm-up."""
    return max(t.lr_decay_epochs * steps_per_epoch, t.warmup_steps + 1)


@functools.lru_cache(maxsize=32)
def build_optimizer(t: TrainConfig, steps_per_epoch: int):
    """``(optimizer, learning rate)`` that ``t`` describes: clipping then Adam, at a
    constant rate or a warm-up then cosine decay over ``t.lr_decay_epochs`` epochs.

    The same settings return the same optimizer object: it is part of the static
    ``TrainSpec``, so equal settings then share one compiled program.
    """
    if t.lr_schedule == "constant":
        lr = t.learning_rate
    elif t.lr_schedule == "cosine":
        decay = decay_steps(t, steps_per_epoch)
        lr = optax.warmup_cosine_decay_schedule(0.0, t.learning_rate, t.warmup_steps, decay)
    else:
        raise ValueError(
            f"lr_schedule must be one of ['constant', 'cosine'], got {t.lr_schedule!r}"
        )
    return train_spec.make_optimizer(lr, t.clip_norm), lr


def build_model(cfg: ModelConfig, num_steps: int, data_dim: int, num_classes: int = 0):
    """The :class:`~jaxdiff.core.models.MLPDenoiser` that ``cfg`` describes for data of
    ``data_dim`` features, ``num_steps`` steps (and ``num_classes`` when conditional; a
    context of ``cfg.context`` columns)."""
    return models.MLPDenoiser(
        data_dim=data_dim,
        num_steps=num_steps,
        num_classes=num_classes if cfg.conditional else 0,
        config=cfg.network,
        context=cfg.context,
    )


def sampler_options(cfg: Config) -> sampler_settings.SamplerOptions:
    """The :class:`~jaxdiff.engine.sampler_settings.SamplerOptions` of ``cfg.sample`` for a
    model trained on ``cfg.train.target`` (a flow: its velocity; guidance only for a
    conditional model)."""
    sc = cfg.sample
    chosen = {
        f.name: getattr(sc, f.name) for f in dataclasses.fields(sampler_settings.SamplerSettings)
    }
    chosen["guidance"] = sc.guidance if cfg.model.conditional else 0.0
    return sampler_settings.SamplerOptions(**chosen, target=model_target(cfg))


def model_target(cfg: Config) -> str:
    """What the run's network predicts: ``cfg.train.target``, or a flow's velocity."""
    return flows.TARGET if cfg.train.objective == "flow" else cfg.train.target


# The probability-flow ODE's even RK4 steps on the fast path (Hutchinson's trace): on
# the 64-column digits 0.8 s against the exact trace's 79 s on one step a schedule step,
# within 0.002 nats/dim plus the estimate's standard error (benchmarks/likelihood.py).
FAST_ODE_STEPS = 100


def log_likelihood(cfg: Config, apply_fn, params, schedule, z, *, key, trace=None, context=None):
    """The ODE log-likelihood per dimension of standardised rows ``z`` under the run's
    model (its probability-flow ODE, or a flow's own ODE) and each row's standard error.
    Up to :data:`jaxdiff.core.traces.EXACT_UP_TO` columns the exact trace (a diffusion's ODE
    solved one RK4 step a schedule step); beyond, the fast path: Hutchinson's estimate
    with probes from ``key`` (a diffusion's ODE in :data:`FAST_ODE_STEPS` even steps).
    ``trace`` names the path instead; ``context`` (standardised, one or one a row): a
    context model's ``log p(z | c)``."""
    chosen = {"trace": traces.choose(trace, z.shape[1]), "key": key, "return_error": True}
    chosen["context"] = context
    if cfg.train.objective == "flow":
        return likelihood.flow_log_likelihood(apply_fn, params, schedule, z, **chosen)
    steps = FAST_ODE_STEPS if chosen["trace"] == "hutchinson" else None
    return likelihood.ode_log_likelihood(
        apply_fn, params, schedule, z, target=cfg.train.target, steps=steps, **chosen
    )
