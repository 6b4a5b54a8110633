"""A trained model as one object: :func:`load` a run directory, a distilled student or a
directory written by :meth:`TrainedModel.save`, then sample and score with it.

Loading reads the model's own files only: ``config.json`` (the network, schedule and
sampler), ``normalizer.json`` (the data's units), ``classes.json`` (a conditional
model's class names), ``context_normalizer.json`` (a context model's context units) and
the parameters, from the newest intact checkpoint of a run
(``checkpoints/``, the EMA where the run keeps one) or from a saved model's ``params/``.
It needs neither the training data nor an optimiser, so a run still loads after it is
moved and its data copy deleted.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import apply, data, models, tables, validate
from jaxdiff.ddpm import schedules
from jaxdiff.engine import imputation, sampler_settings
from jaxdiff.runs import checkpoints, draw
from jaxdiff.runs.build import (
    build_model,
    build_schedule,
    log_likelihood,
    model_target,
    sampler_options,
)
from jaxdiff.runs.config import Config
from jaxdiff.runs.keys import RunKeys
from jaxdiff.runs.rundir import RunError, load_config, read_encoder
from jaxdiff.runs.units import (
    CONTEXT_UNITS,
    label_names_of,
    read_normalizer,
    write_model,
)

__all__ = ["TrainedModel", "load"]


@dataclasses.dataclass(frozen=True, eq=False)
class TrainedModel:
    """A trained model: its settings, parameters and data units. Frozen; build it with
    :func:`load`.

    Attributes:
      config: the run's :class:`~jaxdiff.runs.config.Config` (network, schedule, the
        sampler :meth:`sample` uses by default).
      params: the parameters to sample with (the EMA where the run keeps one; one member
        of an ensemble).
      normalizer: maps the model's standardised units to the data's.
      label_names: a conditional model's class names, else None.
      epoch: the epoch of the checkpoint the parameters come from (None for a saved
        model).
      apply_fn: ``apply_fn(params, x, t[, label])``, the network.
      schedule: the noise schedule.
      encoder: a typed table's :class:`~jaxdiff.core.tables.TableEncoder` (its rows are the
        encoding :meth:`sample` returns; :meth:`sample_table` decodes them), else None.
      context_normalizer: a context model's context units (it samples and scores given a
        context), else None.
    """

    config: Config
    params: Any
    normalizer: data.Normalizer
    label_names: tuple[str, ...] | None
    epoch: int | None
    apply_fn: Callable
    schedule: schedules.Schedule
    encoder: tables.TableEncoder | None = None
    context_normalizer: data.Normalizer | None = None

    @property
    def num_classes(self) -> int:
        """Classes of a conditional model; 0 for an unconditional one."""
        return self.apply_fn.model.num_classes

    @property
    def context_dim(self) -> int:
        """Columns of a context model's context; 0 for any other model."""
        return self.apply_fn.model.context

    def _context_rows(self, context, name: str = "context") -> np.ndarray | None:
        """``context`` ``(K,)`` or ``(m, K)`` in data units as standardised ``(m, K)``
        rows for the network (None for None); a one-line error where it does not fit."""
        if context is None:
            return None
        if not self.context_dim:
            raise ValueError(
                f"{name} needs a context model (trained with context); this one is not"
            )
        c = np.asarray(context, np.float64)
        c = c[None] if c.ndim == 1 else c
        if c.ndim != 2 or c.shape[1] != self.context_dim or not np.all(np.isfinite(c)):
            raise validate.InvalidValue(
                name, f"finite rows of {self.context_dim} columns, (K,) or (m, K)", c.shape
            )
        return np.asarray(self.context_normalizer.encode(c), models.float_dtype())

    @property
    def data_dim(self) -> int:
        """Features per row of the data."""
        return int(self.normalizer.mean.shape[0])

    @property
    def sampler(self) -> sampler_settings.SamplerOptions:
        """The model's own sampler (``config.sample``)."""
        return sampler_options(self.config)

    def options(self, *, label=None, guidance=None, **sampler) -> sampler_settings.SamplerOptions:
        """The sampler :meth:`sample` would use with these arguments, resolved for the
        model's schedule (``.evaluations``: network evaluations per sample)."""
        return draw.options(self, label, guidance, **sampler).for_schedule(self.schedule)

    def sample(
        self,
        n: int,
        *,
        seed: int | None = None,
        key: jax.Array | None = None,
        label=None,
        context=None,
        guidance: float | None = None,
        out=None,
        chunk: int = 1_048_576,
        progress: bool = False,
        **sampler,
    ) -> np.ndarray:
        """``n`` samples in data units, ``(n, data_dim)``; given ``m`` contexts, ``n`` for
        each, ``(m, n, data_dim)``.

        Args:
          n: how many.
          seed, key: the randomness: a seed or a key (not both); neither: the run's own
            sampling key, as ``jaxdiff sample`` without ``--seed``.
          label: a conditional model's class for every row (an index or a class name) or
            one per row ``(n,)``; None draws from its unconditional half.
          context: a context model's context in data units: one ``(K,)`` (``n`` rows
            drawn given it) or ``m`` rows ``(m, K)`` (``n`` rows given each, the draws of
            context ``i`` at ``[i]``); None draws from its unconditional half.
          guidance: classifier-free guidance weight towards ``label`` or ``context``
            (default: the run's).
          out: a ``.npy`` path to stream the rows into (memory-mapped, written
            atomically); the map is returned.
          chunk: rows computed at once (the result does not depend on it).
          progress: show a progress bar.
          **sampler: changes to the model's sampler: ``method``, ``steps``, ``eta``,
            ``spacing``, ``churn`` (None: the model's own), as
            :class:`~jaxdiff.engine.sampler_settings.SamplerOptions`; or ``nfe``, the network
            evaluations per sample, instead of ``steps``.
        """
        if seed is not None and key is not None:
            raise ValueError("give seed or key, not both")
        if key is None:
            key = RunKeys(self.config.seed).sample if seed is None else jax.random.key(seed)
        rows = self._context_rows(context)
        if rows is not None:
            if label is not None:
                raise ValueError("give label or context, not both")
            n = validate.positive_int("n", n)
            label = np.repeat(rows, n, axis=0)
        x = draw.draw(
            self,
            self.params,
            key,
            n if rows is None else n * rows.shape[0],
            out=out,
            chunk=chunk,
            progress=progress,
            labels=label,
            guidance=guidance,
            **sampler,
        )
        if rows is None or np.ndim(context) == 1:
            return x
        return x.reshape(rows.shape[0], n, self.data_dim)

    def sample_table(self, n: int, **kw) -> dict[str, np.ndarray]:
        """``n`` samples as columns by name (:meth:`sample`'s arguments): a typed table's
        decoded (integers, booleans, category names; numbers within their training
        range), or ``x0``, ``x1``, … of floats for a model of plain rows."""
        z = np.asarray(self.sample(n, **kw))
        if self.encoder is not None:
            return self.encoder.decode(z)
        return {f"x{j}": z[:, j] for j in range(z.shape[1])}

    def log_prob(self, x, *, context=None, trace: str | None = None, seed: int = 0) -> np.ndarray:
        """``log p(x)`` in nats for each row of ``x`` ``(n, data_dim)`` in data units: the
        ODE likelihood of the standardised rows (the probability-flow ODE's,
        :func:`jaxdiff.engine.likelihood.ode_log_likelihood`, or a flow's,
        :func:`jaxdiff.engine.likelihood.flow_log_likelihood`), less the normaliser's
        log-determinant ``Σ log std``. The Jacobian's trace is exact up to
        :data:`jaxdiff.core.traces.EXACT_UP_TO` columns and Hutchinson's unbiased estimate
        beyond, its probes drawn from ``seed`` (``trace``: ``"exact"`` or
        ``"hutchinson"`` instead of the rule). A context model scores ``log p(x | c)``
        given ``context`` (data units; one ``(K,)`` for every row or one a row);
        a conditional model without one is scored by its unconditional half."""
        x = data.check_array("x", x)
        if x.shape[1] != self.data_dim:
            raise validate.InvalidValue("x", f"rows of {self.data_dim} features", x.shape)
        z = jnp.asarray(self.normalizer.encode(x), models.float_dtype())
        c = self._context_rows(context)
        if c is not None and c.shape[0] not in (1, x.shape[0]):
            raise validate.InvalidValue("context", f"one row or {x.shape[0]}", c.shape)
        per_dim, _ = log_likelihood(
            self.config,
            self.apply_fn,
            self.params,
            self.schedule,
            z,
            key=jax.random.key(validate.non_negative_int("seed", seed)),
            trace=trace,
            context=None if c is None else (c[0] if c.shape[0] == 1 else c),
        )
        log_det = float(np.sum(np.log(self.normalizer.std)))
        return np.asarray(per_dim, np.float64) * self.data_dim - log_det

    def impute(self, x, *, seed: int = 0, resample: int = imputation.RESAMPLE) -> np.ndarray:
        """``x`` ``(n, data_dim)`` in data units with each missing cell (NaN) filled by a
        draw given its row's known cells: RePaint's resampling over every step of the
        model's chain (:func:`jaxdiff.engine.imputation.repaint`, ``resample`` rounds a step;
        a flow's chain on its straight path, ``T`` levels). The known cells come back
        exactly as given; other seeds give other draws (for multiple imputation). A model
        of numbers of either family (not a distilled student; a typed table's:
        :meth:`impute_table`); a conditional one by its unconditional half."""
        if self.encoder is not None:
            raise ValueError("impute takes rows of numbers; a typed table's: impute_table")
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise validate.InvalidValue("x", f"rows of {self.data_dim} features", x.shape)
        known = ~np.isnan(x)
        if not np.all(np.isfinite(x[known])):
            raise validate.InvalidValue("x", "numbers, or NaN for a missing cell", "inf")
        return self._repaint(x, known, seed, resample)

    def impute_table(
        self, rows, *, seed: int = 0, resample: int = imputation.RESAMPLE
    ) -> dict[str, np.ndarray]:
        """A typed table's rows of text cells (in its columns' order; an empty, ``NA`` or
        ``nan`` cell missing) filled as :meth:`impute` fills numbers: each column by name,
        decoded (a missing category drawn whole, then named; an integer rounded within its
        range). A known cell decodes to its value: the same category, boolean or integer,
        a number to float rounding."""
        if self.encoder is None:
            raise ValueError("impute_table needs a typed table's model; rows of numbers: impute")
        names = self.encoder.names
        bad = next((r for r in rows if len(r) != len(names)), None)
        if bad is not None:
            raise validate.InvalidValue("rows", f"{len(names)} cells a row ({list(names)})", bad)
        try:
            x, known = self.encoder.encode_gaps(rows)
        except ValueError as err:
            raise ValueError(f"rows: {err}") from None
        return self.encoder.decode(self._repaint(x, known, seed, resample))

    def _repaint(self, x, known, seed, resample) -> np.ndarray:
        """Rows ``x`` in data units, the ``known`` cells kept, the rest drawn by RePaint."""
        if self.config.distill.teacher is not None:
            raise ValueError("impute needs the whole chain; a distilled student has a few steps")
        z = self.normalizer.encode(np.where(known, x, self.normalizer.mean))
        out = imputation.repaint(
            jax.random.key(validate.non_negative_int("seed", seed)),
            self.apply_fn,
            self.params,
            self.schedule,
            jnp.asarray(z, models.float_dtype()),
            known,
            resample=resample,
            target=model_target(self.config),
        )
        return np.where(known, x, self.normalizer.decode(np.asarray(out, np.float64)))

    def save(self, path) -> pathlib.Path:
        """Writes the model alone (settings, parameters, normaliser, class names) to a
        new directory ``path`` that :func:`load` reads; the directory appears whole or not
        at all. Returns ``path``."""
        return write_model(path, self)


