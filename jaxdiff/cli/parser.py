"""The flags of every ``jaxdiff`` command, checked by the library's own validators."""

from __future__ import annotations

import argparse
import math

from jaxdiff import grids, validate

__all__ = ["SAMPLERS", "build"]

# samplers.METHODS, written out so that parsing does not import jax (a test keeps them equal).
SAMPLERS = ("ddpm", "ddim", "dpm-solver", "sde-dpm-solver", "dpm-solver-3m", "heun", "restart")


class _Parser(argparse.ArgumentParser):
    """Exits 2 with one line on a parse error; remembers its flags (``flags``)."""

    def __init__(self, *args, **kwargs):
        self.flags: set[str] = set()
        super().__init__(*args, **kwargs)

    def add_argument(self, *names, **kwargs):
        self.flags.update(n for n in names if n.startswith("-"))
        return super().add_argument(*names, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


_POSITIVE_INT = validate.flag_type(validate.positive_int)
_NON_NEGATIVE_INT = validate.flag_type(validate.non_negative_int)
_POSITIVE_NUMBER = validate.flag_type(
    validate.number_in, float, low=0.0, high=math.inf, low_open=True
)
_UNIT_INTERVAL = validate.flag_type(validate.number_in, float, low=0.0, high=1.0, high_open=True)
_PROBABILITY = validate.flag_type(validate.number_in, float, low=0.0, high=1.0)
_FINITE = validate.flag_type(validate.finite_number, float)


def _add_train_flags(p: argparse.ArgumentParser, *, demo: bool) -> None:
    if not demo:
        p.add_argument(
            "--data",
            default=None,
            metavar="NAME|PATH",
            help="a data set (s_curve, moons, swiss_roll, circles, eight_gaussians, "
            "checkerboard, digits) or a .npy/.csv/.npz file of rows, standardised and "
            "copied into the run (default: s_curve)",
        )
        p.add_argument(
            "--preset",
            default=None,
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
            "(integers 0..C-1 or class names); a .npz file holds its labels in 'y'",
        )
        p.add_argument(
            "--label-drop",
            type=_PROBABILITY,
            default=None,
            metavar="P",
            help="probability of training on the null label (default: 0.1)",
        )
        p.add_argument(
            "--guidance",
            type=_FINITE,
            default=None,
            metavar="W",
            help="guidance weight of the run's own samples (default: 0)",
        )
    p.add_argument(
        "--out",
        default="runs/demo" if demo else None,
        required=not demo,
        help="run directory to write" + (" (default: runs/demo)" if demo else ""),
    )
    p.add_argument(
        "--epochs",
        type=_POSITIVE_INT,
        default=None,
        help="total epochs (default: the preset's; 4000 for seed)",
    )
    p.add_argument(
        "--batch-size",
        type=_POSITIVE_INT,
        default=None,
        help="batch size (default: the preset's; 128 for seed)",
    )
    p.add_argument(
        "--lr",
        type=_POSITIVE_NUMBER,
        default=None,
        help="Adam learning rate (default: the preset's; 1e-3 for seed)",
    )
    p.add_argument(
        "--seed",
        type=_NON_NEGATIVE_INT,
        default=None,
        help="seed of data, init, training and sampling (default: 1234)",
    )
    p.add_argument(
        "--schedule",
        default=None,
        choices=["sigmoid", "linear", "cosine"],
        help="noise schedule (default: the preset's; sigmoid for seed)",
    )
    p.add_argument(
        "--target",
        default=None,
        choices=["eps", "x0", "v"],
        help="what the network predicts (default: the preset's; eps for seed)",
    )
    p.add_argument(
        "--ema",
        type=_UNIT_INTERVAL,
        default=None,
        metavar="DECAY",
        help="EMA decay of the parameters in [0, 1), 0 for off (default: preset's)",
    )
    p.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train on per-feature standardised data (default: the preset's; on for fast "
        "and for files; off suits digits, already in [-1, 1])",
    )
    p.add_argument(
        "--width", type=_POSITIVE_INT, default=None, help="hidden units per layer (default: 128)"
    )
    p.add_argument(
        "--depth",
        type=_POSITIVE_INT,
        default=None,
        help="hidden layers, or residual blocks (default: the preset's; 3)",
    )
    p.add_argument(
        "--features",
        default=None,
        choices=["none", "sinusoidal", "fourier"],
        help="features of each input coordinate: none (seed), sinusoidal, or random Fourier "
        "(default: the preset's)",
    )
    p.add_argument(
        "--feature-scale",
        type=_POSITIVE_NUMBER,
        default=None,
        help="scale of the input features: sinusoidal frequency scale, or the Fourier "
        "features' std (default: the preset's)",
    )
    p.add_argument(
        "--time-embedding",
        default=None,
        choices=["table", "sinusoidal"],
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
        choices=["relu", "gelu", "silu"],
        help="activation of the hidden layers (default: the preset's; relu for seed)",
    )
    p.add_argument(
        "--timesteps",
        type=_POSITIVE_INT,
        default=None,
        metavar="T",
        help="diffusion steps T (default: the preset's; 100 for seed)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=_POSITIVE_INT,
        default=100,
        help="epochs between checkpoints (default: 100)",
    )
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its newest checkpoint"
    )
    p.add_argument(
        "--eval-n",
        type=_NON_NEGATIVE_INT,
        default=5000,
        help="samples scored against fresh data at the end, 0 to skip (default: 5000)",
    )
    p.add_argument(
        "--ensemble",
        type=_POSITIVE_INT,
        default=None,
        metavar="K",
        help="train K independent models (seeds) in one vmapped program; sample one "
        "with `sample --member i` (default: 1)",
    )
    p.add_argument(
        "--devices",
        type=_POSITIVE_INT,
        default=None,
        help="shard each batch over N devices (data parallel; on CPU start with "
        "XLA_FLAGS=--xla_force_host_platform_device_count=N)",
    )
    p.add_argument(
        "--distributed",
        default=None,
        metavar="HOST:PORT,N,I",
        help="join a multi-host run: coordinator address, number of processes, this "
        "process's index (jax.distributed.initialize)",
    )
    p.add_argument(
        "--no-figures",
        action="store_true",
        help="skip the figures (seconds of matplotlib); `jaxdiff plot` draws them later",
    )
    p.add_argument("--quiet", action="store_true", help="print only the final summary")


