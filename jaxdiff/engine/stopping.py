"""Early stopping on held-out rows: the training objective on rows kept out of training,
and the rule that keeps the best parameters and stops when they stop improving.

A context model (a posterior ``p(θ | x)`` from simulations) can learn each training
row's ``θ`` from its unique ``x`` instead of the conditional: its held-out loss then
rises while its training loss still falls. Simulation-based inference trains with the
same guard (sbi's training loop: a tenth of the simulations held out, stopped after 20
epochs without improvement; Lueckmann et al. 2021, §3).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiff.core import validate
from jaxdiff.ddpm.losses import T_SAMPLERS, denoising_loss
from jaxdiff.ddpm.schedules import Schedule
from jaxdiff.engine.train_spec import TrainSpec
from jaxdiff.flow import flows, meanflow

__all__ = ["DRAWS", "PATIENCE", "Stopper", "held_out_loss"]

# Draws of (t, ε) per held-out row in one estimate of the loss.
DRAWS = 8
# Checks without a new best before training stops.
PATIENCE = 10


def _held_out_loss(
    params,
    x: jax.Array,
    cond,
    key: jax.Array,
    schedule: Schedule,
    spec: TrainSpec,
    draws: int = DRAWS,
) -> jax.Array:
    """The training objective of ``spec`` on held-out rows ``x`` (with their condition
    ``cond``, labels or a context, or None), averaged over ``draws`` draws of its times
    and noise from ``key``: no condition dropped, noise paired independently. The same
    ``key`` gives the same draws, so that estimates at different epochs compare."""
    cond_kw = {"labels": cond, "label_drop": 0.0}

    def one(k):
        if spec.objective == "ddpm":
            return denoising_loss(
                k,
                spec.apply_fn,
                params,
                schedule,
                x,
                target=spec.target,
                t_sampler=T_SAMPLERS[spec.t_sampler],
                **cond_kw,
            )
        loss = flows.flow_loss if spec.objective == "flow" else meanflow.meanflow_loss
        sampler = flows.TIME_SAMPLERS[spec.t_sampler]
        return loss(k, spec.apply_fn, params, schedule, x, t_sampler=sampler, **cond_kw)

    return jnp.mean(jax.vmap(one)(jax.random.split(key, draws)))


# Jitted here rather than by a decorator, so that mutation testing (mutmut, which skips
# decorated functions) reaches the body.
held_out_loss = jax.jit(_held_out_loss, static_argnames=("spec", "draws"))


class Stopper:
    """Keeps the parameters of the lowest held-out loss seen and says when ``patience``
    checks in a row have not improved on it.

    Example:
      >>> stop = Stopper()
      >>> for epoch in ...:
      ...     if stop.update(loss, params, epoch):
      ...         break
      >>> stop.params  # the best
    """

    def __init__(self, patience: int = PATIENCE):
        self.patience = validate.positive_int("patience", patience)
        self.best = float("inf")
        self.params = None
        self.epoch = None
        self.since = 0

    def update(self, loss: float, params, epoch: int) -> bool:
        """Records the loss after ``epoch``; True when training should stop."""
        loss = float(loss)
        if loss < self.best:
            self.best, self.params, self.epoch, self.since = loss, params, epoch, 0
        else:
            self.since += 1
        return self.since >= self.patience
