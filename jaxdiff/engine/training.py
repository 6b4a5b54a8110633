"""Training's compiled steps and epochs, and the checks of their inputs.

Every compiled function takes the state and the one static :class:`TrainSpec` of
:mod:`jaxdiff.engine.train_spec`: equal specs share one compiled program.

``train_step`` is one jitted update; ``train_epoch`` is one compiled ``lax.scan`` over a
shuffled epoch; ``train_epochs`` runs several epochs in one compiled call. The Python
driver around them (chunks of epochs, callbacks, divergence) is :mod:`jaxdiff.engine.fitting`.

The last, ragged batch of an epoch (10,000 = 78 × 128 + 16 for the seed) is taken as a
second compiled step of its own size after the scan, not by masking: the update is then
exactly the seed's (mean over the 16 real rows, antithetic pairs among them).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

from jaxdiff.core import conditions, validate
from jaxdiff.core import data as data_lib
from jaxdiff.core.apply import check_fits
from jaxdiff.ddpm.losses import T_SAMPLERS, denoising_loss
from jaxdiff.ddpm.schedules import Schedule
from jaxdiff.engine.train_spec import FLOW_OBJECTIVES, TrainSpec, TrainState
from jaxdiff.flow import flows, meanflow

__all__ = [
    "check_inputs",
    "epochs_program",
    "train_epoch",
    "train_epochs",
    "train_step",
]


def _step(state, batch, key, schedule, spec: TrainSpec, paired: bool = False):
    if spec.batch_sharding is not None:
        # Data parallelism (jaxdiff.engine.parallel): rows of the batch live on different devices;
        # with replicated parameters XLA inserts the gradient all-reduce itself.
        batch = jax.tree_util.tree_map(
            lambda a: jax.lax.with_sharding_constraint(a, spec.batch_sharding), batch
        )
    x, labels = batch
    if spec.objective in FLOW_OBJECTIVES:
        loss_fn = flows.flow_loss if spec.objective == "flow" else meanflow.meanflow_loss

        def loss_of(p):
            return loss_fn(
                key,
                spec.apply_fn,
                p,
                schedule,
                x,
                t_sampler=flows.TIME_SAMPLERS[spec.t_sampler],
                pairing="given" if paired else spec.pairing,
                labels=labels,
                label_drop=spec.label_drop,
            )
    else:

        def loss_of(p):
            return denoising_loss(
                key,
                spec.apply_fn,
                p,
                schedule,
                x,
                target=spec.target,
                t_sampler=T_SAMPLERS[spec.t_sampler],
                labels=labels,
                label_drop=spec.label_drop,
            )

    loss, grads = jax.value_and_grad(loss_of)(state.params)
    updates, opt_state = spec.optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    ema_params = state.ema_params
    if spec.ema_decay is not None:
        decay = spec.ema_decay
        ema_params = jax.tree_util.tree_map(
            lambda e, p: decay * e + (1.0 - decay) * p, ema_params, params
        )
    new = dataclasses.replace(
        state, step=state.step + 1, params=params, opt_state=opt_state, ema_params=ema_params
    )
    return new, loss


def train_step(
    state: TrainState,
    batch: jax.Array,
    key: jax.Array,
    *,
    spec: TrainSpec,
    schedule: Schedule,
    labels: jax.Array | None = None,
) -> tuple[TrainState, jax.Array]:
    """One optimiser step on ``batch`` ``(B, D)`` with the loss key ``key``.

    Returns the new state and the batch loss (``losses.denoising_loss``). ``labels``
    ``(B,)`` train a class-conditional model (see :class:`TrainSpec`'s ``label_drop``).
    """
    return _step(state, (batch, labels), key, schedule, spec)


train_step = jax.jit(train_step, static_argnames=("spec",))


def _epoch(state, data, schedule, spec: TrainSpec):
    # data: (x, labels or None); rows of both are shuffled and batched together.
    n = data[0].shape[0]
    num_full, rest = divmod(n, spec.batch_size)
    perm_key, steps_key = jax.random.split(jax.random.fold_in(state.key, state.epoch))
    perm = jax.random.permutation(perm_key, n)

    def body(s, inputs):
        i, idx = inputs
        batch = jax.tree_util.tree_map(lambda a: a[idx], data)
        return _step(s, batch, jax.random.fold_in(steps_key, i), schedule, spec)

    def paired_body(s, inputs):  # batches already [x_0 | ε_π] (flows.ot_pairs)
        i, batch = inputs
        return _step(s, batch, jax.random.fold_in(steps_key, i), schedule, spec, paired=True)

    total = jnp.zeros(())  # the default float: float32, or float64 under x64
    if num_full:
        steps = jnp.arange(num_full)
        batches = perm[: num_full * spec.batch_size].reshape(num_full, spec.batch_size)
        if spec.objective in FLOW_OBJECTIVES and spec.pairing == "ot":
            # Every batch's assignment in one host call before the first step.
            x, labels = jax.tree_util.tree_map(lambda a: a[batches], data)
            keys = jax.vmap(lambda i: jax.random.fold_in(steps_key, i))(steps)
            pairs = (flows.ot_pairs(keys, x, labels), labels)
            state, losses = jax.lax.scan(paired_body, state, (steps, pairs))
        else:
            state, losses = jax.lax.scan(body, state, (steps, batches))
        total = total + jnp.sum(losses) * spec.batch_size
    if rest:
        state, loss = body(state, (num_full, perm[num_full * spec.batch_size :]))
        total = total + loss * rest
    state = dataclasses.replace(state, epoch=state.epoch + 1)
    return state, total / n


def _check_batch(data, batch_size: int) -> None:
    if data.ndim != 2 or data.shape[0] < 1:
        raise ValueError(f"data must be a non-empty (n, dim) array, got shape {data.shape}")
    if batch_size > data.shape[0]:
        raise ValueError(
            f"batch_size must be at most the number of data points {data.shape[0]}, "
            f"got {batch_size}"
        )


def check_inputs(data, labels, *, spec: TrainSpec, schedule: Schedule):
    """Every check of a fit's inputs; returns ``(data, labels)`` as arrays ready for the
    compiled epochs (labels None for an unconditional model; a context ``(n, K)`` of
    floats for a context model, in the labels' place)."""
    x = jnp.asarray(data_lib.check_array("data", data))
    _check_batch(x, spec.batch_size)
    if labels is not None and conditions.is_context(labels):
        y = data_lib.check_context(labels, x.shape[0]).astype(x.dtype)
    else:
        y = data_lib.check_labels(labels, x.shape[0])
    dim = x.shape[-1]
    if spec.objective == "flow" and spec.pairing == "given":  # rows [x_0 | ε]
        if dim % 2:
            raise ValueError(f"pairs [x_0 | noise] need an even number of columns, got {dim}")
        dim //= 2
    check_fits(
        spec.apply_fn,
        data_dim=dim,
        num_steps=schedule.num_steps,
        labels=y,
        context_required=True,
    )
    return x, (None if y is None else jnp.asarray(y))


def _train_epoch(state, data, schedule, spec):
    return _epoch(state, data, schedule, spec)


_train_epoch = jax.jit(_train_epoch, static_argnames=("spec",))


def train_epoch(
    state: TrainState,
    data: jax.Array,
    *,
    spec: TrainSpec,
    schedule: Schedule,
    labels: jax.Array | None = None,
) -> tuple[TrainState, jax.Array]:
    """One pass over ``data`` ``(N, D)`` in a fresh random order, as one compiled program.

    The permutation and the step keys come from ``fold_in(state.key, state.epoch)``.
    Full batches run in a ``lax.scan``; a ragged remainder gets one more step of its own
    size. Returns the new state and the mean loss over the epoch's points. ``labels``
    ``(N,)`` are shuffled with their rows.
    """
    _check_batch(data, spec.batch_size)
    return _train_epoch(state, (data, labels), schedule, spec)


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree_util.tree_leaves(tree)]))


