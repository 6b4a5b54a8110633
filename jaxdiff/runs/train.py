"""Training a run directory: the resume policy, chunks with checkpoints and metrics,
interrupts and divergence, the run's own samples, report and figures."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import pathlib
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import files, models, validate
from jaxdiff.ddpm import diffusion
from jaxdiff.engine import ensembles, fitting, stopping, training
from jaxdiff.runs import checkpoints, overrides, presets
from jaxdiff.runs.config import Config
from jaxdiff.runs.draw import draw, final_labels
from jaxdiff.runs.evaluate import quality
from jaxdiff.runs.figures import plot_run
from jaxdiff.runs.progress import Progress
from jaxdiff.runs.rows import training_shape
from jaxdiff.runs.rundir import (
    RunError,
    device_name,
    hold,
    load_config,
    read_metrics,
    read_report,
    save_npy,
    save_npz,
    write_json,
    write_text,
)
from jaxdiff.runs.setup import Setup, model_params, setup
from jaxdiff.runs.trained import write_data_units

__all__ = ["fit", "new_config", "resume_config", "train_run"]


def _sampler_summary(s: Setup) -> dict:
    """The run's own sampler in ``report.json``: method, steps, network evaluations per
    sample (None: chosen by an adaptive solver)."""
    opts = s.sampler.for_schedule(s.schedule)
    return {"method": opts.method, "steps": opts.steps, "evaluations": opts.evaluations}


def fit(s: Setup, state: training.TrainState | None = None, *, devices: int | None = None, **kw):
    """``fitting.fit_state`` on the run's (standardised) data, or a reflow run's pairs
    (``s.fit_data``), with every setting of ``s.config``.

    Starts from ``state`` (default: the fresh ``s.state``); ``kw`` go to ``fit_state``
    (``epochs_per_call``, ``callback``). ``devices=N`` shards each batch over the first N
    devices (:mod:`jaxdiff.engine.parallel`); an ensemble trains its members in one program
    (:mod:`jaxdiff.engine.ensembles`).
    """
    t = s.config.train
    run = fitting.fit_state
    if t.ensemble > 1:
        if devices is not None:
            raise ValueError("devices cannot be combined with an ensemble yet")
        run = ensembles.fit_ensemble
    if devices is not None:
        from jaxdiff.engine import parallel

        kw["mesh"] = parallel.make_mesh(devices)
        run = parallel.fit
    return run(
        s.state if state is None else state,
        s.fit_data,
        spec=s.spec,
        schedule=s.schedule,
        epochs=t.epochs,
        labels=s.condition,
        **kw,
    )


def new_config(preset: str = "default", **settings) -> Config:
    """The config of a new run: the command line's settings on ``preset``, the ``default``
    first sized to the shape of the rows the settings' data gives
    (:func:`~jaxdiff.runs.overrides.configure_for`)."""
    cfg = overrides.configure(presets.preset(preset), **settings)
    if preset != "default":
        return cfg
    return overrides.configure_for(preset, *training_shape(cfg), **settings)


def resume_config(run_dir, preset: str | None = None, **settings) -> Config:
    """The config to resume the run in ``run_dir`` with, given a command line's ``preset``
    and settings (``overrides.resume_config``: given settings must equal the saved ones; only
    ``epochs`` may differ; the ``default`` preset sized to the run's rows)."""
    saved = load_config(run_dir)
    shape = training_shape(saved, run_dir) if preset == "default" else None
    return overrides.resume_config(saved, preset, shape=shape, **settings)


def _check_target(cfg: Config, run_dir: pathlib.Path, resume: bool, s: Setup) -> None:
    ckpt_dir = run_dir / "checkpoints"
    if resume:
        saved = load_config(run_dir)
        if saved.distill.teacher is not None:
            raise RunError(
                f"{str(run_dir)!r} is a distilled student; continue it with "
                "jaxdiff distill --resume"
            )
        if dataclasses.replace(saved, train=dataclasses.replace(saved.train, epochs=0)) != (
            dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=0))
        ):
            raise RunError(
                f"--resume needs the settings of {str(run_dir)!r} (only --epochs may change)"
            )
        last, epochs = s.last_learning_epoch, cfg.train.epochs
        if last is not None and epochs > last:
            # The rate's horizon is part of the run (the checkpoints' optimiser state has
            # followed its decay); past it a cosine rate is 0.
            span = f"epoch {epochs}" if epochs == last + 1 else f"epochs {last + 1} to {epochs}"
            raise RunError(
                f"--epochs {epochs}: the run's learning rate reaches 0 after epoch {last} (a "
                f"cosine schedule over the --epochs it was started with), so {span} would "
                f"not learn; resume with --epochs {last} at most, or start a new run with "
                f"--epochs {epochs}"
            )
        if checkpoints.latest_epoch(ckpt_dir) is None:
            raise RunError(f"--resume: no checkpoint in {str(ckpt_dir)!r}")
    elif checkpoints.latest_epoch(ckpt_dir) is not None:
        raise RunError(
            f"{str(run_dir)!r} already holds a trained run; pass --resume or another --out"
        )


