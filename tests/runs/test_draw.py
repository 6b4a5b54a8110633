"""Streamed sampling of a run: the same rows for any chunk, to memory or to a file; the
sampler changes a command line may ask for."""

import jax
import numpy as np
import pytest

from jaxdiff.engine import sampler_settings, samplers
from jaxdiff.runs import draw, setup


def test_chunked_sampling_is_the_same_stream_for_any_chunk(trained, tmp_path, monkeypatch):
    monkeypatch.setattr(draw, "BLOCK", 64)  # 300 rows = 4 blocks of 64 + 44
    s, state = setup.restore(trained)
    opts = dict(method="ddim", steps=5)
    key = jax.random.key(9)
    whole = draw.draw(s, state.params, key, 300, chunk=10_000, **opts)
    by_block = draw.draw(s, state.params, key, 300, chunk=64, **opts)
    streamed = draw.draw(s, state.params, key, 300, chunk=128, out=tmp_path / "x.npy", **opts)
    assert whole.tobytes() == by_block.tobytes() == np.asarray(streamed).tobytes()
    assert np.load(tmp_path / "x.npy").shape == (300, 2)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left
    # A draw of at most one block is the plain sampler with key fold_in(key, 0).
    small = draw.draw(s, state.params, key, 50, **opts)
    plain = samplers.sample(
        jax.random.fold_in(key, 0),
        s.apply_fn,
        state.params,
        s.schedule,
        (50, 2),
        sampler_settings.SamplerOptions(method="ddim", steps=5, target=s.config.train.target),
    )
    assert (
        small.tobytes() == np.asarray(s.normalizer.decode(np.asarray(plain)), np.float32).tobytes()
    )


def test_sampler_changes_follow_the_run_and_the_method(trained):
    s, _ = setup.restore(trained)  # the seed preset: ddpm over all 100 steps
    assert draw.options(s) == s.sampler
    assert draw.options(s, method="ddim").steps is None  # None: all T
    assert draw.options(s, method="ddim", steps=10).steps == 10
    fast = s.sampler.replace(method="dpm-solver", steps=20)
    assert fast.replace(method="ddim").steps == 20  # a fast method keeps the run's steps
    assert fast.replace(method="ddpm").steps is None  # ddpm always takes all T
    # A budget alone: the seed's full chain cannot spend 10, its ancestral DDIM can;
    # a budget with a method is that method's or refused.
    assert (draw.options(s, nfe=10).method, draw.options(s, nfe=10).steps) == ("ddim", 10)
    assert draw.options(s, method="heun", nfe=5).steps == 3
    with pytest.raises(ValueError, match="method 'ddpm' evaluates every one"):
        draw.options(s, method="ddpm", nfe=10)
    with pytest.raises(ValueError, match="need a conditional run"):
        draw.options(s, labels=1)
    with pytest.raises(ValueError, match=r"steps must be 100 .* for method 'ddpm', got 10"):
        draw.draw(s, s.state.params, jax.random.key(0), 10, steps=10)
