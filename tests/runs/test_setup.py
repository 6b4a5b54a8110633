"""From settings to objects: the optimiser's learning rate, the fast preset's recipe
end to end, the sampler of a run."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import impostors, passes, scores

from jaxdiff.core import data
from jaxdiff.engine import training
from jaxdiff.runs import build, draw, overrides, presets, setup, train


def test_cosine_lr_schedule_warms_up_and_decays():
    cfg = presets.preset("fast")
    _, lr = build.build_optimizer(cfg.train, 40)
    t = cfg.train
    assert float(lr(0)) == 0.0
    assert float(lr(t.warmup_steps)) == pytest.approx(t.learning_rate, rel=1e-6)
    assert float(lr(t.lr_decay_epochs * 40)) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        build.build_optimizer(dataclasses.replace(cfg.train, lr_schedule="step"), 40)


@pytest.mark.slow  # 60 epochs; tests/runs/test_train.py trains the fast preset briefly
def test_fast_preset_trains_to_good_samples_in_data_units():
    """The fast preset's recipe end to end (standardised data, cosine, v, EMA, DPM-Solver++
    in data units), 60 epochs: its samples are near the data's floor by MMD², precision
    and recall, where a box, a Gaussian (each with the data's mean and std) and the data
    blurred by N(0, 0.02²) all fail the same bounds.

    Measured here (2,000 samples, floor MMD² 3.4e-4, precision 0.975, recall 0.973):
    trained 1.6e-3 / 0.956 / 0.981; blurred 6.8e-3 / 0.811; box 4.0e-2 / 0.533;
    Gaussian 7.5e-2 / 0.400.
    """
    cfg = overrides.configure(presets.preset("fast"), epochs=60)
    s = setup.setup(cfg)
    state, _ = train.fit(s, epochs_per_call=cfg.train.epochs)
    reference, floor_draw = data.s_curve(4321, 2000), data.s_curve(5, 2000)
    floor = scores(reference, floor_draw)
    bounds = dict(mmd2=3e-3, precision=0.06, recall=0.03)
    trained = draw.draw(s, state.ema_params, s.keys.sample, 2000)
    got = scores(reference, trained)
    assert passes(got, floor, **bounds), (got, floor)
    untrained = draw.draw(s, s.state.params, s.keys.sample, 2000)
    fakes = {"untrained model": untrained, **impostors(data.s_curve(99, 2000), 2000, blur=0.02)}
    for name, fake in fakes.items():
        wrong = scores(reference, fake)
        assert not passes(wrong, floor, **bounds), f"the {name} passed: {wrong}"


@pytest.mark.slow  # ~25 s of float64 compilation of a whole run
def test_float64_mode_trains_and_samples_in_float64(x64_standard):
    """With x64 on (``JAX_ENABLE_X64=1``; here its config flag), what the user asks for in
    float64 is float64: the schedule, parameters, optimiser state, EMA, the losses of the
    compiled epochs and the samples. Only the generated data sets stay float32 (cast up
    for training), as the seed's ``torch.Tensor(...).float()`` data are."""
    cfg = presets.preset("fast")
    cfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, n=512),
        train=dataclasses.replace(cfg.train, epochs=2, batch_size=128),
    )
    s = setup.setup(cfg)
    assert s.train_data.dtype == np.float64 and s.schedule.betas.dtype == jnp.float64
    state, info = train.fit(s)
    assert all(np.isfinite(info["losses"]))
    floats = [
        leaf
        for tree in (state.params, state.opt_state, state.ema_params)
        for leaf in jax.tree_util.tree_leaves(tree)
        if jnp.issubdtype(leaf.dtype, jnp.floating)
    ]
    assert floats and all(leaf.dtype == jnp.float64 for leaf in floats)
    _, losses = training.train_epochs(
        state, jnp.asarray(s.train_data), 1, spec=s.spec, schedule=s.schedule
    )
    assert losses.dtype == jnp.float64
    z = draw.draw(s, state.ema_params, s.keys.sample, 64)
    assert z.shape == (64, 2) and z.dtype == np.float64 and np.all(np.isfinite(z))
