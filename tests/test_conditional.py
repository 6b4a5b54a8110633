"""Class-conditional models and classifier-free guidance (Ho & Salimans 2022)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import jaxdiff
from scipy.spatial import cKDTree

from jaxdiff import data, losses, models, samplers, schedules

C = 3


@pytest.fixture(scope="module")
def cond():
    apply_fn, params = models.functional(models.MLPDenoiser(num_classes=C), jax.random.key(0))
    return apply_fn, params, schedules.cosine_schedule(50)


def test_label_tables_sit_beside_the_step_tables(cond):
    apply_fn, params, _ = cond
    base = models.param_count(models.functional(models.MLPDenoiser(), jax.random.key(0))[1])
    assert base == 72_066  # the seed's model is unchanged
    assert models.param_count(params) == base + 3 * (C + 1) * 128
    x, t = jnp.ones((4, 2)), jnp.arange(4)
    null = apply_fn(params, x, t, jnp.full(4, -1))
    np.testing.assert_array_equal(apply_fn(params, x, t), null)  # no label = the null label
    outs = [apply_fn(params, x, t, jnp.full(4, c)) for c in range(C)]
    assert all(not np.allclose(a, null) for a in outs)  # every class moves the output
    uncond, p0 = models.functional(models.MLPDenoiser(), jax.random.key(0))
    with pytest.raises(ValueError, match="label was given but the model is unconditional"):
        uncond(p0, x, t, jnp.zeros(4, jnp.int32))


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_label_drop_replaces_a_fraction_p_of_labels_by_null(p):
    # A "model" that outputs 1 where its label is null and the label itself otherwise; with
    # target x0 = 0 the loss is the mean of its square, i.e. the fraction dropped (labels 0).
    def spy(params, x, t, c):
        return jnp.broadcast_to((c == -1)[:, None].astype(x.dtype), x.shape)

    n = 20_000
    loss = losses.denoising_loss(
        jax.random.key(1),
        spy,
        None,
        schedules.cosine_schedule(10),
        jnp.zeros((n, 1)),
        target="x0",
        labels=jnp.zeros(n, jnp.int32),
        label_drop=p,
    )
    assert abs(float(loss) - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-7, float(loss)


def test_kept_labels_reach_the_model_unchanged():
    def echo(params, x, t, c):
        return jnp.broadcast_to(c[:, None].astype(x.dtype), x.shape)

    y = jnp.arange(1000) % 7
    loss = losses.denoising_loss(
        jax.random.key(2),
        echo,
        None,
        schedules.cosine_schedule(10),
        y[:, None].astype(jnp.float32),
        target="x0",
        labels=y,
        label_drop=0.0,
    )
    assert float(loss) == 0.0


@dataclasses.dataclass(frozen=True)
class _Bound:
    """The test's own conditional apply_fn for fixed labels and weight: the plain sampler
    on it is the reference for the library's guided sampling."""

    apply_fn: object
    labels: tuple
    w: float | None

    def __call__(self, params, x, t):
        c = jnp.asarray(self.labels, jnp.int32)
        cond = self.apply_fn(params, x, t, c)
        if self.w is None:
            return cond
        return (1 + self.w) * cond - self.w * self.apply_fn(params, x, t, jnp.full_like(c, -1))


METHODS = [("ddpm", None), ("ddim", 10), ("dpm-solver", 8)]


@pytest.mark.parametrize("method, steps", METHODS)
def test_guidance_zero_is_the_conditional_model_unguided(cond, method, steps):
    apply_fn, params, sched = cond
    labels = (0, 1, 2, 1, 0, 2)
    kw = dict(method=method, steps=steps)
    key = jax.random.key(5)
    got = samplers.sample(key, apply_fn, params, sched, (6, 2), labels=jnp.array(labels), **kw)
    want = samplers.sample(key, _Bound(apply_fn, labels, None), params, sched, (6, 2), **kw)
    np.testing.assert_array_equal(got, want)
    # And no label at all is the unconditional model: guidance -1 with any labels.
    plain = samplers.sample(key, apply_fn, params, sched, (6, 2), **kw)
    minus = samplers.sample(key, apply_fn, params, sched, (6, 2), labels=1, guidance=-1.0, **kw)
    np.testing.assert_allclose(plain, minus, atol=1e-6)


@pytest.mark.parametrize("method, steps", METHODS)
def test_guidance_w_follows_ho_salimans_eq_6(cond, method, steps):
    apply_fn, params, sched = cond
    labels = (2, 0, 1, 1)
    kw = dict(method=method, steps=steps, target="v")
    key = jax.random.key(6)
    got = samplers.sample(
        key, apply_fn, params, sched, (4, 2), labels=jnp.array(labels), guidance=2.5, **kw
    )
    want = samplers.sample(key, _Bound(apply_fn, labels, 2.5), params, sched, (4, 2), **kw)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(
        got, samplers.sample(key, apply_fn, params, sched, (4, 2), labels=jnp.array(labels), **kw)
    )


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(guidance=2.0), "guidance 2.0 needs labels"),
        (dict(labels=3), r"labels must be in \[0, 3\) or -1"),
        (dict(labels=jnp.zeros(5, jnp.int32)), r"one per sample, shape \(4,\)"),
        (dict(labels=1, guidance=float("nan")), "guidance must be a finite number"),
    ],
)
def test_bad_labels_and_guidance(cond, kw, match):
    apply_fn, params, sched = cond
    with pytest.raises(ValueError, match=match):
        samplers.sample(jax.random.key(0), apply_fn, params, sched, (4, 2), **kw)


def test_unconditional_models_refuse_labels():
    apply_fn, params = models.functional(models.MLPDenoiser(), jax.random.key(0))
    with pytest.raises(ValueError, match="labels were given but the model is unconditional"):
        samplers.sample(
            jax.random.key(0), apply_fn, params, schedules.cosine_schedule(10), (4, 2), labels=0
        )


def test_conditional_moons_from_the_command_line(tmp_path):
    """`train --data moons --conditional` then `sample --label c --guidance 2`: at least
    90% of the samples of label c lie nearer to class c's data than to the other's."""
    run = tmp_path / "moons"
    jaxdiff(
        "train",
        "--data",
        "moons",
        "--conditional",
        "--preset",
        "fast",
        "--epochs",
        "15",
        "--out",
        run,
        "--eval-n",
        "0",
        "--no-figures",
        "--quiet",
    )
    x, y = data.moons(11, 4000, labels=True)
    trees = [cKDTree(x[y == c]) for c in (0, 1)]
    for c in (0, 1):
        out = tmp_path / f"label{c}.npy"
        jaxdiff(
            "sample",
            "--run",
            run,
            "--label",
            c,
            "--guidance",
            2,
            "--n",
            1000,
            "--out",
            out,
            "--quiet",
        )
        s = np.load(out)
        nearer = trees[c].query(s)[0] < trees[1 - c].query(s)[0]
        assert nearer.mean() >= 0.9, (c, nearer.mean())
    bad = jaxdiff("sample", "--run", run, "--label", 2, "--out", tmp_path / "b.npy", check=False)
    assert bad.returncode == 2 and "--label must be in [0, 2) for this run, got 2" in bad.stderr
