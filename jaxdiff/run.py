"""Run directories: train, resume, sample and draw from ``runs/<name>/``.

The layout (../DESIGN.md)::

    config.json      every setting (Config); enough to rebuild model and schedule
    checkpoints/     orbax checkpoints of the whole TrainState (latest few)
    metrics.jsonl    one line per epoch: epoch, loss, lr, seconds
    samples.npy      final samples (sample_labels.npy: their classes, conditional runs)
    data.npy         a copy of the data file (``--data PATH`` runs), normalizer.json
    report.json      timings, device, schedule facts; ``quality`` after ``eval``
    *.png, *.gif     figures

This module is the glue the CLI calls; it holds no numerics of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import pathlib
import platform
import tempfile
import time
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff import (
    checkpoints,
    data,
    diffusion,
    ensembles,
    likelihood,
    metrics,
    models,
    plotting,
    samplers,
    training,
)
from jaxdiff.config import Config, build_model, build_optimizer, build_schedule

__all__ = [
    "RunError",
    "Setup",
    "draw",
    "evaluate_run",
    "fit_setup",
    "load_config",
    "plot_run",
    "quality",
    "quality_table",
    "setup",
    "train_run",
]


class RunError(ValueError):
    """A run directory cannot be used as asked (missing, foreign, or inconsistent)."""


@dataclasses.dataclass(frozen=True)
class Setup:
    """Everything a run needs, rebuilt from its config alone.

    ``data`` (data units) and ``train_data`` (standardised) are the training rows;
    ``labels`` their classes (conditional runs, else None); ``held_out`` the rows a fixed
    set keeps back for evaluation (None for generated data sets, which draw fresh ones).
    """

    config: Config
    data: np.ndarray
    normalizer: data.Normalizer
    train_data: np.ndarray
    schedule: object
    apply_fn: Callable
    optimizer: object
    learning_rate: object
    state: training.TrainState
    sample_key: jax.Array
    labels: np.ndarray | None = None
    held_out: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        """Classes of a conditional run's model; 0 for an unconditional one."""
        return self.apply_fn.model.num_classes

    def lr_at(self, step: int) -> float:
        lr = self.learning_rate
        return float(lr(step)) if callable(lr) else float(lr)


def _load_data(cfg: Config, run_dir=None):
    """``(train rows, train labels or None, held-out rows or None)``."""
    d = cfg.data
    conditional = cfg.model.conditional
    if d.name == "file":
        if not d.path:
            raise ValueError("data name 'file' needs data.path, a .npy or .csv file")
        if conditional:
            raise ValueError("--conditional needs labels; data files carry none yet")
        copy = pathlib.Path(run_dir) / "data.npy" if run_dir is not None else None
        x, y = data.load_file(copy if copy is not None and copy.is_file() else d.path), None
    else:
        if conditional and d.name not in data.NUM_CLASSES:
            raise ValueError(
                f"--conditional needs a labelled data set {sorted(data.NUM_CLASSES)}, "
                f"got {d.name!r}"
            )
        if conditional:
            x, y = data.load(d.name, cfg.seed, d.n, labels=True)
        else:
            x, y = data.load(d.name, cfg.seed, d.n), None
        if d.name not in data.FINITE:
            return x, y, None
    if not 0.0 < d.held_out < 1.0:
        raise ValueError(f"data.held_out must be in (0, 1), got {d.held_out!r}")
    if x.shape[0] < 4:
        raise ValueError(f"a data file needs at least 4 rows to hold some out, got {x.shape[0]}")
    train, held = data.split(x.shape[0], cfg.seed, d.held_out)
    return x[train], (None if y is None else y[train]), x[held]


