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

__all__ = [
    "ACTIVATIONS",
    "INPUT_FEATURES",
    "TIME_EMBEDDINGS",
    "MLPDenoiser",
    "check_fits",
    "float_dtype",
    "fourier",
    "functional",
    "has_step_tables",
    "lighten",
    "on_steps",
    "param_count",
    "sincos_turns",
    "sinusoidal",
    "tabulate_inputs",
]


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


ACTIVATIONS = {"relu": nn.relu, "gelu": nn.gelu, "silu": nn.silu}
INPUT_FEATURES = ("none", "sinusoidal", "fourier")
TIME_EMBEDDINGS = ("table", "sinusoidal")


def sinusoidal(u: jax.Array, size: int, scale: float = 1.0) -> jax.Array:
    """Transformer-style features of a scalar per row: ``[sin(scale u ω_k), cos(scale u
    ω_k)]`` with ``ω_k = 10000^{-k/(size/2 - 1)}``, ``k < size/2`` (Vaswani et al. 2017,
    §3.5, as the step embedding of Ho et al. 2020). ``u`` ``(B,)`` → ``(B, size)``."""
    half = size // 2
    freq = jnp.exp(-math.log(10_000.0) / max(half - 1, 1) * jnp.arange(half))
    angle = scale * u[:, None] * freq[None, :]
    return jnp.concatenate([jnp.sin(angle), jnp.cos(angle)], axis=-1)


# Taylor coefficients of sin(πf)/f and cos(πf) in f², lowest power first, for |f| ≤ 1/2
# (|πf| ≤ π/2): the first terms left out, (π/2)^13/13! and (π/2)^14/14!, are 6e-8 and
# 6e-9, under float32's rounding. Writing them in f rather than in πf spares the rounding
# of one product.
_SIN_TAYLOR = tuple(
    (-1) ** k * math.pi ** (2 * k + 1) / math.factorial(2 * k + 1) for k in range(6)
)
_COS_TAYLOR = tuple((-1) ** k * math.pi ** (2 * k) / math.factorial(2 * k) for k in range(7))


