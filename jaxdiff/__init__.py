"""jaxdiff: functional JAX denoising diffusion (DDPM and its fast samplers) for small data.

The library is four subpackages, each importing only those below it:
``jaxdiff.core`` (the network and its inputs, data and tables, metrics), the two model
families side by side, ``jaxdiff.ddpm`` (the diffusion family) and ``jaxdiff.flow`` (the
flow family), neither importing the other, and ``jaxdiff.engine`` (what works on either
family: training, sampling, likelihood, imputation). Above them sit ``jaxdiff.runs``
(the application layer of run directories) and ``jaxdiff.cli`` (the command line).
``jaxdiff.load(path)``, a trained model from a run directory, is the application's
:func:`jaxdiff.runs.trained.load`, and ``jaxdiff.fit(data)``, one call from rows to a
trained model, its :func:`jaxdiff.runs.fit.fit`; both are imported when first used.
"""

from importlib import metadata as _metadata

from jaxdiff import core as core
from jaxdiff import ddpm as ddpm
from jaxdiff import engine as engine
from jaxdiff import flow as flow
from jaxdiff.core.apply import functional as functional
from jaxdiff.core.models import MLPDenoiser as MLPDenoiser
from jaxdiff.core.models import NetworkConfig as NetworkConfig
from jaxdiff.ddpm.diffusion import predict_x0_from_eps as predict_x0_from_eps
from jaxdiff.ddpm.diffusion import prior_kl as prior_kl
from jaxdiff.ddpm.diffusion import q_posterior as q_posterior
from jaxdiff.ddpm.diffusion import q_sample as q_sample
from jaxdiff.ddpm.losses import antithetic_timesteps as antithetic_timesteps
from jaxdiff.ddpm.losses import denoising_loss as denoising_loss
from jaxdiff.ddpm.schedules import Schedule as Schedule
from jaxdiff.ddpm.schedules import cosine_schedule as cosine_schedule
from jaxdiff.ddpm.schedules import from_betas as from_betas
from jaxdiff.ddpm.schedules import linear_schedule as linear_schedule
from jaxdiff.ddpm.schedules import sigmoid_schedule as sigmoid_schedule
from jaxdiff.engine.fitting import fit_state as fit_state
from jaxdiff.engine.sampler_settings import SamplerOptions as SamplerOptions
from jaxdiff.engine.sampler_settings import SamplerSettings as SamplerSettings
from jaxdiff.engine.samplers import sample as sample
from jaxdiff.engine.samplers import sample_trajectory as sample_trajectory
from jaxdiff.engine.train_spec import TrainSpec as TrainSpec
from jaxdiff.engine.train_spec import TrainState as TrainState
from jaxdiff.engine.train_spec import init_state as init_state
from jaxdiff.engine.train_spec import make_optimizer as make_optimizer
from jaxdiff.engine.training import train_epoch as train_epoch
from jaxdiff.engine.training import train_epochs as train_epochs
from jaxdiff.engine.training import train_step as train_step


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
