"""jaxdiff: functional JAX denoising diffusion (DDPM and its fast samplers) for small data.

The library is this package's modules outside ``jaxdiff.runs`` (the application layer
of run directories) and ``jaxdiff.cli`` (the command line). ``jaxdiff.load(path)``, a
trained model from a run directory, is the application's
:func:`jaxdiff.runs.trained.load`, and ``jaxdiff.fit(data)``, one call from rows to a
trained model, its :func:`jaxdiff.runs.fit.fit`; both are imported when first used.
"""

from importlib import metadata as _metadata

from jaxdiff import data as data
from jaxdiff import diffusion as diffusion
from jaxdiff import ensembles as ensembles
from jaxdiff import fitting as fitting
from jaxdiff import likelihood as likelihood
from jaxdiff import losses as losses
from jaxdiff import metrics as metrics
from jaxdiff import models as models
from jaxdiff import samplers as samplers
from jaxdiff import schedules as schedules
from jaxdiff import training as training
from jaxdiff.diffusion import predict_x0_from_eps as predict_x0_from_eps
from jaxdiff.diffusion import prior_kl as prior_kl
from jaxdiff.diffusion import q_posterior as q_posterior
from jaxdiff.diffusion import q_sample as q_sample
from jaxdiff.fitting import fit_state as fit_state
from jaxdiff.losses import antithetic_timesteps as antithetic_timesteps
from jaxdiff.losses import denoising_loss as denoising_loss
from jaxdiff.models import MLPDenoiser as MLPDenoiser
from jaxdiff.models import NetworkConfig as NetworkConfig
from jaxdiff.models import functional as functional
from jaxdiff.samplers import SamplerOptions as SamplerOptions
from jaxdiff.samplers import SamplerSettings as SamplerSettings
from jaxdiff.samplers import sample as sample
from jaxdiff.samplers import sample_trajectory as sample_trajectory
from jaxdiff.schedules import Schedule as Schedule
from jaxdiff.schedules import cosine_schedule as cosine_schedule
from jaxdiff.schedules import from_betas as from_betas
from jaxdiff.schedules import linear_schedule as linear_schedule
from jaxdiff.schedules import sigmoid_schedule as sigmoid_schedule
from jaxdiff.training import TrainSpec as TrainSpec
from jaxdiff.training import TrainState as TrainState
from jaxdiff.training import init_state as init_state
from jaxdiff.training import make_optimizer as make_optimizer
from jaxdiff.training import train_epoch as train_epoch
from jaxdiff.training import train_epochs as train_epochs
from jaxdiff.training import train_step as train_step


def __getattr__(name: str):
    if name == "load":  # the application layer, imported only when asked for
        from jaxdiff.runs.trained import load

        return load
    if name == "fit":
        from jaxdiff.runs.fit import fit

        return fit
    raise AttributeError(f"module 'jaxdiff' has no attribute {name!r}")


try:
    __version__ = _metadata.version("jaxdiff")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
