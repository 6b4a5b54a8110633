"""What each ``jaxdiff`` command does with its parsed flags: calls into the application
layer (:mod:`jaxdiff.runs`) and prints the result."""

from __future__ import annotations

import pathlib
import sys

__all__ = [
    "check",
    "distill",
    "eval_",
    "export",
    "plot",
    "reflow",
    "sampler_changes",
    "settings",
    "train",
]

# Settings whose False is a choice (``--no-residual``), not the absence of a flag.
_BOOLEAN_SETTINGS = ("standardize", "residual")  # --no-standardize, --no-residual


def settings(args) -> dict:
    """The settings (``runs.overrides.SETTINGS``, each the destination of the flag named
    after it) the command line gives; a flag not given is absent."""
    from jaxdiff.runs import overrides

    out = {}
    for name in overrides.SETTINGS:
        value = getattr(args, name, None)
        if value is not None and (value is not False or name in _BOOLEAN_SETTINGS):
            out[name] = value
    return out


def sampler_changes(args) -> dict:
    """The sampler settings of ``sample``'s and ``export``'s flags (None: the run's)."""
    return {
        "method": args.sampler,
        "steps": args.steps,
        "nfe": args.nfe,
        "eta": args.eta,
        "spacing": args.spacing,
        "churn": args.churn,
    }


def train(args) -> int:
    from jaxdiff.runs import evaluate, train

    distributed = getattr(args, "distributed", None)  # demo has neither this nor --devices
    if distributed:
        from jaxdiff.engine import parallel

        parts = distributed.split(",")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            raise ValueError(
                f"--distributed: must be HOST:PORT,NUM_PROCESSES,PROCESS_ID, got {distributed!r}"
            )
        parallel.initialize(parts[0], int(parts[1]), int(parts[2]))

    out, resume = args.out, args.resume
    if getattr(args, "run", None) is not None:  # the run to continue
        if out is not None:
            raise ValueError(
                f"--run names a run to continue and --out a new one; give one, got --run "
                f"{args.run!r} and --out {out!r}"
            )
        out, resume = args.run, True
    if out is None:
        raise ValueError("--out (a new run directory) or --run (a run to continue) is required")
    given = settings(args)
    preset = "seed" if args.command == "demo" else getattr(args, "preset", None)
    if resume:
        cfg = train.resume_config(out, preset, **given)
    else:
        cfg = train.new_config(preset or "default", **given)
    log_every = 100 if args.command == "demo" and not args.quiet else None
    report = train.train_run(
        cfg,
        out,
        resume=resume,
        checkpoint_every=args.checkpoint_every,
        log_every=log_every,
        progress=not args.quiet,
        eval_n=args.eval_n,
        likelihood_n=args.likelihood_n,
        figures=not args.no_figures,
        devices=getattr(args, "devices", None),
    )
    rate = report["steps_per_second"]
    print(
        f"trained {report['epochs']} epochs ({report['steps']} steps) in "
        f"{report['train_seconds']:.1f} s"
        + (f" ({rate:,.0f} steps/s, compile {report['compile_seconds']:.1f} s)" if rate else "")
        + f"; final loss {report['final_loss']:.5f}; wrote {out}"
    )
    stopped = report.get("stopped")
    if stopped:
        print(
            f"held-out loss lowest at epoch {stopped['best_epoch']} "
            f"({stopped['held_out_loss']:.5f}): the run keeps that epoch's parameters"
        )
    t = cfg.train
    if t.steps is not None:
        print(
            f"sized for {report['train_rows']} rows x {report['columns']} columns "
            f"(runs.presets.sized): batch {t.batch_size}, {t.epochs} epochs for a budget of "
            f"{t.steps} steps, input features {cfg.model.input_features!r}"
        )
    if "quality" in report:
        print(evaluate.quality_table(report["quality"]))
    parts = report.get("seconds", {})
    print(
        "time: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in parts.items())
        + f" (of {sum(parts.values()):.1f} s after start-up)"
    )
    return 0


