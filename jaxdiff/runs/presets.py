"""The named recipes: ``seed`` (every constant of the seed), ``fast`` and ``default`` (the
recipe of ``jaxdiff train``), each a whole :class:`~jaxdiff.runs.config.Config` chosen
by measurement."""

from __future__ import annotations

import dataclasses
import math

from jaxdiff.core import validate
from jaxdiff.runs.config import (
    Config,
    DataConfig,
    ModelConfig,
    SampleConfig,
    ScheduleConfig,
    TrainConfig,
)

__all__ = [
    "CONTEXT_STEPS",
    "DEFAULT_STEPS",
    "FAMILY_SAMPLERS",
    "FAMILY_T_SAMPLERS",
    "FOURIER_COLUMNS",
    "PRESETS",
    "preset",
    "sized",
]


PRESETS: dict[str, Config] = {
    # Every constant and quirk of the seed (the seed's demo; docs/library.md lists each).
    "seed": Config(),
    # The least training time to the seed's 4000-epoch quality, chosen by measurement
    # (benchmarks/fast_preset.py, docs/samplers.md): unit-variance data, a schedule that reaches
    # noise, large batches with a decaying learning rate, EMA, and DPM-Solver++; Flax's
    # initialisation (the seed's N(0, 1) step embeddings keep the MLP near its linear
    # solution on `circles`: loss 0.996 and precision 0.55, against 0.947 and 0.90).
    "fast": Config(
        data=DataConfig(standardize=True),
        model=ModelConfig(init_style="flax"),
        schedule=ScheduleConfig(kind="cosine", num_steps=100, beta_start=None, beta_end=None),
        train=TrainConfig(
            epochs=150,
            batch_size=256,
            learning_rate=3e-3,
            clip_norm=1.0,
            target="v",
            t_sampler="antithetic",
            ema_decay=0.99,
            lr_schedule="cosine",
            lr_decay_epochs=150,
            warmup_steps=100,
        ),
        sample=SampleConfig(
            method="dpm-solver", steps=20, variance="beta_tilde", last_step_noise=False
        ),
    ),
}


# The default of `jaxdiff train`: chosen by measurement on every registered 2-D data set
# by MMD², precision, recall and sliced W2 beside their floors, against the peer recipe
# (benchmarks/recipes.py, docs/quality.md): random Fourier features of each coordinate, sinusoidal
# step features, residual GELU blocks; a cosine schedule of 1000 steps (fewer points left
# between modes than with 100), v target, EMA; large batches at a decaying rate. Its
# sampler is ancestral over 100 of the 1000 steps (DDIM with eta = 1, i.e. the posterior
# variance of the coarser chain): within the same bounds as all 1000 steps, 10x faster.
PRESETS["default"] = Config(
    data=DataConfig(standardize=True),
    model=ModelConfig(
        init_style="flax",
        input_features="fourier",
        feature_size=128,
        feature_scale=3.0,
        time_embedding="sinusoidal",
        residual=True,
        activation="gelu",
    ),
    schedule=ScheduleConfig(kind="cosine", num_steps=1000, beta_start=None, beta_end=None),
    # The fast preset's training, longer, at twice its batch and a higher rate.
    train=dataclasses.replace(
        PRESETS["fast"].train, epochs=120, batch_size=512, learning_rate=5e-3, lr_decay_epochs=120
    ),
    sample=SampleConfig(method="ddim", steps=100, eta=1.0),
)


# The sampler a run takes when `--objective` moves it to the other family: a flow's
# midpoint method at 4 steps (8 network evaluations: with OT pairs within the DDPM's
# bounds on all six registered sets, 4 on none; benchmarks/flows.py, docs/flows.md), the
# default recipe's ancestral sampler for a diffusion model.
FAMILY_SAMPLERS = {
    "flow": SampleConfig(method="midpoint", steps=4),
    "ddpm": PRESETS["default"].sample,
}
# The time draw a run takes with its objective (an explicit `--t-sampler` wins): the
# flow's logit-normal (Esser et al. 2024), the one every flow table measured
# (benchmarks/flows.py, families.py, reflow.py, ot_cost.py); the diffusion recipes'
# antithetic draw.
FAMILY_T_SAMPLERS = {"flow": "logit_normal", "ddpm": "antithetic"}


def preset(name: str) -> Config:
    """The named preset's :class:`Config`."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


# The default recipe's training budget in optimiser steps: its 120 epochs of 20 batches of
# 512 on 10,000 rows. `sized` keeps it for any table and derives the epochs.
DEFAULT_STEPS = 2400
# A context model's budget (benchmarks/posteriors.py, docs/conditioning.md).
CONTEXT_STEPS = 12_000
# Columns up to which the default keeps its random Fourier features of each coordinate
# (chosen on 2-D shapes; worse than none beyond a few columns: benchmarks/tables.py).
FOURIER_COLUMNS = 3


def sized(
    cfg: Config, rows: int, columns: int, *, context: int = 0, steps: int | None = None
) -> Config:
    """``cfg`` sized for a table of ``rows`` training rows and ``columns`` columns (drawn
    given a context of ``context`` columns), by one rule (chosen by measurement,
    benchmarks/tables.py, docs/tables.md; a context model's budget benchmarks/posteriors.py):

    - the batch is the default's 512, or for fewer than 1,024 rows the largest power of two
      at most half the rows (at least 8, never more than the rows): every epoch then has at
      least two batches;
    - the budget is ``steps`` optimiser steps (default :data:`DEFAULT_STEPS`, a context
      model's :data:`CONTEXT_STEPS`: a posterior moves with its context, which takes
      longer to learn than one distribution); the epochs (and a cosine rate's horizon)
      follow from it and the rows;
    - the network reads each coordinate through random Fourier features up to
      :data:`FOURIER_COLUMNS` columns, and the coordinates themselves beyond.

    On the registered 2-D sets (10,000 rows) it gives the ``default`` preset's network,
    batch and epochs unchanged (``train.steps`` records the budget).
    """
    rows = validate.positive_int("rows", rows)
    columns = validate.positive_int("columns", columns)
    if steps is None:
        steps = CONTEXT_STEPS if validate.non_negative_int("context", context) else DEFAULT_STEPS
    t = cfg.train
    batch = t.batch_size
    if rows < 2 * batch:
        batch = max(8, 1 << max(0, (rows // 2).bit_length() - 1))
    batch = min(batch, rows)
    epochs = max(1, math.ceil(steps / math.ceil(rows / batch)))
    train = dataclasses.replace(
        t, batch_size=batch, epochs=epochs, lr_decay_epochs=epochs, steps=steps
    )
    model = cfg.model
    if columns > FOURIER_COLUMNS and model.input_features == "fourier":
        model = dataclasses.replace(model, input_features="none")
    return dataclasses.replace(cfg, train=train, model=model)
