"""The diffusion family: DDPM (Ho et al. 2020) and its fast samplers.

Noise schedules (:mod:`~jaxdiff.ddpm.schedules`), the forward process
(:mod:`~jaxdiff.ddpm.diffusion`), the denoising loss (:mod:`~jaxdiff.ddpm.losses`), the
timestep grids (:mod:`~jaxdiff.ddpm.grids`), the reverse-chain solvers
(:mod:`~jaxdiff.ddpm.solvers`, :mod:`~jaxdiff.ddpm.fast_solvers`) and distillation into
few-step students (:mod:`~jaxdiff.ddpm.distillation`, :mod:`~jaxdiff.ddpm.students`).
It imports the core only, never the flow family (``pyproject.toml``'s contracts).
"""
