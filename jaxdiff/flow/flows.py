"""Flow matching: the straight path between data and noise, its velocity loss, the draws
of ``t`` and the pairing of data with noise.

The path is CondOT / rectified flow (Lipman et al. 2023, arXiv:2210.02747, eq. 20 with
``σ_min = 0``; Liu et al. 2023, arXiv:2209.03003, eq. 1): data ``x_0``, noise
``ε ~ N(0, I)``, ``t ∈ [0, 1]`` with ``t = 1`` noise,

    x_t = (1 - t) x_0 + t ε,      u = dx_t/dt = ε - x_0,

and the network learns ``v_θ(x_t, t) ≈ E[u | x_t]``, whose ODE ``dx/dt = v_θ`` carries
noise at ``t = 1`` to data at ``t = 0`` (:mod:`jaxdiff.flow.flow_solvers`).

The network sees ``t`` as ``t · (T - 1)`` (:func:`network_time`), where ``T`` is the
schedule's number of steps: the range of a DDPM model's step input, so every time
encoding of :class:`~jaxdiff.core.models.MLPDenoiser` (step tables read between rows,
sinusoidal features) works unchanged. A flow's schedule sets nothing else.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from jaxdiff.core import conditions, validate
from jaxdiff.core.chains import Clock

__all__ = [
    "PAIRINGS",
    "TARGET",
    "TIME_SAMPLERS",
    "antithetic_times",
    "flow_loss",
    "interpolate",
    "logit_normal_times",
    "network_time",
    "noise",
    "ot_pairs",
    "ot_permutation",
    "paired_batch",
    "reflow_pairs",
    "uniform_times",
]

# What a flow model's network predicts (``sampler_settings.SamplerOptions.target``): the velocity.
TARGET = "velocity"
# "given": each data row is a pair [x_0 | ε] of 2D columns, the noise fixed (reflow).
PAIRINGS = ("independent", "ot", "given")
# Rows per exact assignment in minibatch OT pairing (see ot_permutation).
OT_BLOCK = 128


def network_time(t: jax.Array, schedule: Clock) -> jax.Array:
    """The network's time input for flow time ``t ∈ [0, 1]``: ``t · (T - 1)``."""
    return t * (schedule.num_steps - 1)


def interpolate(x0: jax.Array, eps: jax.Array, t: jax.Array) -> jax.Array:
    """``x_t = (1 - t) x_0 + t ε`` (Lipman et al. 2023, eq. 20 with ``σ_min = 0``), ``t``
    ``(B,)`` or scalar."""
    t = jnp.reshape(t, jnp.shape(t) + (1,) * (x0.ndim - jnp.ndim(t)))
    return (1.0 - t) * x0 + t * eps


def uniform_times(key: jax.Array, batch_size: int) -> jax.Array:
    """``t ~ U(0, 1)`` per row."""
    return jax.random.uniform(key, (batch_size,))


def antithetic_times(key: jax.Array, batch_size: int) -> jax.Array:
    """``u ~ U(0, 1)`` for the first ``⌈B/2⌉`` rows and ``1 - u`` for the rest (the
    continuous form of the seed's antithetic steps): row ``i`` pairs with ``i + ⌈B/2⌉``."""
    half = (batch_size + 1) // 2
    u = jax.random.uniform(key, (half,))
    return jnp.concatenate([u, 1.0 - u])[:batch_size]


def logit_normal_times(key: jax.Array, batch_size: int) -> jax.Array:
    """``t = sigmoid(n)``, ``n ~ N(0, 1)`` (Esser et al. 2024, arXiv:2403.03206, §3.1,
    eq. 19 with ``m = 0, s = 1``): more weight on the middle of the path."""
    return jax.nn.sigmoid(jax.random.normal(key, (batch_size,)))


TIME_SAMPLERS: dict[str, Callable] = {
    "antithetic": antithetic_times,
    "uniform": uniform_times,
    "logit_normal": logit_normal_times,
}


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)), "jaxdiff-ot")


def _assign(cost: np.ndarray) -> np.ndarray:
    """Host side of :func:`ot_permutation`: the exact assignment of each ``(block, block)``
    cost matrix of ``cost`` ``(..., block, block)``, spread over a few threads (scipy
    releases the GIL). An epoch pairs all its batches in one call (:func:`ot_pairs`)."""
    c = np.asarray(cost)
    cols = _pool().map(lambda m: linear_sum_assignment(m)[1], c.reshape((-1, *c.shape[-2:])))
    return np.stack(list(cols)).astype(np.int32).reshape(c.shape[:-1])


