"""A network as a pure function, and what fits it.

:func:`functional` turns an :class:`~jaxdiff.core.models.MLPDenoiser` into the pair
everything else sees: ``apply_fn(params, x, t[, cond][, interval=h])`` (an
:class:`Apply`, hashable, so jitted callers cache on it) and its params pytree.
:func:`check` and :func:`check_fits` say in one line what does not fit the network:
its own sizes, or the data, schedule, labels, context or sampler a caller brings.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import validate
from jaxdiff.core.models import MLPDenoiser, NetworkConfig

__all__ = ["Apply", "check", "check_fits", "functional", "param_count"]


@dataclasses.dataclass(frozen=True)
class Apply:
    """``apply_fn(params, x, t[, cond][, interval=h])`` of a module: the functional
    adapter that :func:`functional` returns. Hashable, so jitted callers cache on it."""

    model: nn.Module

    def __call__(self, params, x, t, cond=None, interval=None):
        return self.model.apply({"params": params}, x, t, cond, interval)


def functional(model: MLPDenoiser, key: jax.Array):
    """Splits a model into ``(apply_fn, params)``.

    Args:
      model: the module.
      key: PRNG key for the initial parameters.

    Returns:
      ``apply_fn(params, x, t) -> prediction`` (pure, hashable) and the params pytree.

    Example:
      >>> apply_fn, params = functional(MLPDenoiser(), jax.random.key(0))
      >>> apply_fn(params, jnp.zeros((5, 2)), jnp.zeros(5, jnp.int32)).shape
      (5, 2)
    """
    check(model)
    x = jnp.zeros((1, model.data_dim))
    # One compiled init instead of one compilation per eager op.
    params = jax.jit(model.init)(key, x, jnp.zeros((1,), jnp.int32))["params"]
    return Apply(model), params


def check(model: MLPDenoiser) -> None:
    """Raises a one-line ``ValueError`` naming the first of ``model``'s sizes that is out
    of range (as :func:`functional` does before building it; its :class:`NetworkConfig`
    was checked when built)."""
    for name in ("data_dim", "num_steps"):
        validate.positive_int(name, getattr(model, name))
    validate.non_negative_int("num_classes", model.num_classes)
    validate.non_negative_int("context", model.context)
    if model.num_classes and model.context:
        raise ValueError(
            f"a model takes class labels or a context, not both: got num_classes "
            f"{model.num_classes} and context {model.context}"
        )
    if not isinstance(model.config, NetworkConfig):
        raise validate.InvalidValue("config", "a NetworkConfig", model.config)


def param_count(params) -> int:
    """Total number of scalars in a params pytree."""
    return sum(int(p.size) for p in jax.tree_util.tree_leaves(params))


def check_fits(
    apply_fn,
    *,
    data_dim: int | None = None,
    num_steps: int | None = None,
    labels=None,
    method: str | None = None,
    context_required: bool = False,
) -> None:
    """Raises a one-line ``ValueError`` if data of ``data_dim`` features, a schedule of
    more than the model's ``num_steps`` steps, class ``labels`` (concrete ints; ``-1``
    is the null label) or the sampler ``method`` (``"mean"`` needs an interval input) do
    not fit the model behind ``apply_fn`` (from :func:`functional`; other callables are
    not checked). For a context model ``labels`` is its context, floats of its ``K``
    columns; ``context_required``: training, which needs one."""
    model = getattr(apply_fn, "model", None)
    if not isinstance(model, MLPDenoiser):
        return
    if method == "mean" and not model.config.interval:
        raise ValueError(
            "method 'mean' needs a MeanFlow model (built with interval=True); sample this "
            "model with 'euler', 'midpoint', 'heun' or 'adaptive'"
        )
    if model.context and labels is not None:
        _check_context(labels, model.context)
    elif labels is not None and not isinstance(labels, jax.core.Tracer):
        c = np.asarray(labels)
        if not model.num_classes:
            raise ValueError("labels were given but the model is unconditional (num_classes=0)")
        if not np.issubdtype(c.dtype, np.integer):
            raise ValueError(f"labels must be integers, got dtype {c.dtype}")
        if c.size and (c.min() < -1 or c.max() >= model.num_classes):
            raise ValueError(
                f"labels must be in [0, {model.num_classes}) or -1 for none, "
                f"got values in [{c.min()}, {c.max()}]"
            )
    if model.context and context_required and labels is None:
        raise ValueError(f"this model needs a context of {model.context} columns: give context")
    if data_dim is not None and data_dim != model.data_dim:
        raise ValueError(
            f"data has {data_dim} features but the model was built for {model.data_dim}"
        )
    if num_steps is not None and num_steps > model.num_steps:
        # JAX clamps out-of-range gathers, so steps past the table would silently reuse
        # its last row. (A shorter schedule uses the first rows, which is well defined.)
        raise ValueError(
            f"the schedule has {num_steps} steps but the model's step embeddings have only "
            f"{model.num_steps} rows; build both with the same T"
        )


def _check_context(context, width: int) -> None:
    """A one-line ``ValueError`` unless ``context`` is floats ``(K,)`` or ``(n, K)``."""
    shape = np.shape(context)
    if not jnp.issubdtype(jnp.result_type(context), jnp.floating):
        raise ValueError(
            f"context must be floats, got dtype {jnp.result_type(context)} (class labels "
            "are for a class-conditional model)"
        )
    if len(shape) not in (1, 2) or shape[-1] != width:
        raise ValueError(
            f"context must have shape ({width},) or (n, {width}) for this model, got {shape}"
        )
