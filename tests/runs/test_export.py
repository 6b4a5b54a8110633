"""``jaxdiff export``: the sampler as a jax.export artifact, loaded by a program that has
only jax (neither jaxdiff nor flax imported), gives ``jaxdiff sample``'s samples for the
same key, at any number of samples; bad input is one line, exit 2."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import ENV, jaxdiff

pytestmark = pytest.mark.slow

LOAD = """
import sys
import jax, jax.numpy as jnp, numpy as np
path, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
exported = jax.export.deserialize(bytearray(open(path, "rb").read()))
key_data = jax.random.key_data(jax.random.key(seed))
np.save(out, np.asarray(exported.call(key_data, jnp.zeros(100))))
np.save(out + ".37.npy", np.asarray(exported.call(key_data, jnp.zeros(37))))
assert "jaxdiff" not in sys.modules and "flax" not in sys.modules, sorted(sys.modules)
"""


def test_exported_sampler_matches_sample(trained, tmp_path):
    blob = tmp_path / "s.jaxexport"
    result = jaxdiff("export", "--run", trained, "--out", blob, "--sampler", "ddim")
    assert "wrote the sampler" in result.stdout and blob.stat().st_size > 0
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD, str(blob), "7", str(tmp_path / "e.npy")],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=tmp_path,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    for n, path in ((100, "e.npy"), (37, "e.npy.37.npy")):
        ref = tmp_path / f"ref{n}.npy"
        jaxdiff("sample", "--run", trained, "--seed", 7, "--n", n, "--out", ref, "--quiet",
                "--sampler", "ddim")  # fmt: skip
        # The same program up to compilation: a shape-polymorphic build of it rounds a
        # little differently (measured: 2.4e-7 in data units).
        np.testing.assert_allclose(np.load(tmp_path / path), np.load(ref), atol=1e-5)
    other = tmp_path / "o.npy"
    jaxdiff("sample", "--run", trained, "--seed", 8, "--n", 100, "--out", other, "--quiet",
            "--sampler", "ddim")  # fmt: skip
    assert not np.allclose(np.load(tmp_path / "e.npy"), np.load(other), atol=1e-2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "{tmp}/none", "--out", "{tmp}/s.x"], "run directory '{tmp}/none' does not"),
        (["--run", "{run}", "--out", "{tmp}/no/s.x"], "--out folder '{tmp}/no' does not exist"),
        (["--run", "{run}", "--out", "{tmp}/s.x", "--steps", "1000"], "steps must be"),
    ],
)
def test_export_bad_input(trained, tmp_path, args, message):
    fill = {"tmp": str(tmp_path), "run": str(trained)}
    result = jaxdiff("export", *[a.format(**fill) for a in args], check=False)
    assert result.returncode == 2 and message.format(**fill) in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_export_of_a_conditional_run_draws_the_label_asked_for():
    """``export_sampler(label=c, guidance=w)`` gives ``draw``'s samples of class ``c`` with
    guidance ``w`` for the same key, and another class gives others (untrained weights:
    the artifact's arithmetic is what is checked, not the model)."""
    import jax
    import jax.numpy as jnp

    from jaxdiff.runs import draw, export, overrides, presets, setup

    cfg = overrides.configure(presets.preset("fast"), data="moons", conditional=True)
    s = setup.setup(cfg)
    params = setup.model_params(s, s.state)
    key = jax.random.key(3)

    def exported(label, guidance):
        blob = export.export_sampler(s, params, label=label, guidance=guidance, nfe=10)
        call = jax.export.deserialize(bytearray(blob)).call
        return np.asarray(call(jax.random.key_data(key), jnp.zeros(50)))

    one = exported(1, 2.0)
    want = draw.draw(s, params, key, 50, labels=1, guidance=2.0, nfe=10)
    np.testing.assert_allclose(one, want, atol=1e-5)
    assert not np.allclose(one, exported(0, 2.0), atol=1e-3)
    assert not np.allclose(one, exported(1, 0.0), atol=1e-3)
