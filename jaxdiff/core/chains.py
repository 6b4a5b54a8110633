"""What every sampling chain shares, whichever family runs it: the network's clock and
the scan over the chain's steps.

The network takes its time on the diffusion family's index scale ``0 … T-1`` (the
seed's step embeddings: :mod:`jaxdiff.core.models`); a flow maps its ``t ∈ [0, 1]`` onto
the same scale. Both families therefore need only ``T`` from the schedule a run was
trained with: :class:`Clock` names that need, and a
:class:`jaxdiff.ddpm.schedules.Schedule` satisfies it.
"""

from __future__ import annotations

from typing import Protocol

import jax
import jax.numpy as jnp

__all__ = ["Clock", "scan_steps"]


class Clock(Protocol):
    """Anything with ``num_steps``, the ``T`` of the network's time scale ``0 … T-1``."""

    @property
    def num_steps(self) -> int: ...


def scan_steps(step, x_T, pairs, trajectory):
    """``x ← step(x, *row)`` over the rows of ``pairs``, a tuple of arrays scanned together
    (``(t, t_prev)`` for DDIM's and the flow's fixed steps, ``(t,)`` for DDPM's steps and
    restart's levels); the states too with ``trajectory``."""

    def body(x, pair):
        x = step(x, *pair)
        return x, (x if trajectory else None)

    x_0, xs = jax.lax.scan(body, x_T, pairs)
    if trajectory:
        return jnp.concatenate([x_T[None], xs], axis=0)
    return x_0
