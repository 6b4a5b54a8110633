"""Checkpoints of a :class:`~jaxdiff.engine.train_spec.TrainState` with orbax-checkpoint.

Orbax writes each checkpoint into a temporary directory and renames it into place when
complete, so a crash mid-save leaves the previous checkpoints intact; the manager keeps
the latest few. The PRNG key is stored as its raw ``key_data`` and rewrapped on restore.
Nothing is pickled.

Orbax does not checksum the array bytes, so each checkpoint holds two items written in
one atomic save (``ocp.args.Composite``): ``state`` and ``digest``, a SHA-256 of every
leaf's dtype, shape and bytes. Every restore recomputes the digest of what it read; a
checkpoint whose bytes differ is named in one warning and the previous one is used.
Checkpoints written before the digest (one item, ``default``) still load, with a note.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import warnings

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxdiff.engine.train_spec import TrainState
from jaxdiff.runs import digests
from jaxdiff.runs.rundir import WriteError

__all__ = [
    "CheckpointError",
    "inspect",
    "latest_epoch",
    "read_params",
    "read_step",
    "restore",
    "restore_params",
    "save",
    "save_params",
]

# orbax logs every save at INFO through absl, and each file it fails to read at ERROR;
# jaxdiff reports every failure itself (one warning or one error), so only CRITICAL passes.
logging.getLogger("absl").setLevel(logging.CRITICAL)
# When one of orbax's concurrent writes fails (disk full, file-size limit), the others'
# failures are never retrieved, and asyncio logs each with a traceback when it collects
# them; jaxdiff has already named the failure in one line (WriteError).
logging.getLogger("asyncio").setLevel(logging.CRITICAL)


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


def _manager(directory, max_to_keep: int) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False
    )
    return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options)


def save(directory, state: TrainState, *, max_to_keep: int = 3) -> None:
    """Saves ``state`` under ``directory/<epoch>``, keeping the latest ``max_to_keep``.

    Raises:
      WriteError: if the checkpoint cannot be written (disk full, file-size limit,
        permission); the checkpoints saved before are intact.
    """
    epoch = int(np.max(digests.leaf_bytes(state.epoch)))
    tree = _to_tree(state)
    try:
        with _manager(directory, max_to_keep) as mngr:
            mngr.save(
                epoch,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(tree),
                    digest=ocp.args.JsonSave({"format": 1, "leaves": digests.digest(tree)}),
                ),
                force=True,
            )
            mngr.wait_until_finished()
    except Exception as err:  # orbax and tensorstore raise many types for I/O failures
        raise WriteError(
            f"cannot write the checkpoint of epoch {epoch} to {str(directory)!r} "
            f"({_first_line(err)}); the earlier checkpoints are intact"
        ) from err


def latest_epoch(directory) -> int | None:
    """The epoch of the newest checkpoint in ``directory``, or None if there is none."""
    return max(_steps(pathlib.Path(directory)), default=None)


def _param_shapes(tree) -> dict[str, tuple]:
    leaves = jax.tree_util.tree_leaves_with_path(tree["params"])
    return {jax.tree_util.keystr(path): tuple(np.shape(x)) for path, x in leaves}


def _item_dir(step_dir: pathlib.Path) -> pathlib.Path:
    """The state's folder: ``state`` (with a digest) or ``default`` (before digests)."""
    new = step_dir / "state"
    return (new if new.is_dir() else step_dir / "default").absolute()


def _stored_param_shapes(step_dir: pathlib.Path) -> dict[str, tuple]:
    with ocp.StandardCheckpointer() as ckptr:
        meta = ckptr.metadata(_item_dir(step_dir))
    tree = getattr(meta, "item_metadata", meta)
    if tree is None or not hasattr(tree, "get") or tree.get("params") is None:
        raise CheckpointError("its array metadata cannot be read")
    return _param_shapes(tree)


