"""Before a run trains: may this command write to that run directory (:func:`check_target`:
a fresh run into an empty one, ``--resume`` only with the run's own settings and within
its learning rate's horizon), and what the run keeps beside its checkpoints
(:func:`prepare`: its copy of the data, the data's units)."""

from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import warnings

import numpy as np

from jaxdiff.core import files
from jaxdiff.runs import checkpoints
from jaxdiff.runs.config import Config
from jaxdiff.runs.rundir import (
    RunError,
    load_config,
    save_npy,
    save_npz,
)
from jaxdiff.runs.setup import Setup
from jaxdiff.runs.units import write_data_units

__all__ = ["check_target", "prepare"]


def check_target(cfg: Config, run_dir: pathlib.Path, resume: bool, s: Setup) -> None:
    """Raises a one-line :class:`~jaxdiff.runs.rundir.RunError` unless ``cfg`` may train
    into ``run_dir`` (fresh, or resumed with ``resume``)."""
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


def prepare(cfg: Config, run_dir: pathlib.Path, s: Setup) -> None:
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
