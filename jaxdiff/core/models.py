"""The noise predictor: the seed's ``MLPDiffusion`` generalised, in Flax Linen.

Everything outside this module sees the model only as ``apply_fn(params, x, t)`` (or
``apply_fn(params, x, t, label)`` for a class-conditional model) over a params pytree
(see :func:`jaxdiff.core.apply.functional`). Linen is used rather than NNX because a Linen
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

from jaxdiff.core import conditions, initializers, validate
from jaxdiff.core.features import fourier, sinusoidal

__all__ = [
    "ACTIVATIONS",
    "INPUT_FEATURES",
    "TIME_EMBEDDINGS",
    "MLPDenoiser",
    "NetworkConfig",
    "float_dtype",
    "read_tables",
]


def float_dtype():
    """The default float: float32, or float64 under ``jax_enable_x64``. Parameters, the
    training arithmetic and samples follow it (data sets are generated as float32)."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


ACTIVATIONS = {"relu": nn.relu, "gelu": nn.gelu, "silu": nn.silu}
INPUT_FEATURES = ("none", "sinusoidal", "fourier")
TIME_EMBEDDINGS = ("table", "sinusoidal")


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """The options of :class:`MLPDenoiser`, declared once, here: a run's ``config.json``
    holds them (its ``model`` section, :class:`jaxdiff.runs.config.ModelConfig`, adds only
    ``conditional``) and the command line's flags take their names. Checked when built
    (a one-line ``ValueError`` naming the option); hashable. The defaults are the seed's
    ``MLPDiffusion``.

    The options of the small-data recipes are tiny-diffusion's ablations on 2-D data.

    Attributes:
      width: hidden units per layer.
      depth: hidden layers (residual blocks with ``residual``).
      init_style: ``"torch"`` reproduces PyTorch's defaults (Linear ~ U(±1/√fan_in),
        Embedding ~ N(0, 1)), as the seed; ``"flax"`` uses Flax's defaults.
      input_features: each coordinate of ``x`` becomes ``feature_size`` features:
        ``"none"`` (the seed: ``x`` as it is), ``"sinusoidal"``
        (:func:`~jaxdiff.core.features.sinusoidal` at ``feature_scale``) or ``"fourier"``
        (random Fourier features of std ``feature_scale``, Tancik et al. 2020). They let
        a small MLP draw sharp edges and thin modes in low dimension.
      feature_size: features per coordinate (even: sines and cosines).
      feature_scale: the sinusoidal frequency scale, or the Fourier frequencies' std.
      time_embedding: ``"table"`` (the seed: a learned row per step and hidden layer) or
        ``"sinusoidal"`` (:func:`~jaxdiff.core.features.sinusoidal` features of ``t``, size
        ``width``, concatenated to the input; defined for any real ``t``).
      residual: an input layer, then ``depth`` blocks ``h ← h + act(Dense(h))``.
      activation: ``"relu"`` (seed), ``"gelu"`` or ``"silu"``.
      input_table: ``n > 0`` (Fourier features and step tables only): the first layer's
        input part is read from per-coordinate tables of ``n`` cubic pieces' points
        instead of computed (:func:`jaxdiff.ddpm.students.tabulate_inputs` makes them from a
        trained model; they are not for training). 0: computed.
      input_bound: with ``input_table``, the tables cover ``[-input_bound,
        input_bound]`` in each coordinate; a coordinate beyond is read at the nearer end.
      interval: the network also takes an interval ``h`` in the step's units, encoded as
        the step is (a second table per layer, or a second set of sinusoidal features):
        a MeanFlow model's ``t - r`` (:mod:`jaxdiff.flow.meanflow`). ``h = 0`` (or none
        given) is the instantaneous velocity.
    """

    width: int = 128
    depth: int = 3
    init_style: str = "torch"
    input_features: str = "none"
    feature_size: int = 128
    feature_scale: float = 25.0
    time_embedding: str = "table"
    residual: bool = False
    activation: str = "relu"
    input_table: int = 0
    input_bound: float = 8.0
    interval: bool = False

    def __post_init__(self):
        for name in ("width", "depth", "feature_size"):
            validate.positive_int(name, getattr(self, name))
        validate.one_of("init_style", self.init_style, ("torch", "flax"))
        validate.one_of("input_features", self.input_features, INPUT_FEATURES)
        validate.one_of("time_embedding", self.time_embedding, TIME_EMBEDDINGS)
        validate.one_of("activation", self.activation, tuple(ACTIVATIONS))
        validate.number_in("feature_scale", self.feature_scale, 0.0, math.inf, low_open=True)
        for name in ("residual", "interval"):
            if not isinstance(getattr(self, name), bool):
                raise validate.InvalidValue(name, "True or False", getattr(self, name))
        if self.input_features != "none" and self.feature_size % 2:
            raise ValueError(
                f"feature_size must be even (sines and cosines), got {self.feature_size}"
            )
        size = validate.non_negative_int("input_table", self.input_table)
        if size == 1:
            raise ValueError("input_table must be 0 (no tables) or at least 2 points, got 1")
        validate.number_in("input_bound", self.input_bound, 0.0, math.inf, low_open=True)
        if size and (self.input_features != "fourier" or self.time_embedding != "table"):
            raise ValueError(
                "input_table needs input_features 'fourier' and time_embedding 'table', got "
                f"{self.input_features!r} and {self.time_embedding!r}"
            )

    def replace(self, **changes) -> NetworkConfig:
        """These options with ``changes``, checked again."""
        return dataclasses.replace(self, **changes)


