"""The flags that ``train`` and ``demo`` share (the run's settings, each named after the
setting it sets, with the library's choices) and the flag types every command uses."""

from __future__ import annotations

import argparse
import math

from jaxdiff.core import data, models, validate
from jaxdiff.ddpm import diffusion, losses
from jaxdiff.engine import train_spec
from jaxdiff.flow import flows
from jaxdiff.runs.config import SCHEDULE_BETAS
from jaxdiff.runs.presets import FAMILY_SAMPLERS, PRESETS

__all__ = [
    "FINITE",
    "NON_NEGATIVE_INT",
    "POSITIVE_INT",
    "POSITIVE_NUMBER",
    "PROBABILITY",
    "QUIET_HELP",
    "UNIT_INTERVAL",
    "add_run_flags",
    "add_train_flags",
]

POSITIVE_INT = validate.flag_type(validate.positive_int)
NON_NEGATIVE_INT = validate.flag_type(validate.non_negative_int)
POSITIVE_NUMBER = validate.flag_type(
    validate.number_in, float, low=0.0, high=math.inf, low_open=True
)
UNIT_INTERVAL = validate.flag_type(validate.number_in, float, low=0.0, high=1.0, high_open=True)
PROBABILITY = validate.flag_type(validate.number_in, float, low=0.0, high=1.0)
FINITE = validate.flag_type(validate.finite_number, float)
# One meaning of --quiet in every command that has it.
QUIET_HELP = "no progress display (bars, per-epoch or per-round lines); the result still prints"


