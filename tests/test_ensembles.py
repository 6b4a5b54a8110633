"""Ensembles: K members in one vmapped program equal K models trained alone."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiff import ensembles, models, schedules, training


def test_each_member_equals_its_model_trained_alone():
    model = models.MLPDenoiser(width=16, num_steps=10)
    apply_fn, _ = models.functional(model, jax.random.key(0))

    def init_params(key):
        return model.init(key, jnp.zeros((1, 2)), jnp.zeros((1,), jnp.int32))["params"]

    opt = training.make_optimizer(1e-3, 1.0)
    sched = schedules.sigmoid_schedule(10)
    x = (
        np.asarray(jax.random.normal(jax.random.key(5), (192, 2))) * 0.1
    )  # 3 full batches, no ragged step
    keys = ensembles.member_keys(3, 2)
    kw = dict(epochs=2, batch_size=64, apply_fn=apply_fn, optimizer=opt, schedule=sched)
    states, info = ensembles.fit_ensemble(ensembles.init_ensemble(keys, init_params, opt), x, **kw)
    assert info["losses"].shape == (2, 2) and info["steps"] == 2 * 2 * 3
    finals = []
    for i in range(2):
        alone, alone_info = training.fit(ensembles.single(keys[i], init_params, opt), x, **kw)
        got = ensembles.member(states, i)
        for a, b in zip(
            jax.tree_util.tree_leaves(alone.params),
            jax.tree_util.tree_leaves(got.params),
            strict=True,
        ):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(alone_info["losses"], info["losses"][i], rtol=1e-5)
        finals.append(np.asarray(jax.tree_util.tree_leaves(got.params)[0]))
    assert not np.allclose(finals[0], finals[1])  # the members really differ
