"""Shared test setup: float64 on demand, strict dtype promotion, and Gaussian oracles."""

import os

import jax
import numpy as np
import pytest

# cli.main, called in process by the tests, would otherwise switch the whole test process
# to the user's on-disk compilation cache.
os.environ["JAXDIFF_CACHE_DIR"] = "off"


@pytest.fixture
def x64():
    """Runs the test body in float64 with strict dtype promotion."""
    with jax.enable_x64(True), jax.numpy_dtype_promotion("strict"):
        yield


@pytest.fixture
def x64_standard():
    """Float64 with standard promotion, for code paths inside optax (not strict-clean)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def s_curve_data():
    from jaxdiff import data

    return data.s_curve(1234)


def seed_betas_np(num_steps=100, start=1e-5, end=5e-3):
    """The seed's betas, written out in float64 numpy as SEED.md states them."""
    x = np.linspace(-6, 6, num_steps)
    return 1 / (1 + np.exp(-x)) * (end - start) + start