def eval_(args) -> int:
    from jaxdiff.runs import evaluate

    if args.samples is not None and not args.samples.endswith(".npy"):
        raise ValueError(f"--samples: must name a .npy file, got {args.samples!r}")
    q = evaluate.evaluate_run(
        args.run,
        samples_path=args.samples,
        n=args.n,
        likelihood_n=args.likelihood_n,
        seed=args.seed,
        trace=args.trace,
    )
    print(evaluate.quality_table(q))
    print(f"added 'quality' to {args.run}/report.json")
    return 0


def plot(args) -> int:
    from jaxdiff.runs import figures

    figures.plot_run(args.run)
    print(f"redrew the figures of {args.run}")
    return 0


def check(args) -> int:
    from jaxdiff.runs import checkpoints

    folder = pathlib.Path(args.run) / "checkpoints"
    try:
        listing = checkpoints.inspect(folder)
    except checkpoints.CheckpointError as err:
        raise ValueError(str(err)) from err
    if not listing:
        raise ValueError(f"no checkpoint found in {str(folder)!r}")
    for epoch, status, detail in listing:
        print(f"epoch {epoch:7d}  {status:10s}  {detail}")
    if listing[0][1] == "damaged":
        intact = next((e for e, st, _ in listing if st != "damaged"), None)
        use = f"sample/eval/--resume use epoch {intact}" if intact else "none is usable"
        print(f"jaxdiff check: the newest checkpoint is damaged; {use}", file=sys.stderr)
        return 1
    return 0


def export(args) -> int:
    from jaxdiff.runs import export, rundir, setup

    out = pathlib.Path(args.out)
    if not out.parent.is_dir():
        raise ValueError(f"--out folder {str(out.parent)!r} does not exist")
    s, state = setup.restore(args.run)
    params = setup.model_params(s, state, args.member)
    blob = export.export_sampler(
        s, params, label=args.label, guidance=args.guidance, **sampler_changes(args)
    )
    with rundir.atomic_path(out) as tmp:
        pathlib.Path(tmp).write_bytes(blob)
    print(
        f"wrote the sampler of {args.run} to {args.out} ({len(blob):,} bytes); with jax "
        f"alone: jax.export.deserialize(bytearray(open({args.out!r}, 'rb').read()))"
        ".call(jax.random.key_data(jax.random.key(SEED)), jnp.zeros(N))"
    )
    return 0


def distill(args) -> int:
    from jaxdiff.runs import distill, evaluate
    from jaxdiff.runs.config import DistillConfig

    spec = DistillConfig(
        method=args.method,
        steps=args.steps,
        start_steps=args.start_steps,
        iterations=args.iterations,
        learning_rate=args.learning_rate,
        student=args.student,
        pairs=args.pairs,
    )
    report = distill.distill_run(
        args.run,
        args.out,
        spec,
        resume=args.resume,
        eval_n=args.eval_n,
        figures=not args.no_figures,
        seed=args.seed,
        log=(lambda line: None) if args.quiet else print,
    )
    print(
        f"distilled {args.run} into {args.out} ({args.method}, {report['student']} "
        f"student): {args.steps} steps, "
        f"{report['rounds']} round(s) in {report['distill_seconds_this_call']:.1f} s"
    )
    if "quality" in report:
        print(evaluate.quality_table(report["quality"]))
    return 0


def reflow(args) -> int:
    from jaxdiff.runs import evaluate
    from jaxdiff.runs import reflow as reflow_lib

    report = reflow_lib.reflow_run(
        args.run,
        args.out,
        pairs=args.pairs,
        epochs=args.epochs,
        resume=args.resume,
        eval_n=args.eval_n,
        likelihood_n=args.likelihood_n,
        figures=not args.no_figures,
        checkpoint_every=args.checkpoint_every,
        progress=not args.quiet,
        log=(lambda line: None) if args.quiet else print,
    )
    sampler = report["sampler"]
    print(
        f"reflowed {report['reflowed_from']} into {args.out}: {report['epochs']} epochs "
        f"({report['steps']} steps) in {report['train_seconds']:.1f} s after "
        f"{report['pairs_seconds']:.1f} s of pairs; its sampler {sampler['method']}, "
        f"{sampler['steps']} steps, network evaluations per sample: {sampler['evaluations']}"
    )
    if "quality" in report:
        print(evaluate.quality_table(report["quality"]))
    return 0
