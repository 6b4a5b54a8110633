"""Every figure of a run directory, drawn by :mod:`jaxdiff.core.plotting` from the run's files
and model."""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff.ddpm import diffusion
from jaxdiff.engine import samplers
from jaxdiff.runs.draw import draw, final_labels
from jaxdiff.runs.rundir import read_metrics
from jaxdiff.runs.setup import Setup, model_params, restore

__all__ = ["FIGURES", "plot_run"]

# The figures of a 2-D run (a run of other data draws loss.png, samples.png and, for
# digits, digits.png).
FIGURES = ("forward.png", "reverse.png", "reverse.gif", "loss.png", "samples.png")


@jax.jit
def _forward_states(key, schedule, x0, steps):
    """``q(x_t | x_0)`` draws for each of ``steps``: ``(len(steps), *x0.shape)``."""
    keys = jax.random.split(key, steps.shape[0])
    return jax.vmap(lambda k, t: diffusion.q_sample(k, schedule, x0, t))(keys, steps)


def plot_run(
    run_dir,
    *,
    s: Setup | None = None,
    params=None,
    history=None,
    samples=None,
    animation: bool = True,
):
    """(Re)draws every figure of a run directory from its files and checkpoint;
    ``animation=False`` leaves out the reverse chain's GIF (seconds of Pillow: the end of
    ``jaxdiff train`` leaves it to ``jaxdiff plot``)."""
    from jaxdiff.core import plotting  # matplotlib: 0.4 s of every command's start, when drawn

    run_dir = pathlib.Path(run_dir)
    if s is None or params is None:
        s, state = restore(run_dir)
        params = model_params(s, state)
    if history is None:
        history = read_metrics(run_dir / "metrics.jsonl")
    labels_path = run_dir / "sample_labels.npy"
    if samples is None:
        path = run_dir / "samples.npy"
        if path.is_file():
            samples = np.load(path)
        else:
            labels = final_labels(s, s.config.sample.n)
            samples = draw(s, params, s.keys.sample, s.config.sample.n, labels=labels)
    labels = np.load(labels_path) if labels_path.is_file() else final_labels(s, len(samples))
    if labels is not None and (labels.shape[0] != samples.shape[0] or s.context_dim):
        labels = None  # (a context run's samples are not coloured by their context)
    if history:
        plotting.loss_curve([r["loss"] for r in history], run_dir / "loss.png")
    if s.data.shape[1] != 2:
        # Not a plane: digits as images; any other data by its first two features.
        if s.config.data.name == "digits":
            plotting.image_grid(samples, labels, run_dir / "digits.png")
        plotting.samples_vs_data(samples, s.data, run_dir / "samples.png", labels)
        return
    steps = np.arange(0, s.schedule.num_steps, max(1, s.schedule.num_steps // 20))[:20]
    forward = _forward_states(
        s.keys.forward_figure, s.schedule, jnp.asarray(s.train_data), jnp.asarray(steps)
    )
    forward = s.normalizer.decode(np.asarray(forward))
    plotting.forward_grid(forward, steps, run_dir / "forward.png")
    m = min(s.config.sample.n, 10_000)
    traj = samplers.sample_trajectory(
        s.keys.sample,
        s.apply_fn,
        params,
        s.schedule,
        (m, s.data.shape[1]),
        s.sampler,
        labels=final_labels(s, m),
    )
    traj = s.normalizer.decode(np.asarray(traj))
    plotting.reverse_grid(traj, run_dir / "reverse.png")
    if animation:
        plotting.reverse_animation(traj, run_dir / "reverse.gif")
    plotting.samples_vs_data(samples, s.data, run_dir / "samples.png", labels)
