import dataclasses

import jax
import numpy as np
import pytest

from jaxdiff import config, data, metrics, run


@pytest.mark.parametrize("name", ["seed", "fast"])
def test_presets_round_trip_through_json(name):
    cfg = config.preset(name)
    assert config.Config.from_json(cfg.to_json()) == cfg


def test_seed_preset_holds_every_seed_constant():
    cfg = config.preset("seed")
    assert (cfg.schedule.kind, cfg.schedule.num_steps) == ("sigmoid", 100)
    assert (cfg.schedule.beta_start, cfg.schedule.beta_end) == (1e-5, 5e-3)
    assert (cfg.model.width, cfg.model.depth, cfg.model.init_style) == (128, 3, "torch")
    t = cfg.train
    assert (t.epochs, t.batch_size, t.learning_rate, t.clip_norm) == (4000, 128, 1e-3, 1.0)
    assert (t.target, t.t_sampler, t.ema_decay, t.lr_schedule) == (
        "eps",
        "antithetic",
        None,
        "constant",
    )
    smp = cfg.sample
    assert (smp.method, smp.variance, smp.last_step_noise) == ("ddpm", "beta", True)
    assert (cfg.data.name, cfg.data.n, cfg.data.standardize) == ("s_curve", 10_000, False)


@pytest.mark.parametrize(
    "text, match",
    [
        ("[1, 2]", "config must be a JSON object"),
        ('{"model": {"width": "wide"}}', "config model.width must be of type int"),
        ('{"model": {"height": 3}}', r"section 'model' has unknown key\(s\) \['height'\]"),
        ('{"extra": {}}', r"unknown section\(s\) \['extra'\]"),
        ('{"seed": -1}', "config seed must be a non-negative integer, got -1"),
        ("{not json", "config is not valid JSON"),
        ('{"train": {"ema_decay": "high"}}', "config train.ema_decay must be of type"),
    ],
)
def test_bad_config_json(text, match):
    with pytest.raises(ValueError, match=match):
        config.Config.from_json(text)


def test_unknown_preset():
    with pytest.raises(ValueError, match=r"preset must be one of \['fast', 'seed'\], got 'x'"):
        config.preset("x")


def test_normalizer_round_trip_and_unit_variance():
    x = data.s_curve(0, n=2000)
    norm = data.Normalizer.fit(x)
    z = norm.encode(x)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, rtol=1e-4)
    np.testing.assert_allclose(norm.decode(z), x, atol=1e-6)
    # A constant feature is shifted to 0 and keeps its scale (std 1), as digits' blank pixels.
    flat = np.stack([x[:, 0], np.full(len(x), 3.0, np.float32)], axis=1)
    norm = data.Normalizer.fit(flat)
    assert norm.std[1] == 1.0 and norm.mean[1] == 3.0
    np.testing.assert_allclose(norm.encode(flat)[:, 1], 0.0)


def test_cosine_lr_schedule_warms_up_and_decays():
    cfg = config.preset("fast")
    _, lr = config.build_optimizer(cfg, steps_per_epoch=40)
    t = cfg.train
    assert float(lr(0)) == 0.0
    assert float(lr(t.warmup_steps)) == pytest.approx(t.learning_rate, rel=1e-6)
    assert float(lr(t.lr_decay_epochs * 40)) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        config.build_optimizer(
            dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, lr_schedule="step")), 40
        )


def test_fast_preset_trains_to_good_samples_in_data_units():
    """The fast preset's recipe end to end: standardised data, cosine, v, EMA, DPM-Solver++."""
    cfg = config.preset("fast")
    # 60 epochs (the fast_preset benchmark measured SW2 0.0136 there; 0.0043 at 150).
    cfg = dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, epochs=60, lr_decay_epochs=60)
    )
    s = run.setup(cfg)
    state, _ = run.fit_setup(s, epochs_per_call=cfg.train.epochs)
    fresh = data.s_curve(99, n=4000)
    key = jax.random.key(0)
    trained = run.draw(s, state.ema_params, s.sample_key, 4000)
    untrained = run.draw(s, s.state.params, s.sample_key, 4000)
    floor = float(metrics.sliced_wasserstein(key, data.s_curve(5, n=4000), fresh))
    sw_trained = float(metrics.sliced_wasserstein(key, trained, fresh))
    sw_untrained = float(metrics.sliced_wasserstein(key, untrained, fresh))
    assert sw_trained < 0.02 < sw_untrained, (floor, sw_trained, sw_untrained)
    np.testing.assert_allclose(trained.std(0), fresh.std(0), rtol=0.1)


def test_train_run_trains_the_fast_preset_on_standardised_data(tmp_path):
    """The run directory's training equals ``fit_setup`` (standardised data), bit for bit."""
    cfg = config.preset("fast")
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=1))
    run.train_run(cfg, tmp_path / "r", progress=False, eval_n=0, figures=False)
    _, saved = run.restore_run(tmp_path / "r")
    direct, _ = run.fit_setup(run.setup(cfg))
    raw = run.setup(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, standardize=False)))
    unstandardised, _ = run.fit_setup(dataclasses.replace(raw, train_data=raw.data))
    leaves = jax.tree_util.tree_leaves
    assert all(
        np.array_equal(a, b)
        for a, b in zip(leaves(saved.params), leaves(direct.params), strict=True)
    )
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(leaves(saved.params), leaves(unstandardised.params), strict=True)
    )
