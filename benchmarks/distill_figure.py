"""The picture beside ``distill.py``'s table: for each set, the data, the teacher's 100
ancestral steps, and its 4-evaluation students (5,000 points each): direct into the light
network (``jaxdiff distill --student light``: its own steps and pairs, its inputs read
from tables), direct into the teacher's own network (the
default), and progressive; drawn with the code paths of ``jaxdiff train`` and ``jaxdiff distill``.

Usage: python benchmarks/distill_figure.py [--only checkerboard,eight_gaussians,moons]
       [--out docs/distill_students.png]
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _common import trained_default

from jaxdiff.ddpm import distillation
from jaxdiff.runs import draw
from jaxdiff.runs.distill import BUDGETS, light_model, light_network, tabulated

N = 5000


def students(s, teacher):
    """The 4-evaluation light, direct and progressive students, keyed as ``jaxdiff
    distill``; the light one with the setup that samples it."""
    target = s.config.train.target
    light_cfg = light_model(s.config, s.train_data.shape[-1])  # jaxdiff distill's
    light_fn, light_init = light_network(s.apply_fn, teacher, light_cfg)
    key = jax.random.fold_in(s.keys.train, 1)
    light, _ = distillation.distill_endpoints(
        key, s.apply_fn, teacher, s.schedule, s.train_data, 4, target=target,
        student=(light_fn, light_init), **BUDGETS["direct", "light"]._asdict(),
    )  # fmt: skip
    tab_fn, light = tabulated(light_cfg, light_fn, light)
    light_s = dataclasses.replace(s, apply_fn=tab_fn)  # as jaxdiff distill writes it
    direct, _ = distillation.distill_endpoints(
        key, s.apply_fn, teacher, s.schedule, s.train_data, 4, target=target,
        **BUDGETS["direct", "teacher"]._asdict(),
    )  # fmt: skip
    progressive = teacher
    for r, k in enumerate(distillation.rounds(64, 4), start=1):
        progressive, _ = distillation.distill_round(
            jax.random.fold_in(s.keys.train, r), s.apply_fn, progressive, s.schedule,
            s.train_data, k, target=target,
        )  # fmt: skip
    return (light_s, light), direct, progressive


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="checkerboard,eight_gaussians,moons")
    p.add_argument("--out", default="docs/distill_students.png")
    args = p.parse_args()
    sets = args.only.split(",")
    fig, axes = plt.subplots(len(sets), 5, figsize=(15, 3 * len(sets)), squeeze=False)
    for r, name in enumerate(sets):
        s, teacher, _ = trained_default(name)
        (light_s, light), direct, progressive = students(s, teacher)
        key = s.keys.sample
        panels = [
            ("data (training rows)", s.normalizer.decode(np.asarray(s.train_data[:N]))),
            ("teacher, ancestral 100", draw.draw(s, teacher, key, N, method="ddim", steps=100,
                                                 eta=1.0)),
            ("light student, 4 evaluations", draw.draw(light_s, light, key, N,
                                                       method="restart", steps=4,
                                                       spacing="geometric")),
            ("direct student (teacher's network), 4", draw.draw(s, direct, key, N,
                                                                method="restart", steps=4,
                                                                spacing="geometric")),
            ("progressive student, 4 DDIM steps", draw.draw(s, progressive, key, N,
                                                            method="ddim", steps=4, eta=0.0,
                                                            spacing="trailing")),
        ]  # fmt: skip
        for c, (title, x) in enumerate(panels):
            ax = axes[r, c]
            ax.scatter(x[:, 0], x[:, 1], s=0.5, alpha=0.5, color="k")
            ax.set_title(f"{name}: {title}" if c == 0 else title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            if c == 0:
                limits = ax.get_xlim(), ax.get_ylim()
            else:
                ax.set_xlim(limits[0])
                ax.set_ylim(limits[1])
        print(f"{name} done", flush=True)
        jax.clear_caches()
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
