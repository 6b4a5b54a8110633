"""K models in one vmapped program: each member is the model trained alone from its key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiff.core import apply, models
from jaxdiff.ddpm import schedules
from jaxdiff.engine import ensembles, fitting, train_spec


# slow: 28 s here each (two members and their twins trained); .ci/run runs it
@pytest.mark.slow
@pytest.mark.parametrize("objective", ["ddpm", "flow-ot"])
def test_members_equal_models_trained_alone(objective):
    """Flow OT too: the epoch's one host call of assignments (flows.ot_pairs) then
    carries the members' batches together."""
    model = models.MLPDenoiser(num_steps=20, config=models.NetworkConfig(width=16))
    apply_fn, _ = apply.functional(model, jax.random.key(0))

    @jax.jit
    def init_params(key):
        return model.init(key, jnp.zeros((1, 2)), jnp.zeros((1,), jnp.int32))["params"]

    opt = train_spec.make_optimizer(1e-3, 1.0)
    flow = {"objective": "flow", "pairing": "ot"} if objective == "flow-ot" else {}
    spec = train_spec.TrainSpec(apply_fn, opt, batch_size=32, **flow)
    sched = schedules.cosine_schedule(20)
    x = np.asarray(jax.random.normal(jax.random.key(5), (100, 2)), np.float32)
    seeds = (11, 12)
    keys = jax.random.wrap_key_data(
        jnp.stack([jax.random.key_data(jax.random.key(k)) for k in seeds])
    )
    states = ensembles.init_ensemble(keys, init_params, opt)
    states, info = ensembles.fit_ensemble(states, x, spec=spec, schedule=sched, epochs=3)
    assert info["losses"].shape == (2, 3) and info["steps"] == 2 * 3 * 4
    leaves = jax.tree_util.tree_leaves
    for i, k in enumerate(seeds):
        # The documented contract, built here by hand: split(key) = (init, train).
        init_key, train_key = jax.random.split(jax.random.key(k))
        alone = train_spec.init_state(train_key, init_params(init_key), opt)
        alone, alone_info = fitting.fit_state(alone, x, spec=spec, schedule=sched, epochs=3)
        got = ensembles.member(states, i)
        for a, b in zip(leaves(alone.params), leaves(got.params), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(alone_info["losses"], info["losses"][i], rtol=1e-5)
    first = [leaves(ensembles.member(states, i).params)[0] for i in range(2)]
    assert not np.allclose(first[0], first[1])  # the members really differ
    # More epochs for every member at once (the program fit_ensemble compiled).
    more, losses = ensembles.train_epochs(
        states, jnp.asarray(x), 2, spec=spec, schedule=sched, buffer=25
    )
    assert losses.shape == (2, 2) and np.all(np.isfinite(losses))
    assert np.asarray(more.epoch).tolist() == [5, 5]


def test_two_members_are_two_models_trained_alone_in_one_epoch():
    """The fast tier's ensemble check (the slow one above trains longer, and a flow): one
    epoch of two members, each its key's model trained alone; a member is its slice."""
    model = models.MLPDenoiser(num_steps=10, config=models.NetworkConfig(width=8))
    apply_fn, _ = apply.functional(model, jax.random.key(0))

    def init_params(key):
        return model.init(key, jnp.zeros((1, 2)), jnp.zeros((1,), jnp.int32))["params"]

    opt = train_spec.make_optimizer(1e-2, 1.0)
    spec = train_spec.TrainSpec(apply_fn, opt, batch_size=16)
    sched = schedules.cosine_schedule(10)
    x = np.asarray(jax.random.normal(jax.random.key(5), (40, 2)), np.float32)
    keys = jax.random.split(jax.random.key(9), 2)
    leaves = jax.tree_util.tree_leaves
    states = ensembles.init_ensemble(keys, init_params, opt)
    assert np.asarray(states.epoch).tolist() == [0, 0] and states.ema_params is None
    assert ensembles.single(keys[0], init_params, opt).ema_params is None
    averaged = ensembles.init_ensemble(keys, init_params, opt, ema=True)
    for a, b in zip(leaves(averaged.ema_params), leaves(averaged.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    one = ensembles.single(keys[0], init_params, opt, ema=True)
    for a, b in zip(leaves(one.ema_params), leaves(one.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    states, info = ensembles.fit_ensemble(states, x, spec=spec, schedule=sched, epochs=1)
    assert info["losses"].shape == (2, 1) and info["steps"] == 2 * 1 * 3
    for i in range(2):
        init_key, train_key = jax.random.split(keys[i])
        by_hand = train_spec.init_state(train_key, init_params(init_key), opt)
        alone = ensembles.single(keys[i], init_params, opt)
        # The documented contract: split(key) = (init, train).
        np.testing.assert_array_equal(
            jax.random.key_data(by_hand.key), jax.random.key_data(alone.key)
        )
        for a, b in zip(leaves(by_hand.params), leaves(alone.params), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        alone, alone_info = fitting.fit_state(alone, x, spec=spec, schedule=sched, epochs=1)
        got = ensembles.member(states, i)
        assert int(got.epoch) == 1 and int(got.step) == int(alone.step) == 3
        for a, b in zip(leaves(alone.params), leaves(got.params), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(alone_info["losses"], info["losses"][i], rtol=1e-5)
    with pytest.raises(ValueError, match="num_epochs"):
        ensembles.train_epochs(states, jnp.asarray(x), 0, spec=spec, schedule=sched)
