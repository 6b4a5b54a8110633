"""scripts/mutation.py refuses test files whose collection starts JAX's runtime (mutmut
forks a process that has collected them; the runtime's threads do not survive a fork).
Slow: each check collects in a fresh interpreter."""

import importlib
import pathlib
import sys

import pytest

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _mutation():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        return importlib.import_module("mutation")
    finally:
        sys.path.pop(0)


def test_a_test_file_that_makes_an_array_at_import_is_refused_and_a_clean_one_is_not(tmp_path):
    mutation = _mutation()
    bad = tmp_path / "test_array_at_import.py"
    bad.write_text("import jax.numpy as jnp\n\nX = jnp.zeros(3)\n\n\ndef test_x():\n    pass\n")
    with pytest.raises(RuntimeError, match="starts JAX"):
        mutation.check_collection([str(bad)])
    clean = tmp_path / "test_array_inside.py"
    clean.write_text("import jax.numpy as jnp\n\n\ndef test_x():\n    jnp.zeros(3)\n")
    mutation.check_collection([str(clean)])
    mutation.check_collection(mutation.MODULES["engine.samplers"])
