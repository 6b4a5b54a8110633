"""Every figure of a run: written, readable, of sensible size; redrawn by `plot`."""

from conftest import jaxdiff
from PIL import Image


def _open_with_sensible_size(path, min_w):
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        w, h = im.size
        assert w >= min_w and h >= 100, (path.name, im.size)
        if path.name.endswith(".gif"):
            assert im.n_frames > 10


def test_figures_open_with_sensible_sizes(runs):
    """The end of `train` draws the still figures; the reverse chain's GIF (seconds of
    Pillow) is `plot`'s."""
    full, _, _ = runs
    for name, min_w in (
        ("forward.png", 800),
        ("reverse.png", 800),
        ("loss.png", 300),
        ("samples.png", 300),
    ):
        _open_with_sensible_size(full / name, min_w)
    assert not (full / "reverse.gif").exists()


def test_plot_redraws_every_figure(runs):
    _, split, _ = runs
    for name in ("forward.png", "reverse.png", "reverse.gif", "loss.png", "samples.png"):
        assert not (split / name).exists()  # trained with --no-figures
    jaxdiff("plot", "--run", str(split))
    for name in ("forward.png", "reverse.png", "reverse.gif", "loss.png", "samples.png"):
        assert (split / name).stat().st_size > 1000
    _open_with_sensible_size(split / "reverse.gif", 150)
