"""The quality protocol of a run: its samples against data it never saw, beside the
floor that perfect samples would score, and its held-out likelihood."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.core import data, metrics, models, traces, validate
from jaxdiff.ddpm import vlb
from jaxdiff.runs.build import log_likelihood
from jaxdiff.runs.draw import draw, final_labels
from jaxdiff.runs.rundir import RunError, load_config, read_report, write_json
from jaxdiff.runs.setup import Setup, setup
from jaxdiff.runs.trained import load

__all__ = ["COPY_RATIO", "copying", "evaluate_run", "quality", "quality_table"]


def quality(
    s: Setup,
    params,
    samples: np.ndarray,
    *,
    n: int = 5000,
    likelihood_n: int = 1000,
    floor: bool = True,
    trace: str | None = None,
) -> dict:
    """Sample quality and likelihood of a trained model, each beside the data's own floor.

    ``samples`` (data units; the first ``n`` are used) are compared with a fresh draw of
    the run's data set that training never saw; the floor is a second fresh draw compared
    with the same reference, i.e. what a perfect sampler would score at this ``n``. The
    likelihoods are of ``likelihood_n`` held-out points, in nats per dimension of the
    data's own units (the ``Normalizer``'s log-determinant added). A fixed set (a file,
    ``digits``) has no fresh draws: the reference is its held-out part, the floor the
    same number of training rows, and ``n`` at most the held-out size. A conditional
    model's likelihood is that of its unconditional half (the null label), with the trace
    ``trace`` (None: exact up to :data:`jaxdiff.core.traces.EXACT_UP_TO` columns, Hutchinson's
    beyond, its standard error reported beside it). ``floor=False``
    leaves the floor out (it does not depend on the samples: score many samplers of one
    model against one floor). ``seconds`` says where the time went, part by part
    (compilation included).
    """
    n = validate.non_negative_int("n", n)
    likelihood_n = validate.non_negative_int("likelihood_n", likelihood_n)
    samples = np.asarray(samples, models.float_dtype())
    if samples.ndim != 2 or samples.shape[1] != s.data.shape[1]:
        raise ValueError(f"samples must have shape (n, {s.data.shape[1]}), got {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples must be finite, got NaN or inf")
    n = min(n, samples.shape[0])
    if s.held_out is not None:
        n = min(n, s.held_out.shape[0])
    if n < 4:
        raise ValueError(f"need at least 4 samples to evaluate, got {n}")
    name, keys = s.config.data.name, s.keys
    if s.held_out is None:
        reference = jnp.asarray(data.load(name, keys.eval_reference, n))
        floor_draw = jnp.asarray(data.load(name, keys.eval_floor, n))
    else:
        reference = jnp.asarray(s.held_out[:n])
        floor_draw = jnp.asarray(s.data[:n])

    seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(part):
        t0 = time.perf_counter()
        yield
        seconds[part] = seconds.get(part, 0.0) + time.perf_counter() - t0

    def scores(x):
        precision, recall = metrics.precision_recall(reference, x)
        return {
            "sliced_w2": float(metrics.sliced_wasserstein(keys.eval_projections, reference, x)),
            "mmd2": float(metrics.mmd2(reference, x)),
            "energy": float(metrics.energy_distance(reference, x)),
            "precision": float(precision),
            "recall": float(recall),
        }

    with timed("scores"):
        out = {"n": n, "samples": scores(jnp.asarray(samples[:n]))}
    if floor:
        with timed("floor"):
            out["floor"] = scores(floor_draw)
    with timed("copying"):
        out["copying"] = copying(s, samples[:n], np.asarray(reference))
    out["seconds"] = seconds
    if likelihood_n:
        if s.held_out is None:
            held_out = data.load(name, keys.eval_held_out, likelihood_n)
        else:
            held_out = s.held_out[:likelihood_n]
            likelihood_n = held_out.shape[0]
        z = jnp.asarray(s.normalizer.encode(held_out), models.float_dtype())
        log_det = float(np.mean(np.log(s.normalizer.std)))
        given = None  # a context run scores each held-out row given its own context
        if s.held_context is not None:
            given = s.context_normalizer.encode(s.held_context[:likelihood_n])
            given = jnp.asarray(given, models.float_dtype())
        with timed("likelihood"):
            log_lik, error = log_likelihood(
                s.config,
                s.apply_fn,
                params,
                s.schedule,
                z,
                key=keys.eval_probes,
                trace=trace,
                context=given,
            )
            log_lik.block_until_ready()
        out["likelihood"] = {
            "n": likelihood_n,
            "nll_ode_nats_per_dim": float(-jnp.mean(log_lik)) + log_det,
            "trace": traces.choose(trace, z.shape[1]),
            # of the mean over rows, from the probes alone (0 for the exact trace)
            "nll_ode_standard_error": float(jnp.sqrt(jnp.sum(jnp.square(error)))) / z.shape[0],
        }
        if given is not None:  # a context run's, scored given each row's context
            out["likelihood"]["given_context"] = True
            flow = s.config.train.objective == "flow"
            out["likelihood"]["ode"] = "flow ODE" if flow else "probability-flow ODE"
        if s.config.train.objective == "ddpm" and given is None:  # the chain's own bound
            with timed("bound"):
                bound = vlb.vlb(
                    keys.eval_vlb,
                    s.apply_fn,
                    params,
                    s.schedule,
                    z,
                    target=s.config.train.target,
                    variance=s.config.sample.variance,
                )
                bound.total.block_until_ready()
            out["likelihood"]["vlb_nats_per_dim"] = float(jnp.mean(bound.total)) + log_det
            out["likelihood"]["vlb_prior_nats_per_dim"] = float(jnp.mean(bound.prior))
    return out


# Samples whose median distance to the closest training row is below this fraction of the
# held-out rows' own are reported as copying their training rows (issue 46's bound).
COPY_RATIO = 0.9


def copying(s: Setup, samples: np.ndarray, held_out: np.ndarray) -> dict:
    """The copying check: each sample's Euclidean distance to its closest training row,
    beside the same distance of rows training never saw (``held_out``: a fixed set's
    held-out part, a generated set's fresh draw), in the model's standardised units;
    median and 5th percentile of each, the ratio of the medians and ``copies``: whether
    that ratio is below :data:`COPY_RATIO` (the samples sit nearer the training rows than
    fresh data does)."""
    rows = jnp.asarray(s.train_data)

    def nearest(x):
        z = jnp.asarray(s.normalizer.encode(np.asarray(x)), rows.dtype)
        d = np.asarray(metrics.nearest_distance(z, rows), np.float64)
        return {"median": float(np.median(d)), "p5": float(np.percentile(d, 5))}

    mine, theirs = nearest(samples), nearest(held_out)
    ratio = mine["median"] / theirs["median"] if theirs["median"] > 0 else float("inf")
    return {
        "samples": mine,
        "held_out": theirs,
        "ratio": ratio,
        "copies": bool(ratio < COPY_RATIO),
    }


def quality_table(q: dict) -> str:
    """A plain-text table of :func:`quality`'s result."""
    rows = [
        ("sliced W2 (lower is better)", "sliced_w2", "{:.4f}"),
        ("MMD^2 (lower)", "mmd2", "{:.2e}"),
        ("energy distance^2 (lower)", "energy", "{:.2e}"),
        ("precision k=3 (higher)", "precision", "{:.3f}"),
        ("recall k=3 (higher)", "recall", "{:.3f}"),
    ]
    lines = [f"{'n = ' + str(q['n']):30s} {'samples':>10s} {'data floor':>11s}"]
    for label, key, fmt in rows:
        lines.append(
            f"{label:30s} {fmt.format(q['samples'][key]):>10s} {fmt.format(q['floor'][key]):>11s}"
        )
    c = q.get("copying")
    if c:
        lines.append(
            f"{'closest training row, median':30s} {c['samples']['median']:>10.3g} "
            f"{c['held_out']['median']:>11.3g}  (held-out rows; 5th pct "
            f"{c['samples']['p5']:.3g} vs {c['held_out']['p5']:.3g})"
        )
        if c["copies"]:
            lines.append(
                f"copying: the samples sit nearer the training rows than held-out rows do "
                f"(median ratio {c['ratio']:.2f} < {COPY_RATIO})"
            )
    lik = q.get("likelihood")
    if lik:
        ode = "probability-flow ODE" if "vlb_nats_per_dim" in lik else "flow ODE"
        label = f"NLL, {ode}"
        if lik.get("given_context"):  # (no bound: the chain's VLB is not conditional)
            label = f"NLL | context, {lik['ode'].replace('probability-flow', 'PF')}"
        error = lik.get("nll_ode_standard_error", 0.0)
        spread = f" ± {error:.3f} (Hutchinson trace)" if error else ""
        lines.append(
            f"{label:30s} {lik['nll_ode_nats_per_dim']:>10.3f}"
            f"  nats/dim, {lik['n']} held-out points{spread}"
        )
        if "vlb_nats_per_dim" in lik:
            lines.append(
                f"{'NLL bound, VLB (Ho eq. 5)':30s} {lik['vlb_nats_per_dim']:>10.3f}  nats/dim"
            )
    if q.get("seconds"):
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in q["seconds"].items())
        lines.append(f"{'evaluation time':30s} {parts}")
    return "\n".join(lines)