def _like(tree, count: int):
    """``tree``'s shapes with a leading axis of ``count`` (an ensemble's members)."""
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct((count, *a.shape), a.dtype), tree)


def load(path, *, member: int = 0) -> TrainedModel:
    """The trained model in ``path``: a run directory (``jaxdiff train``, ``jaxdiff
    distill``) or a directory written by :meth:`TrainedModel.save`.

    Args:
      path: the directory.
      member: which member of an ensemble run to load.

    Returns:
      A :class:`TrainedModel`.

    Raises:
      RunError: (a ``ValueError``) in one line when ``path`` is missing, is not a run or
        saved model, or holds no intact checkpoint or parameters.

    Example:
      >>> model = jaxdiff.load("runs/moons")                     # doctest: +SKIP
      >>> x = model.sample(1000, seed=0, method="dpm-solver", steps=10)  # doctest: +SKIP
      >>> model.log_prob(x[:5])                                  # doctest: +SKIP
    """
    folder = pathlib.Path(path)
    if folder.exists() and not folder.is_dir():
        raise RunError(f"{str(folder)!r} is a file, not a run directory or saved model")
    cfg = load_config(folder)
    normalizer = read_normalizer(folder)
    names = label_names_of(folder, cfg)
    network = build_model(
        cfg.model, cfg.schedule.num_steps, normalizer.mean.shape[0], len(names or ())
    )
    apply.check(network)
    x, t = jnp.zeros((1, network.data_dim)), jnp.zeros((1,), jnp.int32)
    like = jax.eval_shape(lambda k: network.init(k, x, t)["params"], jax.random.key(0))
    k = cfg.train.ensemble
    if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < k:
        raise validate.InvalidValue("member", f"in [0, {k}) for this run", member)
    try:
        if (folder / checkpoints.PARAMS).is_dir():
            params, epoch = checkpoints.read_params(folder, like), None
        else:
            params, epoch = checkpoints.restore_params(
                folder / "checkpoints", like if k == 1 else _like(like, k)
            )
    except checkpoints.CheckpointError as err:
        raise RunError(str(err)) from err
    if k > 1:
        params = jax.tree_util.tree_map(lambda a: a[member], params)
    return TrainedModel(
        config=cfg,
        params=params,
        normalizer=normalizer,
        label_names=names,
        epoch=epoch,
        apply_fn=apply.Apply(network),
        schedule=build_schedule(cfg.schedule),
        encoder=read_encoder(folder),
        context_normalizer=read_normalizer(folder, CONTEXT_UNITS) if cfg.model.context else None,
    )
