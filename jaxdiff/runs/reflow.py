"""``jaxdiff reflow``: a flow run trained on its teacher flow's own (noise, sample) pairs
(Liu et al. 2023, arXiv:2209.03003, §2.3, Algorithm 1), written as an ordinary run
directory.

The teacher's adaptive ODE solver carries ``pairs`` noise rows to samples
(:func:`jaxdiff.flow.flows.reflow_pairs`); the run keeps them as ``reflow_pairs.npy`` and
trains on them with ``pairing="given"`` and uniform ``t``, starting from the teacher's
parameters, for as many optimiser steps as the teacher took (``epochs`` None). Its
``config.json`` is the teacher's with a ``reflow`` section naming the teacher; it
samples, evaluates, plots, exports and resumes (``--resume``, or ``jaxdiff train --run``)
as any run, against the teacher's data. ``benchmarks/reflow.py`` measures what it gains.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import shutil
import time

import jax
import numpy as np

from jaxdiff.core import validate
from jaxdiff.engine import sampler_settings, samplers
from jaxdiff.flow import flows
from jaxdiff.runs import checkpoints
from jaxdiff.runs.config import Config, ReflowConfig
from jaxdiff.runs.keys import RunKeys
from jaxdiff.runs.rundir import (
    REFLOW_PAIRS,
    TEACHER_FILES,
    RunError,
    load_config,
    save_npy,
    write_json,
)
from jaxdiff.runs.setup import Setup, model_params, restore
from jaxdiff.runs.train import train_run

__all__ = ["reflow_config", "reflow_pairs", "reflow_run"]


def reflow_config(
    teacher: Config,
    teacher_dir,
    teacher_steps_per_epoch: int,
    *,
    pairs: int | None = None,
    epochs: int | None = None,
) -> Config:
    """The reflow run's settings: the teacher's, with the ``reflow`` section (``pairs``,
    None for 16,000), ``pairing="given"``, uniform ``t``, and ``epochs`` (None: as many
    optimiser steps as the teacher's ``teacher.train.epochs * teacher_steps_per_epoch``,
    at least one epoch; a cosine rate decays over them). The seed stays the teacher's: it
    draws the data, and so the standardisation that the teacher's pairs are in."""
    t = teacher.train
    if t.objective != "flow":
        raise RunError(
            f"reflow takes a flow teacher (objective 'flow'); this teacher's objective is "
            f"{t.objective!r} (distil a diffusion model with jaxdiff distill)"
        )
    if teacher.model.conditional or t.ensemble > 1:
        raise RunError("reflow takes one unconditional model; this teacher is conditional "
                       "or an ensemble")  # fmt: skip
    n = ReflowConfig.pairs if pairs is None else validate.positive_int("pairs", pairs)
    per_epoch = math.ceil(n / t.batch_size)
    if epochs is None:
        epochs = max(1, round(t.epochs * teacher_steps_per_epoch / per_epoch))
    epochs = validate.positive_int("epochs", epochs)
    train = dataclasses.replace(
        t,
        epochs=epochs,
        lr_decay_epochs=epochs if t.lr_schedule == "cosine" else t.lr_decay_epochs,
        pairing="given",
        t_sampler="uniform",
    )
    return dataclasses.replace(
        teacher,
        train=train,
        reflow=ReflowConfig(teacher=str(pathlib.Path(teacher_dir).resolve()), pairs=n),
    )


def reflow_pairs(s: Setup, params, key: jax.Array, n: int) -> np.ndarray:
    """``n`` rows ``[x_0 | ε]`` (standardised) of the flow ``(s, params)``: noise and the
    sample its adaptive ODE solver carries it to (:func:`jaxdiff.flow.flows.reflow_pairs`)."""
    opts = sampler_settings.SamplerOptions(method="adaptive", target=flows.TARGET)

    def carry(eps):
        return samplers.sample(key, s.apply_fn, params, s.schedule, eps.shape, opts, x_T=eps)

    return np.asarray(flows.reflow_pairs(key, carry, n, s.data_dim))


def reflow_run(
    teacher_dir,
    out,
    *,
    pairs: int | None = None,
    epochs: int | None = None,
    resume: bool = False,
    eval_n: int = 5000,
    likelihood_n: int = 0,
    figures: bool = True,
    checkpoint_every: int = 100,
    progress: bool = False,
    log=print,
) -> dict:
    """Reflows the flow run in ``teacher_dir`` into a new run ``out`` (settings as
    :func:`reflow_config`) and returns its report (:func:`~jaxdiff.runs.train.train_run`'s,
    with ``reflowed_from`` and ``pairs_seconds``). The pairs' noise is
    ``fold_in(RunKeys(seed).sample, 1)`` of the teacher's seed; with ``resume`` the run
    continues from its newest checkpoint on the pairs it kept, without the teacher."""
    teacher_dir, out = pathlib.Path(teacher_dir), pathlib.Path(out)
    trained = checkpoints.latest_epoch(out / "checkpoints") is not None
    if resume:
        # The kept pairs and the saved settings are the run: the teacher is not read again.
        if not trained:
            raise RunError(f"--resume: no checkpoint in {str(out / 'checkpoints')!r}")
        saved = load_config(out)
        if saved.reflow.teacher is None:
            raise RunError(f"{str(out)!r} is not a reflow run; continue it with jaxdiff train")
        cfg = dataclasses.replace(
            saved,
            train=dataclasses.replace(saved.train, epochs=epochs or saved.train.epochs),
            reflow=dataclasses.replace(saved.reflow, pairs=pairs or saved.reflow.pairs),
        )
        start, seconds = None, 0.0
    else:
        if trained:
            raise RunError(
                f"{str(out)!r} already holds a trained run; pass --resume or another --out"
            )
        t_setup, t_state = restore(teacher_dir)
        if t_setup.context_dim:
            raise RunError("reflow takes a model without a context; this teacher has one")
        cfg = reflow_config(
            t_setup.config,
            teacher_dir,
            t_setup.steps_per_epoch,
            pairs=pairs,
            epochs=epochs,
        )
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunError(f"cannot create run directory {str(out)!r}: {err.strerror}") from err
        for name in TEACHER_FILES:
            if (teacher_dir / name).is_file():
                shutil.copyfile(teacher_dir / name, out / name)
        t0 = time.perf_counter()
        start = model_params(t_setup, t_state)
        key = jax.random.fold_in(RunKeys(cfg.seed).sample, 1)
        save_npy(out / REFLOW_PAIRS, reflow_pairs(t_setup, start, key, cfg.reflow.pairs))
        seconds = time.perf_counter() - t0
        log(f"drew {cfg.reflow.pairs} pairs through the teacher's ODE in {seconds:.1f} s")
    report = train_run(
        cfg,
        out,
        resume=resume,
        checkpoint_every=checkpoint_every,
        progress=progress,
        eval_n=eval_n,
        likelihood_n=likelihood_n,
        figures=figures,
        start_params=start,
    )
    report["reflowed_from"] = cfg.reflow.teacher
    report["pairs_seconds"] = seconds
    write_json(out / "report.json", report)
    return report