def evaluate_run(
    run_dir,
    *,
    samples_path=None,
    n: int = 5000,
    likelihood_n: int = 1000,
    seed: int | None = None,
    s: Setup | None = None,
    params=None,
    trace: str | None = None,
) -> dict:
    """:func:`quality` of a run directory, saved as ``report.json``'s ``quality``.

    Samples come from ``samples_path``, else the run's ``samples.npy``, else are drawn
    with the run's sampler. The model is :func:`~jaxdiff.runs.trained.load`'s; the
    reference rows are the run's data set (or data copy). ``seed`` draws the fresh rows
    (reference, floor, held-out points) and any samples from seeds of its own instead of
    the run's (a fixed set's held-out part stays the run's). ``trace``: as in
    :func:`quality`.
    """
    run_dir = pathlib.Path(run_dir)
    if s is None or params is None:
        params = load(run_dir).params
        s = setup(load_config(run_dir), run_dir)  # the run's data: the reference rows
    sample_key, drawn = s.keys.sample, None
    if seed is not None:
        s = dataclasses.replace(s, keys=dataclasses.replace(s.keys, eval_seed=seed))
        sample_key = jax.random.key(seed)
    path = pathlib.Path(samples_path) if samples_path is not None else run_dir / "samples.npy"
    if samples_path is not None and not path.is_file():
        raise RunError(f"samples file {str(path)!r} does not exist")
    if path.is_file():
        try:
            samples = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise RunError(f"cannot read samples file {str(path)!r}: {err}") from err
    else:
        m, t0 = max(n, 4), time.perf_counter()
        samples = draw(s, params, sample_key, m, labels=final_labels(s, m))
        drawn = time.perf_counter() - t0
    q = quality(s, params, samples, n=n, likelihood_n=likelihood_n, trace=trace)
    if drawn is not None:
        q["seconds"] = {"sampling": drawn, **q["seconds"]}
    q["samples_file"] = str(path) if path.is_file() else None
    report = read_report(run_dir)
    report["quality"] = q
    write_json(run_dir / "report.json", report)
    return q
