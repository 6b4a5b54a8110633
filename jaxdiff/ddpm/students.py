"""Network surgery for distillation: a trained :class:`~jaxdiff.core.models.MLPDenoiser` made
cheaper to evaluate (:func:`lighten`, :func:`tabulate_inputs`) or cut to the few steps a
student is trained at (:func:`on_steps`). Each takes and returns ``(apply_fn, params)``
as :func:`jaxdiff.core.apply.functional` does."""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np

from jaxdiff.core import validate
from jaxdiff.core.apply import Apply
from jaxdiff.core.features import fourier_frequencies, sinusoidal
from jaxdiff.core.models import ACTIVATIONS, MLPDenoiser

__all__ = ["OnSteps", "has_step_tables", "lighten", "on_steps", "tabulate_inputs"]


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
    distillation (:func:`jaxdiff.ddpm.distillation.distill_endpoints`), not a substitute.

    Args:
      model: an unconditional :class:`MLPDenoiser`.
      params: its parameters.
      drop: residual blocks to remove, ``0 <= drop < depth`` (a plain MLP: 0).
      activation: one of :data:`ACTIVATIONS`.

    Returns:
      ``(apply_fn, params)`` of the cheaper network, as
      :func:`~jaxdiff.core.apply.functional` returns them (``apply_fn.model`` is its
      :class:`~jaxdiff.core.models.MLPDenoiser`).
    """
    validate.one_of("activation", activation, tuple(ACTIVATIONS))
    net = model.config
    drop = validate.non_negative_int("drop", drop)
    if model.num_classes:
        raise ValueError("lighten takes an unconditional model (num_classes=0)")
    if net.input_table:
        raise ValueError("lighten takes a model whose inputs are not read from tables")
    if drop and not net.residual:
        raise ValueError(f"drop must be 0 for a model without residual blocks, got {drop}")
    if drop >= net.depth:
        raise ValueError(f"drop must be below the model's depth {net.depth}, got {drop}")
    light = model.clone(
        config=net.replace(time_embedding="table", depth=net.depth - drop, activation=activation)
    )
    hidden = light.config.depth + 1 if net.residual else light.config.depth  # step rows
    kernel = params["Dense_0"]["kernel"]
    new = {}
    for layer in range(hidden):
        new[f"Dense_{layer}"] = params[f"Dense_{layer}"]
        if net.time_embedding == "table":
            new[f"Embed_{layer}"] = params[f"Embed_{layer}"]
        else:  # zero rows, but the first layer's (below)
            zeros = jnp.zeros((model.num_steps, net.width), kernel.dtype)
            new[f"Embed_{layer}"] = {"embedding": zeros}
    if net.time_embedding == "sinusoidal":
        n_in = kernel.shape[0] - net.width
        steps = jnp.arange(model.num_steps, dtype=kernel.dtype)
        table = sinusoidal(steps, net.width) @ kernel[n_in:]
        new["Dense_0"] = {"kernel": kernel[:n_in], "bias": params["Dense_0"]["bias"]}
        new["Embed_0"] = {"embedding": table}
    new[f"Dense_{hidden}"] = params[f"Dense_{hidden + drop}"]
    return Apply(light), new


def tabulate_inputs(apply_fn, params, *, size: int = 2048, bound: float = 8.0):
    """The same network with its Fourier input layer read from tables instead of computed.

    With random Fourier features of each coordinate (:func:`~jaxdiff.core.features.fourier`),
    the input part of the first layer is a sum of functions of one coordinate each,
    ``Σ_i g_i(x_i)`` with ``g_i(x) = Σ_k a_ik sin 2π b_k x + c_ik cos 2π b_k x`` (a vector
    of ``width``). Each ``g_i`` is replaced by its cubic Hermite interpolant on ``size``
    equal points over ``[-bound, bound]``: the cubic on each interval that takes ``g_i``
    and ``g_i'``, computed in float64, at both ends (Burden & Faires, *Numerical Analysis*, §3.4).
    Within the bound it is within ``h⁴/384 · max|g_i⁗|`` of ``g_i`` (``h`` the spacing:
    the error with two nodes is ``(x - x₀)²(x - x₁)² g⁗(ξ)/4!``, ibid.), about 1e-5 of
    the layer's scale at 2048 points over ±8 with the ``default`` recipe's scale 3
    (tested against that bound); beyond, a coordinate is read at the nearer end. One
    evaluation then reads ``4·D`` table rows per sample instead of computing ``D·size``
    sines and cosines and a ``(D·size) × width`` product (``benchmarks/features.py``).
    For sampling a trained network: the tables are not for training (each row would
    learn only from the samples that fall in it).

    Args:
      apply_fn: from :func:`~jaxdiff.core.apply.functional` or :func:`lighten`: an
        :class:`~jaxdiff.core.models.MLPDenoiser` with ``input_features="fourier"`` and step
        tables (:func:`lighten` gives them).
      params: its parameters.
      size: points per coordinate, at least 2.
      bound: the tables' half-range, in the units the network reads (standardized data:
        8 standard deviations).

    Returns:
      ``(apply_fn, params)`` as :func:`~jaxdiff.core.apply.functional` returns them:
      ``Dense_0`` becomes ``input_table`` ``(D, 4, size - 1, width)`` and ``input_bias``.
    """
    model = getattr(apply_fn, "model", None)
    if not isinstance(model, MLPDenoiser):
        raise ValueError("tabulate_inputs takes an apply_fn from functional or lighten")
    if validate.positive_int("size", size) < 2:
        raise ValueError(f"size must be at least 2, got {size}")
    validate.number_in("bound", bound, 0.0, math.inf, low_open=True)
    if model.config.input_table:
        raise ValueError("the model's inputs are already read from tables")
    if model.config.input_features != "fourier":
        raise ValueError(
            f"tabulate_inputs needs Fourier input features, got {model.config.input_features!r}"
        )
    if model.config.time_embedding != "table":
        raise ValueError("tabulate_inputs needs step tables; lighten the model first")
    d, half = model.data_dim, model.config.feature_size // 2
    kernel = np.asarray(params["Dense_0"]["kernel"], np.float64)
    kernel = kernel.reshape(d, 2, half, model.config.width)  # coordinate, (sin, cos), frequency
    dtype = params["Dense_0"]["kernel"].dtype
    b = fourier_frequencies(model.config.feature_size, model.config.feature_scale, dtype)
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
    tables = model.config.replace(input_table=size, input_bound=float(bound))
    return Apply(model.clone(config=tables)), new


@dataclasses.dataclass(frozen=True)
class OnSteps:
    """``apply_fn`` of :func:`on_steps`: step ``steps[i]`` reads row ``i`` of every step
    table (``steps`` ascending)."""

    inner: Apply
    steps: tuple[int, ...]

    def __call__(self, params, x, t, label=None):
        rows = jnp.searchsorted(jnp.asarray(self.steps, jnp.int32), jnp.asarray(t))
        return self.inner(params, x, rows.astype(jnp.int32), label)


def has_step_tables(apply_fn) -> bool:
    """Whether ``apply_fn`` (from :func:`~jaxdiff.core.apply.functional` or :func:`lighten`) is an
    :class:`MLPDenoiser` with step tables (``time_embedding="table"``), which
    :func:`on_steps` can cut."""
    model = getattr(apply_fn, "model", None)
    return isinstance(model, MLPDenoiser) and model.config.time_embedding == "table"


def on_steps(apply_fn, params, steps):
    """The network at a few integer steps only, each step table cut to their rows.

    For training at a few steps (:func:`jaxdiff.ddpm.distillation.distill_endpoints` at its
    noise levels): a table row that no sample reads has no gradient, and an optimiser
    that leaves such an entry where it is (Adam without weight decay: its moments stay
    0) leaves the row untouched. Training the cut tables and writing their rows back
    (``restore``) then gives the parameters that training the whole tables gives, while
    each step's update skips the ``T - len(steps)`` unread rows of every table (tested
    bit for bit against the whole tables).

    Args:
      apply_fn: from :func:`~jaxdiff.core.apply.functional` or :func:`lighten`: an
        :class:`~jaxdiff.core.models.MLPDenoiser` with step tables (``time_embedding="table"``).
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

    inner = Apply(model.clone(num_steps=int(steps.size)))
    return OnSteps(inner, tuple(steps.tolist())), cut, restore
