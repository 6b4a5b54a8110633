"""Every PRNG key and numpy seed of a run, derived from its one seed, in one place."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

__all__ = ["RunKeys"]

# Offsets of the evaluation draws from the run's seed: never the training draw's seed.
_REFERENCE, _FLOOR, _HELD_OUT, _LABELS = 1_000_001, 2_000_003, 3_000_005, 4_000_037


@dataclasses.dataclass(frozen=True)
class RunKeys:
    """The keys and seeds a run with seed ``seed`` uses, each named for what it drives.

    ``init``, ``train`` and ``sample`` are ``split(key(seed), 3)``. The data set is drawn
    (and a fixed set split) with ``seed`` itself, as the seed's ``make_s_curve`` call.
    Member ``i`` of an ensemble starts from ``fold_in(key(seed), i)``. Evaluation draws a
    reference and a floor from seeds offset far from ``seed``; its projections and its
    variational-bound draws use fixed keys, so that the scores of different runs compare.
    """

    seed: int
    # The seed of the evaluation draws when they are asked for apart (``jaxdiff eval
    # --seed``); None: the run's.
    eval_seed: int | None = None

    @property
    def _eval(self) -> int:
        return self.seed if self.eval_seed is None else self.eval_seed

    @property
    def data(self) -> int:
        """numpy seed of the training data draw (and of a fixed set's order)."""
        return self.seed

    @property
    def split(self) -> int:
        """numpy seed of a fixed set's held-out split."""
        return self.seed

    def _three(self):
        return jax.random.split(jax.random.key(self.seed), 3)

    @property
    def init(self) -> jax.Array:
        """The model's initial parameters."""
        return self._three()[0]

    @property
    def train(self) -> jax.Array:
        """Training: shuffles and noise, folded with the epoch."""
        return self._three()[1]

    @property
    def sample(self) -> jax.Array:
        """The run's own samples and figures."""
        return self._three()[2]

    def members(self, k: int) -> jax.Array:
        """The ``k`` ensemble members' keys, stacked: member ``i``'s is
        ``fold_in(key(seed), i)``, and its init and training keys come from it."""
        base = jax.random.key(self.seed)
        return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(k))

    @property
    def forward_figure(self) -> jax.Array:
        """The forward-process figure's noise."""
        return jax.random.key(self.seed + 1)

    @property
    def eval_reference(self) -> int:
        """numpy seed of the fresh data draw that samples are scored against."""
        return self._eval + _REFERENCE

    @property
    def eval_floor(self) -> int:
        """numpy seed of the second fresh draw: the floor, what perfect samples score."""
        return self._eval + _FLOOR

    @property
    def eval_held_out(self) -> int:
        """numpy seed of the fresh points whose likelihood is computed."""
        return self._eval + _HELD_OUT

    @property
    def sample_labels(self) -> int:
        """numpy seed of the classes given to a conditional run's own samples."""
        return self.seed + _LABELS

    @property
    def eval_projections(self) -> jax.Array:
        """Sliced Wasserstein's directions: fixed, the same for every run."""
        return jax.random.key(0)

    @property
    def eval_vlb(self) -> jax.Array:
        """The variational bound's forward draws: fixed, the same for every run."""
        return jax.random.key(1)

    @property
    def eval_probes(self) -> jax.Array:
        """The Hutchinson probes of the held-out likelihood: fixed, the same for every run."""
        return jax.random.key(2)

    @property
    def held_out_loss(self) -> jax.Array:
        """The draws of the held-out loss that stops a context model's training: fixed
        for the run, so that its checks compare."""
        return jax.random.key(3)
