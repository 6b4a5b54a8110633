"""What each ``jaxdiff`` command does with its parsed flags: calls into the application
layer (:mod:`jaxdiff.runs`) and prints the result."""

from __future__ import annotations

import os
import pathlib
import resource
import sys
import time

__all__ = [
    "check",
    "distill",
    "eval_",
    "export",
    "impute",
    "plot",
    "reflow",
    "sample",
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


def _new_draw_file(run: str) -> str:
    """``sample``'s file when ``--out`` is not given: the first unused ``drawn-K.npy`` of
    the run directory (an earlier draw is never overwritten)."""
    folder = pathlib.Path(run)
    if not folder.is_dir():
        raise ValueError(f"--run: {run!r} is not a run directory")
    k = 1
    while (folder / f"drawn-{k}.npy").exists():
        k += 1
    return str(folder / f"drawn-{k}.npy")


def _rows_file(out: str) -> pathlib.Path:
    """``--out`` of a command that writes rows: a ``.npy`` or ``.csv`` in a writable
    folder, checked before anything is computed."""
    path = pathlib.Path(out)
    if path.suffix not in (".npy", ".csv"):
        raise ValueError(f"--out: must name a .npy or .csv file, got {out!r}")
    if not path.parent.is_dir():
        raise ValueError(f"--out folder {str(path.parent)!r} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise ValueError(f"--out folder {str(path.parent)!r} is not writable")
    return path


def impute(args) -> int:
    import numpy as np

    from jaxdiff.core import files
    from jaxdiff.runs import trained
    from jaxdiff.runs.rundir import save_npy

    out = _rows_file(args.out)
    model = trained.load(args.run)
    if model.encoder is not None:
        return _impute_table(args, model, out)
    x, header, cells = files.load_gaps(args.data)
    if x.shape[1] != model.data_dim:
        raise ValueError(
            f"--data: rows of {model.data_dim} columns, as the run's, got {x.shape[1]} "
            f"in {args.data!r}"
        )
    gaps = np.isnan(x)
    filled = np.stack(
        [model.impute(x, seed=args.seed + d, resample=args.resample) for d in range(args.draws)]
    )
    if out.suffix == ".npy":
        save_npy(out, filled if args.draws > 1 else filled[0])
    else:
        names = header or [f"x{j}" for j in range(x.shape[1])]

        def text(i, j, v):  # a known cell as it was written; a filled one to 7 digits
            return cells[i][j] if cells and not gaps[i, j] else format(float(v), ".7g")

        rows = [
            [text(i, j, v) for j, v in enumerate(row)]
            for draw in filled
            for i, row in enumerate(draw)
        ]
        columns = {n: [r[j] for r in rows] for j, n in enumerate(names)}
        if args.draws > 1:
            columns = {"draw": np.repeat(np.arange(args.draws), x.shape[0]), **columns}
        files.write_table(out, columns)
    print(
        f"filled {int(gaps.sum())} missing cells of {x.shape[0]} rows "
        f"({args.draws} draw{'s' if args.draws > 1 else ''}); wrote {out}"
    )
    return 0


def _impute_table(args, model, out) -> int:
    """``jaxdiff impute`` of a typed table's run: the .csv's cells by the run's header,
    the known ones written back as they were, the filled ones as the run's types."""
    import numpy as np

    from jaxdiff.core import files, tables

    if out.suffix != ".csv":
        raise ValueError(f"--out: a typed table is filled into a .csv, got {str(out)!r}")
    header, body = files.csv_cells(args.data)
    names = list(model.encoder.names)
    if header != names:
        raise ValueError(f"--data: the run's columns {names} as its header, got {header}")
    gaps = np.array([[tables.is_missing(c) for c in row] for row in body], bool)
    columns = {n: [] for n in names}
    for d in range(args.draws):
        filled = model.impute_table(body, seed=args.seed + d, resample=args.resample)
        for j, n in enumerate(names):
            cells = zip(filled[n], [row[j].strip() for row in body], gaps[:, j], strict=True)
            columns[n] += [files.cell_text(v) if g else c for v, c, g in cells]
    if args.draws > 1:
        columns = {"draw": np.repeat(np.arange(args.draws), len(body)), **columns}
    files.write_table(out, columns)
    print(
        f"filled {int(gaps.sum())} missing cells of {len(body)} rows "
        f"({args.draws} draw{'s' if args.draws > 1 else ''}); wrote {out}"
    )
    return 0


def sample(args) -> int:
    from jaxdiff.core import files
    from jaxdiff.runs import trained

    out = _rows_file(args.out if args.out is not None else _new_draw_file(args.run))
    model = trained.load(args.run, member=args.member)
    changes = sampler_changes(args)
    opts = model.options(label=args.label, guidance=args.guidance, **changes)
    t0 = time.perf_counter()
    kw = {"seed": args.seed, "chunk": args.chunk, "progress": not args.quiet}
    kw.update(label=args.label, guidance=args.guidance, **changes)
    if args.given is not None:
        _sample_given(model, out, files.load_file(args.given, min_rows=1), args.n, kw)
    elif out.suffix == ".csv":  # a table: the run's columns, decoded to their types
        files.write_table(out, model.sample_table(args.n, **kw))
    else:
        model.sample(args.n, out=out, **kw)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    evals = opts.evaluations
    per_sample = "chosen by the solver" if evals is None else str(evals)
    print(
        f"wrote {args.n} samples to {out} in {time.perf_counter() - t0:.1f} s "
        f"(peak memory {peak:,.0f} MiB); sampler {opts.method}"
        + (f" (eta {opts.eta:g})" if opts.method == "ddim" else "")
        + f", {opts.steps} steps, network evaluations per sample: {per_sample}"
    )
    return 0


def _sample_given(model, out, context, n: int, kw: dict) -> None:
    """``n`` rows drawn given each context row, written after it: ``[context | sample]``
    (a .csv: columns ``c0, …`` then ``x0, …``)."""
    import numpy as np

    from jaxdiff.core import files
    from jaxdiff.runs.rundir import save_npy

    if not model.context_dim:
        raise ValueError("--given needs a context run (trained with --given); this one is not")
    draws = model.sample(n, context=context, **kw)
    rows = np.concatenate(
        [np.repeat(context, n, axis=0), draws.reshape(-1, model.data_dim)], axis=1
    )
    if out.suffix == ".csv":
        names = [f"c{j}" for j in range(context.shape[1])]
        names += [f"x{j}" for j in range(model.data_dim)]
        files.write_table(out, {name: rows[:, j] for j, name in enumerate(names)})
    else:
        save_npy(out, rows)


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