class MLPDenoiser(nn.Module):
    """An MLP over ``(x, t)``: by default the seed's, one learned step embedding per layer.

    Default (``NetworkConfig()``: no input features, step tables, no residual blocks,
    ReLU): for each of ``depth`` hidden layers ``h = relu(Dense(h) + Embed_l(t))``, then a
    final ``Dense(data_dim)``. With ``data_dim=2, num_steps=100`` this is the seed's
    ``MLPDiffusion`` exactly (72,066 parameters). The network's options are one
    :class:`NetworkConfig`, ``config`` (as google-research/vdm's model holds one config).

    With ``num_classes = C > 0`` the model is class-conditional: each hidden layer also
    adds a row of its own ``(C + 1, width)`` label table before its activation, where row
    ``C`` is the null label ∅ of classifier-free guidance (Ho & Salimans 2022,
    arXiv:2207.12598, §3.2): the label ``-1`` or no label at all.

    With ``context = K > 0`` the model is conditioned on a vector of ``K`` floats (a
    posterior's observation, a table's known columns): the context and a flag of its
    presence are embedded once, ``e = act(Dense([c | 1]))``, and each hidden layer adds
    its own ``Dense(e)`` before its activation, as it adds a label's row. A row of NaN
    (or no context at all) is the null context ``[0 | 0]`` of classifier-free guidance
    (:mod:`jaxdiff.core.conditions`).

    Attributes:
      data_dim: the dimension ``D`` of the data and of the output.
      num_steps: ``T``, the rows of each step table.
      num_classes: classes of a conditional model (0: unconditional).
      config: the network's options.
      context: columns of a context-conditional model's context (0: none); a model takes
        class labels or a context, not both.

    Example:
      >>> net = MLPDenoiser(data_dim=2, num_steps=1000,
      ...                   config=NetworkConfig(input_features="fourier", residual=True))
    """

    data_dim: int = 2
    num_steps: int = 100
    num_classes: int = 0
    config: NetworkConfig = NetworkConfig()
    context: int = 0

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        t: jax.Array,
        cond: jax.Array | None = None,
        interval: jax.Array | None = None,
    ) -> jax.Array:
        """Predicts the target for ``x`` ``(B, D)`` at steps ``t``, ``(B,)`` or scalar.

        ``cond`` (conditional models only): a class-conditional model's int class
        ``(B,)`` or scalar in ``[0, C)``, ``-1`` for the null label; a context model's
        floats ``(B, K)`` or ``(K,)``, a row of NaN for the null context. ``None`` means
        null for every row.

        ``interval`` (models built with ``interval`` only): ``h`` ``(B,)`` or scalar, in
        the units of ``t``; ``None`` means 0.

        With step tables, integer ``t`` looks up rows (a scalar ``t``, every sampler step,
        looks up one row and broadcasts it); floating ``t`` in ``[0, T-1]`` interpolates
        linearly between the rows of its two neighbouring steps (the probability-flow ODE
        of ``likelihood`` evaluates the network between steps), equal to the lookup at an
        integer. Sinusoidal step features take any ``t`` as it is.
        """
        t = jnp.asarray(t)
        cfg = self.config
        if cond is not None and not (self.num_classes or self.context):
            raise ValueError("a condition was given but the model is unconditional")
        if self.num_classes and self.context:
            raise ValueError("a model takes class labels or a context, not both")
        if interval is not None and not cfg.interval:
            raise ValueError("interval was given but the model has none (interval=False)")
        h_in = jnp.zeros((), t.dtype) if interval is None else jnp.asarray(interval)
        dtype = float_dtype()
        if self.num_classes:
            null = self.num_classes
            c = jnp.full((), null, jnp.int32) if cond is None else jnp.asarray(cond, jnp.int32)
            c = jnp.where(c < 0, null, c)
        if self.context:
            c = _context_input(cond, x.shape[0], self.context, dtype)
        torch_init = cfg.init_style == "torch"
        embed_init = initializers.TORCH_EMBED if torch_init else nn.linear.default_embed_init
        act = ACTIVATIONS[cfg.activation]

        h = x
        if cfg.input_features == "sinusoidal":
            flat = sinusoidal(x.reshape(-1), cfg.feature_size, cfg.feature_scale)
            h = flat.reshape(x.shape[0], -1)
        elif cfg.input_features == "fourier" and not cfg.input_table:  # else: in the tables
            h = fourier(x, cfg.feature_size, cfg.feature_scale)
        if cfg.time_embedding == "sinusoidal":
            steps = jnp.broadcast_to(t, x.shape[:1]).astype(dtype)
            h = jnp.concatenate([h, sinusoidal(steps, cfg.width)], axis=-1)
            if cfg.interval:
                gaps = jnp.broadcast_to(h_in, x.shape[:1]).astype(dtype)
                h = jnp.concatenate([h, sinusoidal(gaps, cfg.width)], axis=-1)

        def dense(features, fan_in, layer):
            name = f"Dense_{layer}"  # named, so that the numbering holds without Dense_0
            if layer == "context":
                name = "ContextEmbed"
            if torch_init:
                return nn.Dense(
                    features,
                    kernel_init=initializers.TORCH_KERNEL,
                    bias_init=initializers.torch_bias(fan_in),
                    param_dtype=dtype,
                    name=name,
                )
            return nn.Dense(features, param_dtype=dtype, name=name)

        def first_layer(h):
            if not cfg.input_table:
                return dense(cfg.width, h.shape[-1], 0)(h)
            shape = (self.data_dim, 4, cfg.input_table - 1, cfg.width)
            table = self.param("input_table", nn.initializers.zeros, shape, dtype)
            bias = self.param("input_bias", nn.initializers.zeros, (cfg.width,), dtype)
            return read_tables(table, x, cfg.input_bound) + bias

        if self.context:
            c = act(dense(cfg.width, self.context + 1, "context")(c))

        def conditioned(pre, layer):
            """``pre`` plus the layer's step row (tables) and its label row or context
            projection (conditional)."""
            if cfg.time_embedding == "table":
                table = nn.Embed(
                    self.num_steps, cfg.width, embedding_init=embed_init, param_dtype=dtype
                )
                pre = pre + _lookup(table, t, self.num_steps)
                if cfg.interval:
                    gaps = nn.Embed(
                        self.num_steps,
                        cfg.width,
                        embedding_init=embed_init,
                        param_dtype=dtype,
                        name=f"IntervalEmbed_{layer}",
                    )
                    pre = pre + _lookup(gaps, h_in.astype(dtype), self.num_steps)
            if self.num_classes:
                labels = nn.Embed(
                    self.num_classes + 1,
                    cfg.width,
                    embedding_init=embed_init,
                    param_dtype=dtype,
                    name=f"LabelEmbed_{layer}",
                )
                pre = pre + labels(c)
            if self.context:
                init = initializers.TORCH_KERNEL if torch_init else nn.linear.default_kernel_init
                pre = pre + nn.Dense(
                    cfg.width,
                    use_bias=False,
                    kernel_init=init,
                    param_dtype=dtype,
                    name=f"ContextDense_{layer}",
                )(c)
            return pre

        if cfg.residual:
            h = act(conditioned(first_layer(h), 0))
            if cfg.input_table:
                # XLA's CPU compiler would recompute the table reads inside the first
                # block's residual add, which then costs 18 ms on 10,000 rows instead of
                # 2 (JAX 0.10.2). Reading h's rows through indices it cannot see are
                # 0, 1, ... (an exact copy) makes it compute them once: 0.3 ms, where
                # h @ I, the other way found, costs 1.2 ms.
                rows = jax.lax.optimization_barrier(jnp.arange(h.shape[0]))
                h = h[rows]
            for layer in range(1, cfg.depth + 1):
                h = h + act(conditioned(dense(cfg.width, cfg.width, layer)(h), layer))
            return dense(self.data_dim, cfg.width, cfg.depth + 1)(h)
        h = act(conditioned(first_layer(h), 0))
        for layer in range(1, cfg.depth):
            h = act(conditioned(dense(cfg.width, cfg.width, layer)(h), layer))
        return dense(self.data_dim, cfg.width, cfg.depth)(h)