def _prepare(cfg: Config, run_dir: pathlib.Path, s: Setup) -> None:
    """Writes what the run keeps beside its checkpoints."""
    if not os.access(run_dir, os.W_OK):
        raise RunError(f"run directory {str(run_dir)!r} is not writable")
    typed = None
    copy = run_dir / ("data.npz" if cfg.model.conditional or s.context is not None else "data.npy")
    if s.encoder is not None and not copy.is_file():
        d = cfg.data
        label = d.label_column if cfg.model.conditional else None
        typed = files.typed_table(d.path, label, d.columns, d.categorical, d.integer)
    if typed is not None:  # the copy of a typed table holds its encoded rows
        _, x, y, names = typed
        if y is None:
            save_npy(copy, x)
        else:
            save_npz(copy, x=x, y=y, names=np.array(names))
    elif s.context is not None:
        if not copy.is_file():
            x, context = files.load_context_file(cfg.data.path, cfg.data.given, cfg.data.columns)
            save_npz(copy, x=x, context=context)
    elif cfg.data.name == "file" and cfg.model.conditional:
        if not (run_dir / "data.npz").is_file():
            x, y, names = files.load_labelled_file(
                cfg.data.path, cfg.data.label_column, cfg.data.columns
            )
            save_npz(run_dir / "data.npz", x=x, y=y, names=np.array(names))
    elif cfg.data.name == "file" and not (run_dir / "data.npy").is_file():
        # The run keeps its own copy of the data: it resumes, samples and evaluates the
        # same rows even if the original file changes or moves.
        save_npy(run_dir / "data.npy", files.load_file(cfg.data.path, cfg.data.columns))
    # what jaxdiff.load reads
    write_data_units(run_dir, s.normalizer, s.label_names, s.encoder, s.context_normalizer)
    abar_T = float(s.schedule.alphas_cumprod[-1])
    if abar_T > 0.05:
        warnings.warn(
            f"the schedule ends at alpha_bar_T = {abar_T:.3f} > 0.05: x_T keeps "
            f"{math.sqrt(abar_T):.0%} of the data's scale, so sampling from N(0, I) starts "
            "off the forward process (the seed's flaw; try --schedule cosine)",
            stacklevel=3,
        )


def held_out_check(s: Setup, x_held, c_held):
    """``(check, stopper)`` for a context model: ``check(state)`` records the loss of the
    run's parameters (:func:`~jaxdiff.runs.setup.model_params`) on held-out rows
    ``x_held`` given ``c_held`` (data units; :func:`jaxdiff.engine.stopping.held_out_loss`, the
    run's fixed draws) and returns True when :class:`jaxdiff.engine.stopping.Stopper` says stop;
    ``stopper.params`` are the best."""
    dtype = models.float_dtype()
    z = jnp.asarray(s.normalizer.encode(x_held), dtype)
    c = jnp.asarray(s.context_normalizer.encode(c_held), dtype)
    stopper, key = stopping.Stopper(), s.keys.held_out_loss

    def check(state) -> bool:
        params = model_params(s, state)
        loss = stopping.held_out_loss(params, z, c, key, s.schedule, s.spec)
        return stopper.update(float(jax.device_get(loss)), params, _epoch_of(state))

    return check, stopper