def read_step(step_dir: pathlib.Path, abstract) -> tuple[dict, str | None]:
    """The state tree of the checkpoint in ``step_dir`` read onto ``abstract`` (None: as
    stored, onto the first device), and why it must not be used (None: intact; else
    its content digest differs). Raises what orbax raises for unreadable files."""
    item = _item_dir(step_dir)
    with ocp.StandardCheckpointer() as ckptr:
        if abstract is None:
            # As stored, onto this process's first device: a checkpoint of another
            # topology (a multi-process run) cannot be restored without a target.
            meta = ckptr.metadata(item)
            abstract = _on_first_device(getattr(meta, "item_metadata", meta))
        tree = ckptr.restore(item, abstract)
    if item.name == "default":
        return tree, None
    stored = _read_digest(step_dir)
    return tree, digests.mismatch(stored, tree)


def _read_digest(step_dir: pathlib.Path) -> dict[str, str]:
    with ocp.Checkpointer(ocp.JsonCheckpointHandler()) as ckptr:
        return dict(ckptr.restore((step_dir / "digest").absolute())["leaves"])


_NOTED: set[str] = set()


def _note_legacy(step_dir: pathlib.Path) -> None:
    if str(step_dir) not in _NOTED:
        _NOTED.add(str(step_dir))
        warnings.warn(
            f"checkpoint {str(step_dir)!r} has no content digest (written by an earlier "
            "jaxdiff); loaded without verifying its bytes",
            stacklevel=3,
        )


def _on_first_device(tree):
    """``tree``'s shapes and dtypes, placed on this process's first device."""
    one = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    return jax.tree_util.tree_map(
        lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=one), tree
    )


# A saved model's parameters (orbax) and the digest of their bytes, in its folder.
PARAMS, PARAMS_DIGEST = "params", "params_digest.json"


def save_params(folder, params) -> None:
    """Writes ``params`` into ``folder/params`` (orbax) with ``folder/params_digest.json``
    (:func:`jaxdiff.runs.digests.digest`), for :func:`read_params`."""
    folder = pathlib.Path(folder)
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save((folder / PARAMS).absolute(), params)
    (folder / PARAMS_DIGEST).write_text(json.dumps(digests.digest(params)))


def read_params(folder, params_like) -> dict:
    """The parameters :func:`save_params` wrote in ``folder``, onto the first device in
    the shapes of ``params_like``, checked against their digest.

    Raises:
      CheckpointError: if they cannot be read or their bytes differ from the digest.
    """
    folder = pathlib.Path(folder)
    try:
        with ocp.StandardCheckpointer() as ckptr:
            params = ckptr.restore((folder / PARAMS).absolute(), _on_first_device(params_like))
        stored = json.loads((folder / PARAMS_DIGEST).read_text())
    except Exception as err:  # orbax raises many types for damaged files
        raise CheckpointError(
            f"cannot read the parameters in {str(folder)!r}: {_first_line(err)}"
        ) from err
    problem = digests.mismatch(stored, params)
    if problem:
        raise CheckpointError(f"the parameters in {str(folder)!r} are damaged: {problem}")
    return params


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]


def restore(directory, template: TrainState) -> TrainState:
    """Restores the newest readable checkpoint into the structure of ``template``.

    A checkpoint that cannot be read (truncated, corrupted) or whose bytes differ from its
    digest is skipped and the next newest tried; the skipped ones are named in one
    warning when an intact one is found. The folder is listed again after each skip, so
    that a training writing into it meanwhile (saving newer checkpoints, deleting the
    oldest) neither hides its newer ones nor makes the deleted ones count as damaged.

    Raises:
      CheckpointError: if ``directory`` holds no checkpoint, if the checkpoints were
        written for a model of other sizes, or if none of them can be read.
    """
    target_tree = _to_tree(template)
    abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, target_tree)
    tree, _ = _newest_intact(directory, _param_shapes(target_tree), abstract)
    return _from_tree(tree, template)