def _context_input(cond, rows: int, width: int, dtype) -> jax.Array:
    """``[c | 1]`` for each row of a context ``cond`` ``(rows, K)`` or ``(K,)``; ``[0 | 0]``
    for a null row (any NaN) or no context."""
    if cond is None:
        return jnp.zeros((rows, width + 1), dtype)
    c = conditions.broadcast(jnp.asarray(cond, dtype), rows)
    if c.shape[-1] != width:
        raise ValueError(f"context must have {width} columns, got shape {c.shape}")
    present = ~jnp.any(jnp.isnan(c), axis=-1, keepdims=True)
    return jnp.concatenate([jnp.where(present, c, 0.0), present.astype(dtype)], axis=-1)


def read_tables(table: jax.Array, x: jax.Array, bound: float) -> jax.Array:
    """``Σ_i p_i(x_i)`` for ``x`` ``(B, D)``: ``p_i`` is coordinate ``i``'s piecewise cubic,
    ``table[i, k, j]`` the coefficient of ``s^k`` on interval ``j`` of the ``n`` equal
    points over ``[-bound, bound]`` (``s ∈ [0, 1]`` the place within it; Horner's rule).
    Coordinates beyond ``±bound`` are read at the nearer end."""
    n = table.shape[2] + 1
    step = 2.0 * bound / (n - 1)
    u = jnp.clip((x + bound) / step, 0.0, n - 1.0)
    j = jnp.minimum(jnp.floor(u), n - 2.0)
    s = (u - j)[..., None]
    j = j.astype(jnp.int32)
    out = 0.0
    for i in range(table.shape[0]):
        c, ji, si = table[i], j[:, i], s[:, i]
        out = out + c[0][ji] + si * (c[1][ji] + si * (c[2][ji] + si * c[3][ji]))
    return out


def _lookup(table: nn.Embed, t: jax.Array, num_steps: int) -> jax.Array:
    """Row ``t`` of a step table; between rows for floating ``t`` (linear interpolation)."""
    if jnp.issubdtype(t.dtype, jnp.floating):
        lo = jnp.clip(jnp.floor(t), 0, num_steps - 1)
        w = jnp.clip(t - lo, 0.0, 1.0)[..., None]
        lo = lo.astype(jnp.int32)
        hi = jnp.minimum(lo + 1, num_steps - 1)
        return (1.0 - w) * table(lo) + w * table(hi)
    return table(t.astype(jnp.int32))
