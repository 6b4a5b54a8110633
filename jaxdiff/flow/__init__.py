"""The flow family: flow matching on the straight path (Lipman et al. 2023).

The path, its loss and the pairings of noise with data (:mod:`~jaxdiff.flow.flows`),
the ODE solvers and the flow's log-likelihood pieces (:mod:`~jaxdiff.flow.flow_solvers`),
and MeanFlow's average velocity (:mod:`~jaxdiff.flow.meanflow`). It imports the core
only, never the diffusion family (``pyproject.toml``'s contracts).
"""