def restore_params(directory, params_like) -> tuple[dict, int]:
    """``(parameters, epoch)`` of the newest intact checkpoint, as :func:`restore` finds
    it: the EMA parameters where the run keeps them, else the trained ones. Reads the
    stored tree as it is (no optimiser is needed to describe it); ``params_like`` (arrays
    or ``jax.ShapeDtypeStruct``) gives the shapes the model expects.

    Raises:
      CheckpointError: as :func:`restore`.
    """
    wanted = _param_shapes({"params": params_like})
    tree, step = _newest_intact(directory, wanted, None)
    return tree.get("ema_params", tree["params"]), step


def _newest_intact(directory, wanted: dict[str, tuple], abstract) -> tuple[dict, int]:
    """The stored tree and epoch of the newest intact checkpoint (see :func:`restore`),
    read onto ``abstract`` (None: as stored), after checking its parameters' shapes
    against ``wanted``."""
    path = pathlib.Path(directory)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory {str(path)!r} does not exist")
    steps = _steps(path)
    reasons, tried = [], set()
    while steps:
        step = steps.pop(0)
        tried.add(step)
        step_dir = path / str(step)
        try:
            stored = _stored_param_shapes(step_dir)
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
                tree, reason = read_step(step_dir, abstract)
                if reason is None:
                    if _item_dir(step_dir).name == "default":
                        _note_legacy(step_dir)
                    if reasons:
                        warnings.warn(
                            f"damaged checkpoint in {str(path)!r} ({'; '.join(reasons)}); "
                            f"using epoch {step}",
                            stacklevel=3,
                        )
                    return tree, step
            except Exception as err:  # orbax raises many types for damaged files
                reason = _first_line(err)
        if step_dir.exists():
            reasons.append(f"epoch {step}: {reason[:160]}")
        # else not damaged: a training in another process saved newer checkpoints and
        # deleted this one (and the older ones) while it was read. Either way the folder
        # is listed again, so that checkpoints saved meanwhile are tried first.
        steps = [s for s in _steps(path) if s not in tried]
    if not reasons:
        raise CheckpointError(f"no checkpoint found in {str(path)!r}")
    raise CheckpointError(f"no intact checkpoint in {str(path)!r}: " + "; ".join(reasons))


def _steps(path: pathlib.Path) -> list[int]:
    """The finished checkpoints' epochs, newest first.

    Read from the folder's names alone: a ``CheckpointManager`` would also read every
    step's metadata, and fail when a training in another process deletes its oldest
    checkpoint in between (``max_to_keep``). Empty where there is no folder (orbax 0.10
    raises there, and every version does for a file)."""
    if not path.is_dir():
        return []
    # orbax also takes "<anything>_<digits>" for a step; jaxdiff's are "<epoch>".
    finished = ocp.utils.checkpoint_steps_paths(path)
    return sorted((int(p.name) for p in finished if p.name.isdigit()), reverse=True)


def inspect(directory) -> list[tuple[int, str, str]]:
    """Every checkpoint in ``directory``, newest first: ``(epoch, status, detail)`` with
    status ``"intact"``, ``"damaged"`` or ``"unverified"`` (written before digests). The
    stored trees are read as they are, without a template."""
    path = pathlib.Path(directory)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint directory {str(path)!r} does not exist")
    out = []
    for step in _steps(path):
        step_dir = path / str(step)
        try:
            _, reason = read_step(step_dir, None)
        except Exception as err:  # orbax raises many types for damaged files
            if step_dir.exists():  # else deleted meanwhile by a training (see restore)
                out.append((step, "damaged", _first_line(err)))
            continue
        if reason is not None:
            out.append((step, "damaged", reason))
        elif _item_dir(step_dir).name == "default":
            out.append((step, "unverified", "no content digest (an earlier jaxdiff)"))
        else:
            out.append((step, "intact", f"{len(_read_digest(step_dir))} leaves verified"))
    return out
