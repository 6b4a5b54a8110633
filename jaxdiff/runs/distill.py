"""``jaxdiff distill``: a student run distilled from a teacher run (progressive
distillation, :mod:`jaxdiff.distillation`), written as an ordinary run directory.

The student's ``config.json`` is the teacher's with a ``distill`` section naming the
teacher and a sampler of deterministic DDIM over the student's ``steps`` (trailing), so
``sample``, ``eval`` and ``plot`` use the distilled sampler by default. Each round ends
with a checkpoint (its epoch is the round's number); ``resume`` continues after the last
completed round, bit for bit: round ``r`` depends only on its teacher and its key.
"""

from __future__ import annotations

import dataclasses
import pathlib
import shutil
import time

import jax
import numpy as np

from jaxdiff import distillation, models
from jaxdiff.runs import checkpoints
from jaxdiff.runs.config import Config, DistillConfig
from jaxdiff.runs.draw import draw, final_labels
from jaxdiff.runs.evaluate import quality
from jaxdiff.runs.figures import plot_run
from jaxdiff.runs.rundir import RunError, hold, load_config, save_npy, write_json, write_text
from jaxdiff.runs.setup import model_params, restore, setup

__all__ = ["distill_run", "student_config"]

# Files a student shares with its teacher: the data copy and the normaliser.
_SHARED = ("data.npy", "data.npz", "normalizer.json")


def student_config(teacher: Config, teacher_dir, spec: DistillConfig) -> Config:
    """The student's settings: the teacher's model and data, the ``distill`` section and
    a deterministic DDIM sampler over ``spec.steps`` trailing steps; no EMA (the student
    is the parameters of its last round)."""
    return dataclasses.replace(
        teacher,
        distill=dataclasses.replace(spec, teacher=str(pathlib.Path(teacher_dir).resolve())),
        train=dataclasses.replace(teacher.train, ema_decay=None, ensemble=1),
        sample=dataclasses.replace(
            teacher.sample, method="ddim", steps=spec.steps, eta=0.0, spacing="trailing"
        ),
    )


def distill_run(
    teacher_dir,
    out,
    spec: DistillConfig,
    *,
    resume: bool = False,
    eval_n: int = 5000,
    figures: bool = True,
    log=print,
) -> dict:
    """Distils the run in ``teacher_dir`` into a student run ``out``; returns its report."""
    teacher_dir, out = pathlib.Path(teacher_dir), pathlib.Path(out)
    t_setup, t_state = restore(teacher_dir)
    if t_setup.config.train.ensemble > 1 or t_setup.num_classes:
        raise RunError(
            "distill takes one unconditional model; this teacher is an ensemble or conditional"
        )
    plan = distillation.rounds(spec.start_steps, spec.steps)
    distillation.round_grids(t_setup.schedule.num_steps, plan[0])  # checks 2K <= T
    cfg = student_config(t_setup.config, teacher_dir, spec)
    out.mkdir(parents=True, exist_ok=True)
    with hold(out):
        ckpt_dir = out / "checkpoints"
        done = checkpoints.latest_epoch(ckpt_dir) or 0
        if resume:
            if done == 0:
                raise RunError(f"--resume: no checkpoint in {str(ckpt_dir)!r}")
            if load_config(out) != cfg:
                raise RunError(f"--resume needs the settings of {str(out)!r}")
        elif done:
            raise RunError(f"{str(out)!r} already holds a run; pass --resume or another --out")
        for name in _SHARED:
            if (teacher_dir / name).is_file():
                shutil.copyfile(teacher_dir / name, out / name)
        write_text(out / "config.json", cfg.to_json())
        s = setup(cfg, out)
        params = model_params(t_setup, t_state)
        if done:
            params = checkpoints.restore(ckpt_dir, s.state).params
        seconds = []
        for r, k in enumerate(plan, start=1):
            if r <= done:
                continue
            t0 = time.perf_counter()
            params, losses = distillation.distill_round(
                jax.random.fold_in(s.keys.train, r),
                s.apply_fn,
                params,
                s.schedule,
                s.train_data,
                k,
                iterations=spec.iterations,
                learning_rate=spec.learning_rate,
                target=cfg.train.target,
            )
            jax.block_until_ready(params)
            seconds.append(time.perf_counter() - t0)
            state = dataclasses.replace(
                s.state, params=params, epoch=s.state.epoch + r, step=s.state.step + r
            )
            checkpoints.save(ckpt_dir, state)
            log(f"round {r}/{len(plan)}: {2 * k} -> {k} steps in {seconds[-1]:.1f} s, "
                f"loss {float(np.mean(np.asarray(losses)[-50:])):.5f}")  # fmt: skip

        labels = final_labels(s, cfg.sample.n)
        samples = draw(s, params, s.keys.sample, cfg.sample.n, labels=labels)
        save_npy(out / "samples.npy", samples)
        report = {
            "distilled_from": str(teacher_dir.resolve()),
            "teacher_epochs": int(np.max(np.asarray(t_state.epoch))),
            "steps": spec.steps,
            "rounds": len(plan),
            "distill_seconds_this_call": float(sum(seconds)),
            "params": models.param_count(params),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if eval_n:
            report["quality"] = quality(s, params, samples, n=eval_n, likelihood_n=0)
        write_json(out / "report.json", report)
        if figures:
            plot_run(out, s=s, params=params, history=[], samples=samples)
    return report