def sincos_turns(u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(sin 2πu, cos 2πu)`` elementwise, for ``u`` in turns.

    In float32, ``u`` is first reduced to ``f = u - round(u)`` in ``[-½, ½]`` (exact in
    floating point); the half angle ``h = πf`` (``|h| ≤ π/2``) gets its sine and cosine
    from Taylor polynomials in ``f``, and the double-angle identities give ``sin 2h = 2
    sin h cos h`` and ``cos 2h = (cos h - sin h)(cos h + sin h)``. Within 5e-7 of float64
    (tested), and about ten times cheaper than XLA's CPU ``sin`` and ``cos`` on the
    Fourier features' arguments (``benchmarks/features.py``). Other dtypes use
    ``jnp.sin``/``jnp.cos``.
    """
    if u.dtype != jnp.float32:
        angle = 2.0 * math.pi * u
        return jnp.sin(angle), jnp.cos(angle)
    f = u - jnp.round(u)
    z = f * f
    sin_h = f * jnp.polyval(jnp.asarray(_SIN_TAYLOR[::-1], u.dtype), z)
    cos_h = jnp.polyval(jnp.asarray(_COS_TAYLOR[::-1], u.dtype), z)
    return 2.0 * sin_h * cos_h, (cos_h - sin_h) * (cos_h + sin_h)


def fourier(x: jax.Array, size: int, scale: float) -> jax.Array:
    """Random Fourier features (Tancik et al. 2020, arXiv:2006.10739, §4): ``[sin(2π x
    B), cos(2π x B)]`` per coordinate with a fixed ``B ~ N(0, scale²)`` of ``size/2``
    entries, drawn from a fixed key (a constant of the model, not a parameter).
    ``x`` ``(B, D)`` → ``(B, D·size)``, evaluated by :func:`sincos_turns`."""
    b = _fourier_frequencies(size, scale, x.dtype)
    sin, cos = sincos_turns(x[..., None] * b)
    out = jnp.concatenate([sin, cos], axis=-1)
    return out.reshape(*x.shape[:-1], -1)


def _fourier_frequencies(size: int, scale: float, dtype) -> jax.Array:
    """:func:`fourier`'s fixed ``B``."""
    return scale * jax.random.normal(jax.random.key(0), (size // 2,), dtype)


class MLPDenoiser(nn.Module):
    """An MLP over ``(x, t)``: by default the seed's, one learned step embedding per layer.

    Default (``input_features="none"``, ``time_embedding="table"``, ``residual=False``,
    ``activation="relu"``): for each of ``depth`` hidden layers ``h = relu(Dense(h) +
    Embed_l(t))``, then a final ``Dense(data_dim)``. With ``data_dim=2, width=128,
    depth=3, num_steps=100`` this is the seed's ``MLPDiffusion`` exactly (72,066
    parameters).

    The options of the small-data recipes (tiny-diffusion's ablations on 2-D data):

    * ``input_features``: each coordinate of ``x`` becomes ``feature_size`` features,
      ``"sinusoidal"`` (:func:`sinusoidal` at ``feature_scale``) or ``"fourier"`` (random
      Fourier features of std ``feature_scale``, Tancik et al. 2020). They let a small MLP
      draw sharp edges and thin modes in low dimension.
    * ``time_embedding="sinusoidal"``: :func:`sinusoidal` features of ``t`` (size
      ``width``), concatenated to the input, instead of the per-layer tables; defined for
      any real ``t``.
    * ``residual``: an input layer, then ``depth`` blocks ``h ← h + act(Dense(h))``.
    * ``activation``: ``"relu"`` (seed), ``"gelu"`` or ``"silu"``.
    * ``input_table = n > 0`` (Fourier features and step tables only): the first layer's
      input part is read from per-coordinate tables of cubic pieces instead of computed
      (:func:`tabulate_inputs` makes them from a trained model; they are not for training).

    With ``num_classes = C > 0`` the model is class-conditional: each hidden layer also
    adds a row of its own ``(C + 1, width)`` label table before its activation, where row
    ``C`` is the null label ∅ of classifier-free guidance (Ho & Salimans 2022,
    arXiv:2207.12598, §3.2): the label ``-1`` or no label at all.

    Attributes:
      data_dim: the dimension ``D`` of the data and of the output.
      width: hidden units per layer.
      depth: hidden layers (residual blocks with ``residual``).
      num_steps: ``T``, the rows of each step table.
      init_style: ``"torch"`` reproduces PyTorch's defaults (Linear ~ U(±1/√fan_in),
        Embedding ~ N(0, 1)), as the seed; ``"flax"`` uses Flax's defaults.
      num_classes: classes of a conditional model (0: unconditional).
      input_features, feature_size, feature_scale, time_embedding, residual, activation,
        input_table: as above.
      input_bound: with ``input_table``, the tables cover ``[-input_bound, input_bound]``
        in each coordinate; a coordinate beyond is read at the nearer end.
    """

    data_dim: int = 2
    width: int = 128
    depth: int = 3
    num_steps: int = 100
    init_style: str = "torch"
    num_classes: int = 0
    input_features: str = "none"
    feature_size: int = 128
    feature_scale: float = 25.0
    time_embedding: str = "table"
    residual: bool = False
    activation: str = "relu"
    input_table: int = 0
    input_bound: float = 8.0

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None) -> jax.Array:
        """Predicts the target for ``x`` ``(B, D)`` at steps ``t``, ``(B,)`` or scalar.

        ``label`` (conditional models only): int class ``(B,)`` or scalar in ``[0, C)``,
        ``-1`` for the null label; ``None`` means null for every row.

        With step tables, integer ``t`` looks up rows (a scalar ``t``, every sampler step,
        looks up one row and broadcasts it); floating ``t`` in ``[0, T-1]`` interpolates
        linearly between the rows of its two neighbouring steps (the probability-flow ODE
        of ``likelihood`` evaluates the network between steps), equal to the lookup at an
        integer. Sinusoidal step features take any ``t`` as it is.
        """
        t = jnp.asarray(t)
        if label is not None and not self.num_classes:
            raise ValueError("label was given but the model is unconditional (num_classes=0)")
        if self.num_classes:
            null = self.num_classes
            c = jnp.full((), null, jnp.int32) if label is None else jnp.asarray(label, jnp.int32)
            c = jnp.where(c < 0, null, c)
        dtype = float_dtype()
        torch_init = self.init_style == "torch"
        embed_init = nn.initializers.normal(1.0) if torch_init else nn.linear.default_embed_init
        act = ACTIVATIONS[self.activation]

        h = x
        if self.input_features == "sinusoidal":
            flat = sinusoidal(x.reshape(-1), self.feature_size, self.feature_scale)
            h = flat.reshape(x.shape[0], -1)
        elif self.input_features == "fourier" and not self.input_table:  # else: in the tables
            h = fourier(x, self.feature_size, self.feature_scale)
        if self.time_embedding == "sinusoidal":
            steps = jnp.broadcast_to(t, x.shape[:1]).astype(dtype)
            h = jnp.concatenate([h, sinusoidal(steps, self.width)], axis=-1)

        def dense(features, fan_in, layer):
            name = f"Dense_{layer}"  # named, so that the numbering holds without Dense_0
            if torch_init:
                return nn.Dense(
                    features,
                    kernel_init=_torch_kernel_init,
                    bias_init=_torch_bias_init(fan_in),
                    param_dtype=dtype,
                    name=name,
                )
            return nn.Dense(features, param_dtype=dtype, name=name)

        def first_layer(h):
            if not self.input_table:
                return dense(self.width, h.shape[-1], 0)(h)
            shape = (self.data_dim, 4, self.input_table - 1, self.width)
            table = self.param("input_table", nn.initializers.zeros, shape, dtype)
            bias = self.param("input_bias", nn.initializers.zeros, (self.width,), dtype)
            return _read_tables(table, x, self.input_bound) + bias

        def conditioned(pre, layer):
            """``pre`` plus the layer's step row (tables) and label row (conditional)."""
            if self.time_embedding == "table":
                table = nn.Embed(
                    self.num_steps, self.width, embedding_init=embed_init, param_dtype=dtype
                )
                pre = pre + _lookup(table, t, self.num_steps)
            if self.num_classes:
                labels = nn.Embed(
                    self.num_classes + 1,
                    self.width,
                    embedding_init=embed_init,
                    param_dtype=dtype,
                    name=f"LabelEmbed_{layer}",
                )
                pre = pre + labels(c)
            return pre

        if self.residual:
            h = act(conditioned(first_layer(h), 0))
            if self.input_table:
                # XLA's CPU compiler would recompute the table reads inside the first
                # block's residual add, which then costs 18 ms on 10,000 rows instead of
                # 2 (JAX 0.10.2). Reading h's rows through indices it cannot see are
                # 0, 1, ... (an exact copy) makes it compute them once: 0.3 ms, where
                # h @ I, the other way found, costs 1.2 ms.
                rows = jax.lax.optimization_barrier(jnp.arange(h.shape[0]))
                h = h[rows]
            for layer in range(1, self.depth + 1):
                h = h + act(conditioned(dense(self.width, self.width, layer)(h), layer))
            return dense(self.data_dim, self.width, self.depth + 1)(h)
        h = act(conditioned(first_layer(h), 0))
        for layer in range(1, self.depth):
            h = act(conditioned(dense(self.width, self.width, layer)(h), layer))
        return dense(self.data_dim, self.width, self.depth)(h)


def _read_tables(table: jax.Array, x: jax.Array, bound: float) -> jax.Array:
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
    for name in ("data_dim", "width", "depth", "num_steps", "feature_size"):
        validate.positive_int(name, getattr(model, name))
    validate.non_negative_int("num_classes", model.num_classes)
    validate.one_of("init_style", model.init_style, ("torch", "flax"))
    validate.one_of("input_features", model.input_features, INPUT_FEATURES)
    validate.one_of("time_embedding", model.time_embedding, TIME_EMBEDDINGS)
    validate.one_of("activation", model.activation, tuple(ACTIVATIONS))
    validate.number_in("feature_scale", model.feature_scale, 0.0, math.inf, low_open=True)
    if model.input_features != "none" and model.feature_size % 2:
        raise ValueError(f"feature_size must be even (sines and cosines), got {model.feature_size}")
    _check_table(model.input_table, model.input_bound)
    if model.input_table and (model.input_features != "fourier" or model.time_embedding != "table"):
        raise ValueError(
            "input_table needs input_features 'fourier' and time_embedding 'table', got "
            f"{model.input_features!r} and {model.time_embedding!r}"
        )
    x = jnp.zeros((1, model.data_dim))
    # One compiled init instead of one compilation per eager op.
    params = jax.jit(model.init)(key, x, jnp.zeros((1,), jnp.int32))["params"]
    return _Apply(model), params


def lighten(model: MLPDenoiser, params, *, drop: int = 1, activation: str = "relu"):
    """A cheaper network to distil into, started from a trained one's parameters.

    Three changes, each cutting the cost of one evaluation:

    1. Sinusoidal step features become step tables, exactly: the first layer's
       pre-activation ``W_x h + W_t e(t) + b`` on the input ``[h, e(t)]`` equals
       ``W_x h + b + E[t]`` with the table row ``E[t] = W_t e(t)`` for every step ``t`` of
       the model (the later layers' tables are zero). The first matrix loses its ``width``
       step columns, and no step features are computed per row.
    2. The last ``drop`` residual blocks are removed (the output layer reads the residual
       stream where they would have added to it).
    3. The hidden activation becomes ``activation``.

    Only change 1 keeps the function (up to float rounding, and at integer steps: tables
    interpolate between rows); 2 and 3 make a nearby network, a starting point for
    distillation (:func:`jaxdiff.distillation.distill_endpoints`), not a substitute.

    Args:
      model: an unconditional :class:`MLPDenoiser`.
      params: its parameters.
      drop: residual blocks to remove, ``0 <= drop < depth`` (a plain MLP: 0).
      activation: one of :data:`ACTIVATIONS`.

    Returns:
      ``(apply_fn, params)`` of the cheaper network, as :func:`functional` returns them
      (``apply_fn.model`` is its :class:`MLPDenoiser`).
    """
    validate.one_of("activation", activation, tuple(ACTIVATIONS))
    drop = validate.non_negative_int("drop", drop)
    if model.num_classes:
        raise ValueError("lighten takes an unconditional model (num_classes=0)")
    if model.input_table:
        raise ValueError("lighten takes a model whose inputs are not read from tables")
    if drop and not model.residual:
        raise ValueError(f"drop must be 0 for a model without residual blocks, got {drop}")
    if drop >= model.depth:
        raise ValueError(f"drop must be below the model's depth {model.depth}, got {drop}")
    light = model.clone(time_embedding="table", depth=model.depth - drop, activation=activation)
    hidden = light.depth + 1 if model.residual else light.depth  # layers with a step row
    kernel = params["Dense_0"]["kernel"]
    new = {}
    for layer in range(hidden):
        new[f"Dense_{layer}"] = params[f"Dense_{layer}"]
        if model.time_embedding == "table":
            new[f"Embed_{layer}"] = params[f"Embed_{layer}"]
        else:  # zero rows, but the first layer's (below)
            zeros = jnp.zeros((model.num_steps, model.width), kernel.dtype)
            new[f"Embed_{layer}"] = {"embedding": zeros}
    if model.time_embedding == "sinusoidal":
        n_in = kernel.shape[0] - model.width
        steps = jnp.arange(model.num_steps, dtype=kernel.dtype)
        table = sinusoidal(steps, model.width) @ kernel[n_in:]
        new["Dense_0"] = {"kernel": kernel[:n_in], "bias": params["Dense_0"]["bias"]}
        new["Embed_0"] = {"embedding": table}
    new[f"Dense_{hidden}"] = params[f"Dense_{hidden + drop}"]
    return _Apply(light), new


def _check_table(size, bound) -> None:
    size = validate.non_negative_int("input_table", size)
    if size == 1:
        raise ValueError("input_table must be 0 (no tables) or at least 2 points, got 1")
    validate.number_in("input_bound", bound, 0.0, math.inf, low_open=True)


def tabulate_inputs(apply_fn, params, *, size: int = 2048, bound: float = 8.0):
    """The same network with its Fourier input layer read from tables instead of computed.

    With random Fourier features of each coordinate (:func:`fourier`), the input part of
    the first layer is a sum of functions of one coordinate each, ``Σ_i g_i(x_i)`` with
    ``g_i(x) = Σ_k a_ik sin 2π b_k x + c_ik cos 2π b_k x`` (a vector of ``width``). Each
    ``g_i`` is replaced by its cubic Hermite interpolant on ``size`` equal points over
    ``[-bound, bound]``: the cubic on each interval that takes ``g_i`` and ``g_i'``,
    computed in float64, at both ends (Burden & Faires, *Numerical Analysis*, §3.4).
    Within the bound it is within ``h⁴/384 · max|g_i⁗|`` of ``g_i`` (``h`` the spacing:
    the error with two nodes is ``(x - x₀)²(x - x₁)² g⁗(ξ)/4!``, ibid.), about 1e-5 of
    the layer's scale at 2048 points over ±8 with the ``default`` recipe's scale 3
    (tested against that bound); beyond, a coordinate is read at the nearer end. One
    evaluation then reads ``4·D`` table rows per sample instead of computing ``D·size``
    sines and cosines and a ``(D·size) × width`` product (``benchmarks/features.py``).
    For sampling a trained network: the tables are not for training (each row would
    learn only from the samples that fall in it).

    Args:
      apply_fn: from :func:`functional` or :func:`lighten`: an :class:`MLPDenoiser` with
        ``input_features="fourier"`` and step tables (:func:`lighten` gives them).
      params: its parameters.
      size: points per coordinate, at least 2.
      bound: the tables' half-range, in the units the network reads (standardized data:
        8 standard deviations).

    Returns:
      ``(apply_fn, params)`` as :func:`functional` returns them: ``Dense_0`` becomes
      ``input_table`` ``(D, 4, size - 1, width)`` and ``input_bias``.
    """
    model = getattr(apply_fn, "model", None)
    if not isinstance(model, MLPDenoiser):
        raise ValueError("tabulate_inputs takes an apply_fn from functional or lighten")
    if validate.positive_int("size", size) < 2:
        raise ValueError(f"size must be at least 2, got {size}")
    validate.number_in("bound", bound, 0.0, math.inf, low_open=True)
    if model.input_table:
        raise ValueError("the model's inputs are already read from tables")
    if model.input_features != "fourier":
        raise ValueError(
            f"tabulate_inputs needs Fourier input features, got {model.input_features!r}"
        )
    if model.time_embedding != "table":
        raise ValueError("tabulate_inputs needs step tables; lighten the model first")
    d, half = model.data_dim, model.feature_size // 2
    kernel = np.asarray(params["Dense_0"]["kernel"], np.float64)
    kernel = kernel.reshape(d, 2, half, model.width)  # coordinate, (sin, cos), frequency
    dtype = params["Dense_0"]["kernel"].dtype
    b = _fourier_frequencies(model.feature_size, model.feature_scale, dtype)
    freq = 2.0 * math.pi * np.asarray(b, np.float64)
    grid = np.linspace(-bound, bound, size)
    h = grid[1] - grid[0]
    sin, cos = np.sin(np.outer(grid, freq)), np.cos(np.outer(grid, freq))
    tables = []
    for w_sin, w_cos in kernel:
        g = sin @ w_sin + cos @ w_cos
        dg = h * ((freq * cos) @ w_sin - (freq * sin) @ w_cos)  # h g'
        g0, g1, d0, d1 = g[:-1], g[1:], dg[:-1], dg[1:]
        tables.append([g0, d0, 3.0 * (g1 - g0) - 2.0 * d0 - d1, 2.0 * (g0 - g1) + d0 + d1])
    new = {k: v for k, v in params.items() if k != "Dense_0"}
    new["input_table"] = jnp.asarray(np.asarray(tables), dtype)
    new["input_bias"] = params["Dense_0"]["bias"]
    return _Apply(model.clone(input_table=size, input_bound=float(bound))), new


@dataclasses.dataclass(frozen=True)
class _OnSteps:
    """``apply_fn`` of :func:`on_steps`: step ``steps[i]`` reads row ``i`` of every step
    table (``steps`` ascending)."""

    inner: _Apply
    steps: tuple[int, ...]

    def __call__(self, params, x, t, label=None):
        rows = jnp.searchsorted(jnp.asarray(self.steps, jnp.int32), jnp.asarray(t))
        return self.inner(params, x, rows.astype(jnp.int32), label)


def has_step_tables(apply_fn) -> bool:
    """Whether ``apply_fn`` (from :func:`functional` or :func:`lighten`) is an
    :class:`MLPDenoiser` with step tables (``time_embedding="table"``), which
    :func:`on_steps` can cut."""
    model = getattr(apply_fn, "model", None)
    return isinstance(model, MLPDenoiser) and model.time_embedding == "table"


def on_steps(apply_fn, params, steps):
    """The network at a few integer steps only, each step table cut to their rows.

    For training at a few steps (:func:`jaxdiff.distillation.distill_endpoints` at its
    noise levels): a table row that no sample reads has no gradient, and an optimiser
    that leaves such an entry where it is (Adam without weight decay: its moments stay
    0) leaves the row untouched. Training the cut tables and writing their rows back
    (``restore``) then gives the parameters that training the whole tables gives, while
    each step's update skips the ``T - len(steps)`` unread rows of every table (tested
    bit for bit against the whole tables).

    Args:
      apply_fn: from :func:`functional` or :func:`lighten`: an :class:`MLPDenoiser` with
        step tables (``time_embedding="table"``).
      params: its parameters.
      steps: the integer steps the network will be called at, each in ``[0, T)``; called
        at any other step, the cut network reads a wrong row.

    Returns:
      ``(apply_fn, params, restore)``: the cut network and parameters, and
      ``restore(cut_params)``, the whole network's parameters with the rows written back
      (every table row of another step as in ``params``).
    """
    if not has_step_tables(apply_fn):
        raise ValueError("on_steps takes an apply_fn with step tables, from functional or lighten")
    model = apply_fn.model
    steps = np.unique(np.asarray(steps))
    if steps.size == 0 or not np.issubdtype(steps.dtype, np.integer):
        raise ValueError(f"steps must be one or more integers, got {steps.tolist()}")
    if steps[0] < 0 or steps[-1] >= model.num_steps:
        raise ValueError(f"steps must lie in [0, {model.num_steps}), got {steps[0]} to {steps[-1]}")
    tables = [name for name in params if name.startswith("Embed_")]  # not LabelEmbed_
    cut = dict(params) | {name: {"embedding": params[name]["embedding"][steps]} for name in tables}

    def restore(cut_params):
        return dict(cut_params) | {
            name: {
                "embedding": params[name]["embedding"].at[steps].set(cut_params[name]["embedding"])
            }
            for name in tables
        }

    inner = _Apply(model.clone(num_steps=int(steps.size)))
    return _OnSteps(inner, tuple(steps.tolist())), cut, restore


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
