"""Training: the state pytree, the optimiser, and compiled steps and epochs.

``train_step`` is one jitted update; ``train_epoch`` is one compiled ``lax.scan`` over a
shuffled epoch; ``train_epochs`` runs several epochs in one compiled call; ``fit`` is the
Python driver around them (chunks of epochs, callbacks for progress and checkpoints).

The last, ragged batch of an epoch (10,000 = 78 × 128 + 16 for the seed) is taken as a
second compiled step of its own size after the scan, not by masking: the update is then
exactly the seed's (mean over the 16 real rows, antithetic pairs among them).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdiff.losses import T_SAMPLERS, denoising_loss
from jaxdiff.models import check_fits
from jaxdiff.schedules import Schedule

__all__ = [
    "TrainState",
    "TrainingDiverged",
    "fit",
    "init_state",
    "make_optimizer",
    "train_epoch",
    "train_epochs",
    "train_step",
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
    return _init_state(key, params, optimizer, ema)


@functools.partial(jax.jit, static_argnames=("optimizer", "ema"))
def _init_state(key, params, optimizer, ema):
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        epoch=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=optimizer.init(params),
        ema_params=jax.tree_util.tree_map(jnp.copy, params) if ema else None,
        key=key,
    )


def _step(
    state,
    batch,
    key,
    *,
    apply_fn,
    optimizer,
    schedule,
    target,
    t_sampler,
    ema_decay,
    label_drop=0.0,
    batch_sharding=None,
):
    if batch_sharding is not None:
        # Data parallelism (jaxdiff.parallel): rows of the batch live on different devices;
        # with replicated parameters XLA inserts the gradient all-reduce itself.
        batch = jax.tree_util.tree_map(
            lambda a: jax.lax.with_sharding_constraint(a, batch_sharding), batch
        )
    x, labels = batch
    loss, grads = jax.value_and_grad(
        lambda p: denoising_loss(
            key,
            apply_fn,
            p,
            schedule,
            x,
            target=target,
            t_sampler=T_SAMPLERS[t_sampler],
            labels=labels,
            label_drop=label_drop,
        )
    )(state.params)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    ema_params = state.ema_params
    if ema_decay is not None:
        ema_params = jax.tree_util.tree_map(
            lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, ema_params, params
        )
    new = dataclasses.replace(
        state, step=state.step + 1, params=params, opt_state=opt_state, ema_params=ema_params
    )
    return new, loss


_STATIC = (
    "apply_fn",
    "optimizer",
    "target",
    "t_sampler",
    "ema_decay",
    "label_drop",
    "batch_sharding",
)


@functools.partial(jax.jit, static_argnames=_STATIC)
def train_step(
    state: TrainState,
    batch: jax.Array,
    key: jax.Array,
    *,
    apply_fn: Callable,
    optimizer: optax.GradientTransformation,
    schedule: Schedule,
    target: str = "eps",
    t_sampler: str = "antithetic",
    ema_decay: float | None = None,
    labels: jax.Array | None = None,
    label_drop: float = 0.0,
    batch_sharding=None,
) -> tuple[TrainState, jax.Array]:
    """One optimiser step on ``batch`` ``(B, D)`` with the loss key ``key``.

    Returns the new state and the batch loss (``losses.denoising_loss``). When
    ``ema_decay`` is set, ``ema ← decay · ema + (1 - decay) · params`` after the update.
    ``labels`` ``(B,)`` trains a class-conditional model, each label dropped to the null
    label with probability ``label_drop`` (classifier-free guidance).
    """
    return _step(
        state,
        (batch, labels),
        key,
        apply_fn=apply_fn,
        optimizer=optimizer,
        schedule=schedule,
        target=target,
        t_sampler=t_sampler,
        ema_decay=ema_decay,
        label_drop=label_drop,
        batch_sharding=batch_sharding,
    )


def _epoch(state, data, *, batch_size, **kw):
    # data: (x, labels or None); rows of both are shuffled and batched together.
    n = data[0].shape[0]
    num_full, rest = divmod(n, batch_size)
    perm_key, steps_key = jax.random.split(jax.random.fold_in(state.key, state.epoch))
    perm = jax.random.permutation(perm_key, n)

    def body(s, inputs):
        i, idx = inputs
        batch = jax.tree_util.tree_map(lambda a: a[idx], data)
        return _step(s, batch, jax.random.fold_in(steps_key, i), **kw)

    total = jnp.zeros((), jnp.float32)
    if num_full:
        batches = perm[: num_full * batch_size].reshape(num_full, batch_size)
        state, losses = jax.lax.scan(body, state, (jnp.arange(num_full), batches))
        total = total + jnp.sum(losses) * batch_size
    if rest:
        state, loss = body(state, (num_full, perm[num_full * batch_size :]))
        total = total + loss * rest
    state = dataclasses.replace(state, epoch=state.epoch + 1)
    return state, total / n


def _check_data(data) -> jax.Array:
    """``data`` as a finite, numeric ``(n, dim)`` array, or a one-line ``ValueError``."""
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"data must be a numeric (n, dim) array: {err}") from err
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"data must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"data must be a non-empty (n, dim) array, got shape {arr.shape}")
    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise ValueError(f"data must be finite, got {bad} NaN or inf values")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32)
    return jnp.asarray(arr)


def _check_labels(labels, n: int) -> jax.Array | None:
    """``labels`` as int32 ``(n,)`` of classes ``>= 0``, or a one-line ``ValueError``."""
    if labels is None:
        return None
    arr = np.asarray(labels)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one per data row, got {arr.shape}")
    if n and arr.min() < 0:
        raise ValueError(f"labels must be classes >= 0, got {arr.min()}")
    return jnp.asarray(arr, jnp.int32)


def _check_inputs(data, labels, label_drop, *, batch_size, apply_fn, schedule):
    """Every check of a fit's inputs: returns ``((data, labels), label_drop)`` ready for
    the compiled epochs (``training.fit`` and ``ensembles.fit_ensemble``)."""
    data = _check_data(data)
    _check_batch(data, batch_size)
    labels = _check_labels(labels, data.shape[0])
    check_fits(apply_fn, data_dim=data.shape[-1], num_steps=schedule.num_steps, labels=labels)
    return (data, labels), _check_drop(label_drop)


def _check_drop(label_drop) -> float:
    if isinstance(label_drop, bool) or not isinstance(label_drop, (int, float)):
        raise ValueError(f"label_drop must be a number in [0, 1], got {label_drop!r}")
    if not 0.0 <= label_drop <= 1.0:
        raise ValueError(f"label_drop must be a number in [0, 1], got {label_drop!r}")
    return float(label_drop)


def _check_batch(data, batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if data.ndim != 2 or data.shape[0] < 1:
        raise ValueError(f"data must be a non-empty (n, dim) array, got shape {data.shape}")
    if batch_size > data.shape[0]:
        raise ValueError(
            f"batch_size must be at most the number of data points {data.shape[0]}, "
            f"got {batch_size}"
        )


@functools.partial(jax.jit, static_argnames=("batch_size", *_STATIC))
def _train_epoch(state, data, *, batch_size, **kw):
    return _epoch(state, data, batch_size=batch_size, **kw)


def train_epoch(
    state: TrainState,
    data: jax.Array,
    *,
    batch_size: int,
    apply_fn: Callable,
    optimizer: optax.GradientTransformation,
    schedule: Schedule,
    target: str = "eps",
    t_sampler: str = "antithetic",
    ema_decay: float | None = None,
    labels: jax.Array | None = None,
    label_drop: float = 0.0,
    batch_sharding=None,
) -> tuple[TrainState, jax.Array]:
    """One pass over ``data`` ``(N, D)`` in a fresh random order, as one compiled program.

    The permutation and the step keys come from ``fold_in(state.key, state.epoch)``.
    Full batches run in a ``lax.scan``; a ragged remainder gets one more step of its own
    size. Returns the new state and the mean loss over the epoch's points. ``labels``
    ``(N,)`` are shuffled with their rows (see :func:`train_step`).
    """
    _check_batch(data, batch_size)
    return _train_epoch(
        state,
        (data, labels),
        batch_size=batch_size,
        apply_fn=apply_fn,
        optimizer=optimizer,
        schedule=schedule,
        target=target,
        t_sampler=t_sampler,
        ema_decay=ema_decay,
        label_drop=label_drop,
        batch_sharding=batch_sharding,
    )


class TrainingDiverged(RuntimeError):
    """The loss or the parameters became NaN or inf during epoch ``epoch``.

    Attributes:
      epoch: the 1-based epoch that diverged.
      loss: its mean loss (NaN or inf, or finite when only the parameters overflowed).
      state: the state after the last good epoch, ``epoch - 1``.
    """

    def __init__(self, epoch: int, loss: float, state):
        self.epoch, self.loss, self.state = epoch, loss, state
        super().__init__(
            f"training diverged in epoch {epoch} (mean loss {loss}); the last good state is "
            f"epoch {epoch - 1}: lower the learning rate or keep gradient clipping on"
        )


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(tree)]))


@functools.partial(jax.jit, static_argnames=("batch_size", "buffer", *_STATIC))
def _train_epochs(state, data, num_epochs, *, batch_size, buffer, **kw):
    # A while loop with a traced trip count: one executable serves every chunk length,
    # so training split into chunks (or resumed) runs bit-identical code. An epoch whose
    # mean loss or new parameters are not finite is discarded and the loop stops there:
    # divergence is caught inside the compiled program, within one epoch.
    def cond(carry):
        i, _, _, bad = carry
        return (i < num_epochs) & ~bad

    def body(carry):
        i, s, losses, _ = carry
        new, loss = _epoch(s, data, batch_size=batch_size, **kw)
        bad = ~(jnp.isfinite(loss) & _all_finite(new.params))
        s = jax.lax.cond(bad, lambda: s, lambda: new)
        return i + 1, s, losses.at[i].set(loss.astype(losses.dtype)), bad

    losses = jnp.full((buffer,), jnp.nan, jnp.float32)
    carry = (jnp.zeros((), jnp.int32), state, losses, jnp.zeros((), bool))
    _, state, losses, _ = jax.lax.while_loop(cond, body, carry)
    return state, losses


def train_epochs(
    state: TrainState,
    data: jax.Array,
    num_epochs: int,
    *,
    batch_size: int,
    apply_fn: Callable,
    optimizer: optax.GradientTransformation,
    schedule: Schedule,
    target: str = "eps",
    t_sampler: str = "antithetic",
    ema_decay: float | None = None,
    buffer: int | None = None,
    labels: jax.Array | None = None,
    label_drop: float = 0.0,
    batch_sharding=None,
) -> tuple[TrainState, jax.Array]:
    """Runs ``num_epochs`` epochs of :func:`train_epoch` in one compiled call.

    ``buffer`` (static, ≥ ``num_epochs``; default ``num_epochs``) sizes the loss array:
    calls with the same buffer share one executable whatever ``num_epochs`` is.
    Returns the state and the per-epoch mean losses, ``(num_epochs,)``. If an epoch's
    loss or parameters become NaN or inf, the state stays at the last good epoch (so
    ``state.epoch`` falls short of the requested count) and later losses are NaN.
    """
    _check_batch(data, batch_size)
    buffer = num_epochs if buffer is None else buffer
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs!r}")
    if num_epochs > buffer:
        raise ValueError(f"num_epochs must be at most buffer={buffer}, got {num_epochs}")
    state, losses = _train_epochs(
        state,
        (data, labels),
        num_epochs,
        batch_size=batch_size,
        buffer=buffer,
        apply_fn=apply_fn,
        optimizer=optimizer,
        schedule=schedule,
        target=target,
        t_sampler=t_sampler,
        ema_decay=ema_decay,
        label_drop=label_drop,
        batch_sharding=batch_sharding,
    )
    return state, losses[:num_epochs]


def fit(
    state: TrainState,
    data,
    *,
    epochs: int,
    batch_size: int,
    apply_fn: Callable,
    optimizer: optax.GradientTransformation,
    schedule: Schedule,
    target: str = "eps",
    t_sampler: str = "antithetic",
    ema_decay: float | None = None,
    epochs_per_call: int = 25,
    callback: Callable | None = None,
    labels=None,
    label_drop: float = 0.0,
    batch_sharding=None,
) -> tuple[TrainState, dict]:
    """Trains from ``state.epoch`` up to ``epochs`` total epochs.

    Epochs run in compiled chunks of at most ``epochs_per_call``; chunk boundaries fall
    on multiples of it, so a resumed run splits its epochs exactly as an uninterrupted one.
    After each chunk ``callback(state, losses, seconds)`` is called (progress bars,
    logging, checkpoints live there). Compilation happens before the clock starts.
    ``batch_sharding`` (a ``NamedSharding`` over the batch axis; see
    :mod:`jaxdiff.parallel`) spreads each batch over devices. ``labels`` ``(N,)`` train a
    class-conditional model (labels dropped to the null label with probability
    ``label_drop``, for classifier-free guidance).

    Returns:
      The final state and ``{"losses": [...], "train_seconds", "compile_seconds",
      "steps"}`` for the epochs run by this call.

    Raises:
      TrainingDiverged: an epoch's loss or parameters became NaN or inf; the exception
        holds the state of the last good epoch (the callback has seen it).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if (
        isinstance(epochs_per_call, bool)
        or not isinstance(epochs_per_call, int)
        or (epochs_per_call < 1)
    ):
        raise ValueError(f"epochs_per_call must be a positive integer, got {epochs_per_call!r}")
    data, label_drop = _check_inputs(
        data, labels, label_drop, batch_size=batch_size, apply_fn=apply_fn, schedule=schedule
    )
    kw = dict(
        batch_size=batch_size,
        buffer=epochs_per_call,
        apply_fn=apply_fn,
        optimizer=optimizer,
        schedule=schedule,
        target=target,
        t_sampler=t_sampler,
        ema_decay=ema_decay,
        label_drop=label_drop,
        batch_sharding=batch_sharding,
    )
    start_step = int(state.step)
    # A call with zero epochs compiles (or finds in jit's cache) the one executable every
    # chunk uses, outside the clock; it runs no epoch.
    t0 = time.perf_counter()
    jax.block_until_ready(_train_epochs(state, data, 0, **kw))
    compile_seconds = time.perf_counter() - t0
    losses: list[float] = []
    train_seconds = 0.0
    epoch = int(state.epoch)
    while epoch < epochs:
        n = min(epochs_per_call - epoch % epochs_per_call, epochs - epoch)
        t0 = time.perf_counter()
        state, chunk = _train_epochs(state, data, n, **kw)
        done = int(state.epoch) - epoch
        chunk = jax.device_get(chunk[:n])
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        if done < n:
            bad_loss = float(chunk[done])
            if done and callback is not None:
                callback(state, chunk[:done], seconds)
            raise TrainingDiverged(epoch + done + 1, bad_loss, state)
        epoch += n
        losses.extend(float(v) for v in chunk)
        if callback is not None:
            callback(state, chunk, seconds)
    return state, {
        "losses": losses,
        "train_seconds": train_seconds,
        "compile_seconds": compile_seconds,
        "steps": int(state.step) - start_step,
    }