def epochs_program(state, data, num_epochs, schedule, spec: TrainSpec, buffer: int):
    """The computation of :func:`train_epochs`, not compiled: for callers that transform
    it further (``ensembles`` maps it over members with ``vmap``).

    A while loop with a traced trip count, so one executable serves every chunk length
    and training split into chunks (or resumed) runs bit-identical code. An epoch whose
    mean loss or new parameters are not finite is discarded and the loop stops there:
    divergence is caught inside the compiled program, within one epoch. ``data`` is
    ``(x, labels or None)``; returns the state and ``(buffer,)`` losses, NaN past the end.
    """

    def cond(carry):
        i, _, _, bad = carry
        return (i < num_epochs) & ~bad

    def body(carry):
        i, s, losses, _ = carry
        new, loss = _epoch(s, data, schedule, spec)
        bad = ~(jnp.isfinite(loss) & _all_finite(new.params))
        s = jax.lax.cond(bad, lambda: s, lambda: new)
        return i + 1, s, losses.at[i].set(loss.astype(losses.dtype)), bad

    losses = jnp.full((buffer,), jnp.nan)
    carry = (jnp.zeros((), jnp.int32), state, losses, jnp.zeros((), bool))
    _, state, losses, _ = jax.lax.while_loop(cond, body, carry)
    return state, losses


_train_epochs = jax.jit(epochs_program, static_argnames=("spec", "buffer"))


def train_epochs(
    state: TrainState,
    data: jax.Array,
    num_epochs: int,
    *,
    spec: TrainSpec,
    schedule: Schedule,
    buffer: int | None = None,
    labels: jax.Array | None = None,
) -> tuple[TrainState, jax.Array]:
    """Runs ``num_epochs`` epochs of :func:`train_epoch` in one compiled call (0 compiles
    the program and runs none).

    ``buffer`` (static, ≥ ``num_epochs``; default ``num_epochs``) sizes the loss array:
    calls with the same buffer share one executable whatever ``num_epochs`` is.
    Returns the state and the per-epoch mean losses, ``(num_epochs,)``. If an epoch's
    loss or parameters become NaN or inf, the state stays at the last good epoch (so
    ``state.epoch`` falls short of the requested count) and later losses are NaN.
    """
    _check_batch(data, spec.batch_size)
    num_epochs = validate.non_negative_int("num_epochs", num_epochs)
    buffer = max(num_epochs, 1) if buffer is None else buffer
    if num_epochs > buffer:
        raise ValueError(f"num_epochs must be at most buffer={buffer}, got {num_epochs}")
    state, losses = _train_epochs(state, (data, labels), num_epochs, schedule, spec, buffer)
    return state, losses[:num_epochs]
