"""The ``jaxdiff`` command: ``demo``, ``train``, ``sample``, ``eval``, ``plot``.

Every mistake of the user's ends in one line on stderr and exit code 2, never a
traceback. This file only parses: flags become settings (``runs.config.configure``) or
arguments of the application layer (``jaxdiff.runs``), whose checks and rules apply.
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import resource
import sys
import time
import warnings

from jaxdiff import validate

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
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
            "checkerboard, digits) or a .npy/.csv file of rows, standardised and copied "
            "into the run (default: s_curve)",
        )
        p.add_argument("--preset", default=None, help="settings preset (default: seed)")
        p.add_argument(
            "--conditional",
            action="store_true",
            help="class-conditional model with classifier-free guidance (moons, circles, "
            "eight_gaussians, digits)",
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
        "--width",
        type=_POSITIVE_INT,
        default=None,
        help="hidden units per layer (default: 128, the seed's)",
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


def _parser() -> argparse.ArgumentParser:
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
        choices=["ddpm", "ddim", "dpm-solver"],
        help="reverse process (default: the run's; ddpm for seed)",
    )
    sample.add_argument(
        "--steps",
        type=_POSITIVE_INT,
        default=None,
        help="network evaluations K <= T for ddim / dpm-solver",
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
        type=_NON_NEGATIVE_INT,
        default=None,
        metavar="C",
        help="conditional runs: draw class C (default: no label, the whole data set)",
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
    return parser


# Flags of `train` and `demo` that are settings of the run, by their setting's name.
_SETTING_FLAGS = {
    "data": "data",
    "conditional": "conditional",
    "label_drop": "label_drop",
    "guidance": "guidance",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "learning_rate",
    "target": "target",
    "ema": "ema_decay",
    "ensemble": "ensemble",
    "standardize": "standardize",
    "width": "width",
    "schedule": "schedule",
    "seed": "seed",
}


def _settings(args) -> dict:
    """The settings the command line gives (a flag not given is absent)."""
    out = {}
    for flag, name in _SETTING_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None and value is not False:
            out[name] = value
    return out


def _train(args) -> int:
    from jaxdiff.runs import config, evaluate, train

    if args.distributed:
        from jaxdiff import parallel

        parts = args.distributed.split(",")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            raise ValueError(
                "--distributed must be HOST:PORT,NUM_PROCESSES,PROCESS_ID, "
                f"got {args.distributed!r}"
            )
        parallel.initialize(parts[0], int(parts[1]), int(parts[2]))

    settings = _settings(args)
    preset = "seed" if args.command == "demo" else getattr(args, "preset", None)
    if args.resume:
        cfg = train.resume_config(args.out, preset, **settings)
    else:
        cfg = config.configure(config.preset(preset or "seed"), **settings)
    log_every = 100 if args.command == "demo" and not args.quiet else None
    report = train.train_run(
        cfg,
        args.out,
        resume=args.resume,
        checkpoint_every=args.checkpoint_every,
        log_every=log_every,
        progress=not args.quiet,
        eval_n=args.eval_n,
        figures=not args.no_figures,
        devices=args.devices,
    )
    rate = report["steps_per_second"]
    print(
        f"trained {report['epochs']} epochs ({report['steps']} steps) in "
        f"{report['train_seconds']:.1f} s"
        + (f" ({rate:,.0f} steps/s, compile {report['compile_seconds']:.1f} s)" if rate else "")
        + f"; final loss {report['final_loss']:.5f}; wrote {args.out}"
    )
    if "quality" in report:
        print(evaluate.quality_table(report["quality"]))
    return 0


def _eval(args) -> int:
    from jaxdiff.runs import evaluate

    if args.samples is not None and not args.samples.endswith(".npy"):
        raise ValueError(f"--samples must name a .npy file, got {args.samples!r}")
    q = evaluate.evaluate_run(
        args.run, samples_path=args.samples, n=args.n, likelihood_n=args.likelihood_n
    )
    print(evaluate.quality_table(q))
    print(f"added 'quality' to {args.run}/report.json")
    return 0


def _sample(args) -> int:
    import jax

    from jaxdiff.runs import draw, setup

    out = pathlib.Path(args.out)
    if out.suffix != ".npy":
        raise ValueError(f"--out must name a .npy file, got {args.out!r}")
    if not out.parent.is_dir():
        raise ValueError(f"--out folder {str(out.parent)!r} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise ValueError(f"--out folder {str(out.parent)!r} is not writable")
    s, state = setup.restore(args.run)
    params = setup.model_params(s, state, args.member)
    key = s.keys.sample if args.seed is None else jax.random.key(args.seed)
    t0 = time.perf_counter()
    draw.draw(
        s,
        params,
        key,
        args.n,
        out=out,
        chunk=args.chunk,
        progress=not args.quiet,
        labels=args.label,
        guidance=args.guidance,
        method=args.sampler,
        steps=args.steps,
        eta=args.eta,
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"wrote {args.n} samples to {args.out} in {time.perf_counter() - t0:.1f} s "
        f"(peak memory {peak:,.0f} MiB)"
    )
    return 0


def _plot(args) -> int:
    from jaxdiff.runs import figures

    figures.plot_run(args.run)
    print(f"redrew the figures of {args.run}")
    return 0


def _enable_compilation_cache() -> None:
    """Keeps compiled programs on disk, so a second ``jaxdiff`` call skips XLA compilation.

    The folder is ``$JAXDIFF_CACHE_DIR`` or ``~/.cache/jaxdiff/xla``; ``JAXDIFF_CACHE_DIR=off``
    turns it off, and a ``JAX_COMPILATION_CACHE_DIR`` set by the user wins.
    """
    import jax

    folder = os.environ.get("JAXDIFF_CACHE_DIR", "")
    if folder == "off" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    folder = folder or os.path.join(os.path.expanduser("~"), ".cache", "jaxdiff", "xla")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def _flags(parser: argparse.ArgumentParser, command: str) -> set[str]:
    """The option strings of ``command``."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {o for action in sub.choices[command]._actions for o in action.option_strings}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxdiff`` console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    _enable_compilation_cache()
    warnings.formatwarning = lambda message, *rest, **kw: f"jaxdiff: warning: {message}\n"
    handlers = {
        "demo": _train,
        "train": _train,
        "sample": _sample,
        "eval": _eval,
        "plot": _plot,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print(
            f"\njaxdiff {args.command}: interrupted; the last completed epochs are "
            "checkpointed, rerun with --resume to continue",
            file=sys.stderr,
        )
        return 130
    except RuntimeError as err:
        import jax

        from jaxdiff import training

        if not isinstance(err, training.TrainingDiverged):
            raise
        kept = int(max(jax.numpy.ravel(err.state.epoch)))
        where = f"checkpoint of epoch {kept} kept" if kept else "nothing to keep"
        print(f"jaxdiff {args.command}: error: {err} ({where})", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        flag = "--" + getattr(err, "name", "").replace("_", "-")
        if isinstance(err, validate.InvalidValue) and flag in _flags(parser, args.command):
            # The library's check, in the command line's words.
            message = f"{flag} must be {err.expected}, got {err.value!r}"
        print(f"jaxdiff {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
