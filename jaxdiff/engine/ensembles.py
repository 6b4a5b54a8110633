"""K independent models trained in one compiled program, with ``jax.vmap``.

Every leaf of an ensemble's :class:`~jaxdiff.engine.train_spec.TrainState` has a leading axis of
size K; ``vmap`` maps the single-model epochs (``training.epochs_program``) over it, so
member ``i`` follows exactly the arithmetic of a model trained alone from member ``i``'s
key (up to the order of float reductions that batching may change). Members differ by
their PRNG keys (seeds): their initial parameters, their shuffles and their noise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import optax

from jaxdiff.core import validate
from jaxdiff.ddpm.schedules import Schedule
from jaxdiff.engine import fitting, train_spec, training

__all__ = ["fit_ensemble", "init_ensemble", "member", "single", "train_epochs"]


def init_ensemble(
    keys: jax.Array, init_params: Callable, optimizer: optax.GradientTransformation, *, ema=False
) -> train_spec.TrainState:
    """Stacked states of ``len(keys)`` members: member ``i``'s parameters come from
    ``init_params(split(keys[i])[0])`` and its training key is ``split(keys[i])[1]``,
    exactly as :func:`single` would build it alone."""
    return _init_many(keys, init_params, optimizer, ema)


def _init_many(keys, init_params, optimizer, ema):
    return jax.vmap(lambda k: _init_one(k, init_params, optimizer, ema))(keys)


# Jitted after their definitions (the same objects as the decorator's) so that mutation
# testing, which skips decorated functions, mutates their bodies.
_init_many = jax.jit(_init_many, static_argnames=("init_params", "optimizer", "ema"))


def single(key: jax.Array, init_params: Callable, optimizer, *, ema=False) -> train_spec.TrainState:
    """The state one member starts from, for training it alone (the reference)."""
    return _init_one(key, init_params, optimizer, ema)


def _init_one(key, init_params, optimizer, ema):
    init_key, train_key = jax.random.split(key)
    return train_spec.init_state(train_key, init_params(init_key), optimizer, ema=ema)


_init_one = jax.jit(_init_one, static_argnames=("init_params", "optimizer", "ema"))


def member(states: train_spec.TrainState, i: int) -> train_spec.TrainState:
    """Member ``i`` of an ensemble, as a single-model state."""
    return jax.tree_util.tree_map(lambda a: a[i], states)


def _ensemble_epochs(states, data, num_epochs, schedule, spec, buffer):
    run = functools.partial(training.epochs_program, schedule=schedule, spec=spec, buffer=buffer)
    return jax.vmap(run, in_axes=(0, None, None))(states, data, num_epochs)


_ensemble_epochs = jax.jit(_ensemble_epochs, static_argnames=("spec", "buffer"))


def train_epochs(
    states: train_spec.TrainState,
    data: jax.Array,
    num_epochs: int,
    *,
    spec: train_spec.TrainSpec,
    schedule: Schedule,
    buffer: int | None = None,
    labels: jax.Array | None = None,
) -> tuple[train_spec.TrainState, jax.Array]:
    """``training.train_epochs`` for every member at once: losses ``(K, num_epochs)``."""
    num_epochs = validate.positive_int("num_epochs", num_epochs)
    buffer = num_epochs if buffer is None else buffer
    states, losses = _ensemble_epochs(states, (data, labels), num_epochs, schedule, spec, buffer)
    return states, losses[:, :num_epochs]


def fit_ensemble(
    states: train_spec.TrainState,
    data,
    *,
    spec: train_spec.TrainSpec,
    schedule: Schedule,
    epochs: int,
    epochs_per_call: int = 25,
    callback: Callable | None = None,
    labels=None,
) -> tuple[train_spec.TrainState, dict]:
    """Trains every member of ``states`` up to ``epochs`` epochs, all in one program.

    The driver is ``fitting.run_chunks``: after each chunk ``callback(states, losses
    (K, n), seconds)``. Returns the states and ``{"losses": (K, epochs run),
    "train_seconds", "compile_seconds", "steps"}`` (steps summed over members). A member
    whose loss diverges keeps its last good state (see ``training.train_epochs``); the
    others go on. ``labels`` are those of ``fitting.fit_state``.
    """
    inputs = training.check_inputs(data, labels, spec=spec, schedule=schedule)

    def run_chunk(s, n):
        return _ensemble_epochs(s, inputs, n, schedule, spec, epochs_per_call)

    return fitting.run_chunks(
        states,
        run_chunk,
        epochs=epochs,
        epochs_per_call=epochs_per_call,
        callback=callback,
        stop_on_divergence=False,
    )