class _Recorder:
    """The callback of each chunk: metrics lines, checkpoints, the progress bar; a
    context run's held-out check (``check``: True stops training)."""

    def __init__(
        self, s, ckpt_dir, metrics_file, history, bar, checkpoint_every, log_every, check=None
    ):
        self.s, self.ckpt_dir, self.file, self.history = s, ckpt_dir, metrics_file, history
        self.bar, self.every, self.log_every = bar, checkpoint_every, log_every
        self.state, self.check = None, check

    def __call__(self, st, losses, seconds):
        s = self.s
        losses = np.asarray(losses)
        members = losses.T if losses.ndim == 2 else None  # (n, K) for an ensemble
        losses = losses.mean(axis=0) if losses.ndim == 2 else losses
        epoch = _epoch_of(st)
        first = epoch - len(losses) + 1
        for i, loss in enumerate(losses):
            row = {
                "epoch": first + i,
                "loss": float(loss),
                "lr": s.lr_at((first + i - 1) * s.steps_per_epoch),
                "seconds": seconds / len(losses),
            }
            if members is not None:
                row["member_losses"] = [float(v) for v in members[i]]
            self.file.write(json.dumps(row) + "\n")
            self.history.append(row)
            if self.log_every and (first + i) % self.log_every == 0:
                self.bar.log(f"epoch {first + i:5d}  loss {float(loss):.6f}")
        self.file.flush()
        self.state = st
        if epoch % self.every == 0 or epoch == s.config.train.epochs:
            checkpoints.save(self.ckpt_dir, st)
        self.bar.update(epoch, float(losses[-1]), len(losses), seconds, row["lr"])
        return self.check is not None and self.check(st)


def _epoch_of(state) -> int:
    return int(np.max(np.asarray(state.epoch)))


# Epochs a compiled chunk runs between callbacks, and between checkpoints, where an epoch
# is at least MIN_EPOCH_STEPS optimiser steps (the default recipe's 20 on 10,000 rows).
CHUNK_EPOCHS, CHECKPOINT_EPOCHS, MIN_EPOCH_STEPS = 25, 100, 20


