"""Every figure function writes a readable image of the expected size from arrays."""

import numpy as np
from matplotlib import colors
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


def _drawn(monkeypatch):
    """The figures saved, as (figure, path, dpi), kept before the function closes them."""
    import matplotlib.figure

    saved = []
    real = matplotlib.figure.Figure.savefig

    def keep(fig, path, **kw):
        saved.append((fig, path, kw.get("dpi")))
        return real(fig, path, **kw)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    return saved


def _points(ax):
    return np.concatenate([c.get_offsets() for c in ax.collections])


def test_each_panel_shows_its_own_points_titled_and_framed(tmp_path, monkeypatch):
    """The grids' panels plot the arrays they are given (both coordinates, in order),
    titled with their step; the shared frame holds 99% of the points with its padding;
    the seed's grids are 1680×360 and 1680×180 pixels."""
    saved = _drawn(monkeypatch)
    xs = RNG.normal(size=(20, 50, 2)) + np.arange(20)[:, None, None]
    plotting.forward_grid(xs, np.arange(0, 100, 5), tmp_path / "f.png")
    traj = RNG.normal(size=(31, 40, 2)) * [1.0, 3.0]
    plotting.reverse_grid(traj, tmp_path / "r.png", panels=4)
    data, a = RNG.normal(size=(500, 2)), RNG.normal(size=(300, 2)) + 5
    plotting.samples_grid(data, {"model": a}, tmp_path / "s.png", title="run")
    (fwd, _, dpi_f), (rev, _, dpi_r), (grid, _, _) = saved
    assert tuple(fwd.get_size_inches() * dpi_f) == (1680, 360)
    assert tuple(rev.get_size_inches() * dpi_r) == (1680, 180)
    for k, ax in enumerate(fwd.axes):
        np.testing.assert_array_equal(_points(ax), xs[k])
        assert ax.get_title() == f"$q(\\mathbf{{x}}_{{{5 * k}}})$"
    assert [ax.get_title() for ax in rev.axes] == [
        f"model sample, $t={t}$" for t in (30, 20, 10, 0)
    ]
    for ax, i in zip(rev.axes, (0, 10, 20, 30), strict=True):
        np.testing.assert_array_equal(_points(ax), traj[i])
    lo, hi = np.percentile(data, 0.5, axis=0), np.percentile(data, 99.5, axis=0)
    frame = [(lo[j] - 0.15 * (hi[j] - lo[j]), hi[j] + 0.15 * (hi[j] - lo[j])) for j in (0, 1)]
    assert [ax.get_title() for ax in grid.axes] == ["data", "model"]
    assert grid._suptitle.get_text() == "run"
    for ax, x in zip(grid.axes, (data, a), strict=True):
        np.testing.assert_array_equal(_points(ax), x)
        np.testing.assert_allclose([ax.get_xlim(), ax.get_ylim()], frame)
    # the data in grey, samples in red
    assert grid.axes[0].collections[0].get_facecolors()[0][:3].tolist() == [0.35] * 3
    assert grid.axes[1].collections[0].get_facecolors()[0].tolist() == list(
        colors.to_rgba("tab:red")
    )
