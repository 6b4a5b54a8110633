"""What a run does between its compiled chunks of epochs: the callback that writes the
metrics lines, saves the checkpoints and moves the progress bar (:class:`Recorder`), how
many epochs a chunk and a checkpoint span (:func:`cadence`), and a context run's
held-out check that stops training early (:func:`held_out_check`)."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import models
from jaxdiff.engine import stopping
from jaxdiff.runs import checkpoints
from jaxdiff.runs.setup import Setup, model_params

__all__ = [
    "CHECKPOINT_EPOCHS",
    "CHUNK_EPOCHS",
    "MIN_EPOCH_STEPS",
    "Recorder",
    "cadence",
    "epoch_of",
    "held_out_check",
]


def held_out_check(s: Setup, x_held, c_held):
    """``(check, stopper)`` for a context model: ``check(state)`` records the loss of the
    run's parameters (:func:`~jaxdiff.runs.setup.model_params`) on held-out rows
    ``x_held`` given ``c_held`` (data units; :func:`jaxdiff.engine.stopping.held_out_loss`, the
    run's fixed draws) and returns True when :class:`jaxdiff.engine.stopping.Stopper` says stop;
    ``stopper.params`` are the best."""
    dtype = models.float_dtype()
    z = jnp.asarray(s.normalizer.encode(x_held), dtype)
    c = jnp.asarray(s.context_normalizer.encode(c_held), dtype)
    stopper, key = stopping.Stopper(), s.keys.held_out_loss

    def check(state) -> bool:
        params = model_params(s, state)
        loss = stopping.held_out_loss(params, z, c, key, s.schedule, s.spec)
        return stopper.update(float(jax.device_get(loss)), params, epoch_of(state))

    return check, stopper


class Recorder:
    """The callback of each chunk: metrics lines, checkpoints, the progress bar; a
    context run's held-out check (``check``: True stops training)."""

    def __init__(
        self, s, ckpt_dir, metrics_file, history, bar, checkpoint_every, log_every, check=None
    ):
        self.s, self.ckpt_dir, self.file, self.history = s, ckpt_dir, metrics_file, history
        self.bar, self.every, self.log_every = bar, checkpoint_every, log_every
        self.state, self.check = None, check

    def __call__(self, st, losses, seconds):
        s = self.s
        losses = np.asarray(losses)
        members = losses.T if losses.ndim == 2 else None  # (n, K) for an ensemble
        losses = losses.mean(axis=0) if losses.ndim == 2 else losses
        epoch = epoch_of(st)
        first = epoch - len(losses) + 1
        for i, loss in enumerate(losses):
            row = {
                "epoch": first + i,
                "loss": float(loss),
                "lr": s.lr_at((first + i - 1) * s.steps_per_epoch),
                "seconds": seconds / len(losses),
            }
            if members is not None:
                row["member_losses"] = [float(v) for v in members[i]]
            self.file.write(json.dumps(row) + "\n")
            self.history.append(row)
            if self.log_every and (first + i) % self.log_every == 0:
                self.bar.log(f"epoch {first + i:5d}  loss {float(loss):.6f}")
        self.file.flush()
        self.state = st
        if epoch % self.every == 0 or epoch == s.config.train.epochs:
            checkpoints.save(self.ckpt_dir, st)
        self.bar.update(epoch, float(losses[-1]), len(losses), seconds, row["lr"])
        return self.check is not None and self.check(st)


def epoch_of(state) -> int:
    return int(np.max(np.asarray(state.epoch)))


# Epochs a compiled chunk runs between callbacks, and between checkpoints, where an epoch
# is at least MIN_EPOCH_STEPS optimiser steps (the default recipe's 20 on 10,000 rows).
CHUNK_EPOCHS, CHECKPOINT_EPOCHS, MIN_EPOCH_STEPS = 25, 100, 20


def cadence(steps_per_epoch: int, checkpoint_every: int | None, log_every: int | None):
    """``(checkpoint_every, chunk)`` in epochs. Given ``checkpoint_every``: as given, and
    chunks of 25 epochs or its divisor. Else 100 epochs, and 25-epoch chunks, stretched
    in proportion where epochs are shorter than 20 steps (a small table: 2 steps an epoch
    would otherwise stop to call back every 50 steps and checkpoint every 200), the
    checkpoints a multiple of the chunk. A ``log_every`` divides the chunk."""
    if checkpoint_every is None:
        stretch = max(1, MIN_EPOCH_STEPS // max(1, steps_per_epoch))
        chunk = CHUNK_EPOCHS * stretch
        checkpoint_every = chunk * math.ceil(CHECKPOINT_EPOCHS * stretch / chunk)
    else:
        chunk = math.gcd(checkpoint_every, CHUNK_EPOCHS)
    if log_every is not None:
        chunk = math.gcd(chunk, log_every)
    return checkpoint_every, chunk
