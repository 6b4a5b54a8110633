"""The content digest of a checkpoint: a SHA-256 of every leaf's dtype, shape and bytes
(:func:`digest`), written beside the state in one atomic save, and what differs between
a stored digest and a tree read back (:func:`mismatch`). Orbax does not checksum the
array bytes; :mod:`jaxdiff.runs.checkpoints` checks every restore with these."""

from __future__ import annotations

import collections
import hashlib

import jax
import numpy as np

__all__ = ["digest", "leaf_bytes", "mismatch"]


def leaf_bytes(x) -> np.ndarray:
    """An array leaf's bytes on the host (of a replicated array, its first copy's)."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        x = x.addressable_data(0)  # replicated state: every copy holds the same bytes
    return np.ascontiguousarray(np.asarray(x))


def digest(tree) -> dict[str, str]:
    """``{leaf path: "dtype shape sha256"}`` of every array leaf of ``tree``."""
    out = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        a = leaf_bytes(leaf)
        out[jax.tree_util.keystr(path)] = (
            f"{a.dtype.str} {a.shape} {hashlib.sha256(a.tobytes()).hexdigest()}"
        )
    return out


def mismatch(stored: dict[str, str], tree) -> str | None:
    """What differs between a stored digest and ``tree``'s, or None. Compared as
    multisets of leaf digests, so the check does not depend on how orbax names the leaves
    of a restored tree; a difference names the stored leaves whose bytes were not found."""
    found = collections.Counter(digest(tree).values())
    missing = []
    for name, value in stored.items():
        if found[value]:
            found[value] -= 1
        else:
            missing.append(name)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        return f"content digest mismatch in {missing[0]}{more}"
    if sum(found.values()):
        return "content digest mismatch: leaves the digest does not list"
    return None
