"""The Python driver of training: chunks, exact resume, divergence, bad input."""

import jax
import numpy as np
import pytest
from conftest import leaves_equal

from jaxdiff.core import apply, models
from jaxdiff.ddpm import schedules
from jaxdiff.engine import fitting, train_spec


def test_fit_resumes_exactly(small):
    state, x, kw = small
    full, info = fitting.fit_state(state, x, epochs=6, epochs_per_call=4, **kw())
    half, _ = fitting.fit_state(state, x, epochs=3, epochs_per_call=4, **kw())
    resumed, _ = fitting.fit_state(half, x, epochs=6, epochs_per_call=4, **kw())
    assert leaves_equal(full.params, resumed.params)
    assert info["steps"] == 6 * 7 and len(info["losses"]) == 6


def test_bad_epochs(small):
    state, x, kw = small
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        fitting.fit_state(state, x, epochs=0, **kw())


def _tiny():
    apply_fn, params = apply.functional(
        models.MLPDenoiser(num_steps=10, config=models.NetworkConfig(width=16)), jax.random.key(0)
    )
    return apply_fn, params, schedules.sigmoid_schedule(10)


def test_divergence_is_caught_inside_the_epoch_and_keeps_the_last_good_state():
    apply_fn, params, sched = _tiny()
    x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    good = train_spec.make_optimizer(1e-3, 1.0)
    state = train_spec.init_state(jax.random.key(1), params, good)
    spec = train_spec.TrainSpec(apply_fn, good, batch_size=16)
    state, _ = fitting.fit_state(state, x, epochs=2, spec=spec, schedule=sched)
    wild = train_spec.make_optimizer(1e8, 1.0)  # same opt_state structure, absurd steps
    seen = []
    with pytest.raises(fitting.TrainingDiverged) as info:
        fitting.fit_state(
            state,
            x,
            epochs=6,
            spec=train_spec.TrainSpec(apply_fn, wild, batch_size=16),
            schedule=sched,
            epochs_per_call=4,
            callback=lambda s, losses, sec: seen.append(int(s.epoch)),
        )
    err = info.value
    assert err.epoch == 3 and int(err.state.epoch) == 2
    assert leaves_equal(err.state.params, state.params)  # the diverged epoch was discarded
    assert not np.isfinite(err.loss) or err.loss > 1e10
    assert "diverged in epoch 3" in str(err) and "lower the learning rate" in str(err)
    assert "\n" not in str(err) and seen == []


def _driver(advance=None, pause=0.01):
    """A stand-in for compiled epochs: ``run_chunk(state, n)`` moves the epoch (by
    ``advance(epoch, n)`` epochs, default n), a step per epoch, and returns losses
    ``epoch + 1, epoch + 2, …``; it records each n and sleeps ``pause`` a call."""
    import collections
    import time

    State = collections.namedtuple("State", "step epoch")
    calls = []

    def run_chunk(state, n):
        calls.append(n)
        time.sleep(pause * (5 if n == 0 else 1))
        e = int(state.epoch)
        done = n if advance is None else advance(e, n)
        losses = np.arange(e + 1, e + n + 1, dtype=np.float32)
        if done < n:
            losses[done] = np.nan
        return State(np.int32(int(state.step) + done), np.int32(e + done)), losses

    return State, run_chunk, calls


def test_run_chunks_splits_on_multiples_reports_and_times_outside_compilation():
    State, run_chunk, calls = _driver()
    seen = []

    def callback(state, losses, seconds):
        seen.append((int(state.epoch), losses.tolist(), seconds))

    state, info = fitting.run_chunks(
        State(np.int32(1), np.int32(1)), run_chunk, epochs=5, epochs_per_call=2, callback=callback
    )
    assert calls == [0, 1, 2, 1] and int(state.epoch) == 5 and info["steps"] == 4
    assert [(e, ls) for e, ls, _ in seen] == [(2, [2.0]), (4, [3.0, 4.0]), (5, [5.0])]
    assert info["losses"].tolist() == [2.0, 3.0, 4.0, 5.0]
    assert all(s >= 0.01 for *_, s in seen)
    assert info["train_seconds"] == pytest.approx(sum(s for *_, s in seen))
    assert 0.05 <= info["compile_seconds"] < 0.05 + info["train_seconds"]
    _, run_chunk, calls = _driver(pause=0.0)
    fitting.run_chunks(State(np.int32(0), np.int32(0)), run_chunk, epochs=30)
    assert calls == [0, 25, 5]  # 25 epochs a call by default
    _, run_chunk, calls = _driver(pause=0.0)
    fitting.run_chunks(State(np.int32(0), np.int32(0)), run_chunk, epochs=6, epochs_per_call=2,
                       callback=lambda s, losses, t: int(s.epoch) >= 4)  # fmt: skip
    assert calls == [0, 2, 2]  # the callback stopped it
    for kw, message in (({"epochs": 0}, "epochs must be a positive integer, got 0"),
                        ({"epochs": 3, "epochs_per_call": 0},
                         "epochs_per_call must be a positive integer, got 0")):  # fmt: skip
        with pytest.raises(ValueError) as err:
            fitting.run_chunks(State(np.int32(0), np.int32(0)), run_chunk, **kw)
        assert str(err.value) == message


def test_a_diverged_chunk_reports_its_good_epochs_then_the_bad_one():
    State, run_chunk, _ = _driver(advance=lambda e, n: 1 if e == 3 else n, pause=0.0)
    seen = []
    with pytest.raises(fitting.TrainingDiverged) as err:
        fitting.run_chunks(
            State(np.int32(0), np.int32(0)), run_chunk, epochs=6, epochs_per_call=3,
            callback=lambda s, losses, t: seen.append((int(s.epoch), losses.tolist())),
        )  # fmt: skip
    # epochs 1-3, then a chunk of 3 from epoch 3 that completes one (epoch 4) and fails on 5
    assert seen == [(3, [1.0, 2.0, 3.0]), (4, [4.0])]
    assert err.value.epoch == 5 and np.isnan(err.value.loss) and int(err.value.state.epoch) == 4
    assert str(err.value) == (
        "training diverged in epoch 5 (mean loss nan); the last good state is epoch 4: "
        "lower the learning rate or keep gradient clipping on"
    )
