"""``jaxdiff reflow``'s settings, without training (the command itself runs in the slow
tier: tests/runs/test_flow_runs.py)."""

import dataclasses

import numpy as np
import pytest

from jaxdiff.runs import overrides, presets, reflow, setup
from jaxdiff.runs.config import Config, ReflowConfig
from jaxdiff.runs.rundir import RunError


def _flow(**train):
    cfg = overrides.configure(presets.preset("default"), objective="flow", pairing="ot")
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **train))


def test_reflow_config_trains_the_teachers_steps_on_given_pairs(tmp_path):
    teacher = _flow(epochs=120, batch_size=512, lr_schedule="cosine", lr_decay_epochs=120)
    cfg = reflow.reflow_config(teacher, tmp_path / "t", 16)
    # 120 epochs of 16 steps = 1920 steps; 16,000 pairs in batches of 512 are 32 a epoch.
    assert cfg.train.epochs == 60 and cfg.train.lr_decay_epochs == 60
    assert (cfg.train.pairing, cfg.train.t_sampler) == ("given", "uniform")
    assert cfg.reflow == ReflowConfig(teacher=str((tmp_path / "t").resolve()), pairs=16_000)
    assert (cfg.model, cfg.data, cfg.sample, cfg.seed) == (
        teacher.model,
        teacher.data,
        teacher.sample,
        teacher.seed,
    )
    # 3 epochs of 10 steps over 1000 pairs in batches of 512 (2 a epoch): 15 epochs.
    few = reflow.reflow_config(_flow(epochs=3, batch_size=512), "t", 10, pairs=1000)
    assert few.train.epochs == 15 and few.reflow.pairs == 1000
    assert reflow.reflow_config(teacher, "t", 16, epochs=7).train.epochs == 7
    # A constant rate keeps the teacher's decay setting.
    flat = reflow.reflow_config(_flow(lr_schedule="constant", lr_decay_epochs=0), "t", 16)
    assert flat.train.lr_decay_epochs == 0


@pytest.mark.parametrize(
    "teacher, kw, message",
    [
        (presets.preset("default"), {}, "reflow takes a flow teacher"),
        (
            overrides.configure(presets.preset("default"), objective="flow", conditional=True),
            {},
            "one unconditional model",
        ),
        (
            overrides.configure(presets.preset("default"), objective="flow", ensemble=2),
            {},
            "one unconditional model",
        ),
        (_flow(), {"pairs": 0}, "pairs"),
        (_flow(), {"epochs": -1}, "epochs"),
    ],
)
def test_reflow_config_refuses_what_it_cannot_reflow(teacher, kw, message):
    with pytest.raises(ValueError, match=message):
        reflow.reflow_config(teacher, "t", 16, **kw)


def test_a_reflow_config_round_trips_and_older_configs_have_none():
    cfg = reflow.reflow_config(_flow(), "t", 16, pairs=2048)
    assert Config.from_json(cfg.to_json()) == cfg
    older = Config().to_dict()
    del older["reflow"]
    assert Config.from_dict(older).reflow == ReflowConfig()
    with pytest.raises(ValueError, match=r"reflow.pairs must be of type int"):
        Config.from_dict({"reflow": {"teacher": "t", "pairs": "many"}})


def test_a_reflow_setup_counts_its_pairs_and_needs_them_only_to_train(tmp_path):
    cfg = dataclasses.replace(
        reflow.reflow_config(_flow(batch_size=512), tmp_path, 16, pairs=3000),
        data=dataclasses.replace(Config().data, name="moons", n=500),
    )
    s = setup.setup(cfg, tmp_path)
    assert s.pairs is None and s.steps_per_epoch == 6  # ceil(3000 / 512), not the 500 rows
    with pytest.raises(RunError, match=r"reflow_pairs\.npy is missing from the run"):
        _ = s.fit_data
    np.save(tmp_path / "reflow_pairs.npy", np.zeros((3000, 3), np.float32))
    with pytest.raises(RunError, match=r"holds shape \(3000, 3\), expected \(3000, 4\)"):
        setup.setup(cfg, tmp_path)
    np.save(tmp_path / "reflow_pairs.npy", np.ones((3000, 4), np.float32))
    assert setup.setup(cfg, tmp_path).fit_data.shape == (3000, 4)
