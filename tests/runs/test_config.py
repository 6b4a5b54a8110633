"""Settings: presets, the JSON round-trip, what a command line's settings mean, and
the resume policy."""

import pytest

from jaxdiff.runs import config


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
