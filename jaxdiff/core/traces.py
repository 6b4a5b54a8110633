"""The trace of a vector field's Jacobian, the divergence in the change of variables of a
continuous normalising flow: exact, or Hutchinson's unbiased estimate.

* :func:`exact`: ``tr(∂f/∂x)`` from the whole Jacobian, ``D`` forward-mode passes.
* :func:`hutchinson`: ``εᵀ (∂f/∂x) ε`` for probes ``ε`` with ``E[ε εᵀ] = I``, whose mean
  is the trace (Hutchinson 1990; Skilling 1989; FFJORD, Grathwohl et al. 2019,
  arXiv:1810.01367, eq. 7): one forward pass and one Jacobian-vector product per probe,
  whatever ``D``.

Both return the field and one trace column per probe, ``(n, M)`` (``M = 1`` for the exact
trace), so that an ODE integrates either the same way; :func:`mean_and_variance` turns
the columns into an estimate and the variance of that estimate.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiff.core import validate

__all__ = [
    "EXACT_UP_TO",
    "PROBES",
    "TRACES",
    "choose",
    "exact",
    "hutchinson",
    "mean_and_variance",
    "probes",
]

TRACES = ("exact", "hutchinson")
# The exact trace costs D forward-mode passes a field evaluation, Hutchinson's PROBES + 1
# whatever D; up to this many dimensions the exact one stays the default: it has no
# variance and costs at most 1.4x the estimate there (8.8x at 64 columns;
# benchmarks/likelihood.py, docs/quality.md).
EXACT_UP_TO = 8
# Probes per row: two give each row's estimate a variance of its own, hence the standard
# error reported beside every estimated likelihood.
PROBES = 2


def choose(trace: str | None, dim: int) -> str:
    """``trace`` if given (one of :data:`TRACES`), else the rule: ``"exact"`` up to
    :data:`EXACT_UP_TO` dimensions, ``"hutchinson"`` beyond."""
    dim = validate.positive_int("dim", dim)
    if trace is None:
        return "exact" if dim <= EXACT_UP_TO else "hutchinson"
    return validate.one_of("trace", trace, TRACES)


def probes(key: jax.Array, n: int, dim: int, count: int = PROBES, dtype=jnp.float32):
    """``count`` Rademacher probes (entries ±1, so ``E[ε εᵀ] = I``) for each of ``n``
    rows of ``dim`` coordinates: ``(n, count, dim)``. Rademacher probes give the estimate
    of least variance among probes of independent entries (Hutchinson 1990)."""
    validate.positive_int("count", count)
    return jax.random.rademacher(key, (n, count, dim), dtype)


def exact(f, x: jax.Array, *rows) -> tuple[jax.Array, jax.Array]:
    """``(f(x), tr ∂f/∂x)`` for each row of ``x`` ``(n, D)``, ``f`` a function of one row
    (and of the same row of each of ``rows``, held fixed: a condition): the Jacobian by
    ``jax.jacfwd`` (``D`` forward-mode passes). The trace is ``(n, 1)``."""
    jac = jax.vmap(jax.jacfwd(f))(x, *rows)
    return jax.vmap(f)(x, *rows), jnp.trace(jac, axis1=1, axis2=2)[:, None]


def hutchinson(f, x: jax.Array, eps: jax.Array, *rows) -> tuple[jax.Array, jax.Array]:
    """``(f(x), εᵀ (∂f/∂x) ε)`` for each row of ``x`` ``(n, D)`` and each of its probes
    ``eps`` ``(n, M, D)`` (``rows``: as :func:`exact`): one linearisation of ``f`` a row,
    one Jacobian-vector product a probe. The estimates are ``(n, M)``; each is unbiased
    for the row's trace when ``E[ε εᵀ] = I``."""

    def row(xi, ei, *ri):
        fx, jvp = jax.linearize(lambda v: f(v, *ri), xi)
        return fx, jnp.sum(ei * jax.vmap(jvp)(ei), axis=1)

    return jax.vmap(row)(x, eps, *rows)


def mean_and_variance(columns: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The estimate of each row ``(n,)`` from its probe columns ``(n, M)`` (their mean)
    and that estimate's variance (the columns' sample variance ÷ ``M``; 0 for one
    column, the exact trace)."""
    m = columns.shape[1]
    mean = jnp.mean(columns, axis=1)
    if m == 1:
        return mean, jnp.zeros_like(mean)
    return mean, jnp.var(columns, axis=1, ddof=1) / m
