"""What a sampler is: the methods by name, and the one frozen, checked object that says
how to sample (:class:`SamplerSettings`, what a user chooses; :class:`SamplerOptions`,
the settings plus the model's target and the resolved grid; hashable, so the one static
argument of :func:`jaxdiff.engine.samplers.sample`).

The seven diffusion chains are :mod:`jaxdiff.ddpm.solvers`' and
:mod:`jaxdiff.ddpm.fast_solvers`'; a flow model's are :mod:`jaxdiff.flow.flow_solvers`'
(the target ``"velocity"`` picks them).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable

from jaxdiff.core import validate
from jaxdiff.ddpm import diffusion, fast_solvers, grids, solvers
from jaxdiff.ddpm.schedules import Schedule
from jaxdiff.flow import flow_solvers, flows

__all__ = [
    "CHAINS",
    "DEFAULT_SPACING",
    "FLOW_METHODS",
    "METHODS",
    "TARGETS",
    "VARIANCES",
    "SamplerOptions",
    "SamplerSettings",
]


CHAINS: dict[str, Callable] = {
    "ddpm": solvers.ddpm_chain,
    "ddim": solvers.ddim_chain,
    "dpm-solver": fast_solvers.dpm_solver_chain,
    "sde-dpm-solver": fast_solvers.sde_dpm_solver_chain,
    "dpm-solver-3m": fast_solvers.dpm_solver_3m_chain,
    "heun": fast_solvers.heun_chain,
    "restart": solvers.restart_chain,
}


# A flow model's samplers (jaxdiff.flow.flow_solvers): "heun" is Heun's method on whichever
# ODE the model has.
FLOW_METHODS = tuple(flow_solvers.CHAINS)


METHODS = (*CHAINS, *(m for m in FLOW_METHODS if m not in CHAINS))


# What a network predicts: a diffusion model's eps, x0 or v, or a flow model's velocity.
TARGETS = (*diffusion.TARGETS, flows.TARGET)


VARIANCES = ("beta", "beta_tilde")


# The spacing a method takes when none is given.
DEFAULT_SPACING = {"heun": "karras", "restart": "geometric"}


@dataclasses.dataclass(frozen=True)
class SamplerSettings:
    """The sampler a user chooses, checked when built (hashable). A run's ``config.json``
    holds them (its ``sample`` section, ``runs.config.SampleConfig``, adds only the number
    of samples); :class:`SamplerOptions` adds what the model fixes.

    Attributes:
      method: ``"ddpm"`` (ancestral over every step, Ho et al. 2020 Alg. 2; the seed),
        ``"ddim"`` (Song et al. 2021, eq. 12), ``"dpm-solver"`` (DPM-Solver++(2M), Lu et
        al. 2022), ``"sde-dpm-solver"`` (SDE-DPM-Solver++(2M)), ``"dpm-solver-3m"``
        (DPM-Solver++(3M)), ``"heun"`` (Karras et al. 2022, Alg. 2) or ``"restart"`` (a
        jump to clean data from each grid level, restarted with fresh noise: the sampler
        of students distilled by ``distillation.distill_endpoints``). A flow model's
        (:mod:`jaxdiff.flow.flow_solvers`): ``"euler"``, ``"midpoint"``, ``"heun"`` (Heun's
        method on the flow ODE) or ``"adaptive"`` (diffrax's Tsit5).
      steps: grid points ``K ≤ T`` (None: all ``T``); ddpm always takes all ``T``. Every
        method evaluates the network ``K`` times, but heun ``2K - 1``. A flow model's
        ``K`` equal steps of ``[0, 1]`` (None: ``T``): Euler ``K`` evaluations, midpoint
        and Heun ``2K``; adaptive chooses its own steps.
      spacing: which K of the T steps (:func:`jaxdiff.ddpm.grids.timesteps`): ``"trailing"``,
        ``"leading"``, ``"linspace"``, ``"logsnr"``, ``"karras"`` or ``"geometric"``; None:
        the method's own (karras for heun, geometric for restart, trailing for the others);
        flow samplers take none.
      eta: DDIM's noise scale in ``[0, 1]`` (0: deterministic; 1: the posterior variance
        of the grid's chain).
      variance: DDPM's ``σ_t²``: ``"beta"`` (the seed) or ``"beta_tilde"`` (eq. 7).
      last_step_noise: DDPM adds noise at ``t = 0`` (the seed does; Alg. 2 does not).
      guidance: classifier-free guidance weight w (Ho & Salimans 2022, eq. 6), used with
        ``labels``; 0 samples the conditional model as it is, without the ∅ pass.
      churn: heun's ``S_churn`` (0: the deterministic ODE).
    """

    method: str = "ddpm"
    steps: int | None = None
    spacing: str | None = None
    eta: float = 0.0
    variance: str = "beta"
    last_step_noise: bool = True
    guidance: float = 0.0
    churn: float = 0.0

    def __post_init__(self):
        validate.one_of("method", self.method, METHODS)
        validate.one_of("variance", self.variance, VARIANCES)
        if self.spacing is not None:
            validate.one_of("spacing", self.spacing, grids.SPACINGS)
        if self.steps is not None:
            validate.positive_int("steps", self.steps)
        validate.number_in("eta", self.eta, 0.0, 1.0)
        validate.finite_number("guidance", self.guidance)
        validate.number_in("churn", self.churn, 0.0, math.inf)


@dataclasses.dataclass(frozen=True)
class SamplerOptions(SamplerSettings):
    """How a reverse chain runs: the :class:`SamplerSettings` and what the model fixes;
    checked when built, hashable (a static argument).

    Attributes:
      target: what the network predicts: ``"eps"``, ``"x0"`` or ``"v"`` (a diffusion
        model), or ``"velocity"`` (a flow model: then ``method`` is a flow sampler).
      grid: the timesteps themselves, decreasing (None: from ``steps`` and ``spacing``,
        set by :meth:`for_schedule`).
    """

    target: str = "eps"
    grid: tuple[int, ...] | None = None

    def __post_init__(self):
        super().__post_init__()
        validate.one_of("target", self.target, TARGETS)
        flow = self.target == flows.TARGET
        if flow and self.method not in FLOW_METHODS:
            raise ValueError(
                f"method must be one of {FLOW_METHODS} for a flow model, got {self.method!r}"
            )
        if not flow and self.method not in CHAINS:
            raise ValueError(
                f"method must be one of {tuple(CHAINS)} for a diffusion model, "
                f"got {self.method!r} (a flow model's sampler)"
            )
        if flow and (self.spacing is not None or self.grid is not None):
            raise ValueError(
                f"spacing is for diffusion samplers; a flow model's steps are equal, got "
                f"spacing={self.spacing!r}"
            )
        if self.grid is not None:
            g = tuple(int(t) for t in self.grid)
            if not g or any(b >= a for a, b in itertools.pairwise(g)) or g[-1] < 0:
                raise ValueError(f"grid must be strictly decreasing steps >= 0, got {self.grid}")
            object.__setattr__(self, "grid", g)

    def replace(self, **changes) -> SamplerOptions:
        """These options with ``changes`` (None: unchanged). A new ``method`` without
        ``steps`` takes all ``T`` steps (a 20-step dpm-solver run sampled with ``ddpm``);
        a change of method, steps or spacing drops a resolved grid."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "method" in changes and "steps" not in changes:
            changes["steps"] = None if changes["method"] == "ddpm" else self.steps
        if {"method", "steps", "spacing"} & set(changes) and "grid" not in changes:
            changes["grid"] = None
        return dataclasses.replace(self, **changes)

    @property
    def evaluations(self) -> int | None:
        """Network evaluations per sample of these resolved options (``steps`` set):
        ``K`` grid points or steps, but a diffusion model's heun ``2K - 1`` and a flow's
        midpoint and heun ``2K``; None for adaptive, which chooses its own (guidance
        evaluates the network on twice the rows, not twice per row)."""
        if self.steps is None:
            raise ValueError("evaluations needs resolved options: call for_schedule first")
        if self.method == "adaptive":
            return None
        if self.target == flows.TARGET:
            return flow_solvers.EVALUATIONS_PER_STEP[self.method] * self.steps
        return 2 * self.steps - 1 if self.method == "heun" else self.steps

    def with_evaluations(self, nfe: int) -> SamplerOptions:
        """These options with the ``steps`` that take ``nfe`` network evaluations per
        sample (the inverse of :attr:`evaluations`); one line naming ``nfe`` when the
        method cannot spend exactly that many."""
        nfe = validate.positive_int("nfe", nfe)
        if self.method == "adaptive":
            raise ValueError(
                f"nfe is chosen by the adaptive solver itself, got nfe={nfe} with method "
                "'adaptive'; use euler, midpoint or heun for a fixed budget"
            )
        if self.method == "ddpm":
            raise ValueError(
                f"nfe is for the few-step samplers; method 'ddpm' evaluates every one of the "
                f"T steps, got nfe={nfe}"
            )
        flow = self.target == flows.TARGET
        per_step = flow_solvers.EVALUATIONS_PER_STEP[self.method] if flow else 1
        if flow and nfe % per_step:
            raise ValueError(
                f"nfe must be even for method {self.method!r} (2 evaluations a step), got {nfe}"
            )
        if not flow and self.method == "heun" and nfe % 2 == 0:
            raise ValueError(
                f"nfe must be odd for method 'heun' (2K - 1 evaluations for K grid points), "
                f"got {nfe}"
            )
        steps = (nfe + 1) // 2 if (not flow and self.method == "heun") else nfe // per_step
        return self.replace(steps=steps)

    def at_budget(self, nfe: int) -> SamplerOptions:
        """:meth:`with_evaluations` for a budget named without a method: where this method
        cannot spend ``nfe`` exactly, one that can. A flow's Euler for an odd budget (its
        midpoint and heun take 2 a step; Euler is the best measured at 1, docs/flows.md),
        its midpoint for an even one in place of adaptive; a diffusion model's ancestral
        DDIM (η = 1) in place of the full chain and of heun's even budgets."""
        nfe = validate.positive_int("nfe", nfe)
        method = self.method
        if self.target == flows.TARGET:
            if method == "adaptive":
                method = "euler" if nfe % 2 else "midpoint"
            elif nfe % flow_solvers.EVALUATIONS_PER_STEP[method]:
                method = "euler"
        elif method == "ddpm" or (method == "heun" and nfe % 2 == 0):
            return self.replace(method="ddim", eta=1.0).with_evaluations(nfe)
        opts = self if method == self.method else self.replace(method=method)
        return opts.with_evaluations(nfe)

    def for_schedule(self, schedule: Schedule) -> SamplerOptions:
        """These options resolved for ``schedule``: ``steps`` and ``spacing`` explicit and
        the ``grid`` computed (from the schedule's values for logsnr and karras, so call
        this outside ``jit``); options already resolved are checked and returned."""
        num_steps = schedule.num_steps
        if self.target == flows.TARGET:
            return dataclasses.replace(self, steps=num_steps if self.steps is None else self.steps)
        spacing = self.spacing or DEFAULT_SPACING.get(self.method, "trailing")
        if self.grid is not None:
            if self.grid[0] >= num_steps:
                raise ValueError(f"grid must hold steps below {num_steps}, got {self.grid}")
            return dataclasses.replace(self, steps=len(self.grid), spacing=spacing)
        steps = num_steps if self.steps is None else self.steps
        if self.method == "ddpm" and steps != num_steps:
            raise ValueError(
                f"steps must be {num_steps} (or None) for method 'ddpm', got {self.steps!r}; "
                "use method 'ddim' or 'dpm-solver' for fewer steps"
            )
        abar = schedule.alphas_cumprod if spacing in ("logsnr", "karras") else None
        grid = grids.for_method(self.method, num_steps, steps, spacing, abar)
        return dataclasses.replace(self, steps=steps, spacing=spacing, grid=tuple(grid.tolist()))
