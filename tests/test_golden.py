"""A tolerance-based regression test: a small pipeline's losses, parameters, samples and
scores against the values recorded in ``tests/data/golden.json``.

It catches changes of behaviour that the oracle tests would not (a changed default, a
reordered key split, another initialisation). Bit-for-bit checks of whole runs live in
``scripts/golden.py``; this one allows for the last bits that differ between CPU models.
After an intended change of behaviour, rewrite the record with
``python tests/test_golden.py --write`` and say why in the commit.
"""

import dataclasses
import json
import pathlib
import sys

import jax
import numpy as np
import pytest

from jaxdiff.runs import config, draw, evaluate, presets, setup, train

# 23 s of trainings and samplers: a step of .ci/run (`pytest -m slow`), not the fast tier.
pytestmark = pytest.mark.slow

RECORD = pathlib.Path(__file__).parent / "data" / "golden.json"


def _small(name: str, epochs: int) -> config.Config:
    cfg = presets.preset(name)
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, n=2000),
        train=dataclasses.replace(cfg.train, epochs=epochs, lr_decay_epochs=epochs),
    )


def produce() -> dict:
    out = {}
    for name, epochs in (("seed", 1), ("fast", 2)):
        s = setup.setup(_small(name, epochs))
        state, info = train.fit(s, epochs_per_call=epochs)
        params = setup.model_params(s, state)
        out[f"{name}/losses"] = info["losses"]
        out[f"{name}/param_sums"] = [
            float(np.sum(np.abs(np.asarray(p, np.float64))))
            for p in jax.tree_util.tree_leaves(params)
        ]
        for method, steps in (("ddpm", None), ("ddim", 10), ("dpm-solver", 10)):
            x = draw.draw(s, params, s.keys.sample, 256, method=method, steps=steps)
            out[f"{name}/{method}/first_rows"] = np.asarray(x[:4], np.float64).tolist()
            out[f"{name}/{method}/moments"] = [*x.mean(0).tolist(), *x.std(0).tolist()]
    # The scores of the last draw (the fast preset's DPM-Solver++), with its likelihoods.
    q = evaluate.quality(s, params, x, n=256, likelihood_n=32)
    # The likelihoods' numbers as recorded (the trace's kind and its standard error, exact
    # and 0 here at 2 columns, came later: tests/runs/test_evaluate.py holds them).
    lik = {k: v for k, v in q["likelihood"].items() if k not in ("trace", "nll_ode_standard_error")}
    out["fast/quality"] = {**q["samples"], **lik}
    return out


def _compare(got, want, path=""):
    if isinstance(want, dict):
        assert set(got) == set(want), path
        for k in want:
            _compare(got[k], want[k], f"{path}/{k}")
        return
    np.testing.assert_allclose(
        np.asarray(got, np.float64),
        np.asarray(want, np.float64),
        rtol=2e-3,
        atol=2e-4,
        err_msg=path,
    )


def test_outputs_match_the_record():
    _compare(produce(), json.loads(RECORD.read_text()))


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    RECORD.write_text(json.dumps(produce(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORD}")
