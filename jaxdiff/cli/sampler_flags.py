"""The flags that choose a run's sampler and what it draws (``jaxdiff sample`` and
``jaxdiff export``), their choices read from the library's own tuples; the training
flags are in :mod:`~jaxdiff.cli.flags`, every other command's in
:mod:`~jaxdiff.cli.parser`."""

from __future__ import annotations

import argparse
import math

from jaxdiff.cli import flags
from jaxdiff.core import validate
from jaxdiff.ddpm import grids
from jaxdiff.engine import sampler_settings

__all__ = ["add_sampler_flags"]


def add_sampler_flags(p: argparse.ArgumentParser) -> None:
    """The flags that choose a run's sampler and what it draws: ``sample`` and ``export``."""
    p.add_argument(
        "--sampler",
        default=None,
        choices=sampler_settings.METHODS,
        help="reverse process (default: the run's)",
    )
    p.add_argument(
        "--spacing",
        default=None,
        choices=grids.SPACINGS,
        help="which of the T steps a fast sampler visits (default: the run's, else the "
        "method's: karras for heun, geometric for restart, trailing for the others)",
    )
    p.add_argument(
        "--churn",
        type=validate.flag_type(validate.number_in, float, low=0.0, high=math.inf),
        default=None,
        help="heun's S_churn (Karras et al. 2022), 0 for the deterministic ODE "
        "(default: the run's, 0)",
    )
    p.add_argument(
        "--steps",
        type=flags.POSITIVE_INT,
        default=None,
        help="grid points K <= T of a fast sampler (network evaluations; heun: 2K - 1), or "
        "a flow sampler's steps (midpoint and heun: 2K evaluations) (default: the run's)",
    )
    p.add_argument(
        "--nfe",
        type=flags.POSITIVE_INT,
        default=None,
        help="network evaluations per sample, instead of --steps: the steps that cost "
        "exactly that many for the sampler (default: the run's)",
    )
    p.add_argument(
        "--eta",
        type=flags.PROBABILITY,
        default=None,
        help="DDIM noise scale in [0, 1] (default: the run's; 1 for the default recipe)",
    )
    p.add_argument(
        "--member",
        type=flags.NON_NEGATIVE_INT,
        default=0,
        help="which model of an ensemble run (default: 0)",
    )
    p.add_argument(
        "--label",
        default=None,
        metavar="C",
        help="conditional runs: draw class C, an index or a class name of a labelled file "
        "(default: no label, the whole data set)",
    )
    p.add_argument(
        "--guidance",
        type=flags.FINITE,
        default=None,
        metavar="W",
        help="classifier-free guidance weight with --label: (1+W) eps(x, C) - W eps(x) "
        "(default: the run's, 0)",
    )
