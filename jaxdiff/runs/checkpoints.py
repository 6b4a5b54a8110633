"""Checkpoints of a :class:`~jaxdiff.training.TrainState` with orbax-checkpoint.

Orbax writes each checkpoint into a temporary directory and renames it into place when
complete, so a crash mid-save leaves the previous checkpoints intact; the manager keeps
the latest few. The PRNG key is stored as its raw ``key_data`` and rewrapped on restore.
Nothing is pickled.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import warnings

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxdiff.training import TrainState

__all__ = ["CheckpointError", "latest_epoch", "restore", "save"]

# orbax logs every save at INFO through absl; a training loop does not need that.
logging.getLogger("absl").setLevel(logging.ERROR)


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit the model."""


def _to_tree(state: TrainState) -> dict:
    d = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    d["key"] = jax.random.key_data(state.key)
    if d["ema_params"] is None:
        del d["ema_params"]
    return d


def _from_tree(tree: dict, template: TrainState) -> TrainState:
    tree = dict(tree)
    tree["key"] = jax.random.wrap_key_data(tree["key"], impl=jax.random.key_impl(template.key))
    tree.setdefault("ema_params", None)
    return TrainState(**tree)


def _manager(directory, max_to_keep: int | None = 3, create: bool = True) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=create, enable_async_checkpointing=False
    )
    return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options)


def save(directory, state: TrainState, *, max_to_keep: int = 3) -> None:
    """Saves ``state`` under ``directory/<epoch>``, keeping the latest ``max_to_keep``."""
    with _manager(directory, max_to_keep) as mngr:
        mngr.save(
            int(np.max(np.asarray(state.epoch))),
            args=ocp.args.StandardSave(_to_tree(state)),
            force=True,
        )
        mngr.wait_until_finished()


def latest_epoch(directory) -> int | None:
    """The epoch of the newest checkpoint in ``directory``, or None if there is none."""
    path = pathlib.Path(directory)
    if not path.is_dir():
        return None
    with _manager(path, create=False) as mngr:
        return mngr.latest_step()


def _param_shapes(tree) -> dict[str, tuple]:
    leaves = jax.tree_util.tree_leaves_with_path(tree["params"])
    return {jax.tree_util.keystr(path): tuple(np.shape(x)) for path, x in leaves}


def _stored_param_shapes(step_dir: pathlib.Path) -> dict[str, tuple]:
    with ocp.StandardCheckpointer() as ckptr:
        meta = ckptr.metadata((step_dir / "default").absolute())
    tree = getattr(meta, "item_metadata", meta)
    return _param_shapes(tree)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]


def restore(directory, template: TrainState) -> TrainState:
    """Restores the newest readable checkpoint into the structure of ``template``.

    A checkpoint that cannot be read (truncated or corrupted) is skipped with a one-line
    warning and the previous one is tried.

    Raises:
      CheckpointError: if ``directory`` holds no checkpoint, if the checkpoints were
        written for a model of other sizes, or if none of them can be read.
    """
    path = pathlib.Path(directory)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory {str(path)!r} does not exist")
    target_tree = _to_tree(template)
    wanted = _param_shapes(target_tree)
    abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target_tree)
    with _manager(path, create=False) as mngr:
        steps = sorted(mngr.all_steps(), reverse=True)
        if not steps:
            raise CheckpointError(f"no checkpoint found in {str(path)!r}")
        reasons = []
        for step in steps:
            try:
                stored = _stored_param_shapes(path / str(step))
            except Exception as err:  # orbax raises many types for damaged files
                stored, reason = None, _first_line(err)
            if stored is not None and stored != wanted:
                diff = next((k for k in wanted if stored.get(k) != wanted[k]), None)
                detail = (
                    f"{diff} is {stored.get(diff)} there, {wanted[diff]} here"
                    if diff
                    else f"it holds {sorted(stored)}"
                )
                raise CheckpointError(
                    f"checkpoint at epoch {step} in {str(path)!r} was written for another "
                    f"model ({detail}); check config.json"
                )
            if stored is not None:
                try:
                    tree = mngr.restore(step, args=ocp.args.StandardRestore(abstract))
                    return _from_tree(tree, template)
                except Exception as err:  # orbax raises many types for damaged files
                    reason = _first_line(err)
            reasons.append(f"epoch {step}: {reason}")
            if step != steps[-1]:
                warnings.warn(
                    f"checkpoint at epoch {step} in {str(path)!r} is unreadable ({reason[:120]}); "
                    "trying the previous one",
                    stacklevel=2,
                )
    raise CheckpointError(f"no readable checkpoint in {str(path)!r}: " + "; ".join(reasons))
