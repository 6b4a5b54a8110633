"""Packaging facts a user relies on: the version comes from the installed metadata, the
package says it is typed, ``python -m jaxdiff`` works, and every ``jax[...]`` extra named
in pyproject.toml is one the installed jax release really offers."""

import importlib.metadata
import pathlib
import re
import subprocess
import sys
import tomllib

import pytest

import jaxdiff

ROOT = pathlib.Path(__file__).parents[1]


def test_version_is_the_installed_metadata():
    assert jaxdiff.__version__ == importlib.metadata.version("jaxdiff")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert jaxdiff.__version__ == pyproject["project"]["version"]


def test_typed_marker_is_shipped():
    assert (pathlib.Path(jaxdiff.__file__).parent / "py.typed").is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["jaxdiff"]


def test_jax_extras_exist_in_the_jax_release():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {
        extra
        for deps in pyproject["project"]["optional-dependencies"].values()
        for dep in deps
        for extra in re.findall(r"^jax\[([^\]]+)\]", dep)
    }
    offered = set(importlib.metadata.metadata("jax").get_all("Provides-Extra"))
    assert wanted and wanted <= offered, (wanted, sorted(offered))


@pytest.mark.slow  # a subprocess (a fresh interpreter)
def test_python_m_jaxdiff_help():
    result = subprocess.run(
        [sys.executable, "-m", "jaxdiff", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "demo" in result.stdout and "check" in result.stdout