def setup(cfg: Config, run_dir=None) -> Setup:
    """Data, schedule, model, optimiser and a fresh state from ``cfg`` (deterministic).

    Keys: ``key(seed)`` splits into (init, train, sample); the data set is drawn with
    ``seed`` as in the seed's ``make_s_curve`` call. With ``data.standardize`` the model
    trains on standardised data and samples are mapped back to data units. A file's rows
    come from ``run_dir/data.npy`` when the run holds that copy.
    """
    x, y, held_out = _load_data(cfg, run_dir)
    num_classes = data.NUM_CLASSES.get(cfg.data.name, 0) if cfg.model.conditional else 0
    norm = data.Normalizer.fit(x) if cfg.data.standardize else data.Normalizer.identity(x.shape[1])
    train_x = np.asarray(norm.encode(x), np.float32)
    schedule = build_schedule(cfg.schedule)
    init_key, train_key, sample_key = jax.random.split(jax.random.key(cfg.seed), 3)
    apply_fn, params = models.functional(build_model(cfg, x.shape[1], num_classes), init_key)
    optimizer, lr = build_optimizer(cfg, _steps(cfg, x))
    t = cfg.train
    if isinstance(t.ensemble, bool) or not isinstance(t.ensemble, int) or t.ensemble < 1:
        raise ValueError(f"ensemble must be a positive integer, got {t.ensemble!r}")
    if t.ensemble == 1:
        state = training.init_state(train_key, params, optimizer, ema=t.ema_decay is not None)
    else:
        # K members from fold_in(key(seed), i): init and training keys of their own.
        model = apply_fn.model
        state = ensembles.init_ensemble(
            ensembles.member_keys(cfg.seed, t.ensemble),
            _Init(model, x.shape[1]),
            optimizer,
            ema=t.ema_decay is not None,
        )
    return Setup(
        cfg,
        x,
        norm,
        train_x,
        schedule,
        apply_fn,
        optimizer,
        lr,
        state,
        sample_key,
        labels=y,
        held_out=held_out,
    )


@dataclasses.dataclass(frozen=True)
class _Init:
    """``init_params(key)`` of a model (hashable: a static argument of jitted inits)."""

    model: models.MLPDenoiser
    dim: int

    def __call__(self, key):
        x, t = jnp.zeros((1, self.dim)), jnp.zeros((1,), jnp.int32)
        return self.model.init(key, x, t)["params"]


def _epoch_of(state) -> int:
    """The epoch of a state (the newest member's, for an ensemble)."""
    return int(np.max(np.asarray(state.epoch)))


def model_params(s: Setup, state: training.TrainState, member: int = 0):
    """The parameters to sample with: the EMA when there is one; member ``member`` of an
    ensemble."""
    k = s.config.train.ensemble
    if isinstance(member, bool) or not isinstance(member, int) or not 0 <= member < k:
        raise ValueError(f"member must be in [0, {k}) for this run, got {member!r}")
    if k > 1:
        state = ensembles.member(state, member)
    return state.ema_params if state.ema_params is not None else state.params


def fit_setup(
    s: Setup, state: training.TrainState | None = None, *, devices: int | None = None, **kwargs
):
    """``training.fit`` on the run's (standardised) data with every setting of ``s.config``.

    Starts from ``state`` (default: the fresh ``s.state``); ``kwargs`` go to ``fit``
    (``epochs_per_call``, ``callback``). ``devices=N`` shards each batch over the first N
    devices (:mod:`jaxdiff.parallel`).
    """
    t = s.config.train
    fit = training.fit
    if t.ensemble > 1:
        if devices is not None:
            raise ValueError("devices cannot be combined with an ensemble yet")
        fit = ensembles.fit_ensemble
    if devices is not None:
        from jaxdiff import parallel

        fit = functools.partial(parallel.fit, mesh=parallel.make_mesh(devices))
    return fit(
        s.state if state is None else state,
        s.train_data,
        epochs=t.epochs,
        batch_size=t.batch_size,
        apply_fn=s.apply_fn,
        optimizer=s.optimizer,
        schedule=s.schedule,
        target=t.target,
        t_sampler=t.t_sampler,
        ema_decay=t.ema_decay,
        **({"labels": s.labels, "label_drop": t.label_drop} if s.labels is not None else {}),
        **kwargs,
    )