def ot_permutation(
    x0: jax.Array, eps: jax.Array, groups: jax.Array | None = None, *, block: int | None = None
) -> jax.Array:
    """The permutation ``π`` pairing row ``i`` of ``x0`` with row ``π_i`` of ``eps`` that
    minimises ``Σ_i ‖x0_i - eps_π(i)‖²`` within consecutive blocks of ``block`` rows
    (default :data:`OT_BLOCK`)
    (minibatch OT, Tong et al. 2023, arXiv:2302.00482, §3.2; Pooladian et al. 2023): an
    exact assignment per block, solved on the host by ``scipy.optimize.linear_sum_assignment``
    through ``jax.pure_callback``, so it may be called inside ``jit``.

    The rows of a batch are in random order, so each block is a random minibatch of its
    own. ``groups`` ``(B,)`` ints (class labels) pair within each group: noise row ``j``
    counts as a member of row ``j``'s group, and a pair across groups costs more than any
    pair within, so each block's groups match among themselves (the noise rows are i.i.d.,
    so which ones a group gets does not change their law). ``π`` is a permutation, so the
    paired noise is still ``N(0, I)`` row by row.

    ``groups`` ``(B, K)`` floats (a context) cannot be matched exactly; noise row ``j``
    again carries row ``j``'s context and a pair pays ``C2OT_WEIGHT`` times the mean data
    cost per unit of squared context distance on top of its own, so that pairs keep to
    nearby contexts (C2OT, Cheng & Schwing 2025, arXiv:2503.10636, §4: a condition term
    in the cost, weighted relative to the batch's cost; theirs is a cosine distance, this
    one squared Euclidean on the standardised context). Plain OT would hand each context
    the noise nearest its data, and the model would learn a noise law skewed by the
    context that sampling never draws from (their §3).
    """
    n = x0.shape[0]
    block = min(validate.positive_int("block", OT_BLOCK if block is None else block), n)
    blocks = -(-n // block)
    pad = blocks * block - n
    real = jnp.arange(blocks * block) < n
    xp = jnp.pad(x0, ((0, pad), (0, 0))).reshape(blocks, block, -1)
    ep = jnp.pad(eps, ((0, pad), (0, 0))).reshape(blocks, block, -1)
    cost = jnp.sum(jnp.square(xp[:, :, None] - ep[:, None, :]), axis=-1)
    # A pair of a real row with padding, or across groups, costs more than all real pairs.
    big = 2.0 * jnp.sum(cost) + 1.0
    r = real.reshape(blocks, block)
    apart = r[:, :, None] != r[:, None, :]
    if groups is not None and conditions.is_context(groups):
        g = jnp.pad(groups, ((0, pad), (0, 0))).reshape(blocks, block, -1)
        near = jnp.sum(jnp.square(g[:, :, None] - g[:, None, :]), axis=-1)
        scale = jnp.sum(jnp.where(apart, 0.0, cost)) / jnp.maximum(jnp.sum(~apart), 1)
        cost = cost + C2OT_WEIGHT * jax.lax.stop_gradient(scale) * near
        big = 2.0 * jnp.sum(cost) + 1.0
    elif groups is not None:
        g = jnp.pad(groups, (0, pad)).reshape(blocks, block)
        apart = apart | (g[:, :, None] != g[:, None, :])
    cost = jnp.where(apart, big, cost)
    spec = jax.ShapeDtypeStruct((blocks, block), jnp.int32)
    cols = jax.pure_callback(_assign, spec, cost, vmap_method="expand_dims")
    return (cols + block * jnp.arange(blocks)[:, None]).reshape(-1)[:n]


# The weight of the context term in a pair's cost under a context (ot_permutation), per
# unit of squared context distance, as a multiple of the batch's mean pair cost.
C2OT_WEIGHT = 10.0


def noise(key: jax.Array, x0: jax.Array) -> jax.Array:
    """The noise ``ε ~ N(0, I)`` that :func:`flow_loss` draws with ``key`` for ``x0``."""
    return jax.random.normal(jax.random.split(key, 3)[1], x0.shape, x0.dtype)


def ot_pairs(keys: jax.Array, x0: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    """Rows ``[x_0 | ε_π]`` for ``S`` batches at once: batch ``s`` of ``x0`` ``(S, B, D)``
    with the noise ``flow_loss(keys[s], ...)`` draws (:func:`noise`), reordered by
    :func:`ot_permutation` (within each class of ``labels`` ``(S, B)``). ``flow_loss`` with
    ``pairing="given"`` on these rows is ``pairing="ot"`` on ``x0``, value for value; an
    epoch pairs all its batches before its first step, in one host call, rather than one
    per step (which cost 2 ms a step in the host round trip alone, 2-core Xeon).
    """

    def pair(key, x, g):
        eps = noise(key, x)
        return jnp.concatenate([x, eps[ot_permutation(x, eps, g)]], axis=-1)

    if labels is None:
        return jax.vmap(lambda k, x: pair(k, x, None))(keys, x0)
    return jax.vmap(pair)(keys, x0, labels)


def flow_loss(
    key: jax.Array,
    apply_fn: Callable,
    params,
    schedule: Clock,
    x0: jax.Array,
    *,
    t_sampler: Callable = uniform_times,
    pairing: str = "independent",
    labels: jax.Array | None = None,
    label_drop: float = 0.0,
) -> jax.Array:
    """The conditional flow matching loss ``E ‖v_θ(x_t, t) - (ε - x_0)‖²`` (Lipman et al.
    2023, eq. 23 on the CondOT path), the mean over batch and coordinates.

    ``pairing="ot"`` first reorders the noise by :func:`ot_permutation` (within each
    class when ``labels`` are given), so that each data row meets nearby noise and the
    learned paths cross less (Tong et al. 2023, eq. 11). ``pairing="given"`` takes each
    row of ``x0`` as a pair ``[x_0 | ε]`` of ``2D`` columns (:func:`reflow_pairs`): the
    noise is the pair's own, as reflow trains (Liu et al. 2023, §2.3). ``labels`` and ``label_drop``
    train a class-conditional model for classifier-free guidance, as
    :func:`jaxdiff.ddpm.losses.denoising_loss`.

    Args:
      key: PRNG key, split into ones for ``t``, ``ε`` (and the dropped labels).
      apply_fn, params: the model, ``apply_fn(params, x, network_time(t)[, label])``.
      schedule: fixes the network's time range only (:func:`network_time`).
      x0: data, ``(B, D)``; pairs ``(B, 2D)`` with ``pairing="given"``.
      t_sampler: ``t_sampler(key, B) -> (B,)`` times in ``[0, 1]``.
      pairing: ``"independent"``, ``"ot"`` or ``"given"``.
      labels: optional int classes ``(B,)``.
      label_drop: probability of training a row on the null label ``-1``.
    """
    t_key, x0, eps, cond = paired_batch(key, x0, pairing, labels, label_drop)
    t = t_sampler(t_key, x0.shape[0]).astype(x0.dtype)
    pred = apply_fn(params, interpolate(x0, eps, t), network_time(t, schedule), *cond)
    return jnp.mean(jnp.square(pred - (eps - x0)))


def paired_batch(
    key: jax.Array,
    x0: jax.Array,
    pairing: str = "independent",
    labels: jax.Array | None = None,
    label_drop: float = 0.0,
):
    """``(t_key, x_0, ε, cond)`` of one batch for a flow's loss (:func:`flow_loss`,
    :func:`jaxdiff.flow.meanflow.meanflow_loss`): ``key`` split into the key of the times, the
    noise (:func:`noise`; ``pairing="ot"`` reordered by :func:`ot_permutation` within
    each class; ``"given"``: each row's own ``[x_0 | ε]``) and the dropped labels;
    ``cond`` is ``()`` or the labels, each dropped to ``-1`` with probability
    ``label_drop``."""
    validate.one_of("pairing", pairing, PAIRINGS)
    t_key, _, drop_key = jax.random.split(key, 3)
    if pairing == "given":
        x0, eps = jnp.split(x0, 2, axis=-1)
    else:
        eps = noise(key, x0)
    if pairing == "ot":
        eps = eps[ot_permutation(x0, eps, labels)]
    cond = ()
    if labels is not None:
        cond = (conditions.drop(drop_key, labels, label_drop),)
    return t_key, x0, eps, cond


def reflow_pairs(key: jax.Array, sample_fn: Callable, n: int, data_dim: int) -> jax.Array:
    """``n`` rows ``[x_0 | ε]`` (``2 D`` columns) for reflow (Liu et al. 2023,
    arXiv:2209.03003, §2.3, Algorithm 1): noise ``ε ~ N(0, I)`` and the sample a trained
    flow's ODE carries it to, ``x_0 = sample_fn(ε)``. A flow trained on these pairs with
    ``pairing="given"`` learns straighter paths than its teacher's, so fewer steps
    follow them.

    Args:
      key: PRNG key for the noise.
      sample_fn: ``ε (n, D) -> x_0 (n, D)``, the teacher's deterministic sampler, e.g.
        ``lambda e: samplers.sample(k, apply_fn, params, schedule, e.shape, opts, x_T=e)``.
      n: pairs.
      data_dim: ``D``.
    """
    n = validate.positive_int("n", n)
    eps = jax.random.normal(key, (n, validate.positive_int("data_dim", data_dim)))
    return jnp.concatenate([sample_fn(eps), eps], axis=-1)
