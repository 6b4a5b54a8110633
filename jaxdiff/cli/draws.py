"""The commands that write rows drawn from a trained model: ``jaxdiff sample`` (samples,
or samples given each row of a context file) and ``jaxdiff impute`` (a file's empty
cells filled, numbers or a typed table); each checks its ``--out`` before it computes,
calls into :mod:`jaxdiff.runs` and writes one ``.npy`` or ``.csv`` (``sample`` without
``--out``: a new ``drawn-K.npy`` in the run)."""

from __future__ import annotations

import os
import pathlib
import resource
import time

from jaxdiff.cli.commands import sampler_changes

__all__ = ["impute", "sample"]


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