@contextlib.contextmanager
def _atomic_path(path: pathlib.Path, suffix: str = ""):
    """Yields a temporary path beside ``path``; renames it onto ``path`` when the block
    ends without an exception (a reader never sees a half-written file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    yield tmp
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _atomic_write(path: pathlib.Path, text: str) -> None:
    with _atomic_path(path) as tmp:
        pathlib.Path(tmp).write_text(text)


def _atomic_save_npy(path: pathlib.Path, array) -> None:
    with _atomic_path(path, ".npy") as tmp:
        np.save(tmp, np.asarray(array))


def load_config(run_dir) -> Config:
    """Reads ``run_dir/config.json``; a missing or malformed one raises :class:`RunError`."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"run directory {str(run_dir)!r} does not exist")
    path = run_dir / "config.json"
    if not path.is_file():
        raise RunError(f"{str(run_dir)!r} is not a jaxdiff run directory: no config.json")
    try:
        return Config.from_json(path.read_text())
    except ValueError as err:
        raise RunError(f"{str(path)!r} is not a valid jaxdiff config: {err}") from err


def _read_metrics(path: pathlib.Path, upto_epoch: int) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("epoch", math.inf) <= upto_epoch:
            rows.append(row)
    return rows


def _device() -> str:
    d = jax.devices()[0]
    kind = getattr(d, "device_kind", d.platform)
    return f"{d.platform}:{kind} x{jax.device_count()} ({platform.machine()})"


