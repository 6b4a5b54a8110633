"""The noise predictor: the seed's ``MLPDiffusion`` generalised, in Flax Linen.

Everything outside this module sees the model only as ``apply_fn(params, x, t)`` (or
``apply_fn(params, x, t, label)`` for a class-conditional model) over a params pytree
(see :func:`functional`). Linen is used rather than NNX because a Linen
model is already a pure ``init``/``apply`` pair over a plain dict of arrays: that dict is
the pytree the optimiser, the EMA, vmap-ed ensembles and orbax checkpoints all want, with
no split/merge at every call.
"""

from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff import validate

__all__ = ["MLPDenoiser", "check_fits", "float_dtype", "functional", "param_count"]


def float_dtype():
    """The default float: float32, or float64 under ``jax_enable_x64``. Parameters, the
    training arithmetic and samples follow it (data sets are generated as float32)."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def _torch_bias_init(fan_in: int):
    """PyTorch's ``nn.Linear`` bias init, ``U(-1/√fan_in, 1/√fan_in)``."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


# U(-1/√fan_in, 1/√fan_in) has variance 1/(3 fan_in): PyTorch's nn.Linear weight init.
_torch_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


class MLPDenoiser(nn.Module):
    """An MLP over ``(x, t)`` with one learned step embedding per hidden layer.

    For each of ``depth`` hidden layers: ``h = relu(Dense(h) + Embed_l(t))``; then a final
    ``Dense(data_dim)``. With ``data_dim=2, width=128, depth=3, num_steps=100`` this is the
    seed's ``MLPDiffusion`` exactly (72,066 parameters).

    With ``num_classes = C > 0`` the model is class-conditional: each hidden layer also
    adds a row of its own ``(C + 1, width)`` label table, ``h = relu(Dense(h) + Embed_l(t)
    + Label_l(c))``, where row ``C`` is the null label ∅ of classifier-free guidance
    (Ho & Salimans 2022, arXiv:2207.12598, §3.2): the label ``-1`` or no label at all.

    Attributes:
      data_dim: the dimension ``D`` of the data and of the output.
      width: hidden units per layer.
      depth: number of hidden layers, each with its own ``(num_steps, width)`` table.
      num_steps: ``T``, the number of rows of each step-embedding table.
      init_style: ``"torch"`` reproduces PyTorch's defaults (Linear ~ U(±1/√fan_in),
        Embedding ~ N(0, 1)), as the seed; ``"flax"`` uses Flax's defaults.
    """

    data_dim: int = 2
    width: int = 128
    depth: int = 3
    num_steps: int = 100
    init_style: str = "torch"
    num_classes: int = 0

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None) -> jax.Array:
        """Predicts the target for ``x`` ``(B, D)`` at steps ``t``, ``(B,)`` or scalar.

        ``label`` (conditional models only): int class ``(B,)`` or scalar in ``[0, C)``,
        ``-1`` for the null label; ``None`` means null for every row.

        Integer ``t`` looks up embedding rows; a scalar ``t`` (every sampler step) looks up
        one row and broadcasts it instead of gathering ``B`` copies. Floating ``t`` in
        ``[0, T-1]`` interpolates linearly between the rows of its two neighbouring steps
        (the probability-flow ODE of ``likelihood`` evaluates the network between steps); at
        an integer value it equals the integer lookup.
        """
        t = jnp.asarray(t)
        if jnp.issubdtype(t.dtype, jnp.floating):
            lo = jnp.clip(jnp.floor(t), 0, self.num_steps - 1)
            w = jnp.clip(t - lo, 0.0, 1.0)[..., None]
            lo = lo.astype(jnp.int32)
            hi = jnp.minimum(lo + 1, self.num_steps - 1)

            def lookup(embed):
                return (1.0 - w) * embed(lo) + w * embed(hi)

        else:
            t = t.astype(jnp.int32)

            def lookup(embed):
                return embed(t)

        if label is not None and not self.num_classes:
            raise ValueError("label was given but the model is unconditional (num_classes=0)")
        if self.num_classes:
            null = self.num_classes
            c = jnp.full((), null, jnp.int32) if label is None else jnp.asarray(label, jnp.int32)
            c = jnp.where(c < 0, null, c)

        h = x
        dtype = float_dtype()
        fan_in = self.data_dim
        for layer in range(self.depth + 1):
            out = self.width if layer < self.depth else self.data_dim
            if self.init_style == "torch":
                dense = nn.Dense(
                    out,
                    kernel_init=_torch_kernel_init,
                    bias_init=_torch_bias_init(fan_in),
                    param_dtype=dtype,
                )
            else:
                dense = nn.Dense(out, param_dtype=dtype)
            h = dense(h)
            if layer < self.depth:
                embed_init = (
                    nn.initializers.normal(1.0)
                    if self.init_style == "torch"
                    else nn.linear.default_embed_init
                )
                step_table = nn.Embed(
                    self.num_steps, self.width, embedding_init=embed_init, param_dtype=dtype
                )
                h = h + lookup(step_table)
                if self.num_classes:
                    table = nn.Embed(
                        self.num_classes + 1,
                        self.width,
                        embedding_init=embed_init,
                        param_dtype=dtype,
                        name=f"LabelEmbed_{layer}",
                    )
                    h = h + table(c)
                h = nn.relu(h)
            fan_in = out
        return h


@dataclasses.dataclass(frozen=True)
class _Apply:
    """``apply_fn(params, x, t[, label])``: hashable, so jitted callers cache on it."""

    model: nn.Module

    def __call__(self, params, x, t, label=None):
        return self.model.apply({"params": params}, x, t, label)


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
    for name in ("data_dim", "width", "depth", "num_steps"):
        validate.positive_int(name, getattr(model, name))
    validate.non_negative_int("num_classes", model.num_classes)
    if model.init_style not in ("torch", "flax"):
        raise ValueError(f"init_style must be 'torch' or 'flax', got {model.init_style!r}")
    x = jnp.zeros((1, model.data_dim))
    # One compiled init instead of one compilation per eager op.
    params = jax.jit(model.init)(key, x, jnp.zeros((1,), jnp.int32))["params"]
    return _Apply(model), params


def param_count(params) -> int:
    """Total number of scalars in a params pytree."""
    return sum(int(p.size) for p in jax.tree_util.tree_leaves(params))


def check_fits(
    apply_fn, *, data_dim: int | None = None, num_steps: int | None = None, labels=None
) -> None:
    """Raises a one-line ``ValueError`` if data of ``data_dim`` features, a schedule of
    more than the model's ``num_steps`` steps, or class ``labels`` (concrete ints; ``-1``
    is the null label) do not fit the model behind ``apply_fn`` (from :func:`functional`;
    other callables are not checked)."""
    model = getattr(apply_fn, "model", None)
    if not isinstance(model, MLPDenoiser):
        return
    if labels is not None and not isinstance(labels, jax.core.Tracer):
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
