"""The Python driver of training: chunks of compiled epochs, callbacks between them
(progress, logging, checkpoints), timing outside compilation, and divergence.

:func:`run_chunks` is the one driver; :func:`fit_state` runs it over ``training.train_epochs``
and ``ensembles.fit_ensemble`` over its vmapped epochs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jaxdiff.core import conditions, validate
from jaxdiff.ddpm.schedules import Schedule
from jaxdiff.engine import train_spec, training

__all__ = ["TrainingDiverged", "fit_state", "run_chunks"]


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


def _epoch_of(state) -> int:
    """The epoch of a state (the newest member's, for an ensemble)."""
    return int(np.max(np.asarray(state.epoch)))


def run_chunks(
    state,
    run_chunk: Callable,
    *,
    epochs: int,
    epochs_per_call: int = 25,
    callback: Callable | None = None,
    stop_on_divergence: bool = True,
) -> tuple[Any, dict]:
    """The Python driver of training: from ``state``'s epoch up to ``epochs`` total, in
    compiled chunks.

    ``run_chunk(state, n)`` runs ``n`` epochs in one call and returns the new state and
    losses whose last axis holds at least ``n`` entries (an ensemble's are ``(K, ·)``).
    Chunk boundaries fall on multiples of ``epochs_per_call``, so a resumed run splits its
    epochs exactly as an uninterrupted one. A call with ``n = 0`` compiles (or finds in
    jit's cache) the one executable every chunk uses, before the clock starts. After each
    chunk ``callback(state, losses, seconds)`` is called (progress bars, logging and
    checkpoints live there); when it returns True, training stops there (early stopping,
    :mod:`jaxdiff.engine.stopping`). With ``stop_on_divergence``, a chunk that ends short of its
    epochs raises :class:`TrainingDiverged` (the callback has seen the good epochs).

    Returns:
      The final state and ``{"losses", "train_seconds", "compile_seconds", "steps"}`` for
      the epochs run by this call (``losses`` a numpy array, epochs on the last axis).
    """
    epochs = validate.positive_int("epochs", epochs)
    epochs_per_call = validate.positive_int("epochs_per_call", epochs_per_call)
    start_step = int(np.sum(np.asarray(state.step)))
    t0 = time.perf_counter()
    jax.block_until_ready(run_chunk(state, 0))
    compile_seconds = time.perf_counter() - t0
    chunks: list[np.ndarray] = []
    train_seconds = 0.0
    epoch = _epoch_of(state)
    while epoch < epochs:
        n = min(epochs_per_call - epoch % epochs_per_call, epochs - epoch)
        t0 = time.perf_counter()
        state, losses = run_chunk(state, n)
        losses = jax.device_get(losses[..., :n])
        seconds = time.perf_counter() - t0
        train_seconds += seconds
        done = _epoch_of(state) - epoch
        if stop_on_divergence and done < n:
            if done and callback is not None:
                callback(state, losses[..., :done], seconds)
            raise TrainingDiverged(epoch + done + 1, float(losses[..., done]), state)
        epoch += n
        chunks.append(losses)
        if callback is not None and callback(state, losses, seconds):
            break
    return state, {
        "losses": np.concatenate(chunks, axis=-1) if chunks else np.zeros((0,), np.float32),
        "train_seconds": train_seconds,
        "compile_seconds": compile_seconds,
        "steps": int(np.sum(np.asarray(state.step))) - start_step,
    }


def fit_state(
    state: train_spec.TrainState,
    data,
    *,
    spec: train_spec.TrainSpec,
    schedule: Schedule,
    epochs: int,
    epochs_per_call: int = 25,
    callback: Callable | None = None,
    labels=None,
    context=None,
) -> tuple[train_spec.TrainState, dict]:
    """Trains from ``state.epoch`` up to ``epochs`` total epochs (see :func:`run_chunks`).

    ``labels`` ``(N,)`` train a class-conditional model, ``context`` ``(N, K)`` a context
    model (each dropped to the null condition at ``spec.label_drop``).

    Returns:
      The final state and ``{"losses": [...], "train_seconds", "compile_seconds",
      "steps"}`` for the epochs run by this call.

    Raises:
      TrainingDiverged: an epoch's loss or parameters became NaN or inf; the exception
        holds the state of the last good epoch (the callback has seen it).
    """
    validate.positive_int("epochs", epochs)
    validate.positive_int("epochs_per_call", epochs_per_call)
    cond = conditions.pick(labels, context)
    inputs = training.check_inputs(data, cond, spec=spec, schedule=schedule)

    x, y = inputs

    def run_chunk(s, n):
        return training.train_epochs(
            s, x, n, spec=spec, schedule=schedule, buffer=epochs_per_call, labels=y
        )

    state, info = run_chunks(
        state, run_chunk, epochs=epochs, epochs_per_call=epochs_per_call, callback=callback
    )
    info["losses"] = [float(v) for v in info["losses"]]
    return state, info
