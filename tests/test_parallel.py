"""Data-parallel training over 4 fake CPU devices, in a subprocess (the device count is
fixed when JAX starts)."""

import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from conftest import ENV
from jax.sharding import PartitionSpec

from jaxdiff.core import apply, models
from jaxdiff.ddpm import schedules
from jaxdiff.engine import fitting, parallel, train_spec

SCRIPT = textwrap.dedent(
    """
    import dataclasses
    import jax, numpy as np
    from jaxdiff.engine import fitting, parallel, training
    from jaxdiff.engine import train_spec
    from jaxdiff.core import models
    from jaxdiff.core import apply
    from jaxdiff.ddpm import schedules

    assert jax.device_count() == 4, jax.devices()
    model = models.MLPDenoiser(config=models.NetworkConfig(width=32))
    apply_fn, params = apply.functional(model, jax.random.key(0))
    sched = schedules.sigmoid_schedule()
    opt = train_spec.make_optimizer(1e-3, 1.0)
    x = np.asarray(jax.random.normal(jax.random.key(2), (520, 2))) * 0.1  # 4 x 128 + 8
    spec = train_spec.TrainSpec(apply_fn, opt, batch_size=128)
    kw = dict(epochs=3, spec=spec, schedule=sched)
    state = train_spec.init_state(jax.random.key(1), params, opt)
    single, info1 = fitting.fit_state(state, x, **kw)
    mesh = parallel.make_mesh()
    sharded, info4 = parallel.fit(state, x, mesh=mesh, **kw)
    for a, b in zip(jax.tree_util.tree_leaves(single.params),
                    jax.tree_util.tree_leaves(sharded.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(info1["losses"], info4["losses"], rtol=1e-5)
    leaf = jax.tree_util.tree_leaves(sharded.params)[0]
    assert len(leaf.sharding.device_set) == 4 and leaf.sharding.is_fully_replicated
    # The training program itself constrains each batch to 4 row-shards.
    sharded_spec = dataclasses.replace(spec, batch_sharding=parallel.batch_sharding(mesh))
    program = jax.jit(training.epochs_program, static_argnames=("spec", "buffer"))
    text = program.lower(
        parallel.replicate(state, mesh), (parallel.replicate(x, mesh), None), 1, sched,
        sharded_spec, 1,
    ).as_text()
    assert '<@mesh, [{"data"}, {}]> : tensor<128x2xf32>' in text, "the batch is not sharded"
    assert '<@mesh, [{"data"}, {}]> : tensor<8x2xf32>' in text  # the ragged batch too
    try:
        parallel.fit(state, x[:515], mesh=mesh, **kw)
    except ValueError as err:
        assert "must divide over 4 devices" in str(err), err
    else:
        raise AssertionError("a ragged batch of 3 rows over 4 devices was accepted")
    print("OK")
    """
)


# slow: 19 s here; the two-process run (tests/runs/test_multiprocess.py) covers it too
@pytest.mark.slow
def test_sharded_training_matches_single_device_and_shards_the_batch():
    env = {**ENV, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]


def test_the_mesh_of_this_process_replicates_and_trains_as_one_device():
    """In this process (one CPU device): the mesh, its batch sharding, a replicated tree (a
    PRNG key kept a key), and ``parallel.fit`` equal to ``fitting.fit_state``; the device
    and process counts refused by name. The slow test above shards over four."""
    n_dev = jax.device_count()
    mesh = parallel.make_mesh()
    assert mesh.axis_names == ("data",) and mesh.devices.size == n_dev
    assert parallel.make_mesh(1).devices.size == 1
    assert parallel.batch_sharding(mesh).spec == PartitionSpec("data")
    with pytest.raises(ValueError, match=f"num_devices must be at most the {n_dev} devices"):
        parallel.make_mesh(n_dev + 1)
    with pytest.raises(ValueError, match="num_devices"):
        parallel.make_mesh(0)
    for processes, pid in ((2, 2), (2, -1), (0, 0)):
        with pytest.raises(ValueError, match="process_id must be in"):
            parallel.initialize("localhost:1", processes, pid)
    tree = {"key": jax.random.key(3), "w": np.arange(6.0, dtype=np.float32).reshape(2, 3)}
    put = parallel.replicate(tree, mesh)
    assert jax.dtypes.issubdtype(put["key"].dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(jax.random.key_data(put["key"]), jax.random.key_data(tree["key"]))
    np.testing.assert_array_equal(np.asarray(put["w"]), tree["w"])
    assert put["w"].sharding.is_fully_replicated

    model = models.MLPDenoiser(num_steps=10, config=models.NetworkConfig(width=8))
    apply_fn, params = apply.functional(model, jax.random.key(0))
    opt = train_spec.make_optimizer(1e-2, 1.0)
    spec = train_spec.TrainSpec(apply_fn, opt, batch_size=16)
    kw = dict(epochs=1, spec=spec, schedule=schedules.cosine_schedule(10))
    x = np.asarray(jax.random.normal(jax.random.key(2), (40, 2)), np.float32)
    state = train_spec.init_state(jax.random.key(1), params, opt)
    alone, info1 = fitting.fit_state(state, x, **kw)
    shared, info2 = parallel.fit(state, x, mesh=mesh, **kw)
    for a, b in zip(jax.tree_util.tree_leaves(alone.params),
                    jax.tree_util.tree_leaves(shared.params), strict=True):  # fmt: skip
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(info1["losses"], info2["losses"], rtol=1e-6)
    assert int(shared.step) == 3