def cadence(steps_per_epoch: int, checkpoint_every: int | None, log_every: int | None):
    """``(checkpoint_every, chunk)`` in epochs. Given ``checkpoint_every``: as given, and
    chunks of 25 epochs or its divisor. Else 100 epochs, and 25-epoch chunks, stretched
    in proportion where epochs are shorter than 20 steps (a small table: 2 steps an epoch
    would otherwise stop to call back every 50 steps and checkpoint every 200), the
    checkpoints a multiple of the chunk. A ``log_every`` divides the chunk."""
    if checkpoint_every is None:
        stretch = max(1, MIN_EPOCH_STEPS // max(1, steps_per_epoch))
        chunk = CHUNK_EPOCHS * stretch
        checkpoint_every = chunk * math.ceil(CHECKPOINT_EPOCHS * stretch / chunk)
    else:
        chunk = math.gcd(checkpoint_every, CHUNK_EPOCHS)
    if log_every is not None:
        chunk = math.gcd(chunk, log_every)
    return checkpoint_every, chunk


def train_run(
    cfg: Config,
    run_dir,
    *,
    resume: bool = False,
    checkpoint_every: int | None = None,
    log_every: int | None = None,
    progress: bool = True,
    eval_n: int = 5000,
    likelihood_n: int = 0,
    figures: bool = True,
    devices: int | None = None,
    start_params=None,
) -> dict:
    """Trains ``cfg`` into ``run_dir`` and writes samples, figures and ``report.json``.

    At the end the samples are scored by :func:`~jaxdiff.runs.evaluate.quality`
    (``eval_n`` points, ``0`` to skip; ``min(likelihood_n, eval_n)`` held-out points for
    the likelihoods) into ``report["quality"]``. The likelihoods are left to ``jaxdiff
    eval`` unless ``likelihood_n`` asks: on the ``default`` recipe's 1000-step schedule
    the ODE likelihood of 250 points cost as much as the training itself on a 2-core CPU
    (``benchmarks/commands.py --first``).
    ``figures=False`` skips the figures; the reverse chain's GIF is ``jaxdiff plot``'s
    (which draws every figure again).
    ``checkpoint_every`` (epochs; None: :func:`cadence`'s) also sets the compiled chunks.
    ``report["seconds"]`` says where the call's time went.
    ``start_params``: a new run's first parameters, instead of the config's initialisation
    (``jaxdiff reflow`` starts from its teacher's); one model, not an ensemble.

    With ``resume``, the run continues from the newest checkpoint in ``run_dir`` up to
    ``cfg.train.epochs``; the result equals an uninterrupted run bit for bit. On Ctrl-C
    the last completed chunk of epochs is checkpointed before the interrupt propagates.

    Returns:
      The report dictionary (also written to ``report.json``).
    """
    run_dir = pathlib.Path(run_dir)
    started = time.perf_counter()
    if checkpoint_every is not None:
        checkpoint_every = validate.positive_int("checkpoint_every", checkpoint_every)
    # Data and model first: a bad data file or an unlabelled --conditional fails here, in
    # one line, before anything is written.
    s = setup(cfg, run_dir)
    cfg = s.config  # a context run's knows its context's width
    checkpoint_every, chunk = cadence(s.steps_per_epoch, checkpoint_every, log_every)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create run directory {str(run_dir)!r}: {err.strerror}") from err
    # One writer per run directory: the lock is taken before the directory is read, and
    # only by process 0 of a multi-process run (the others write nothing of their own).
    writer = jax.process_index() == 0
    with hold(run_dir) if writer else contextlib.nullcontext():
        _check_target(cfg, run_dir, resume, s)
        if resume and (run_dir / checkpoints.PARAMS).exists():
            raise RunError(
                f"{str(run_dir)!r} stopped on its held-out loss and keeps its best "
                "parameters; train a new run for more"
            )
        if writer:
            _prepare(cfg, run_dir, s)
        ckpt_dir = run_dir / "checkpoints"
        state = s.state
        if start_params is not None and not resume:
            if cfg.train.ensemble > 1:
                raise ValueError("start_params is one model's; this run trains an ensemble")
            ema = cfg.train.ema_decay is not None
            state = training.init_state(s.keys.train, start_params, s.optimizer, ema=ema)
        if resume:
            try:
                state = checkpoints.restore(ckpt_dir, state)
            except checkpoints.CheckpointError as err:
                raise RunError(str(err)) from err
        # Process 0 writes the run's files; every process takes part in the checkpoints
        # (orbax's multi-process save: the primary host writes what is replicated).
        if writer:
            write_text(run_dir / "config.json", cfg.to_json())

        t = cfg.train
        start_epoch = _epoch_of(state)
        metrics_path = run_dir / "metrics.jsonl"
        history = read_metrics(metrics_path, start_epoch)
        if writer:
            write_text(metrics_path, "".join(json.dumps(r) + "\n" for r in history))

        with (
            (metrics_path if writer else pathlib.Path(os.devnull)).open("a") as metrics_file,
            Progress(
                progress, total=t.epochs, start=start_epoch, steps_per_epoch=s.steps_per_epoch
            ) as bar,
        ):
            check, stopper = None, None
            if s.held_context is not None:  # a context run stops on its held-out loss
                check, stopper = held_out_check(s, s.held_out, s.held_context)
            record = _Recorder(
                s, ckpt_dir, metrics_file, history, bar, checkpoint_every, log_every, check
            )
            record.state = state
            fit_started = time.perf_counter()
            try:
                if start_epoch < t.epochs:
                    state, fit_info = fit(
                        s, state, devices=devices, epochs_per_call=chunk, callback=record
                    )
                else:
                    fit_info = {
                        "losses": [],
                        "train_seconds": 0.0,
                        "compile_seconds": 0.0,
                        "steps": 0,
                    }
            except KeyboardInterrupt:
                st = record.state
                if _epoch_of(st) > start_epoch and _epoch_of(st) % checkpoint_every != 0:
                    checkpoints.save(ckpt_dir, st)
                raise
            except fitting.TrainingDiverged as err:
                good = _epoch_of(err.state)
                if good > start_epoch and checkpoints.latest_epoch(ckpt_dir) != good:
                    checkpoints.save(ckpt_dir, err.state)
                raise
        if checkpoints.latest_epoch(ckpt_dir) != _epoch_of(state):
            checkpoints.save(ckpt_dir, state)
        fit_seconds = time.perf_counter() - fit_started

        t0 = time.perf_counter()
        params = model_params(s, state)
        if stopper is not None and stopper.params is not None:
            # the parameters of the lowest held-out loss, kept where jaxdiff.load reads
            # a model's own parameters first
            params = stopper.params
            if writer:
                checkpoints.save_params(run_dir, params)
        sample_labels = final_labels(s, cfg.sample.n)
        samples = draw(s, params, s.keys.sample, cfg.sample.n, labels=sample_labels)
        sample_seconds = time.perf_counter() - t0
        if writer:
            save_npy(run_dir / "samples.npy", samples)
        if writer and s.context is not None:  # each sample's context, in data units
            save_npy(run_dir / "sample_context.npy", s.context_normalizer.decode(sample_labels))
        elif writer and sample_labels is not None:
            save_npy(run_dir / "sample_labels.npy", sample_labels)

        steps = fit_info["steps"]
        report = {
            "epochs": _epoch_of(state),
            "steps": int(np.sum(np.asarray(state.step))),
            "ensemble": cfg.train.ensemble,
            "params": models.param_count(params) // cfg.train.ensemble,
            "train_rows": int(s.data.shape[0]),
            "columns": int(s.data.shape[1]),
            "steps_this_call": steps,
            "train_seconds": fit_info["train_seconds"],
            "compile_seconds": fit_info["compile_seconds"],
            "steps_per_second": steps / fit_info["train_seconds"] if steps else None,
            "stopped": None
            if stopper is None
            else {"best_epoch": stopper.epoch, "held_out_loss": stopper.best},
            "final_loss": history[-1]["loss"] if history else None,
            "sample_seconds_with_compile": sample_seconds,
            "sampler": _sampler_summary(s),
            "alpha_bar_T": float(s.schedule.alphas_cumprod[-1]),
            "prior_kl_nats_per_dim": float(
                diffusion.prior_kl(s.schedule, jnp.asarray(s.train_data))
            ),
            "device": device_name(),
            "jax_version": jax.__version__,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if resume:
            old = read_report(run_dir)
            total = old.get("train_seconds_total", old.get("train_seconds", 0.0))
            report["train_seconds_total"] = total + report["train_seconds"]
        t0 = time.perf_counter()
        if eval_n and (s.held_out is None or len(s.held_out) >= 4):  # 4 rows to score
            report["quality"] = quality(
                s, params, samples, n=eval_n, likelihood_n=min(likelihood_n, eval_n)
            )
        # Where the call's time went (wall clock, compilation inside each part).
        seconds = {
            "setup": fit_started - started,
            "compilation": fit_info["compile_seconds"],
            "training": fit_info["train_seconds"],
            "checkpoints and logging": max(
                0.0, fit_seconds - fit_info["compile_seconds"] - fit_info["train_seconds"]
            ),
            "sampling": sample_seconds,
            "evaluation": time.perf_counter() - t0,
        }
        report["seconds"] = seconds
        if writer:
            write_json(run_dir / "report.json", report)
        if figures and writer:
            t0 = time.perf_counter()
            plot_run(run_dir, s=s, params=params, history=history, samples=samples, animation=False)
            seconds["figures"] = time.perf_counter() - t0
            write_json(run_dir / "report.json", report)
        return report
