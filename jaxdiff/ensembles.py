"""K independent models trained in one compiled program, with ``jax.vmap``.

Every leaf of an ensemble's :class:`~jaxdiff.training.TrainState` has a leading axis of
size K; ``vmap`` maps the single-model epoch over it, so member ``i`` follows exactly the
arithmetic of a model trained alone from member ``i``'s key (up to the order of float
reductions that batching may change). Members differ by their PRNG keys (seeds): their
initial parameters, their shuffles and their noise.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import optax

from jaxdiff import training
from jaxdiff.schedules import Schedule

__all__ = ["fit_ensemble", "init_ensemble", "member", "member_keys", "single"]


def init_ensemble(
    keys: jax.Array, init_params: Callable, optimizer: optax.GradientTransformation, *, ema=False
) -> training.TrainState:
    """Stacked states of ``len(keys)`` members: member ``i``'s parameters come from
    ``init_params(split(keys[i])[0])`` and its training key is ``split(keys[i])[1]``,
    exactly as :func:`single` would build it alone."""
    return _init_many(keys, init_params, optimizer, ema)


@functools.partial(jax.jit, static_argnames=("init_params", "optimizer", "ema"))
def _init_many(keys, init_params, optimizer, ema):
    return jax.vmap(lambda k: _init_one(k, init_params, optimizer, ema))(keys)


def single(key: jax.Array, init_params: Callable, optimizer, *, ema=False) -> training.TrainState:
    """The state one member starts from, for training it alone (the reference)."""
    return _init_one(key, init_params, optimizer, ema)


@functools.partial(jax.jit, static_argnames=("init_params", "optimizer", "ema"))
def _init_one(key, init_params, optimizer, ema):
    init_key, train_key = jax.random.split(key)
    return training._init_state(train_key, init_params(init_key), optimizer, ema)


def member(states: training.TrainState, i: int) -> training.TrainState:
    """Member ``i`` of an ensemble, as a single-model state."""
    return jax.tree_util.tree_map(lambda a: a[i], states)


@functools.partial(jax.jit, static_argnames=("batch_size", "buffer", *training._STATIC))
def _ensemble_epochs(states, data, num_epochs, *, batch_size, buffer, **kw):
    run = functools.partial(
        training._train_epochs.__wrapped__, batch_size=batch_size, buffer=buffer, **kw
    )
    return jax.vmap(run, in_axes=(0, None, None))(states, data, num_epochs)


def fit_ensemble(
    states: training.TrainState,
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
) -> tuple[training.TrainState, dict]:
    """Trains every member of ``states`` up to ``epochs`` epochs, all in one program.

    After each chunk ``callback(states, losses (K, n), seconds)`` is called. Returns the
    states and ``{"losses": (K, epochs run), "train_seconds", "compile_seconds",
    "steps"}`` (steps summed over members). A member whose loss
    diverges keeps its last good state (see ``training.train_epochs``); the others go on.
    ``labels`` and ``label_drop`` are those of ``training.fit``.
    """
    data, label_drop = training._check_inputs(
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
    )
    t0 = time.perf_counter()
    jax.block_until_ready(_ensemble_epochs(states, data, 0, **kw))
    compile_seconds = time.perf_counter() - t0
    start = int(jnp.sum(states.step))
    epoch, chunks, train_seconds = int(jnp.max(states.epoch)), [], 0.0
    while epoch < epochs:
        n = min(epochs_per_call - epoch % epochs_per_call, epochs - epoch)
        t0 = time.perf_counter()
        states, losses = _ensemble_epochs(states, data, n, **kw)
        losses = jax.device_get(losses[:, :n])
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        chunks.append(losses)
        epoch += n
        if callback is not None:
            callback(states, losses, seconds)
    return states, {
        "losses": jnp.concatenate(chunks, axis=1) if chunks else jnp.zeros((0,)),
        "train_seconds": train_seconds,
        "compile_seconds": compile_seconds,
        "steps": int(jnp.sum(states.step)) - start,
    }


def member_keys(seed: int, k: int) -> Sequence[jax.Array]:
    """``k`` member keys from one seed: ``fold_in(key(seed), i)``."""
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(k))
