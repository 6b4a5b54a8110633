"""Data-parallel training over devices and hosts, with ``jax.sharding``.

One ``Mesh`` with a single ``"data"`` axis over the chosen devices; the training state and
the data set are replicated on every device, and inside each step the batch is
constrained to ``NamedSharding(mesh, P("data"))`` (``TrainSpec.batch_sharding``),
so each device computes the loss of its rows and XLA all-reduces the gradients. The code
path is ``fitting.fit_state`` itself: a sharded run differs from a single-device run only in
the order of float reductions.

Several hosts: call :func:`initialize` (``jax.distributed.initialize``) first on every
host; ``jax.devices()`` then lists the devices of all hosts and the same code runs
unchanged. The PRNG is ``threefry`` with partitionable draws (JAX's default), so a
batch's noise does not depend on how it is sharded.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxdiff.core import validate
from jaxdiff.engine import fitting, train_spec

__all__ = ["batch_sharding", "fit", "initialize", "make_mesh", "replicate"]

AXIS = "data"


def initialize(coordinator: str, num_processes: int, process_id: int) -> None:
    """Joins a multi-host run (``jax.distributed.initialize``): call it on every host,
    before any other JAX call, with the same coordinator ``host:port``."""
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise ValueError(
            f"process_id must be in [0, num_processes={num_processes}), got {process_id}"
        )
    jax.distributed.initialize(
        coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
    )


def make_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D mesh named ``"data"`` over the first ``num_devices`` devices (default: all)."""
    devices = jax.devices()
    if num_devices is None:
        num_devices = len(devices)
    validate.positive_int("num_devices", num_devices)
    if num_devices > len(devices):
        raise ValueError(
            f"num_devices must be at most the {len(devices)} devices present, got {num_devices}"
        )
    return Mesh(np.array(devices[:num_devices]), (AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Rows split over the mesh's ``"data"`` axis."""
    return NamedSharding(mesh, PartitionSpec(AXIS))


def replicate(tree, mesh: Mesh):
    """Every array leaf of ``tree`` as a global array replicated on every mesh device
    (built per device from the host copy, so it also works across hosts)."""
    sharding = NamedSharding(mesh, PartitionSpec())

    def put(leaf):
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            data = put(jax.random.key_data(leaf))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree_util.tree_map(put, tree)


def fit(
    state: train_spec.TrainState,
    data,
    *,
    mesh: Mesh,
    spec: train_spec.TrainSpec,
    labels=None,
    **kwargs,
):
    """``fitting.fit_state`` with each batch sharded over ``mesh``.

    ``spec.batch_size`` and the last, ragged batch (``len(data) % batch_size``) must divide
    evenly over the mesh's devices. Other arguments are those of ``fitting.fit_state``.
    """
    n_dev = mesh.devices.size
    n = np.shape(data)[0]
    batch_size = spec.batch_size
    for name, rows in (("batch_size", batch_size), ("the last batch", n % batch_size)):
        if rows % n_dev:
            raise ValueError(
                f"{name} must divide over {n_dev} devices, got {rows} rows; pick a batch "
                f"size (and data size) that is a multiple of {n_dev}"
            )
    state = replicate(state, mesh)
    data = replicate(np.asarray(data), mesh)
    if labels is not None:
        labels = replicate(np.asarray(labels), mesh)
    spec = dataclasses.replace(spec, batch_sharding=batch_sharding(mesh))
    return fitting.fit_state(state, data, spec=spec, labels=labels, **kwargs)