def build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``jaxdiff`` parser and its commands' parsers by name."""
    parser = _Parser(
        prog="jaxdiff", description="Functional JAX denoising diffusion on small data."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser(
        "demo",
        help="train the seed preset on the S-curve, as the seed does",
        description="Train the seed preset on the S-curve; print the loss "
        "every 100 epochs; write a full run directory.",
    )
    _add_train_flags(demo, demo=True)

    train = sub.add_parser(
        "train",
        help="train a model into a run directory",
        description="Train a model and write a run directory (config, "
        "checkpoints, metrics, samples, report, figures).",
    )
    _add_train_flags(train, demo=False)

    sample = sub.add_parser(
        "sample",
        help="draw samples from a trained run",
        description="Draw samples from a run's newest checkpoint into a .npy file.",
    )
    sample.add_argument("--run", required=True, help="run directory")
    sample.add_argument("--out", required=True, help="output .npy file")
    sample.add_argument(
        "--n", type=_POSITIVE_INT, default=10_000, help="number of samples (default: 10000)"
    )
    sample.add_argument(
        "--seed",
        type=_NON_NEGATIVE_INT,
        default=None,
        help="sampling seed (default: the run's own sampling key)",
    )
    sample.add_argument(
        "--sampler",
        default=None,
        choices=SAMPLERS,
        help="reverse process (default: the run's; ddpm for seed)",
    )
    sample.add_argument(
        "--spacing",
        default=None,
        choices=grids.SPACINGS,
        help="which of the T steps a fast sampler visits (default: the run's, else the "
        "method's: karras for heun, geometric for restart, trailing for the others)",
    )
    sample.add_argument(
        "--churn",
        type=validate.flag_type(validate.number_in, float, low=0.0, high=math.inf),
        default=None,
        help="heun's S_churn (Karras et al. 2022), 0 for the deterministic ODE",
    )
    sample.add_argument(
        "--steps",
        type=_POSITIVE_INT,
        default=None,
        help="grid points K <= T of a fast sampler (network evaluations; heun: 2K - 1)",
    )
    sample.add_argument("--eta", type=_PROBABILITY, default=None, help="DDIM noise scale in [0, 1]")
    sample.add_argument(
        "--chunk",
        type=_POSITIVE_INT,
        default=1_048_576,
        help="rows computed per call; memory holds one chunk, the samples do not depend "
        "on it (default: 1048576)",
    )
    sample.add_argument(
        "--member",
        type=_NON_NEGATIVE_INT,
        default=0,
        help="which model of an ensemble run to sample (default: 0)",
    )
    sample.add_argument(
        "--label",
        default=None,
        metavar="C",
        help="conditional runs: draw class C, an index or a class name of a labelled file "
        "(default: no label, the whole data set)",
    )
    sample.add_argument(
        "--guidance",
        type=_FINITE,
        default=None,
        metavar="W",
        help="classifier-free guidance weight with --label: (1+W) eps(x, C) - W eps(x) "
        "(default: the run's, 0)",
    )
    sample.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = sub.add_parser(
        "eval",
        help="score a run's samples and likelihood against fresh data",
        description="Compare a run's samples with a fresh draw of its data set (sliced W2, "
        "MMD, energy distance, precision/recall, beside the data-vs-data floor), compute "
        "its held-out likelihood (probability-flow ODE and VLB), and add a 'quality' "
        "section to report.json.",
    )
    ev.add_argument("--run", required=True, help="run directory")
    ev.add_argument(
        "--samples", default=None, help="a .npy of samples (default: the run's samples.npy)"
    )
    ev.add_argument("--n", type=_POSITIVE_INT, default=5000, help="points compared (default: 5000)")
    ev.add_argument(
        "--likelihood-n",
        type=_NON_NEGATIVE_INT,
        default=1000,
        help="held-out points for the likelihoods, 0 to skip (default: 1000)",
    )

    plot = sub.add_parser(
        "plot",
        help="redraw every figure of a run",
        description="Redraw forward.png, reverse.png, reverse.gif, loss.png "
        "and samples.png from a run directory.",
    )
    plot.add_argument("--run", required=True, help="run directory")

    check = sub.add_parser(
        "check",
        help="verify every checkpoint of a run against its content digest",
        description="Read every checkpoint of a run and compare its bytes with the digest "
        "saved beside it; list each as intact, damaged or unverified (written before "
        "digests). Exits 1 when the newest checkpoint is damaged.",
    )
    check.add_argument("--run", required=True, help="run directory")

    distill = sub.add_parser(
        "distill",
        help="distil a run into a student that samples in a few steps",
        description="A student that samples in --steps network evaluations, written as an "
        "ordinary run directory whose sampler is the distilled one. --method direct (the "
        "default): the student learns the end of its teacher's ODE at --steps noise levels and "
        "is sampled by restarting from each (Luhman & Luhman 2021; Song et al. 2023, Alg. 1); "
        "--method progressive: rounds of progressive distillation (Salimans & Ho 2022) "
        "halving from --start-steps deterministic DDIM steps.",
    )
    distill.add_argument("--run", required=True, help="the teacher run directory")
    distill.add_argument("--out", required=True, help="the student run directory to write")
    distill.add_argument(
        "--method",
        choices=("direct", "progressive"),
        default="direct",
        help="how the student is trained (default: direct)",
    )
    distill.add_argument(
        "--steps",
        type=int,
        choices=(1, 2, 4, 8),
        default=4,
        help="the student's network evaluations: 1, 2, 4 or 8 (default: 4)",
    )
    distill.add_argument(
        "--student",
        choices=("teacher", "light"),
        default="teacher",
        help="the student's network: teacher (its own, the default) or light (direct only: "
        "the teacher's with step tables, one residual block fewer and ReLU; about half the "
        "cost per evaluation, a little precision lost)",
    )
    distill.add_argument(
        "--start-steps",
        type=_POSITIVE_INT,
        default=64,
        help="progressive: the teacher's DDIM steps the first round halves (default: 64)",
    )
    distill.add_argument(
        "--iterations",
        type=_POSITIVE_INT,
        default=None,
        help="Adam steps (per round for progressive), batch 512 (default: direct 6000, "
        "light 12000, progressive 1000)",
    )
    distill.add_argument(
        "--pairs",
        type=_POSITIVE_INT,
        default=None,
        help="direct: points per noise level, with their teacher endpoints, that the student "
        "learns from (default: 20000; light 40000)",
    )
    distill.add_argument(
        "--lr",
        type=_POSITIVE_NUMBER,
        default=None,
        help="peak learning rate (default: direct 1e-3, progressive 3e-4)",
    )
    distill.add_argument(
        "--resume", action="store_true", help="continue after the last completed round"
    )
    distill.add_argument(
        "--eval-n",
        type=_NON_NEGATIVE_INT,
        default=5000,
        help="points scored at the end, 0 to skip (default: 5000)",
    )
    distill.add_argument("--no-figures", action="store_true", help="skip the figures")
    distill.add_argument("--quiet", action="store_true", help="no per-round lines")

    export = sub.add_parser(
        "export",
        help="serialise a run's sampler with jax.export (usable with jax alone)",
        description="Write the run's sampler as a jax.export artifact: StableHLO with the "
        "parameters baked in, the number of samples symbolic. Load it with "
        "jax.export.deserialize(open(FILE, 'rb').read()) and call it as "
        ".call(jax.random.key_data(jax.random.key(SEED)), jnp.zeros(N)).",
    )
    export.add_argument("--run", required=True, help="run directory")
    export.add_argument("--out", required=True, help="file to write (e.g. sampler.jaxexport)")
    export.add_argument(
        "--sampler",
        default=None,
        choices=SAMPLERS,
        help="reverse process (default: the run's)",
    )
    export.add_argument(
        "--steps", type=_POSITIVE_INT, default=None, help="grid points K <= T (default: the run's)"
    )
    export.add_argument("--eta", type=_PROBABILITY, default=None, help="DDIM noise scale")
    return parser, {
        "demo": demo,
        "train": train,
        "sample": sample,
        "eval": ev,
        "plot": plot,
        "check": check,
        "export": export,
        "distill": distill,
    }
