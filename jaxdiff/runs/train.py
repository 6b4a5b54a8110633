"""Training a run directory: the resume policy, chunks with checkpoints and metrics,
interrupts and divergence, the run's own samples, report and figures."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import apply, validate
from jaxdiff.ddpm import diffusion
from jaxdiff.engine import ensembles, fitting, train_spec
from jaxdiff.runs import checkpoints, overrides, presets
from jaxdiff.runs.chunks import Recorder, cadence, epoch_of, held_out_check
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
    write_json,
    write_text,
)
from jaxdiff.runs.setup import Setup, model_params, setup
from jaxdiff.runs.start import check_target, prepare

__all__ = ["fit", "new_config", "resume_config", "train_run"]


def _sampler_summary(s: Setup) -> dict:
    """The run's own sampler in ``report.json``: method, steps, network evaluations per
    sample (None: chosen by an adaptive solver)."""
    opts = s.sampler.for_schedule(s.schedule)
    return {"method": opts.method, "steps": opts.steps, "evaluations": opts.evaluations}


def fit(s: Setup, state: train_spec.TrainState | None = None, *, devices: int | None = None, **kw):
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
        check_target(cfg, run_dir, resume, s)
        if resume and (run_dir / checkpoints.PARAMS).exists():
            raise RunError(
                f"{str(run_dir)!r} stopped on its held-out loss and keeps its best "
                "parameters; train a new run for more"
            )
        if writer:
            prepare(cfg, run_dir, s)
        ckpt_dir = run_dir / "checkpoints"
        state = s.state
        if start_params is not None and not resume:
            if cfg.train.ensemble > 1:
                raise ValueError("start_params is one model's; this run trains an ensemble")
            ema = cfg.train.ema_decay is not None
            state = train_spec.init_state(s.keys.train, start_params, s.optimizer, ema=ema)
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
        start_epoch = epoch_of(state)
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
            record = Recorder(
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
                if epoch_of(st) > start_epoch and epoch_of(st) % checkpoint_every != 0:
                    checkpoints.save(ckpt_dir, st)
                raise
            except fitting.TrainingDiverged as err:
                good = epoch_of(err.state)
                if good > start_epoch and checkpoints.latest_epoch(ckpt_dir) != good:
                    checkpoints.save(ckpt_dir, err.state)
                raise
        if checkpoints.latest_epoch(ckpt_dir) != epoch_of(state):
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
            "epochs": epoch_of(state),
            "steps": int(np.sum(np.asarray(state.step))),
            "ensemble": cfg.train.ensemble,
            "params": apply.param_count(params) // cfg.train.ensemble,
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