def add_train_flags(p: argparse.ArgumentParser, *, demo: bool) -> None:
    """Adds the training flags to ``p``. ``demo``: only those that change the demo's
    length and place (``--epochs``, ``--out``, default ``runs/demo``), its checkpoints,
    scoring, figures and output; every setting of the model is the seed's."""
    if demo:
        p.add_argument(
            "--out", default="runs/demo", help="run directory to write (default: runs/demo)"
        )
        p.add_argument(
            "--epochs",
            type=POSITIVE_INT,
            default=None,
            help="total epochs (default: 4000, the seed's)",
        )
        add_run_flags(p, run_flag=False)
        return
    p.add_argument(
        "--data",
        default=None,
        metavar="NAME|PATH",
        help=f"a data set ({', '.join(data.DATASETS)}) or a .npy/.csv/.npz file of "
        "rows, standardised and copied into the run (default: s_curve)",
    )
    p.add_argument(
        "--preset",
        default=None,
        choices=tuple(sorted(PRESETS)),
        help="settings preset: default (the recipe chosen on every data set), fast, or "
        "seed (the seed's demo, every constant) (default: default)",
    )
    p.add_argument(
        "--conditional",
        action="store_true",
        help="class-conditional model with classifier-free guidance (moons, circles, "
        "eight_gaussians, digits, or a labelled --data file)",
    )
    p.add_argument(
        "--label-column",
        default=None,
        metavar="NAME",
        help="with --conditional and a .csv --data file: the header's column of labels "
        "(integers 0..C-1 or class names); a .npz file holds its labels in 'y' (default: "
        "none; a labelled .csv needs it)",
    )
    p.add_argument(
        "--columns",
        default=None,
        metavar="NAMES",
        help="with a .csv --data file with a header: the comma-separated names of the "
        "columns that hold the rows, in order; the others are not read (default: every "
        "column but --label-column)",
    )
    p.add_argument(
        "--given",
        default=None,
        metavar="NAMES",
        help="with a .csv --data file with a header: the comma-separated columns the model "
        "is given, a context (a simulation's observation x of a posterior p(theta | x)); "
        "it learns the other columns given these. With a .npz: the name of its context "
        "array beside 'x' (default: none)",
    )
    p.add_argument(
        "--categorical",
        default=None,
        metavar="NAMES",
        help="with a .csv --data file with a header: comma-separated columns read as "
        "categories (integer codes too); text columns are categories anyway (default: "
        "none)",
    )
    p.add_argument(
        "--integer",
        default=None,
        metavar="NAMES",
        help="with a .csv --data file with a header: comma-separated columns read as "
        "integers (sampled rounded, within their range); in a table with text columns, "
        "columns of whole numbers are integers anyway (default: none)",
    )
    p.add_argument(
        "--label-drop",
        type=PROBABILITY,
        default=None,
        metavar="P",
        help="probability of training on the null label (default: 0.1)",
    )
    p.add_argument(
        "--guidance",
        type=FINITE,
        default=None,
        metavar="W",
        help="guidance weight of the run's own samples (default: 0)",
    )
    p.add_argument("--out", default=None, help="the new run directory to write")
    p.add_argument(
        "--run",
        default=None,
        help="an existing run directory to continue from its newest checkpoint (as --resume "
        "--out RUN, the earlier spelling)",
    )
    p.add_argument(
        "--epochs",
        type=POSITIVE_INT,
        default=None,
        help="total epochs (default: the preset's; 4000 for seed)",
    )
    p.add_argument(
        "--batch-size",
        type=POSITIVE_INT,
        default=None,
        help="batch size (default: the preset's; 128 for seed)",
    )
    p.add_argument(
        "--learning-rate",
        "--lr",
        type=POSITIVE_NUMBER,
        default=None,
        help="Adam learning rate (default: the preset's; 1e-3 for seed)",
    )
    p.add_argument(
        "--seed",
        type=NON_NEGATIVE_INT,
        default=None,
        help="seed of data, init, training and sampling (default: 1234)",
    )
    p.add_argument(
        "--schedule",
        default=None,
        choices=tuple(SCHEDULE_BETAS),
        help="noise schedule (default: the preset's; sigmoid for seed)",
    )
    p.add_argument(
        "--target",
        default=None,
        choices=diffusion.TARGETS,
        help="what the network predicts (default: the preset's; eps for seed)",
    )
    p.add_argument(
        "--objective",
        default=None,
        # The objectives a run trains: those with a family sampler (meanflow: library only).
        choices=tuple(o for o in train_spec.OBJECTIVES if o in FAMILY_SAMPLERS),
        help="ddpm (denoising, the seed's) or flow (flow matching: a straight path from "
        "noise to data, sampled in a few ODE steps; its sampler becomes midpoint) "
        "(default: the preset's)",
    )
    p.add_argument(
        "--pairing",
        default=None,
        # "given" is for reflow's rows of pairs, which the library builds.
        choices=tuple(p for p in flows.PAIRINGS if p != "given"),
        help="flow only: pair each batch's data with noise independently or by minibatch "
        "optimal transport, ot (default: independent)",
    )
    p.add_argument(
        "--t-sampler",
        default=None,
        choices=tuple(dict.fromkeys([*losses.T_SAMPLERS, *flows.TIME_SAMPLERS])),
        help="the draw of each row's time: antithetic (the seed's), uniform, or "
        "logit_normal (flow only) (default: the preset's)",
    )
    p.add_argument(
        "--ema-decay",
        "--ema",
        type=UNIT_INTERVAL,
        default=None,
        metavar="DECAY",
        help="EMA decay of the parameters in [0, 1), 0 for off (default: preset's)",
    )
    p.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train on per-feature standardised data (default: the preset's: on for default "
        "and fast, off for seed; on for files; off suits digits, already in [-1, 1])",
    )
    p.add_argument(
        "--width", type=POSITIVE_INT, default=None, help="hidden units per layer (default: 128)"
    )
    p.add_argument(
        "--depth",
        type=POSITIVE_INT,
        default=None,
        help="hidden layers, or residual blocks (default: the preset's; 3)",
    )
    p.add_argument(
        "--init-style",
        default=None,
        choices=("torch", "flax"),
        help="initialisation: torch (PyTorch's defaults, as the seed) or flax (default: the "
        "preset's)",
    )
    p.add_argument(
        "--input-features",
        "--features",
        default=None,
        choices=models.INPUT_FEATURES,
        help="features of each input coordinate: none (seed), sinusoidal, or random Fourier "
        "(default: the preset's)",
    )
    p.add_argument(
        "--feature-size",
        type=POSITIVE_INT,
        default=None,
        help="features per input coordinate, even (default: the preset's; 128)",
    )
    p.add_argument(
        "--feature-scale",
        type=POSITIVE_NUMBER,
        default=None,
        help="scale of the input features: sinusoidal frequency scale, or the Fourier "
        "features' std (default: the preset's)",
    )
    p.add_argument(
        "--time-embedding",
        default=None,
        choices=models.TIME_EMBEDDINGS,
        help="the step's encoding: a learned table per layer (seed) or sinusoidal features "
        "(default: the preset's)",
    )
    p.add_argument(
        "--residual",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="residual blocks h + act(Dense(h)) (default: the preset's)",
    )
    p.add_argument(
        "--activation",
        default=None,
        choices=tuple(models.ACTIVATIONS),
        help="activation of the hidden layers (default: the preset's; relu for seed)",
    )
    p.add_argument(
        "--num-steps",
        "--timesteps",
        type=POSITIVE_INT,
        default=None,
        metavar="T",
        help="diffusion steps T (default: the preset's; 100 for seed)",
    )
    p.add_argument(
        "--ensemble",
        type=POSITIVE_INT,
        default=None,
        metavar="K",
        help="train K independent models (seeds) in one vmapped program; sample one "
        "with `sample --member i` (default: 1)",
    )
    p.add_argument(
        "--devices",
        type=POSITIVE_INT,
        default=None,
        help="shard each batch over N devices (data parallel; on CPU start with "
        "XLA_FLAGS=--xla_force_host_platform_device_count=N) (default: one device)",
    )
    p.add_argument(
        "--distributed",
        default=None,
        metavar="HOST:PORT,N,I",
        help="join a multi-host run: coordinator address, number of processes, this "
        "process's index (jax.distributed.initialize) (default: one process)",
    )
    add_run_flags(p, run_flag=True)


def add_run_flags(p: argparse.ArgumentParser, *, run_flag: bool) -> None:
    """The flags of a training command about its run rather than its model (``demo``,
    ``train``, ``reflow``); ``run_flag``: the command's ``--run`` names the run to
    continue (``train``), as ``--resume --out`` does."""
    p.add_argument(
        "--checkpoint-every",
        type=POSITIVE_INT,
        default=None,
        help="epochs between checkpoints (default: 100, or about 2,000 optimiser steps' "
        "worth where epochs are shorter: a small table's)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its newest checkpoint"
        + (" (or name it with --run)" if run_flag else ""),
    )
    p.add_argument(
        "--eval-n",
        type=NON_NEGATIVE_INT,
        default=5000,
        help="samples scored against fresh data at the end, 0 to skip (default: 5000)",
    )
    p.add_argument(
        "--likelihood-n",
        type=NON_NEGATIVE_INT,
        default=0,
        help="held-out points whose likelihoods are computed at the end (default: 0; "
        "`jaxdiff eval` computes them, on 1000)",
    )
    p.add_argument(
        "--no-figures",
        action="store_true",
        help="skip the figures (seconds of matplotlib); `jaxdiff plot` draws them later",
    )
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
