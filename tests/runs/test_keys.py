"""Every key and seed of a run, by the documented contract."""

import jax
import numpy as np

from jaxdiff.runs.keys import RunKeys


def _data(key):
    return np.asarray(jax.random.key_data(key))


def test_training_keys_are_a_three_way_split_of_the_seed():
    keys = RunKeys(1234)
    init, train, sample = jax.random.split(jax.random.key(1234), 3)
    assert np.array_equal(_data(keys.init), _data(init))
    assert np.array_equal(_data(keys.train), _data(train))
    assert np.array_equal(_data(keys.sample), _data(sample))
    assert keys.data == keys.split == 1234


def test_members_fold_the_seed_with_their_index():
    members = RunKeys(7).members(3)
    for i in range(3):
        want = jax.random.fold_in(jax.random.key(7), i)
        assert np.array_equal(_data(members[i]), _data(want))


def test_evaluation_draws_never_reuse_the_training_draw():
    for seed in (0, 1234, 10**6):
        keys = RunKeys(seed)
        seeds = [keys.data, keys.eval_reference, keys.eval_floor, keys.eval_held_out]
        assert len({*seeds, keys.sample_labels}) == 5
    # Fixed keys for the metrics: two runs' scores use the same projections.
    assert np.array_equal(_data(RunKeys(1).eval_projections), _data(RunKeys(2).eval_projections))