def train_run(
    cfg: Config,
    run_dir,
    *,
    resume: bool = False,
    checkpoint_every: int = 100,
    log_every: int | None = None,
    progress: bool = True,
    eval_n: int = 5000,
    likelihood_n: int = 1000,
    figures: bool = True,
    devices: int | None = None,
) -> dict:
    """Trains ``cfg`` into ``run_dir`` and writes samples, figures and ``report.json``.

    At the end the samples are scored by :func:`quality` (``eval_n`` points, ``0`` to
    skip; ``min(likelihood_n, eval_n)`` held-out points for the likelihoods) into
    ``report["quality"]``.
    ``figures=False`` skips the figures (``jaxdiff plot`` draws them later).

    With ``resume``, the run continues from the newest checkpoint in ``run_dir`` up to
    ``cfg.train.epochs``; the result equals an uninterrupted run bit for bit. On Ctrl-C
    the last completed chunk of epochs is checkpointed before the interrupt propagates.

    Returns:
      The report dictionary (also written to ``report.json``).
    """
    run_dir = pathlib.Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    if resume:
        saved = load_config(run_dir)
        if dataclasses.replace(saved, train=dataclasses.replace(saved.train, epochs=0)) != (
            dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=0))
        ):
            raise RunError(
                f"--resume needs the settings of {str(run_dir)!r} (only --epochs may change)"
            )
        if checkpoints.latest_epoch(ckpt_dir) is None:
            raise RunError(f"--resume: no checkpoint in {str(ckpt_dir)!r}")
    elif checkpoints.latest_epoch(ckpt_dir) is not None:
        raise RunError(
            f"{str(run_dir)!r} already holds a trained run; pass --resume or another --out"
        )
    if (
        isinstance(checkpoint_every, bool)
        or not isinstance(checkpoint_every, int)
        or (checkpoint_every < 1)
    ):
        raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
    # Data and model first: a bad data file or an unlabelled --conditional fails here, in
    # one line, before anything is written.
    s = setup(cfg, run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create run directory {str(run_dir)!r}: {err.strerror}") from err
    if not os.access(run_dir, os.W_OK):
        raise RunError(f"run directory {str(run_dir)!r} is not writable")

    if cfg.data.name == "file" and not (run_dir / "data.npy").is_file():
        # The run keeps its own copy of the data: it resumes, samples and evaluates the
        # same rows even if the original file changes or moves.
        _atomic_save_npy(run_dir / "data.npy", data.load_file(cfg.data.path))
    norm = {"mean": s.normalizer.mean.tolist(), "std": s.normalizer.std.tolist()}
    _atomic_write(run_dir / "normalizer.json", json.dumps(norm))
    abar_T = float(s.schedule.alphas_cumprod[-1])
    if abar_T > 0.05:
        warnings.warn(
            f"the schedule ends at alpha_bar_T = {abar_T:.3f} > 0.05: x_T keeps "
            f"{math.sqrt(abar_T):.0%} of the data's scale, so sampling from N(0, I) starts "
            "off the forward process (the seed's flaw; try --schedule cosine)",
            stacklevel=2,
        )
    state = s.state
    if resume:
        try:
            state = checkpoints.restore(ckpt_dir, state)
        except checkpoints.CheckpointError as err:
            raise RunError(str(err)) from err
    _atomic_write(run_dir / "config.json", cfg.to_json())

    t = cfg.train
    start_epoch = _epoch_of(state)
    metrics_path = run_dir / "metrics.jsonl"
    history = _read_metrics(metrics_path, start_epoch)
    _atomic_write(metrics_path, "".join(json.dumps(r) + "\n" for r in history))

    chunk = math.gcd(checkpoint_every, 25 if log_every is None else math.gcd(25, log_every))
    steps_per_epoch = _steps(cfg, s.data)
    last = {"state": state}
    with (
        metrics_path.open("a") as metrics_file,
        _Progress(
            enabled=progress, total=t.epochs, start=start_epoch, steps_per_epoch=steps_per_epoch
        ) as bar,
    ):

        def callback(st, losses, seconds):
            losses = np.asarray(losses)
            members = losses.T if losses.ndim == 2 else None  # (n, K) for an ensemble
            losses = losses.mean(axis=0) if losses.ndim == 2 else losses
            epoch = int(np.max(np.asarray(st.epoch)))
            first = epoch - len(losses) + 1
            for i, loss in enumerate(losses):
                row = {
                    "epoch": first + i,
                    "loss": float(loss),
                    "lr": s.lr_at((first + i - 1) * steps_per_epoch),
                    "seconds": seconds / len(losses),
                }
                if members is not None:
                    row["member_losses"] = [float(v) for v in members[i]]
                metrics_file.write(json.dumps(row) + "\n")
                history.append(row)
                if log_every and (first + i) % log_every == 0:
                    bar.log(f"epoch {first + i:5d}  loss {float(loss):.6f}")
            metrics_file.flush()
            last["state"] = st
            if epoch % checkpoint_every == 0 or epoch == t.epochs:
                checkpoints.save(ckpt_dir, st)
            bar.update(epoch, float(losses[-1]), len(losses), seconds)

        try:
            if start_epoch < t.epochs:
                state, fit_info = fit_setup(
                    s, state, devices=devices, epochs_per_call=chunk, callback=callback
                )
            else:
                fit_info = {"losses": [], "train_seconds": 0.0, "compile_seconds": 0.0, "steps": 0}
        except KeyboardInterrupt:
            st = last["state"]
            if _epoch_of(st) > start_epoch and _epoch_of(st) % checkpoint_every != 0:
                checkpoints.save(ckpt_dir, st)
            raise
        except training.TrainingDiverged as err:
            good = _epoch_of(err.state)
            if good > start_epoch and checkpoints.latest_epoch(ckpt_dir) != good:
                checkpoints.save(ckpt_dir, err.state)
            raise
    if checkpoints.latest_epoch(ckpt_dir) != _epoch_of(state):
        checkpoints.save(ckpt_dir, state)

    t0 = time.perf_counter()
    params = model_params(s, state)
    sample_labels = final_labels(s, cfg.sample.n)
    samples = draw(s, params, s.sample_key, cfg.sample.n, labels=sample_labels)
    sample_seconds = time.perf_counter() - t0
    _atomic_save_npy(run_dir / "samples.npy", samples)
    if sample_labels is not None:
        _atomic_save_npy(run_dir / "sample_labels.npy", sample_labels)

    steps = fit_info["steps"]
    report = {
        "epochs": _epoch_of(state),
        "steps": int(np.sum(np.asarray(state.step))),
        "ensemble": cfg.train.ensemble,
        "steps_this_call": steps,
        "train_seconds": fit_info["train_seconds"],
        "compile_seconds": fit_info["compile_seconds"],
        "steps_per_second": steps / fit_info["train_seconds"] if steps else None,
        "final_loss": history[-1]["loss"] if history else None,
        "sample_seconds_with_compile": sample_seconds,
        "alpha_bar_T": float(s.schedule.alphas_cumprod[-1]),
        "prior_kl_nats_per_dim": float(diffusion.prior_kl(s.schedule, jnp.asarray(s.train_data))),
        "device": _device(),
        "jax_version": jax.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    previous = run_dir / "report.json"
    if resume and previous.is_file():
        try:
            old = json.loads(previous.read_text())
            report["train_seconds_total"] = (
                old.get("train_seconds_total", old.get("train_seconds", 0.0))
                + report["train_seconds"]
            )
        except (json.JSONDecodeError, AttributeError):
            pass
    if eval_n:
        report["quality"] = quality(
            s, params, samples, n=eval_n, likelihood_n=min(likelihood_n, eval_n)
        )
    _atomic_write(run_dir / "report.json", json.dumps(report, indent=2))
    if figures:
        plot_run(run_dir, s=s, params=params, history=history, samples=samples)
    return report


def final_labels(s: Setup, n: int) -> np.ndarray | None:
    """Classes for a conditional run's ``n`` final samples, drawn from the training
    labels' frequencies (seeded by the run), so the samples as a whole follow the data;
    None for an unconditional run."""
    if s.labels is None:
        return None
    rng = np.random.default_rng(s.config.seed + _LABEL_OFFSET)
    return rng.choice(s.labels, n).astype(np.int32)


def _steps(cfg: Config, x) -> int:
    return math.ceil(x.shape[0] / cfg.train.batch_size)


def sampler_options(cfg: Config, **overrides) -> dict:
    """The sampler keyword arguments of ``cfg.sample`` (``steps = 0`` means all T)."""
    sc = cfg.sample
    opts = dict(
        method=sc.method,
        steps=sc.steps or None,
        spacing=sc.spacing,
        eta=sc.eta,
        variance=sc.variance,
        last_step_noise=sc.last_step_noise,
        target=cfg.train.target,
    )
    if cfg.model.conditional:
        opts["guidance"] = sc.guidance
    opts.update({k: v for k, v in overrides.items() if v is not None})
    return opts


# Rows per block of the sample stream: row r of a draw of n rows belongs to block
# r // min(n, BLOCK), drawn with key fold_in(key, block). Chunks only group whole blocks,
# so the rows do not depend on the chunk size.
BLOCK = 65_536


@functools.partial(jax.jit, static_argnames=("apply_fn", "rows", "options"))
def _draw_blocks(keys, labels, apply_fn, params, schedule, rows, options):
    opts = dict(options)

    def one(block):
        key, c = block
        return samplers.sample(key, apply_fn, params, schedule, rows, labels=c, **opts)

    return jax.lax.map(one, (keys, labels))


def draw(
    s: Setup,
    params,
    key: jax.Array,
    n: int,
    *,
    out=None,
    chunk: int = 1_048_576,
    progress: bool = False,
    labels=None,
    **overrides,
) -> np.ndarray:
    """``n`` samples in data units from the run's model with the run's sampler settings.

    ``labels`` (conditional runs): one class for every row or one per row, ``(n,)``;
    ``guidance=w`` among ``overrides`` sets classifier-free guidance.

    The rows come in blocks of ``min(n, BLOCK)`` (block ``b`` drawn with
    ``fold_in(key, b)``), computed ``chunk`` rows at a time (rounded to whole blocks): the
    result is the same for every ``chunk``, and memory holds one chunk, not ``n`` rows.
    With ``out`` (a ``.npy`` path) the rows stream into a memory-mapped file (written
    atomically: a temporary file renamed at the end), and that map is returned.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    dim = s.data.shape[1]
    opts = sampler_options(s.config, **overrides)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim > 1 or (labels.ndim == 1 and labels.shape[0] != n):
            raise ValueError(f"labels must be one class or ({n},), got shape {labels.shape}")
        models.check_fits(s.apply_fn, labels=labels)
        labels = np.broadcast_to(labels, (n,)).astype(np.int32)
    block = min(n, BLOCK)
    per_call = max(1, chunk // block)
    fill = functools.partial(
        _fill_draw,
        s=s,
        params=params,
        key=key,
        opts=opts,
        block=block,
        per_call=per_call,
        progress=progress,
        labels=labels,
    )
    if out is None:
        result = np.empty((n, dim), np.float32)
        fill(result)
        return result
    out = pathlib.Path(out)
    with _atomic_path(out, ".npy") as tmp:
        result = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, dim))
        fill(result)
        result.flush()
        del result
    return np.load(out, mmap_mode="r")


def _fill_draw(result, *, s: Setup, params, key, opts, block, per_call, progress, labels):
    """Writes the blocks of :func:`draw`'s stream into ``result`` ``(n, dim)``."""
    n, dim = result.shape
    full, ragged = divmod(n, block)
    frozen = tuple(sorted(opts.items()))
    with _Progress(progress, total=n, start=0, steps_per_epoch=0, unit="samples") as bar:
        for first in range(0, full, per_call):
            count = min(per_call, full - first)
            keys = jax.vmap(lambda b: jax.random.fold_in(key, b))(jnp.arange(first, first + count))
            span = slice(first * block, (first + count) * block)
            c = None if labels is None else labels[span].reshape(count, block)
            z = _draw_blocks(keys, c, s.apply_fn, params, s.schedule, (block, dim), frozen)
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
                labels=c,
                **opts,
            )
            result[full * block :] = s.normalizer.decode(np.asarray(z))
            bar.advance(ragged)


def restore_run(run_dir) -> tuple[Setup, training.TrainState]:
    """Rebuilds a run from ``config.json`` and its newest good checkpoint."""
    cfg = load_config(run_dir)
    s = setup(cfg, run_dir)
    try:
        state = checkpoints.restore(pathlib.Path(run_dir) / "checkpoints", s.state)
    except checkpoints.CheckpointError as err:
        raise RunError(str(err)) from err
    return s, state


def plot_run(run_dir, *, s: Setup | None = None, params=None, history=None, samples=None):
    """(Re)draws every figure of a run directory from its files and checkpoint."""
    run_dir = pathlib.Path(run_dir)
    if s is None or params is None:
        s, state = restore_run(run_dir)
        params = model_params(s, state)
    if history is None:
        history = _read_metrics(run_dir / "metrics.jsonl", math.inf)
    labels_path = run_dir / "sample_labels.npy"
    if samples is None:
        path = run_dir / "samples.npy"
        if path.is_file():
            samples = np.load(path)
        else:
            labels = final_labels(s, s.config.sample.n)
            samples = draw(s, params, s.sample_key, s.config.sample.n, labels=labels)
    labels = np.load(labels_path) if labels_path.is_file() else final_labels(s, len(samples))
    if labels is not None and labels.shape[0] != samples.shape[0]:
        labels = None
    if history:
        plotting.loss_curve([r["loss"] for r in history], run_dir / "loss.png")
    if s.data.shape[1] != 2:
        # Not a plane: digits as images; any other data by its first two features.
        if s.config.data.name == "digits":
            plotting.image_grid(samples, labels, run_dir / "digits.png")
        plotting.samples_vs_data(samples, s.data, run_dir / "samples.png", labels)
        return
    steps = np.arange(0, s.schedule.num_steps, max(1, s.schedule.num_steps // 20))[:20]
    forward = _forward_states(
        jax.random.key(s.config.seed + 1),
        s.schedule,
        jnp.asarray(s.train_data),
        jnp.asarray(steps),
    )
    forward = s.normalizer.decode(np.asarray(forward))
    plotting.forward_grid(forward, steps, run_dir / "forward.png")
    opts = sampler_options(s.config)
    m = min(s.config.sample.n, 10_000)
    traj = samplers.sample_trajectory(
        s.sample_key,
        s.apply_fn,
        params,
        s.schedule,
        (m, s.data.shape[1]),
        labels=final_labels(s, m),
        **opts,
    )
    traj = s.normalizer.decode(np.asarray(traj))
    plotting.reverse_grid(traj, run_dir / "reverse.png")
    plotting.reverse_animation(traj, run_dir / "reverse.gif")
    plotting.samples_vs_data(samples, s.data, run_dir / "samples.png", labels)


@jax.jit
def _forward_states(key, schedule, x0, steps):
    """``q(x_t | x_0)`` draws for each of ``steps``: ``(len(steps), *x0.shape)``."""
    keys = jax.random.split(key, steps.shape[0])
    return jax.vmap(lambda k, t: diffusion.q_sample(k, schedule, x0, t))(keys, steps)


class _Progress:
    """A rich progress bar (epoch, loss, steps/s, ETA), or nothing when disabled."""

    def __init__(
        self, enabled: bool, total: int, start: int, steps_per_epoch: int, unit: str = "epoch"
    ):
        self.enabled, self.total, self.start = enabled, total, start
        self.steps_per_epoch, self.unit = steps_per_epoch, unit
        self.progress = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            if self.unit != "epoch":
                self.progress = Progress(
                    TextColumn(self.unit),
                    MofNCompleteColumn(),
                    BarColumn(),
                    TimeElapsedColumn(),
                    TextColumn("ETA"),
                    TimeRemainingColumn(),
                )
                self.progress.__enter__()
                self.task = self.progress.add_task(self.unit, total=self.total)
                return self
            self.progress = Progress(
                TextColumn("epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[rate]} steps/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task(
                "train", total=self.total, completed=self.start, loss="-", rate="-"
            )
        return self

    def update(self, epoch, loss, epochs, seconds):
        if self.progress is not None:
            rate = epochs * self.steps_per_epoch / max(seconds, 1e-9)
            self.progress.update(
                self.task, completed=epoch, loss=f"{loss:.5f}", rate=f"{rate:,.0f}"
            )

    def advance(self, amount: int):
        if self.progress is not None:
            self.progress.advance(self.task, amount)

    def log(self, text: str):
        if self.progress is not None:
            self.progress.console.print(text)
        else:
            print(text, flush=True)

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.__exit__(*exc)
        return False


# Seeds of the evaluation draws: offsets from the run's seed, so they never equal the
# training draw (which uses ``seed`` itself).
_REFERENCE_OFFSET, _FLOOR_OFFSET, _HELD_OUT_OFFSET = 1_000_001, 2_000_003, 3_000_005
_LABEL_OFFSET = 4_000_037


def quality(
    s: Setup,
    params,
    samples: np.ndarray,
    *,
    n: int = 5000,
    likelihood_n: int = 1000,
) -> dict:
    """Sample quality and likelihood of a trained model, each beside the data's own floor.

    ``samples`` (data units; the first ``n`` are used) are compared with a fresh draw of
    the run's data set that training never saw; the floor is a second fresh draw compared
    with the same reference, i.e. what a perfect sampler would score at this ``n``. The
    likelihoods are of ``likelihood_n`` held-out points, in nats per dimension of the
    data's own units (the ``Normalizer``'s log-determinant added). A fixed set (a file,
    ``digits``) has no fresh draws: the reference is its held-out part, the floor the
    same number of training rows, and ``n`` at most the held-out size. A conditional
    model's likelihood is that of its unconditional half (the null label).
    """
    for name, value in (("n", n), ("likelihood_n", likelihood_n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 2 or samples.shape[1] != s.data.shape[1]:
        raise ValueError(f"samples must have shape (n, {s.data.shape[1]}), got {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples must be finite, got NaN or inf")
    n = min(n, samples.shape[0])
    if s.held_out is not None:
        n = min(n, s.held_out.shape[0])
    if n < 4:
        raise ValueError(f"need at least 4 samples to evaluate, got {n}")
    name, seed = s.config.data.name, s.config.seed
    if s.held_out is None:
        reference = jnp.asarray(data.load(name, seed + _REFERENCE_OFFSET, n))
        floor_draw = jnp.asarray(data.load(name, seed + _FLOOR_OFFSET, n))
    else:
        reference = jnp.asarray(s.held_out[:n])
        floor_draw = jnp.asarray(s.data[:n])
    key = jax.random.key(0)  # fixed projections: scores of different runs compare

    def scores(x):
        precision, recall = metrics.precision_recall(reference, x)
        return {
            "sliced_w2": float(metrics.sliced_wasserstein(key, reference, x)),
            "mmd2": float(metrics.mmd2(reference, x)),
            "energy": float(metrics.energy_distance(reference, x)),
            "precision": float(precision),
            "recall": float(recall),
        }

    out = {"n": n, "samples": scores(jnp.asarray(samples[:n])), "floor": scores(floor_draw)}
    if likelihood_n:
        if s.held_out is None:
            held_out = data.load(name, seed + _HELD_OUT_OFFSET, likelihood_n)
        else:
            held_out = s.held_out[:likelihood_n]
            likelihood_n = held_out.shape[0]
        z = jnp.asarray(s.normalizer.encode(held_out), jnp.float32)
        log_det = float(np.mean(np.log(s.normalizer.std)))
        target = s.config.train.target
        bound = likelihood.vlb(
            jax.random.key(1),
            s.apply_fn,
            params,
            s.schedule,
            z,
            target=target,
            variance=s.config.sample.variance,
        )
        log_lik = likelihood.ode_log_likelihood(s.apply_fn, params, s.schedule, z, target=target)
        out["likelihood"] = {
            "n": likelihood_n,
            "nll_ode_nats_per_dim": float(-jnp.mean(log_lik)) + log_det,
            "vlb_nats_per_dim": float(jnp.mean(bound.total)) + log_det,
            "vlb_prior_nats_per_dim": float(jnp.mean(bound.prior)),
        }
    return out


def quality_table(q: dict) -> str:
    """A plain-text table of :func:`quality`'s result."""
    rows = [
        ("sliced W2 (lower is better)", "sliced_w2", "{:.4f}"),
        ("MMD^2 (lower)", "mmd2", "{:.2e}"),
        ("energy distance^2 (lower)", "energy", "{:.2e}"),
        ("precision k=3 (higher)", "precision", "{:.3f}"),
        ("recall k=3 (higher)", "recall", "{:.3f}"),
    ]
    lines = [f"{'n = ' + str(q['n']):30s} {'samples':>10s} {'data floor':>11s}"]
    for label, key, fmt in rows:
        lines.append(
            f"{label:30s} {fmt.format(q['samples'][key]):>10s} {fmt.format(q['floor'][key]):>11s}"
        )
    lik = q.get("likelihood")
    if lik:
        lines.append(
            f"{'NLL, probability-flow ODE':30s} {lik['nll_ode_nats_per_dim']:>10.3f}"
            f"  nats/dim, {lik['n']} held-out points"
        )
        lines.append(
            f"{'NLL bound, VLB (Ho eq. 5)':30s} {lik['vlb_nats_per_dim']:>10.3f}  nats/dim"
        )
    return "\n".join(lines)


def evaluate_run(
    run_dir,
    *,
    samples_path=None,
    n: int = 5000,
    likelihood_n: int = 1000,
    s: Setup | None = None,
    params=None,
) -> dict:
    """:func:`quality` of a run directory, saved as ``report.json``'s ``quality``.

    Samples come from ``samples_path``, else the run's ``samples.npy``, else are drawn
    with the run's sampler.
    """
    run_dir = pathlib.Path(run_dir)
    if s is None or params is None:
        s, state = restore_run(run_dir)
        params = model_params(s, state)
    path = pathlib.Path(samples_path) if samples_path is not None else run_dir / "samples.npy"
    if samples_path is not None and not path.is_file():
        raise RunError(f"samples file {str(path)!r} does not exist")
    if path.is_file():
        try:
            samples = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise RunError(f"cannot read samples file {str(path)!r}: {err}") from err
    else:
        m = max(n, 4)
        samples = draw(s, params, s.sample_key, m, labels=final_labels(s, m))
    q = quality(s, params, samples, n=n, likelihood_n=likelihood_n)
    q["samples_file"] = str(path) if path.is_file() else None
    report_path = run_dir / "report.json"
    report = {}
    if report_path.is_file():
        try:
            report = json.loads(report_path.read_text())
        except json.JSONDecodeError:
            report = {}
    report["quality"] = q
    _atomic_write(report_path, json.dumps(report, indent=2))
    return q
