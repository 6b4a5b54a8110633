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
