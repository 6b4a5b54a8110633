"""Every figure function writes a readable image of the expected size from arrays."""

import numpy as np
from PIL import Image

from jaxdiff.core import plotting

RNG = np.random.default_rng(0)


def _opens(path, min_w, min_h=100):
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.size[0] >= min_w and im.size[1] >= min_h, im.size
        return getattr(im, "n_frames", 1)


def test_each_figure_is_written(tmp_path):
    traj = RNG.normal(size=(21, 300, 2))
    plotting.forward_grid(RNG.normal(size=(20, 300, 2)), np.arange(0, 100, 5), tmp_path / "f.png")
    plotting.reverse_grid(traj, tmp_path / "r.png")
    plotting.loss_curve(np.linspace(1.0, 0.1, 50), tmp_path / "l.png")
    plotting.samples_vs_data(traj[-1], traj[0], tmp_path / "s.png")
    plotting.samples_vs_data(traj[-1], traj[0], tmp_path / "c.png", labels=np.arange(300) % 3)
    plotting.image_grid(RNG.uniform(-1, 1, (40, 64)), np.arange(40) % 4, tmp_path / "d.png")
    plotting.reverse_animation(traj, tmp_path / "a.gif", frames=8)
    assert _opens(tmp_path / "f.png", 800) == 1
    assert _opens(tmp_path / "r.png", 800) == 1
    for name in ("l.png", "s.png", "c.png"):
        _opens(tmp_path / name, 300)
    _opens(tmp_path / "d.png", 200, 100)
    assert _opens(tmp_path / "a.gif", 150) == 8
