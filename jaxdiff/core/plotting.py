"""Figures with matplotlib (Agg backend: files only, no screen needed).

Nothing here computes what a test checks; each function takes arrays and writes a file.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation

__all__ = [
    "forward_grid",
    "image_grid",
    "loss_curve",
    "reverse_animation",
    "reverse_grid",
    "samples_grid",
    "samples_vs_data",
]


def _scatter_panel(ax, x, title, s=5, lim=None):
    ax.scatter(x[:, 0], x[:, 1], s=s, c="tab:red", edgecolors="white", linewidths=0.2)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    if lim is not None:
        ax.set_xlim(*lim[0])
        ax.set_ylim(*lim[1])


def _limits(*arrays, pad=0.1):
    pts = np.concatenate([np.asarray(a).reshape(-1, 2) for a in arrays])
    lo, hi = np.percentile(pts, 0.5, axis=0), np.percentile(pts, 99.5, axis=0)
    span = hi - lo
    return (
        (lo[0] - pad * span[0], hi[0] + pad * span[0]),
        (lo[1] - pad * span[1], hi[1] + pad * span[1]),
    )


def forward_grid(xs, timesteps, path) -> None:
    """The seed's 2×10 grid of ``q(x_t)``: ``xs`` is ``(20, n, 2)``, one panel per step."""
    xs = np.asarray(xs)
    fig, axes = plt.subplots(2, 10, figsize=(28, 6))
    for ax, x, t in zip(axes.ravel(), xs, timesteps, strict=True):
        _scatter_panel(ax, x, f"$q(\\mathbf{{x}}_{{{int(t)}}})$")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.92, wspace=0.05, hspace=0.2)
    fig.savefig(path, dpi=60)
    plt.close(fig)


def reverse_grid(trajectory, path, panels: int = 10) -> None:
    """The seed's 1×10 grid of the reverse chain, titled as model samples.

    ``trajectory`` is ``(T+1, n, 2)`` with ``x_T`` first; panels are evenly spaced and
    the last shows ``x_0``.
    """
    traj = np.asarray(trajectory)
    num_steps = traj.shape[0] - 1
    idx = np.linspace(0, num_steps, panels).round().astype(int)
    fig, axes = plt.subplots(1, panels, figsize=(28, 3))
    for ax, i in zip(np.atleast_1d(axes), idx, strict=True):
        _scatter_panel(ax, traj[i], f"model sample, $t={num_steps - i}$")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.85, wspace=0.05)
    fig.savefig(path, dpi=60)
    plt.close(fig)


def loss_curve(losses, path) -> None:
    """Per-epoch mean training loss, log scale."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(1, len(losses) + 1), losses, lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def samples_vs_data(samples, data, path, labels=None) -> None:
    """Model samples drawn over the training data (its first two features), coloured by
    class when ``labels`` (one per sample) are given."""
    samples, data = np.asarray(samples), np.asarray(data)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(data[:, 0], data[:, 1], s=2, c="0.6", label="data")
    if labels is None:
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:red", alpha=0.6, label="samples")
    else:
        labels = np.asarray(labels)
        for c in np.unique(labels):
            x = samples[labels == c]
            ax.scatter(
                x[:, 0],
                x[:, 1],
                s=2,
                color=plt.cm.tab10(int(c) % 10),
                alpha=0.6,
                label=f"samples, label {int(c)}",
            )
    lim = _limits(data, samples)
    ax.set_xlim(*lim[0])
    ax.set_ylim(*lim[1])
    ax.legend(loc="upper right", markerscale=4)
    ax.set_aspect("equal", adjustable="box")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def samples_grid(data, samples: dict, path, title: str = "") -> None:
    """The data beside each named set of samples, one panel each, at the same axes (the
    data's first two features)."""
    data = np.asarray(data)
    panels = {"data": data, **{k: np.asarray(v) for k, v in samples.items()}}
    lim = _limits(data, pad=0.15)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    for ax, (name, x) in zip(axes[0], panels.items(), strict=True):
        colour = "0.35" if name == "data" else "tab:red"
        ax.scatter(x[:, 0], x[:, 1], s=1, c=colour, linewidths=0)
        ax.set_xlim(*lim[0])
        ax.set_ylim(*lim[1])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def image_grid(samples, labels, path, side: int = 8, per_class: int = 10) -> None:
    """Samples as ``side × side`` grey images in ``[-1, 1]``, one row per class (the
    first ``per_class`` samples of each), or rows of 10 without labels."""
    images = np.asarray(samples).reshape(-1, side, side)
    if labels is None:
        rows = [np.arange(i, min(i + 10, len(images))) for i in range(0, min(len(images), 100), 10)]
        names = [""] * len(rows)
    else:
        labels = np.asarray(labels)
        classes = np.unique(labels)
        rows = [np.flatnonzero(labels == c)[:per_class] for c in classes]
        names = [str(int(c)) for c in classes]
    cols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(cols * 0.8, len(rows) * 0.8), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for r, (idx, name) in enumerate(zip(rows, names, strict=True)):
        for k, i in enumerate(idx):
            axes[r, k].imshow(images[i], cmap="gray_r", vmin=-1, vmax=1)
        if name:
            axes[r, 0].set_title(name, fontsize=7, loc="left")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.97, wspace=0.05, hspace=0.3)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def reverse_animation(trajectory, path, frames: int = 26, max_points: int = 2000) -> None:
    """The reverse chain as a GIF (Pillow writer), ``x_T`` to ``x_0``."""
    traj = np.asarray(trajectory)[:, :max_points]
    num_steps = traj.shape[0] - 1
    idx = np.linspace(0, num_steps, frames).round().astype(int)
    lim = _limits(traj[-1], traj[0])
    fig, ax = plt.subplots(figsize=(4, 4))
    scat = ax.scatter(traj[0, :, 0], traj[0, :, 1], s=3, c="tab:red")
    ax.set_xlim(*lim[0])
    ax.set_ylim(*lim[1])
    title = ax.set_title("")

    def update(k):
        i = idx[k]
        scat.set_offsets(traj[i])
        title.set_text(f"model sample, t = {num_steps - i}")
        return scat, title

    anim = animation.FuncAnimation(fig, update, frames=len(idx), blit=False)
    anim.save(path, writer=animation.PillowWriter(fps=6), dpi=60)
    plt.close(fig)
