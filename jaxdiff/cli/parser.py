"""The flags of every ``jaxdiff`` command, checked by the library's own validators; the
training flags are in :mod:`~jaxdiff.cli.flags`."""

from __future__ import annotations

import argparse

from jaxdiff.cli import flags
from jaxdiff.cli.sampler_flags import add_sampler_flags
from jaxdiff.core import traces
from jaxdiff.engine import imputation
from jaxdiff.runs import distill

__all__ = ["build"]


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


RUN_HELP = "an existing run directory"
N_HELP = "number of samples (default: 10000)"


def _on_run(sub, name: str, help: str, description: str, *, run=RUN_HELP, out=None):
    """A command that reads an existing run (``--run``, required) and, where ``out`` is
    its help, writes what a required ``--out`` names."""
    p = sub.add_parser(name, help=help, description=description)
    p.add_argument("--run", required=True, help=run)
    if out is not None:
        p.add_argument("--out", required=True, help=out)
    return p


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
    flags.add_train_flags(demo, demo=True)

    train = sub.add_parser(
        "train",
        help="train a model into a run directory",
        description="Train a model and write a run directory (config, "
        "checkpoints, metrics, samples, report, figures).",
    )
    flags.add_train_flags(train, demo=False)

    sample = _on_run(
        sub,
        "sample",
        "draw samples from a trained run",
        "Draw samples from a run's newest checkpoint into a .npy file.",
    )
    sample.add_argument(
        "--out",
        default=None,
        help="the .npy file to write, or a .csv: the columns of the run's table with its header "
        "and types (categories by name, integers as integers) (default: a new "
        "drawn-K.npy in the run directory)",
    )
    sample.add_argument("--n", type=flags.POSITIVE_INT, default=10_000, help=N_HELP)
    sample.add_argument(
        "--given",
        default=None,
        metavar="FILE",
        help="a context run (trained with --given): a .csv or .npy of context rows; --n "
        "samples are drawn given each, and each output row starts with its context "
        "(default: none, the unconditional half)",
    )
    sample.add_argument(
        "--seed",
        type=flags.NON_NEGATIVE_INT,
        default=None,
        help="sampling seed (default: the run's own sampling key)",
    )
    add_sampler_flags(sample)
    sample.add_argument(
        "--chunk",
        type=flags.POSITIVE_INT,
        default=1_048_576,
        help="rows computed per call; memory holds one chunk, the samples do not depend "
        "on it (default: 1048576)",
    )
    sample.add_argument("--quiet", action="store_true", help=flags.QUIET_HELP)

    impute = _on_run(
        sub,
        "impute",
        "fill the missing cells of rows with a trained run (either family)",
        "Fill every empty (or NA, nan) cell of a .csv, or NaN of a .npy, by a "
        "draw given its row's known cells (RePaint's resampling, Lugmayr et al. 2022); the "
        "known cells are written back as they were. A typed table's run fills its .csv in "
        "its own types (categories by name, integers as integers).",
        out="the filled .csv (the header kept) or .npy; with --draws, a .csv gains a "
        "leading 'draw' column and a .npy a leading axis",
    )
    impute.add_argument("--data", required=True, help="the .csv or .npy with the gaps")
    impute.add_argument(
        "--draws",
        type=flags.POSITIVE_INT,
        default=1,
        help="independent fillings, for multiple imputation (default: 1)",
    )
    impute.add_argument("--seed", type=flags.NON_NEGATIVE_INT, default=0, help="(default: 0)")
    impute.add_argument(
        "--resample",
        type=flags.POSITIVE_INT,
        default=imputation.RESAMPLE,
        help=f"RePaint's rounds of resampling a step (default: {imputation.RESAMPLE})",
    )

    ev = _on_run(
        sub,
        "eval",
        "score a run's samples and likelihood against fresh data",
        "Compare a run's samples with a fresh draw of its data set (sliced W2, "
        "MMD, energy distance, precision/recall, beside the data-vs-data floor), compute "
        "its held-out likelihood (probability-flow ODE and VLB), and add a 'quality' "
        "section to report.json.",
    )
    ev.add_argument(
        "--samples", default=None, help="a .npy of samples (default: the run's samples.npy)"
    )
    ev.add_argument("--n", type=flags.POSITIVE_INT, default=10_000, help=N_HELP)
    ev.add_argument(
        "--seed",
        type=flags.NON_NEGATIVE_INT,
        default=None,
        help="seed of the fresh data (and of the samples when the run has none) "
        "(default: the run's)",
    )
    ev.add_argument(
        "--likelihood-n",
        type=flags.NON_NEGATIVE_INT,
        default=1000,
        help="held-out points for the likelihoods, 0 to skip (default: 1000)",
    )
    ev.add_argument(
        "--trace",
        choices=traces.TRACES,
        default=None,
        help="the ODE likelihood's Jacobian trace: exact, or Hutchinson's unbiased "
        f"estimate with its standard error (default: exact up to {traces.EXACT_UP_TO} "
        "columns, Hutchinson beyond)",
    )

    _on_run(
        sub,
        "plot",
        "redraw every figure of a run",
        "Redraw forward.png, reverse.png, loss.png and samples.png from a run "
        "directory, and draw reverse.gif (the reverse chain animated; train leaves it out).",
    )

    _on_run(
        sub,
        "check",
        "verify every checkpoint of a run against its content digest",
        "Read every checkpoint of a run and compare its bytes with the digest "
        "saved beside it; list each as intact, damaged or unverified (written before "
        "digests). Exits 1 when the newest checkpoint is damaged.",
    )

    dist = _on_run(
        sub,
        "distill",
        "distil a run into a student that samples in a few steps",
        "A student that samples in --nfe network evaluations, written as an "
        "ordinary run directory whose sampler is the distilled one. --method direct (the "
        "default): the student learns the end of its teacher's ODE at --nfe noise levels and "
        "is sampled by restarting from each (Luhman & Luhman 2021; Song et al. 2023, Alg. 1); "
        "--method progressive: rounds of progressive distillation (Salimans & Ho 2022) "
        "halving from --start-steps deterministic DDIM steps.",
        run="the teacher: " + RUN_HELP,
        out="the student's run directory to write",
    )
    dist.add_argument(
        "--method",
        choices=distill.METHODS,
        default="direct",
        help="how the student is trained (default: direct)",
    )
    dist.add_argument(
        "--nfe",
        "--steps",
        dest="steps",
        type=int,
        choices=distill.STEPS,
        default=4,
        help="the student's network evaluations per sample: 1, 2, 4 or 8 (default: 4); "
        "--steps is the earlier spelling",
    )
    dist.add_argument(
        "--student",
        choices=distill.STUDENTS,
        default="teacher",
        help="the student's network: teacher (its own, the default) or light (direct only: "
        "the teacher's with step tables, one residual block fewer and ReLU; about half the "
        "cost per evaluation, a little precision lost)",
    )
    dist.add_argument(
        "--start-steps",
        type=flags.POSITIVE_INT,
        default=64,
        help="progressive: the teacher's DDIM steps the first round halves (default: 64)",
    )
    dist.add_argument(
        "--iterations",
        type=flags.POSITIVE_INT,
        default=None,
        help="Adam steps (per round for progressive), batch 512 (default: direct 6000, "
        "light 12000, progressive 1000)",
    )
    dist.add_argument(
        "--pairs",
        type=flags.POSITIVE_INT,
        default=None,
        help="direct: points per noise level, with their teacher endpoints, that the student "
        "learns from (default: 20000; light 40000)",
    )
    dist.add_argument(
        "--learning-rate",
        "--lr",
        type=flags.POSITIVE_NUMBER,
        default=None,
        help="peak learning rate (default: direct 1e-3, progressive 3e-4)",
    )
    dist.add_argument(
        "--seed",
        type=flags.NON_NEGATIVE_INT,
        default=None,
        help="seed of the student's training, pairs and samples (default: the teacher's)",
    )
    dist.add_argument(
        "--resume", action="store_true", help="continue after the last completed round"
    )
    dist.add_argument(
        "--eval-n",
        type=flags.NON_NEGATIVE_INT,
        default=5000,
        help="points scored at the end, 0 to skip (default: 5000)",
    )
    dist.add_argument("--no-figures", action="store_true", help="skip the figures")
    dist.add_argument("--quiet", action="store_true", help=flags.QUIET_HELP)

    ref = _on_run(
        sub,
        "reflow",
        "train a flow run again on its own noise-to-sample pairs, for fewer steps",
        "Reflow (Liu et al. 2023, §2.3): the flow run's ODE carries --pairs "
        "noise rows to samples, and a new run, started from its parameters, learns those "
        "pairs, whose paths are straighter: one or two Euler steps follow them better. "
        "Written as an ordinary run directory (config section 'reflow', the pairs kept as "
        "reflow_pairs.npy) that samples, evaluates and resumes as any run.",
        run="the teacher, a flow run: " + RUN_HELP,
        out="the new run directory to write",
    )
    ref.add_argument(
        "--pairs",
        type=flags.POSITIVE_INT,
        default=None,
        help="noise rows carried to samples by the teacher's ODE (default: 16000)",
    )
    ref.add_argument(
        "--epochs",
        type=flags.POSITIVE_INT,
        default=None,
        help="epochs over the pairs (default: as many optimiser steps as the teacher's)",
    )
    flags.add_run_flags(ref, run_flag=False)

    export = _on_run(
        sub,
        "export",
        "serialise a run's sampler with jax.export (usable with jax alone)",
        "Write the run's sampler as a jax.export artifact: StableHLO with the "
        "parameters baked in, the number of samples symbolic. Load it with "
        "jax.export.deserialize(bytearray(open(FILE, 'rb').read())) and call it as "
        ".call(jax.random.key_data(jax.random.key(SEED)), jnp.zeros(N)).",
        out="the artifact to write (e.g. sampler.jaxexport)",
    )
    add_sampler_flags(export)
    return parser, dict(sub.choices)
