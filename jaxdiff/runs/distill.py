"""``jaxdiff distill``: a student run distilled from a teacher run
(:mod:`jaxdiff.ddpm.distillation`, direct or progressive), written as an ordinary run directory.

The student's ``config.json`` is the teacher's with a ``distill`` section naming the
teacher and the distilled sampler (direct: ``restart`` over the ``geometric`` levels;
progressive: deterministic DDIM over the student's trailing ``steps``), so ``sample``,
``eval`` and ``plot`` use it by default. Each round (direct: one) ends with a checkpoint
(its epoch is the round's number); ``resume`` continues after the last completed round,
bit for bit: round ``r`` depends only on its teacher and its key.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import shutil
import time
from typing import NamedTuple

import jax
import numpy as np

from jaxdiff.core import apply, validate
from jaxdiff.ddpm import distillation, students
from jaxdiff.runs import checkpoints
from jaxdiff.runs.config import Config, DistillConfig, ModelConfig
from jaxdiff.runs.draw import draw, final_labels
from jaxdiff.runs.evaluate import quality
from jaxdiff.runs.figures import plot_run
from jaxdiff.runs.rundir import (
    TEACHER_FILES,
    RunError,
    hold,
    load_config,
    save_npy,
    write_json,
    write_text,
)
from jaxdiff.runs.setup import model_params, restore, setup

__all__ = [
    "BUDGETS",
    "Budget",
    "distill_run",
    "light_model",
    "light_network",
    "student_config",
    "tabulated",
]

STEPS = (1, 2, 4, 8)
# Each method's round.
ROUNDS = {"direct": distillation.distill_endpoints, "progressive": distillation.distill_round}
METHODS = tuple(ROUNDS)
# The student's network: the teacher's own, or light_model of it (direct only).
STUDENTS = ("teacher", "light")


class Budget(NamedTuple):
    """A student's training where the spec gives None: Adam steps (per round), points per
    noise level with their teacher endpoints (direct only) and peak learning rate."""

    iterations: int
    pairs: int | None
    learning_rate: float


# Each (method, student)'s budget. The light student trains twice as long on twice as
# many pairs (benchmarks/results/logs/samplers-experiments-2026-11-27.md): with 20,000
# pairs, 12,000 steps fit them more closely than with 40,000 (loss 1.9e-4 against 2.7e-4
# on eight_gaussians) and sample worse (precision 0.969 against 0.975): the student
# learns the pairs rather than the map.
BUDGETS = {
    ("direct", "teacher"): Budget(6000, 20_000, 1e-3),
    ("direct", "light"): Budget(12_000, 40_000, 1e-3),
    ("progressive", "teacher"): Budget(1000, None, 3e-4),
}
# The light student's input tables (students.tabulate_inputs): points per coordinate, and
# the half-range in standard deviations of the data; only up to TABLE_DIMS coordinates
# (the tables hold D x 4 x 2047 x width floats, 4.2 MB per coordinate at width 128).
TABLE_POINTS, TABLE_BOUND, TABLE_DIMS = 2048, 8.0, 8


def light_model(teacher: Config, data_dim: int) -> ModelConfig:
    """The ``"light"`` student's network (:func:`jaxdiff.ddpm.students.lighten` of the teacher's):
    step tables, one residual block fewer (when there are two or more), ReLU; distilled
    with the Fourier features computed, then read from tables
    (:func:`jaxdiff.ddpm.students.tabulate_inputs`) when the teacher has them, its data are
    standardized and ``data_dim <= TABLE_DIMS``."""
    model = teacher.model
    drop = 1 if model.residual and model.depth > 1 else 0
    light = dataclasses.replace(
        model, time_embedding="table", depth=model.depth - drop, activation="relu"
    )
    tables = model.input_features == "fourier" and teacher.data.standardize
    if tables and data_dim <= TABLE_DIMS:
        light = dataclasses.replace(light, input_table=TABLE_POINTS, input_bound=TABLE_BOUND)
    return light


def light_network(teacher_fn, teacher_params, light: ModelConfig):
    """The network a ``"light"`` student is distilled into, started from its teacher's
    parameters: :func:`jaxdiff.ddpm.students.lighten` with the blocks and activation that
    ``light`` (:func:`light_model`) chose; its Fourier features computed. Returns
    ``(apply_fn, params)``."""
    teacher = teacher_fn.model
    return students.lighten(
        teacher,
        teacher_params,
        drop=teacher.config.depth - light.depth,
        activation=light.activation,
    )


def tabulated(light: ModelConfig, apply_fn, params):
    """A distilled light student as ``jaxdiff distill`` writes it: its inputs read from
    tables (:func:`jaxdiff.ddpm.students.tabulate_inputs`) of the size and bound ``light``
    chose, or unchanged where ``light`` has none. Returns ``(apply_fn, params)``."""
    if not light.input_table:
        return apply_fn, params
    return students.tabulate_inputs(
        apply_fn, params, size=light.input_table, bound=light.input_bound
    )


def student_config(
    teacher: Config, teacher_dir, spec: DistillConfig, *, data_dim: int, seed: int | None = None
) -> Config:
    """The student's settings: the teacher's model and data, the ``distill`` section (its
    None settings made the method's and the student's own) and the distilled sampler
    (direct: ``restart`` over ``spec.steps`` geometric levels; progressive: deterministic
    DDIM over ``spec.steps`` trailing steps); the student's network (:func:`light_model` of the
    teacher's for data of ``data_dim`` coordinates, or the teacher's own); no EMA (the
    student is the parameters of its last round); the ``seed`` of its training and
    sampling, None for the teacher's."""
    validate.one_of("method", spec.method, METHODS)
    validate.one_of("steps", spec.steps, STEPS)
    student = validate.one_of("student", spec.student, STUDENTS)
    if teacher.model.input_table:
        raise ValueError(
            "this teacher reads its inputs from tables (a light student), which are not for "
            "training; distil its own teacher instead"
        )
    if student == "light" and spec.method != "direct":
        raise ValueError(
            "student 'light' needs method 'direct' (a progressive round's student teaches "
            "the next round with the same network)"
        )
    iterations, pairs, learning_rate = BUDGETS[spec.method, student]
    if spec.pairs is not None:
        if pairs is None:
            raise ValueError(
                f"pairs is for method 'direct' (progressive learns from the training rows), "
                f"got pairs={spec.pairs!r} with method {spec.method!r}"
            )
        pairs = validate.positive_int("pairs", spec.pairs)
    spec = dataclasses.replace(
        spec,
        teacher=str(pathlib.Path(teacher_dir).resolve()),
        pairs=pairs,
        iterations=validate.positive_int("iterations", spec.iterations or iterations),
        learning_rate=validate.number_in(
            "learning_rate", spec.learning_rate or learning_rate, 0.0, math.inf, low_open=True
        ),
    )
    if spec.method == "direct":
        sampler = {"method": "restart", "spacing": "geometric", "eta": 0.0}
    else:
        sampler = {"method": "ddim", "spacing": "trailing", "eta": 0.0}
    return dataclasses.replace(
        teacher,
        seed=teacher.seed if seed is None else validate.non_negative_int("seed", seed),
        model=light_model(teacher, data_dim) if student == "light" else teacher.model,
        distill=spec,
        train=dataclasses.replace(teacher.train, ema_decay=None, ensemble=1),
        sample=dataclasses.replace(teacher.sample, steps=spec.steps, **sampler),
    )


