"""What training is made of, before any step runs: the state pytree, the static settings,
the optimiser.

Every static setting (the model, the optimiser, the batch size, the target, …) lives in
one frozen, hashable :class:`TrainSpec`, passed as the one static argument of every
compiled function of :mod:`jaxdiff.engine.training`: equal specs share one compiled
program. :func:`make_optimizer` is the seed's clipped Adam; :func:`init_state` the
:class:`TrainState` at step 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxdiff.core import validate
from jaxdiff.core.models import MLPDenoiser
from jaxdiff.ddpm import diffusion
from jaxdiff.ddpm.losses import T_SAMPLERS
from jaxdiff.flow import flows

__all__ = [
    "FLOW_OBJECTIVES",
    "OBJECTIVES",
    "TrainSpec",
    "TrainState",
    "init_state",
    "make_optimizer",
]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainState:
    """Everything training carries from one step to the next, as one pytree.

    Attributes:
      step: int32 scalar, optimiser steps taken.
      epoch: int32 scalar, epochs completed; epoch ``e`` draws its randomness from
        ``fold_in(key, e)``, so resuming from a checkpoint repeats nothing and skips nothing.
      params: model parameters.
      opt_state: optax state.
      ema_params: exponential moving average of ``params``, or None when EMA is off.
      key: the run's base PRNG key (never consumed; folded with the epoch).
    """

    step: jax.Array
    epoch: jax.Array
    params: Any
    opt_state: Any
    ema_params: Any
    key: jax.Array


# What a model learns: "ddpm", the denoising objective (losses.denoising_loss), "flow",
# flow matching (flows.flow_loss), or "meanflow", a flow's average velocity
# (meanflow.meanflow_loss; the model takes an interval).
OBJECTIVES = ("ddpm", "flow", "meanflow")


# The objectives whose models are flows: their time draws and pairings.
FLOW_OBJECTIVES = ("flow", "meanflow")


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """The static settings of training, checked once; hashable, so one static argument.

    Attributes:
      apply_fn: the model, ``apply_fn(params, x, t[, label])`` (``apply.functional``).
      optimizer: an optax transformation (:func:`make_optimizer`).
      batch_size: rows per step.
      target: what the network predicts: ``"eps"`` (the seed), ``"x0"`` or ``"v"``
        (``objective="ddpm"``; a flow predicts its velocity).
      t_sampler: ``"antithetic"`` (the seed's) or ``"uniform"`` timestep draws; a flow's
        time draws: ``"antithetic"``, ``"uniform"`` or ``"logit_normal"``
        (:data:`jaxdiff.flow.flows.TIME_SAMPLERS`).
      ema_decay: ``ema ← decay · ema + (1 - decay) · params`` after each step, or None.
      label_drop: probability of training a labelled row on the null label (classifier-free
        guidance, Ho & Salimans 2022, Alg. 1).
      batch_sharding: a ``NamedSharding`` spreading each batch over devices
        (:mod:`jaxdiff.engine.parallel`), or None.
      objective: ``"ddpm"`` (the seed's), ``"flow"`` (flow matching) or ``"meanflow"``
        (:mod:`jaxdiff.flow.meanflow`; the model must take an interval).
      pairing: a flow's pairing of data and noise: ``"independent"``, ``"ot"``
        (minibatch optimal transport, :func:`jaxdiff.flow.flows.ot_permutation`) or
        ``"given"`` (rows ``[x_0 | ε]``, :func:`jaxdiff.flow.flows.reflow_pairs`).
    """

    apply_fn: Callable
    optimizer: optax.GradientTransformation
    batch_size: int = 128
    target: str = "eps"
    t_sampler: str = "antithetic"
    ema_decay: float | None = None
    label_drop: float = 0.0
    batch_sharding: Any = None
    objective: str = "ddpm"
    pairing: str = "independent"

    def __post_init__(self):
        validate.positive_int("batch_size", self.batch_size)
        validate.one_of("objective", self.objective, OBJECTIVES)
        validate.one_of("target", self.target, diffusion.TARGETS)
        flow = self.objective in FLOW_OBJECTIVES
        validate.one_of("t_sampler", self.t_sampler, flows.TIME_SAMPLERS if flow else T_SAMPLERS)
        validate.one_of("pairing", self.pairing, flows.PAIRINGS)
        model = getattr(self.apply_fn, "model", None)
        if self.objective == "meanflow" and isinstance(model, MLPDenoiser):
            if not model.config.interval:
                raise ValueError(
                    "objective 'meanflow' needs a model that takes an interval, built with "
                    "NetworkConfig(interval=True)"
                )
        if not flow and self.pairing != "independent":
            raise ValueError(
                f"pairing is for objectives 'flow' and 'meanflow', got "
                f"pairing={self.pairing!r} with objective 'ddpm'"
            )
        if self.pairing == "ot" and self.batch_sharding is not None:
            # The assignment is a host callback on one device; inside a batch sharded
            # over several, XLA's partitioner deadlocks waiting on the gradient's all-reduce.
            raise ValueError(
                "pairing 'ot' cannot be sharded over devices yet (the assignment runs on the "
                "host); train it on one device, or use pairing 'independent' with devices"
            )
        if self.ema_decay is not None:
            validate.number_in("ema_decay", self.ema_decay, 0.0, 1.0, high_open=True)
        drop = validate.number_in("label_drop", self.label_drop, 0.0, 1.0)
        object.__setattr__(self, "label_drop", drop)


def make_optimizer(
    learning_rate: float | optax.Schedule = 1e-3,
    clip_norm: float | None = 1.0,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    """Global-norm gradient clipping followed by Adam, as the seed's
    ``clip_grad_norm_(…, 1.0)`` then ``Adam(lr=1e-3)``.

    Args:
      learning_rate: a float > 0 or an optax schedule of the step.
      clip_norm: maximum global gradient norm, or None for no clipping.
      b1, b2, eps: Adam's constants (PyTorch's defaults).
    """
    if not callable(learning_rate) and not (float(learning_rate) > 0.0):
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    if clip_norm is not None and not (float(clip_norm) > 0.0):
        raise ValueError(f"clip_norm must be positive or None, got {clip_norm!r}")
    adam = optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)
    if clip_norm is None:
        return adam
    return optax.chain(optax.clip_by_global_norm(clip_norm), adam)


def init_state(
    key: jax.Array, params, optimizer: optax.GradientTransformation, *, ema: bool = False
) -> TrainState:
    """A fresh :class:`TrainState` at step 0 (EMA starts at the initial parameters)."""
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        epoch=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=optimizer.init(params),
        ema_params=jax.tree_util.tree_map(jnp.copy, params) if ema else None,
        key=key,
    )


# Jitted here rather than by a decorator (the same object), as training's train_step and
# _train_epoch: mutation testing mutates only undecorated bodies (docs/tests.md).
init_state = jax.jit(init_state, static_argnames=("optimizer", "ema"))
