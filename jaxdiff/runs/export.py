"""A run's trained sampler as a ``jax.export`` artifact: StableHLO with the parameters,
the schedule and the normaliser baked in, usable from any program with only ``jax``.

The exported function is ``sample(key_data, like)``: ``key_data`` is the raw data of a
PRNG key (``jax.random.key_data(jax.random.key(seed))``, ``uint32[2]``) and ``like`` any
array of shape ``(n,)``, whose length is the number of samples (symbolic: one artifact
serves every ``n``). It returns ``(n, dim)`` samples in data units, the same as
``jaxdiff sample --seed seed --n n`` for ``n`` up to one block (65,536 rows; beyond, the
command draws block by block with other keys).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import models
from jaxdiff.engine import samplers
from jaxdiff.runs.draw import check_labels, options
from jaxdiff.runs.setup import Setup

__all__ = ["export_sampler"]


def export_sampler(s: Setup, params, *, label=None, guidance=None, **changes) -> bytes:
    """The serialised ``jax.export.Exported`` of the run's sampler (``changes``: method,
    steps, nfe, eta, spacing, churn, as :func:`jaxdiff.runs.draw.draw` takes them). A
    conditional run's artifact draws class ``label`` (an index or a class name) with
    ``guidance`` (default: the run's), or from its unconditional half without one."""
    if s.context_dim:
        raise ValueError("export takes a model without a context; this run has one")
    opts = options(s, label, guidance, **changes).for_schedule(s.schedule)
    labels = None if label is None else int(check_labels(s, label, 1)[0])
    if opts.method == "adaptive":
        # diffrax's step-size control needs the batch size as a number, which the
        # artifact's symbolic n is not.
        raise ValueError(
            "export takes a fixed-step sampler (the artifact's n is symbolic), got method "
            "'adaptive'; use euler, midpoint or heun with --steps"
        )
    dtype = models.float_dtype()
    mean = jnp.asarray(np.asarray(s.normalizer.mean), dtype)
    std = jnp.asarray(np.asarray(s.normalizer.std), dtype)
    dim = s.data.shape[1]
    impl = jax.random.key_impl(s.keys.sample)

    def sample(key_data, like):
        key = jax.random.fold_in(jax.random.wrap_key_data(key_data, impl=impl), 0)
        shape = (like.shape[0], dim)
        z = samplers.sample(key, s.apply_fn, params, s.schedule, shape, opts, labels=labels)
        return z * std + mean

    (n,) = jax.export.symbolic_shape("n")
    key_shape = jax.random.key_data(s.keys.sample).shape
    exported = jax.export.export(jax.jit(sample))(
        jax.ShapeDtypeStruct(key_shape, jnp.uint32), jax.ShapeDtypeStruct((n,), dtype)
    )
    return bytes(exported.serialize())
