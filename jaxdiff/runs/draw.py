"""Streamed sampling of any number of rows from a run's model, in data units.

The rows come in blocks of ``min(n, BLOCK)``: row ``r`` of a draw of ``n`` rows belongs to
block ``r // min(n, BLOCK)``, drawn with key ``fold_in(key, block)``. Chunks only group
whole blocks, so the rows do not depend on the chunk size, and memory holds one chunk.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import apply, models, validate
from jaxdiff.engine import sampler_settings, samplers
from jaxdiff.runs.progress import Progress
from jaxdiff.runs.rundir import atomic_path
from jaxdiff.runs.setup import Setup

__all__ = ["BLOCK", "Model", "check_labels", "draw", "final_labels", "label_index", "options"]

BLOCK = 65_536


class Model(Protocol):
    """What drawing from a model reads: a run's :class:`~jaxdiff.runs.setup.Setup` or a
    loaded :class:`~jaxdiff.runs.trained.TrainedModel` (named here by what it has, so that
    this module does not import the one that imports it)."""

    apply_fn: object
    schedule: object
    normalizer: object
    label_names: object

    @property
    def sampler(self) -> sampler_settings.SamplerOptions: ...

    @property
    def num_classes(self) -> int: ...

    @property
    def context_dim(self) -> int: ...

    @property
    def data_dim(self) -> int: ...


def final_labels(s: Setup, n: int) -> np.ndarray | None:
    """Classes for a conditional run's ``n`` own samples, drawn from the training labels'
    frequencies (seeded by the run), so the samples as a whole follow the data; a context
    run's: contexts drawn from the held-out rows' (else the training rows'); None for an
    unconditional run."""
    if s.condition is None:
        return None
    rng = np.random.default_rng(s.keys.sample_labels)
    if s.held_context is not None:  # a context run: held-out rows' contexts, so that
        # its samples compare with the held-out rows (and do not copy training rows'
        # through their contexts)
        return rng.choice(s.context_normalizer.encode(s.held_context), n).astype(
            models.float_dtype()
        )
    if s.context is not None:  # given its training rows' contexts
        return rng.choice(s.condition, n)
    return rng.choice(s.labels, n).astype(np.int32)


def options(
    s: Model, labels=None, guidance=None, nfe=None, **changes
) -> sampler_settings.SamplerOptions:
    """The run's sampler with ``changes`` (``method``, ``steps``, ``eta``, …; None: the
    run's), for drawing with ``labels``; ``nfe`` sets the steps that cost that many
    network evaluations per sample
    (:meth:`~jaxdiff.engine.sampler_settings.SamplerOptions.with_evaluations`; without a
    ``method``, :meth:`~jaxdiff.engine.sampler_settings.SamplerOptions.at_budget`: another
    method where the run's cannot spend ``nfe``).

    A conditional run draws with ``guidance`` (default: the run's) towards ``labels``;
    without labels it draws from its unconditional half, unguided. An unconditional run
    takes neither.
    """
    if nfe is not None and changes.get("steps") is not None:
        raise ValueError(f"give steps or nfe, not both; got steps={changes['steps']} nfe={nfe}")
    if not (s.num_classes or s.context_dim):
        if labels is not None or guidance is not None:
            raise ValueError("labels and guidance need a conditional run; this one is not")
        opts = s.sampler.replace(**changes)
    else:
        if labels is None:
            if guidance:
                raise ValueError("guidance needs a label, the class to guide towards")
            guidance = 0.0
        opts = s.sampler.replace(guidance=guidance, **changes)
    if nfe is None:
        return opts
    # a budget without a method: the run's method, or one that can spend it exactly
    return opts.with_evaluations(nfe) if changes.get("method") else opts.at_budget(nfe)


def label_index(s: Model, label: str) -> int:
    """The class of ``label``: one of the run's class names, or an index written out."""
    names = s.label_names or ()
    if label in names:
        return names.index(label)
    if label.strip().isdigit():
        return int(label)
    expected = f"a class index or one of {list(names)}" if names else "a class index"
    raise validate.InvalidValue("label", expected, label)


def check_labels(s: Model, labels, n: int) -> np.ndarray | None:
    """``labels`` (one class: an index or a class name; or ``(n,)``) as ``(n,)`` int32
    classes of the run, None for None; a one-line error for anything else."""
    if labels is None:
        return None
    if s.context_dim:  # standardised contexts, one a row (TrainedModel.sample made them)
        context = np.asarray(labels, models.float_dtype())
        if context.shape != (n, s.context_dim):
            raise ValueError(f"context must be ({n}, {s.context_dim}), got {context.shape}")
        return context
    if isinstance(labels, str):
        labels = label_index(s, labels)
    labels = np.asarray(labels)
    if labels.ndim > 1 or (labels.ndim == 1 and labels.shape[0] != n):
        raise ValueError(f"labels must be one class or ({n},), got shape {labels.shape}")
    if labels.ndim == 0 and not 0 <= int(labels) < s.num_classes:
        raise validate.InvalidValue("label", f"in [0, {s.num_classes}) for this run", int(labels))
    apply.check_fits(s.apply_fn, labels=labels)
    return np.broadcast_to(labels, (n,)).astype(np.int32)


@functools.partial(jax.jit, static_argnames=("apply_fn", "rows", "options"))
def _draw_blocks(keys, labels, apply_fn, params, schedule, rows, options):
    def one(block):
        key, c = block
        return samplers.sample(key, apply_fn, params, schedule, rows, options, labels=c)

    return jax.lax.map(one, (keys, labels))


def draw(
    s: Model,
    params,
    key: jax.Array,
    n: int,
    *,
    out=None,
    chunk: int = 1_048_576,
    progress: bool = False,
    labels=None,
    guidance: float | None = None,
    **changes,
) -> np.ndarray:
    """``n`` samples in data units from the run's model with the run's sampler settings.

    ``s`` is the run's :class:`Setup` (while training) or a loaded
    :class:`~jaxdiff.runs.trained.TrainedModel`.

    ``changes`` and ``guidance`` change the sampler (see :func:`options`); ``labels``
    (conditional runs): one class for every row (an index, or a class name as a string)
    or one per row, ``(n,)``; a context run's standardised contexts, one per row ``(n, K)``.

    The rows are computed ``chunk`` at a time (rounded to whole blocks): the result is the
    same for every ``chunk``. With ``out`` (a ``.npy`` path) the rows stream into a
    memory-mapped file (written atomically: a temporary file renamed at the end), and that
    map is returned.
    """
    n = validate.positive_int("n", n)
    chunk = validate.positive_int("chunk", chunk)
    dim = s.data_dim
    opts = options(s, labels, guidance, **changes).for_schedule(s.schedule)
    labels = check_labels(s, labels, n)
    block = min(n, BLOCK)
    fill = functools.partial(
        _fill,
        s=s,
        params=params,
        key=key,
        opts=opts,
        block=block,
        per_call=max(1, chunk // block),
        progress=progress,
        labels=labels,
    )
    if out is None:
        result = np.empty((n, dim), models.float_dtype())
        fill(result)
        return result
    out = pathlib.Path(out)
    with atomic_path(out, ".npy") as tmp:
        dtype = models.float_dtype()
        result = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(n, dim))
        fill(result)
        result.flush()
        del result
    return np.load(out, mmap_mode="r")


def _fill(result, *, s: Model, params, key, opts, block, per_call, progress, labels):
    """Writes the blocks of :func:`draw`'s stream into ``result`` ``(n, dim)``."""
    n, dim = result.shape
    full, ragged = divmod(n, block)
    with Progress(progress, total=n, unit="samples") as bar:
        for first in range(0, full, per_call):
            count = min(per_call, full - first)
            keys = jax.vmap(lambda b: jax.random.fold_in(key, b))(jnp.arange(first, first + count))
            span = slice(first * block, (first + count) * block)
            c = None if labels is None else labels[span].reshape(count, block, *labels.shape[1:])
            z = _draw_blocks(keys, c, s.apply_fn, params, s.schedule, (block, dim), opts)
            result[span] = s.normalizer.decode(np.asarray(z).reshape(count * block, dim))
            bar.advance(count * block)
        if ragged:
            c = None if labels is None else labels[full * block :]
            z = samplers.sample(
                jax.random.fold_in(key, full),
                s.apply_fn,
                params,
                s.schedule,
                (ragged, dim),
                opts,
                labels=c,
            )
            result[full * block :] = s.normalizer.decode(np.asarray(z))
            bar.advance(ragged)
