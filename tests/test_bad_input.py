"""Bad input to the library: each case gives one clear line naming the argument, the value
and what was expected (ValueError or TypeError), never a deep JAX traceback.

The CLI's cases (exit code 2, one line on stderr) are in ``test_cli.py`` and below.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiff.core import apply, data, metrics, models
from jaxdiff.ddpm import schedules
from jaxdiff.engine import fitting, likelihood, sampler_settings, samplers, train_spec
from jaxdiff.runs import build, config, presets, rundir

NET = None


def net():
    global NET
    if NET is None:
        NET = apply.functional(
            models.MLPDenoiser(num_steps=10, config=models.NetworkConfig(width=16)),
            jax.random.key(0),
        )
    return NET


def _fit(x=None, **kw):
    apply_fn, params = net()
    opt = train_spec.make_optimizer(1e-3, 1.0)
    spec = train_spec.TrainSpec(apply_fn, opt, batch_size=kw.pop("batch_size", 4))
    args = dict(epochs=1, spec=spec, schedule=schedules.sigmoid_schedule(10))
    args.update(kw)
    state = train_spec.init_state(jax.random.key(1), params, opt)
    x = np.zeros((16, 2), np.float32) if x is None else x
    return fitting.fit_state(state, x, **args)


def _sample(shape=(4, 2), sched=None, **kw):
    apply_fn, params = net()
    sched = schedules.sigmoid_schedule(10) if sched is None else sched
    opts = sampler_settings.SamplerOptions(**kw)
    return samplers.sample(jax.random.key(0), apply_fn, params, sched, shape, opts)


NAN = np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0], [2.0, 0.0]], np.float32)

CASES = [
    # (case, call, exception, message fragment)
    ("data with NaN", lambda: _fit(NAN), ValueError, "data must be finite, got 1 NaN or inf"),
    ("data with inf", lambda: _fit(np.full((8, 2), np.inf)), ValueError, "data must be finite"),
    ("non-numeric data", lambda: _fit(np.array([["a", "b"]] * 8)), ValueError, "must be numeric"),
    (
        "1-D data",
        lambda: _fit(np.zeros(16)),
        ValueError,
        "non-empty (n, dim) array, got shape (16,)",
    ),
    ("empty data", lambda: _fit(np.zeros((0, 2))), ValueError, "got shape (0, 2)"),
    (
        "data of 3 features, 2-D model",
        lambda: _fit(np.zeros((16, 3))),
        ValueError,
        "data has 3 features but the model was built for 2",
    ),
    (
        "batch size 0",
        lambda: _fit(batch_size=0),
        ValueError,
        "batch_size must be a positive integer, got 0",
    ),
    ("negative batch size", lambda: _fit(batch_size=-2), ValueError, "got -2"),
    (
        "batch larger than the data",
        lambda: _fit(batch_size=17),
        ValueError,
        "batch_size must be at most the number of data points 16, got 17",
    ),
    ("epochs 0", lambda: _fit(epochs=0), ValueError, "epochs must be a positive integer, got 0"),
    (
        "learning rate 0",
        lambda: train_spec.make_optimizer(0.0),
        ValueError,
        "learning_rate must be positive, got 0.0",
    ),
    ("negative learning rate", lambda: train_spec.make_optimizer(-1e-3), ValueError, "got -0.001"),
    ("T < 1", lambda: schedules.sigmoid_schedule(0), ValueError, "num_steps"),
    (
        "betas above 1",
        lambda: schedules.from_betas([0.1, 1.5]),
        ValueError,
        "betas must lie strictly between 0 and 1, got 1.5",
    ),
    ("betas of 0", lambda: schedules.from_betas([0.0, 0.1]), ValueError, "got 0.0"),
    (
        "decreasing betas",
        lambda: schedules.from_betas([0.1, 0.2, 0.05]),
        ValueError,
        "betas must be non-decreasing (noise per step should not shrink), got betas[1] = 0.2",
    ),
    (
        "2-D betas",
        lambda: schedules.from_betas(np.full((2, 2), 0.1)),
        ValueError,
        "betas must be a 1-D array, got shape (2, 2)",
    ),
    (
        "schedule longer than the model's table",
        lambda: _sample(sched=schedules.sigmoid_schedule(11)),
        ValueError,
        "the schedule has 11 steps but the model's step embeddings have only 10 rows",
    ),
    (
        "unknown data set",
        lambda: data.load("spiral", 0),
        ValueError,
        "data set must be one of ['checkerboard', 'circles', 'digits', 'eight_gaussians', "
        "'moons', 's_curve', 'swiss_roll'], got 'spiral'",
    ),
    ("unknown preset", lambda: presets.preset("fastest"), ValueError, "preset must be one of"),
    ("unknown sampler", lambda: _sample(method="euler"), ValueError, "method must be one of"),
    (
        "unknown schedule kind",
        lambda: build.build_schedule(config.ScheduleConfig(kind="quadratic")),
        ValueError,
        "quadratic",
    ),
    ("unknown target", lambda: _sample(target="score"), ValueError, "target must be one of"),
    (
        "K > T steps",
        lambda: _sample(method="ddim", steps=11),
        ValueError,
        "steps must be at most the schedule's 10 steps, got 11",
    ),
    (
        "eta above 1",
        lambda: _sample(method="ddim", eta=1.5),
        ValueError,
        "eta must be a number in [0, 1], got 1.5",
    ),
    ("negative eta", lambda: _sample(method="ddim", eta=-0.1), ValueError, "got -0.1"),
    (
        "negative n",
        lambda: data.s_curve(0, n=-5),
        ValueError,
        "n must be a positive integer, got -5",
    ),
    (
        "negative sample count",
        lambda: _sample(shape=(-4, 2)),
        ValueError,
        "shape must be (n, dim), two non-negative integers, got (-4, 2)",
    ),
    (
        "negative seed",
        lambda: data.s_curve(-1),
        ValueError,
        "seed must be a non-negative integer, got -1",
    ),
    (
        "model width 0",
        lambda: apply.functional(
            models.MLPDenoiser(config=models.NetworkConfig(width=0)), jax.random.key(0)
        ),
        ValueError,
        "width must be a positive integer, got 0",
    ),
    (
        "precision/recall k too large",
        lambda: metrics.precision_recall(jnp.zeros((4, 2)), jnp.zeros((4, 2)), k=4),
        ValueError,
        "k must be in [1, 3], got 4",
    ),
    (
        "unknown ODE solver",
        lambda: likelihood.ode_log_likelihood(
            None, None, schedules.cosine_schedule(4), jnp.zeros((2, 2)), solver="euler"
        ),
        ValueError,
        "solver must be one of",
    ),
    (
        "config.json edited into nonsense",
        lambda: config.Config.from_json('{"train": {"epochs": "many"}}'),
        ValueError,
        "config train.epochs must be of type int",
    ),
    (
        "run directory without config",
        lambda: rundir.load_config(os.getcwd()),
        rundir.RunError,
        "no config.json",
    ),
]


@pytest.mark.parametrize("case, call, exc, fragment", CASES, ids=[c[0] for c in CASES])
def test_library_bad_input_is_one_clear_line(case, call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    assert fragment in message, message
    assert "\n" not in message and len(message) < 300, message
