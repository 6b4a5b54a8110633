"""Ensembles: K members in one vmapped program equal K models trained alone."""

import json

import jax
import numpy as np
from conftest import jaxdiff

from jaxdiff import ensembles, run, training


def test_ensemble_members_equal_models_trained_alone_and_sample_by_member(tmp_path):
    out = tmp_path / "ens"
    jaxdiff(
        "train",
        "--out",
        out,
        "--epochs",
        "2",
        "--ensemble",
        "3",
        "--batch-size",
        "1000",
        "--quiet",
        "--eval-n",
        "0",
        "--no-figures",
    )
    s, state = run.restore_run(out)
    leaf = jax.tree_util.tree_leaves(state.params)[0]
    assert s.config.train.ensemble == 3 and leaf.shape[0] == 3  # one checkpoint, 3 members
    assert json.loads((out / "report.json").read_text())["steps"] == 3 * 2 * 10
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows[0]["member_losses"]) == 3

    # Each member equals the model trained alone from the member's key.
    keys = ensembles.member_keys(s.config.seed, 3)
    finals = []
    for i in (0, 2):
        alone = ensembles.single(keys[i], run._Init(s.apply_fn.model, 2), s.optimizer)
        alone, info = training.fit(
            alone,
            s.train_data,
            epochs=2,
            batch_size=1000,
            apply_fn=s.apply_fn,
            optimizer=s.optimizer,
            schedule=s.schedule,
        )
        got = ensembles.member(state, i)
        for a, b in zip(
            jax.tree_util.tree_leaves(alone.params),
            jax.tree_util.tree_leaves(got.params),
            strict=True,
        ):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(info["losses"], [r["member_losses"][i] for r in rows], rtol=1e-5)
        finals.append(np.asarray(jax.tree_util.tree_leaves(got.params)[0]))
    assert not np.allclose(finals[0], finals[1])  # the members really differ

    a, b = tmp_path / "m2.npy", tmp_path / "m0.npy"
    jaxdiff("sample", "--run", out, "--member", "2", "--out", a, "--n", "100", "--quiet")
    jaxdiff("sample", "--run", out, "--member", "0", "--out", b, "--n", "100", "--quiet")
    want = run.draw(s, run.model_params(s, state, 2), s.sample_key, 100)
    assert np.load(a).tobytes() == want.tobytes()
    assert not np.array_equal(np.load(a), np.load(b))
    bad = jaxdiff("sample", "--run", out, "--member", "3", "--out", a, check=False)
    assert bad.returncode == 2 and "--member must be in [0, 3) for this run, got 3" in bad.stderr
