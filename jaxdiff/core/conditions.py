"""What a model is conditioned on, and its null: a class label or a context vector.

A conditional network takes one condition per row in the slot after its step,
``apply_fn(params, x, t, c)``:

* class labels: ints ``(B,)`` in ``[0, C)``, the null label ``-1``;
* a context: floats ``(B, K)`` (simulation-based inference's observation ``x`` of a
  posterior ``p(θ | x)``, the known columns of a table, …), the null context a row of
  NaN.

The null condition is what classifier-free guidance trains by dropping conditions (Ho &
Salimans 2022, arXiv:2207.12598, Algorithm 1) and guides away from (eq. 6). Every caller
that drops, broadcasts or nulls a condition does it through this module, so that labels
and contexts travel the same way through training, samplers and likelihoods.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["NULL_LABEL", "broadcast", "drop", "is_context", "null_like", "pick"]

NULL_LABEL = -1


def is_context(c) -> bool:
    """Whether ``c`` is a context (floating) rather than class labels (integers)."""
    dtype = c.dtype if hasattr(c, "dtype") else np.asarray(c).dtype
    return bool(jnp.issubdtype(dtype, jnp.floating))


def null_like(c: jax.Array) -> jax.Array:
    """The null condition in ``c``'s shape: ``-1`` labels, or NaN context rows."""
    return jnp.full_like(c, jnp.nan if is_context(c) else NULL_LABEL)


def drop(key: jax.Array, c: jax.Array, rate) -> jax.Array:
    """``c`` with each row replaced by the null condition with probability ``rate`` (a
    context row is dropped whole)."""
    dropped = jax.random.bernoulli(key, rate, c.shape[:1])
    if is_context(c):
        dropped = dropped[:, None]
    return jnp.where(dropped, null_like(c), c)


def broadcast(c: jax.Array, n: int) -> jax.Array:
    """One condition for each of ``n`` rows: labels ``()`` or ``(n,)`` to ``(n,)``, a
    context ``(K,)`` or ``(n, K)`` to ``(n, K)``."""
    if is_context(c):
        return jnp.broadcast_to(c, (n, np.shape(c)[-1]))
    return jnp.broadcast_to(c, (n,))


def pick(labels, context):
    """The one condition of a call that takes ``labels=`` and ``context=``: whichever is
    given (a context as a float array), None for neither; both is a one-line error."""
    if labels is not None and context is not None:
        raise ValueError("give labels or context, not both: a model takes one or the other")
    if context is None:
        return labels
    c = np.asarray(context) if not isinstance(context, jax.Array) else context
    if not np.issubdtype(c.dtype, np.floating):
        c = c.astype(np.float32)
    return c