def distill_run(
    teacher_dir,
    out,
    spec: DistillConfig,
    *,
    resume: bool = False,
    eval_n: int = 5000,
    figures: bool = True,
    seed: int | None = None,
    log=print,
) -> dict:
    """Distils the run in ``teacher_dir`` into a student run ``out``; returns its report.
    ``seed``: of the student's rounds, pairs and samples (None: the teacher's)."""
    teacher_dir, out = pathlib.Path(teacher_dir), pathlib.Path(out)
    t_setup, t_state = restore(teacher_dir)
    if t_setup.config.train.ensemble > 1 or t_setup.num_classes or t_setup.context_dim:
        raise RunError(
            "distill takes one unconditional model; this teacher is an ensemble, "
            "conditional or given a context"
        )
    if t_setup.config.train.objective != "ddpm":
        raise RunError(
            "distill takes a ddpm teacher; this teacher is a flow model (sample it with "
            "--sampler midpoint --nfe 8 instead)"
        )
    cfg = student_config(
        t_setup.config, teacher_dir, spec, data_dim=t_setup.train_data.shape[-1], seed=seed
    )
    spec = cfg.distill
    if spec.method == "progressive":
        plan = distillation.rounds(spec.start_steps, spec.steps)
        distillation.round_grids(t_setup.schedule.num_steps, plan[0])  # checks 2K <= T
    else:
        plan = [spec.steps]
        distillation.endpoint_levels(t_setup.schedule.num_steps, spec.steps)  # checks K <= T
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
        for name in TEACHER_FILES:
            if (teacher_dir / name).is_file():
                shutil.copyfile(teacher_dir / name, out / name)
        write_text(out / "config.json", cfg.to_json())
        s = setup(cfg, out)
        params = teacher_params = model_params(t_setup, t_state)
        student_fn = s.apply_fn  # the network distilled into
        if spec.student == "light":
            student_fn, params = light_network(t_setup.apply_fn, teacher_params, cfg.model)
            tables = student_fn.model.config.replace(
                input_table=cfg.model.input_table, input_bound=cfg.model.input_bound
            )
            assert student_fn.model.clone(config=tables) == s.apply_fn.model, (
                "student and config differ"
            )
        if done:
            params = checkpoints.restore(ckpt_dir, s.state).params
        seconds = []
        for r, k in enumerate(plan, start=1):
            if r <= done:
                continue
            t0 = time.perf_counter()
            if spec.method == "direct":  # the teacher's endpoints, learnt by the student
                teacher, extra = (
                    (t_setup.apply_fn, teacher_params),
                    {"student": (student_fn, params), "pairs": spec.pairs},
                )
            else:  # each round's student teaches the next
                teacher, extra = (s.apply_fn, params), {}
            params, losses = ROUNDS[spec.method](
                jax.random.fold_in(s.keys.train, r),
                *teacher,
                s.schedule,
                s.train_data,
                k,
                iterations=spec.iterations,
                learning_rate=spec.learning_rate,
                target=cfg.train.target,
                **extra,
            )
            # The light student's inputs read from tables, where its config has them.
            written_fn, params = tabulated(cfg.model, student_fn, params)
            assert written_fn == s.apply_fn, "student and config differ"
            jax.block_until_ready(params)
            seconds.append(time.perf_counter() - t0)
            state = dataclasses.replace(
                s.state, params=params, epoch=s.state.epoch + r, step=s.state.step + r
            )
            checkpoints.save(ckpt_dir, state)
            what = f"{2 * k} -> {k} steps" if spec.method == "progressive" else f"{k} levels"
            log(f"round {r}/{len(plan)}: {what} in {seconds[-1]:.1f} s, "
                f"loss {float(np.mean(np.asarray(losses)[-50:])):.5f}")  # fmt: skip

        labels = final_labels(s, cfg.sample.n)
        samples = draw(s, params, s.keys.sample, cfg.sample.n, labels=labels)
        save_npy(out / "samples.npy", samples)
        report = {
            "distilled_from": str(teacher_dir.resolve()),
            "teacher_epochs": int(np.max(np.asarray(t_state.epoch))),
            "method": spec.method,
            "student": spec.student,
            "steps": spec.steps,
            "rounds": len(plan),
            "distill_seconds_this_call": float(sum(seconds)),
            "params": apply.param_count(params),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if eval_n:
            report["quality"] = quality(s, params, samples, n=eval_n, likelihood_n=0)
        write_json(out / "report.json", report)
        if figures:
            plot_run(out, s=s, params=params, history=[], samples=samples)
    return report
