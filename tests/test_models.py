import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiff import models


@pytest.fixture(scope="module")
def seed_model():
    return models.functional(models.MLPDenoiser(), jax.random.key(0))


def test_seed_parameter_count_and_embedding_tables(seed_model):
    _, params = seed_model
    assert models.param_count(params) == 72_066
    tables = [v["embedding"] for k, v in params.items() if k.startswith("Embed")]
    assert len(tables) == 3
    assert all(t.shape == (100, 128) for t in tables)


def test_torch_default_initialisation(seed_model):
    _, params = seed_model
    for name, fan_in in (("Dense_0", 2), ("Dense_1", 128), ("Dense_3", 128)):
        bound = 1 / np.sqrt(fan_in)
        for leaf in ("kernel", "bias"):
            w = np.asarray(params[name][leaf])
            assert np.abs(w).max() <= bound
            if w.size > 200:
                assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
    emb = np.concatenate([np.asarray(params[f"Embed_{i}"]["embedding"]).ravel() for i in range(3)])
    assert emb.std() == pytest.approx(1.0, rel=0.02)  # N(0, 1), as nn.Embedding


def test_forward_equals_numpy_rendering_of_seed(seed_model):
    """Linear → +Embedding(t) → ReLU, three times, then Linear (SEED.md)."""
    apply_fn, params = seed_model
    x = np.random.default_rng(0).normal(size=(11, 2)).astype(np.float32)
    t = np.arange(11) * 9
    h = x.astype(np.float64)
    for i in range(3):
        d = params[f"Dense_{i}"]
        h = h @ np.asarray(d["kernel"], np.float64) + np.asarray(d["bias"], np.float64)
        h = np.maximum(h + np.asarray(params[f"Embed_{i}"]["embedding"], np.float64)[t], 0)
    d = params["Dense_3"]
    want = h @ np.asarray(d["kernel"], np.float64) + np.asarray(d["bias"], np.float64)
    got = np.asarray(apply_fn(params, jnp.asarray(x), jnp.asarray(t)))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_scalar_t_equals_broadcast_t_and_jit(seed_model):
    apply_fn, params = seed_model
    x = jax.random.normal(jax.random.key(1), (17, 2))
    a = apply_fn(params, x, 42)
    b = apply_fn(params, x, jnp.full((17,), 42))
    c = jax.jit(apply_fn)(params, x, jnp.int32(42))
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=1e-5, atol=1e-6)


def test_generalised_sizes():
    apply_fn, params = models.functional(
        models.MLPDenoiser(data_dim=5, width=32, depth=2, num_steps=7), jax.random.key(0)
    )
    assert apply_fn(params, jnp.zeros((3, 5)), jnp.array([0, 3, 6])).shape == (3, 5)
    expected = (5 * 32 + 32) + (32 * 32 + 32) + (32 * 5 + 5) + 2 * 7 * 32
    assert models.param_count(params) == expected


def test_apply_fn_is_hashable_and_stable():
    m = models.MLPDenoiser()
    a1, _ = models.functional(m, jax.random.key(0))
    a2, _ = models.functional(m, jax.random.key(1))
    assert hash(a1) == hash(a2) and a1 == a2


@pytest.mark.parametrize(
    "field, value", [("width", 0), ("depth", -1), ("data_dim", 2.5), ("num_steps", 0)]
)
def test_bad_sizes_are_rejected(field, value):
    with pytest.raises(ValueError, match=f"{field} must be a positive integer, got {value}"):
        models.functional(models.MLPDenoiser(**{field: value}), jax.random.key(0))


def test_float_steps_interpolate_the_step_embeddings():
    apply_fn, params = models.functional(models.MLPDenoiser(num_steps=10), jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (4, 2))
    t = jnp.array([0, 3, 7, 9])
    np.testing.assert_array_equal(
        apply_fn(params, x, t), apply_fn(params, x, t.astype(jnp.float32))
    )
    # Between steps 3 and 4: the same network with a blended embedding row in every layer.
    blended = jax.tree_util.tree_map(lambda a: a, params)
    for name in [k for k in params if k.startswith("Embed")]:
        table = params[name]["embedding"]
        blended[name] = {"embedding": table.at[3].set(0.75 * table[3] + 0.25 * table[4])}
    np.testing.assert_allclose(
        apply_fn(params, x, jnp.float32(3.25)),
        apply_fn(blended, x, jnp.int32(3)),
        rtol=1e-6,
        atol=1e-6,
    )


C = 3


def test_label_tables_sit_beside_the_step_tables():
    apply_fn, params = models.functional(models.MLPDenoiser(num_classes=C), jax.random.key(0))
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


def _count(model):
    return models.param_count(models.functional(model, jax.random.key(0))[1])


def test_each_option_has_the_parameter_count_of_its_layers():
    w, d, dim = 128, 3, 2
    mlp = (dim * w + w) + (d - 1) * (w * w + w) + (w * dim + dim)
    assert _count(models.MLPDenoiser()) == mlp + d * 100 * w == 72_066  # the seed's
    f = 2 * 64  # features per coordinate
    with_features = (dim * f * w + w) + (d - 1) * (w * w + w) + (w * dim + dim) + d * 100 * w
    for kind in ("sinusoidal", "fourier"):
        assert _count(models.MLPDenoiser(input_features=kind, feature_size=f)) == with_features
    # Sinusoidal steps: no tables, w step features concatenated to the input.
    sin_time = ((dim + w) * w + w) + (d - 1) * (w * w + w) + (w * dim + dim)
    assert _count(models.MLPDenoiser(time_embedding="sinusoidal")) == sin_time == 50_050
    # Residual: an input layer, then d blocks (one table each, input layer included).
    residual = (dim * w + w) + d * (w * w + w) + (w * dim + dim) + (d + 1) * 100 * w
    assert _count(models.MLPDenoiser(residual=True)) == residual
    # The peer's architecture (tiny-diffusion): 99,074 parameters.
    peer = models.MLPDenoiser(
        num_steps=50,
        input_features="sinusoidal",
        time_embedding="sinusoidal",
        residual=True,
        activation="gelu",
    )
    assert _count(peer) == 99_074


def test_sinusoidal_features_equal_their_formula():
    u = np.array([0.0, 0.3, -1.7])
    got = np.asarray(models.sinusoidal(jnp.asarray(u, jnp.float32), 8, 25.0))
    freq = np.exp(-np.log(10_000.0) / 3 * np.arange(4))
    want = np.concatenate([np.sin(25 * u[:, None] * freq), np.cos(25 * u[:, None] * freq)], 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _sincos_error(u: np.ndarray) -> float:
    """Largest error of :func:`models.sincos_turns` on float32 ``u`` against float64."""
    sin, cos = models.sincos_turns(jnp.asarray(u, jnp.float32))
    turns = u.astype(np.float32).astype(np.float64)
    want_sin, want_cos = np.sin(2 * np.pi * turns), np.cos(2 * np.pi * turns)
    return max(np.abs(np.asarray(sin) - want_sin).max(), np.abs(np.asarray(cos) - want_cos).max())


def test_sincos_turns_is_within_float32_rounding_of_float64(monkeypatch):
    rng = np.random.default_rng(0)
    u = np.concatenate(
        [
            rng.normal(scale=30.0, size=200_000),  # the features' range (|x B| up to ~100)
            np.linspace(-3, 3, 4801),  # every eighth, quarter and half turn exactly
            [0.0, 0.5, -0.5, 0.25, -0.25, 1e6 + 0.25, 2.0**22 + 0.5],
        ]
    ).astype(np.float32)
    tol = 5e-7  # about four roundings of a float32 near 1
    assert _sincos_error(u) < tol
    # The tolerance catches plausible mistakes: one Taylor term fewer for the sine or the
    # cosine of the half angle, or no reduction of the argument to [-1/2, 1/2].
    for name in ("_SIN_TAYLOR", "_COS_TAYLOR"):
        with monkeypatch.context() as m:
            m.setattr(models, name, getattr(models, name)[:-1])
            assert _sincos_error(u) > tol
    with monkeypatch.context() as m:
        m.setattr(jnp, "round", jnp.zeros_like)
        assert _sincos_error(u) > 0.1


def test_sincos_turns_in_float64_is_exact_to_float64(x64):
    u = np.random.default_rng(1).normal(scale=30.0, size=1000)
    sin, cos = models.sincos_turns(jnp.asarray(u))
    np.testing.assert_allclose(np.asarray(sin), np.sin(2 * np.pi * u), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(cos), np.cos(2 * np.pi * u), rtol=0, atol=1e-12)


def test_fourier_features_equal_their_formula():
    x = np.random.default_rng(2).normal(size=(50, 2)).astype(np.float32)
    got = np.asarray(models.fourier(jnp.asarray(x), 8, 3.0))
    b = 3.0 * np.asarray(jax.random.normal(jax.random.key(0), (4,), jnp.float32), np.float64)
    angle = 2 * np.pi * x.astype(np.float64)[..., None] * b
    want = np.concatenate([np.sin(angle), np.cos(angle)], -1).reshape(50, 16)
    # Coordinate 0's four sines, its four cosines, then coordinate 1's.
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)


@pytest.mark.parametrize("features", ["sinusoidal", "fourier"])
def test_feature_models_accept_real_steps_and_are_deterministic(features):
    model = models.MLPDenoiser(input_features=features, time_embedding="sinusoidal", num_steps=20)
    apply_fn, params = models.functional(model, jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6, 2))
    a = apply_fn(params, x, jnp.full(6, 7, jnp.int32))
    b = apply_fn(params, x, jnp.full(6, 7.0))  # the ODE's real steps: equal at integers
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert a.shape == (6, 2) and not np.allclose(a, apply_fn(params, x, jnp.full(6, 8)))
    np.testing.assert_array_equal(a, apply_fn(params, x, 7))  # a scalar step broadcasts
    # The Fourier projection is a constant of the model: the same for every init.
    _, other = models.functional(model, jax.random.key(5))
    assert jax.tree_util.tree_structure(other) == jax.tree_util.tree_structure(params)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("input_features", "wavelets", "input_features must be one of"),
        ("time_embedding", "clock", "time_embedding must be one of"),
        ("activation", "tanh", "activation must be one of"),
        ("feature_scale", 0.0, "feature_scale must be a positive finite number"),
        ("feature_size", 7, "feature_size must be even"),
    ],
)
def test_bad_options_are_refused(field, value, match):
    kw = {field: value}
    if field == "feature_size":
        kw["input_features"] = "fourier"
    with pytest.raises(ValueError, match=match):
        models.functional(models.MLPDenoiser(**kw), jax.random.key(0))


@pytest.mark.parametrize(
    "options",
    [
        # Every option's other value: Fourier features, sinusoidal steps, residual GELU ...
        dict(
            input_features="fourier",
            feature_scale=3.0,
            time_embedding="sinusoidal",
            residual=True,
            activation="gelu",
        ),
        # ... and sinusoidal features with step tables, plain SiLU layers.
        dict(input_features="sinusoidal", activation="silu"),
    ],
)
@pytest.mark.slow  # 25 s of trainings; the fast suite keeps the options' shape and formula tests
def test_a_short_training_with_the_options_beats_the_untrained_model(options):
    """Eight Gaussians (multimodal), 2,000 rows, 40 epochs: the trained model's samples
    reach precision and recall bounds (against fresh data) that the untrained model's
    spray misses: it covers the modes (its recall is high) but lies mostly between them."""
    from conftest import scores

    from jaxdiff import data, fitting, samplers, schedules, training

    sched = schedules.cosine_schedule(100)
    model = models.MLPDenoiser(init_style="flax", **options)
    apply_fn, params = models.functional(model, jax.random.key(0))
    opt = training.make_optimizer(3e-3, 1.0)
    spec = training.TrainSpec(apply_fn, opt, batch_size=128, target="v")
    x = data.eight_gaussians(0, 2000) / 2.0  # radius 1
    state = training.init_state(jax.random.key(1), params, opt)
    state, _ = fitting.fit(state, x, spec=spec, schedule=sched, epochs=40, epochs_per_call=40)
    opts = samplers.SamplerOptions(variance="beta_tilde", last_step_noise=False, target="v")
    reference = data.eight_gaussians(9, 2000) / 2.0

    def drawn(p):
        return samplers.sample(jax.random.key(2), apply_fn, p, sched, (2000, 2), opts)

    trained, untrained = scores(reference, drawn(state.params)), scores(reference, drawn(params))

    def passes(q):
        return q["precision"] >= 0.7 and q["recall"] >= 0.9

    assert passes(trained) and not passes(untrained), (trained, untrained)


def _residual_sinusoidal(**kw):
    model = models.MLPDenoiser(
        width=32, depth=3, num_steps=50, init_style="flax", input_features="fourier",
        feature_size=16, feature_scale=3.0, time_embedding="sinusoidal", residual=True,
        activation="gelu", **kw,
    )  # fmt: skip
    apply_fn, params = models.functional(model, jax.random.key(3))
    return model, jax.jit(apply_fn), _perturbed(params)


@jax.jit
def _perturbed(params):
    """Trained-looking parameters: init's zero biases would hide a misplaced bias."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.key(4), len(leaves))
    noisy = [p + 0.3 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys, strict=True)]
    return jax.tree_util.tree_unflatten(tree, noisy)


def test_lighten_folds_the_step_features_into_tables_exactly():
    """``drop=0`` with the same activation changes only how the step enters: the light
    network equals the original at every integer step (the oracle is the original model),
    and a table built one step off (rows ``e(t+1)``) is far outside the tolerance."""
    model, apply_fn, params = _residual_sinusoidal()
    light_fn, lparams = models.lighten(model, params, drop=0, activation="gelu")
    assert light_fn.model.time_embedding == "table" and light_fn.model.depth == 3
    assert lparams["Dense_0"]["kernel"].shape == (2 * 16, 32)  # no step columns
    x = jax.random.normal(jax.random.key(5), (model.num_steps, 2))
    t = jnp.arange(model.num_steps)  # one row per step
    want = apply_fn(params, x, t)
    light_fn = jax.jit(light_fn)
    got = light_fn(lparams, x, t)
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
    off = dict(lparams, Embed_0={"embedding": jnp.roll(lparams["Embed_0"]["embedding"], -1, 0)})
    wrong = light_fn(off, x, t)
    assert float(jnp.max(jnp.abs(wrong - want))) > 100 * 2e-5


def test_lighten_drops_the_last_blocks():
    """``drop=1``: the light network is the original without its last residual block.
    Oracle: the original with that block switched off (its pre-activation pinned at -1e4,
    where GELU is 0), which then adds nothing to the residual stream."""
    model, apply_fn, params = _residual_sinusoidal()
    last = params["Dense_3"]
    pinned = {"kernel": 0 * last["kernel"], "bias": jnp.full_like(last["bias"], -1e4)}
    off = dict(params, Dense_3=pinned)
    light_fn, lparams = models.lighten(model, off, drop=1, activation="gelu")
    assert light_fn.model.depth == 2 and set(lparams) == {
        "Dense_0", "Dense_1", "Dense_2", "Dense_3", "Embed_0", "Embed_1", "Embed_2"
    }  # fmt: skip
    x = jax.random.normal(jax.random.key(5), (200, 2))
    t = jnp.arange(200) % model.num_steps
    want = apply_fn(off, x, t)
    np.testing.assert_allclose(jax.jit(light_fn)(lparams, x, t), want, atol=2e-5, rtol=0)
    assert float(jnp.max(jnp.abs(apply_fn(params, x, t) - want))) > 1e-2  # the block mattered
    relu = models.lighten(model, off, drop=1)[0].model
    assert relu.activation == "relu"


def test_lighten_keeps_a_model_with_step_tables():
    """A model that already has step tables (the seed's): ``drop=0`` keeps it exactly."""
    model = models.MLPDenoiser()
    params = models.functional(model, jax.random.key(0))[1]
    light_fn, lparams = models.lighten(model, params, drop=0)
    assert light_fn.model == model
    assert jax.tree_util.tree_all(jax.tree.map(jnp.array_equal, lparams, dict(params)))


def _one_layer(size, bound):
    """A one-layer Fourier model whose output is an affine map of the first layer's
    pre-activation (step rows of +50 keep ReLU the identity), and its tabulation."""
    model = models.MLPDenoiser(
        width=32, depth=1, num_steps=4, init_style="flax", input_features="fourier",
        feature_size=16, feature_scale=3.0,
    )  # fmt: skip
    apply_fn, params = models.functional(model, jax.random.key(3))
    params = dict(_perturbed(params), Embed_0={"embedding": jnp.full((4, 32), 50.0)})
    return (
        model,
        apply_fn,
        params,
        *models.tabulate_inputs(apply_fn, params, size=size, bound=bound),
    )


def test_tabulated_inputs_are_within_the_hermite_bound_of_the_float64_layer():
    """Oracle: the first layer in float64 numpy (Tancik et al.'s features with the
    model's B), mapped by the output layer. Bound: cubic Hermite interpolation is within
    h⁴/384·max|g⁗| (Burden & Faires §3.4, two nodes), with |d⁴/dx⁴ sin 2πbx| ≤ (2πb)⁴, per
    unit and coordinate, carried through |W_out|; plus 1e-4 for float32. Shown failing
    for linear interpolation (the cubic terms dropped), a table one interval off, and
    sines and cosines swapped. Beyond the bound a coordinate is read at the nearer end."""
    size, bound = 1024, 4.0
    model, _, params, tab_fn, tab = _one_layer(size, bound)
    assert tab["input_table"].shape == (2, 4, size - 1, 32) and "Dense_0" not in tab
    x = np.random.default_rng(0).uniform(-bound, bound, (4096, 2)).astype(np.float32)
    b = 3.0 * np.asarray(jax.random.normal(jax.random.key(0), (8,), jnp.float32), np.float64)
    w0 = np.asarray(params["Dense_0"]["kernel"], np.float64).reshape(2, 2, 8, 32)
    w_out = np.asarray(params["Dense_1"]["kernel"], np.float64)
    angle = 2 * np.pi * x.astype(np.float64)[..., None] * b  # (B, coordinate, frequency)
    pre = np.einsum("bik,ikj->bj", np.sin(angle), w0[:, 0])
    pre += np.einsum("bik,ikj->bj", np.cos(angle), w0[:, 1])
    pre += np.asarray(params["Dense_0"]["bias"], np.float64) + 50.0
    want = pre @ w_out + np.asarray(params["Dense_1"]["bias"], np.float64)
    h = 2 * bound / (size - 1)
    per_unit = h**4 / 384 * np.einsum("k,iskj->j", (2 * np.pi * b) ** 4, np.abs(w0))
    tol = np.abs(w_out).T @ per_unit + 1e-4
    t = jnp.zeros(len(x), jnp.int32)

    def error(p):
        return np.max(np.abs(np.asarray(jax.jit(tab_fn)(p, x, t), np.float64) - want), 0)

    assert np.all(error(tab) <= tol), (error(tab), tol)
    assert np.all(error(tab) > 1e-3 * tol)  # the bound is not loose by orders
    table = tab["input_table"]
    linear = table.at[:, 2:].set(0.0).at[:, 1].set(table[:, 2:].sum(1) + table[:, 1])
    shifted = jnp.roll(table, 1, axis=2)
    swapped = models.tabulate_inputs(
        models.functional(model, jax.random.key(0))[0],
        dict(params, Dense_0={"kernel": jnp.asarray(w0[:, ::-1].reshape(32, 32), jnp.float32),
                              "bias": params["Dense_0"]["bias"]}),
        size=size, bound=bound,
    )[1]["input_table"]  # fmt: skip
    for wrong in (linear, shifted, swapped):
        assert np.any(error(dict(tab, input_table=wrong)) > 10 * tol)
    far = jnp.asarray([[bound + 3.0, -bound - 1.0], [bound, -bound]])
    read = jax.jit(tab_fn)(tab, far, jnp.zeros(2, jnp.int32))
    np.testing.assert_array_equal(read[0], read[1])


def test_tabulated_light_network_equals_the_light_network():
    """The residual light network (GELU, all blocks) with its inputs tabulated at the
    defaults equals it within 1e-4 at every step (inputs within the bound), with the
    same parameters but ``Dense_0``."""
    model, _, params = _residual_sinusoidal()
    light_fn, lparams = models.lighten(model, params, drop=0, activation="gelu")
    tab_fn, tab = models.tabulate_inputs(light_fn, lparams)
    assert tab_fn.model == light_fn.model.clone(input_table=2048, input_bound=8.0)
    assert set(tab) == set(lparams) - {"Dense_0"} | {"input_table", "input_bias"}
    x = jnp.clip(2.0 * jax.random.normal(jax.random.key(5), (model.num_steps, 2)), -7.9, 7.9)
    t = jnp.arange(model.num_steps)
    want = jax.jit(light_fn)(lparams, x, t)
    np.testing.assert_allclose(jax.jit(tab_fn)(tab, x, t), want, atol=1e-4, rtol=5e-5)
    # Restoring from settings: the same network, parameters of the same shapes.
    again = models.functional(tab_fn.model, jax.random.key(0))[1]
    assert jax.tree.map(jnp.shape, again) == jax.tree.map(jnp.shape, tab)


@pytest.mark.parametrize(
    "model,kw,match",
    [
        (models.MLPDenoiser(), {}, "needs Fourier input features, got 'none'"),
        (models.MLPDenoiser(input_features="fourier", time_embedding="sinusoidal"), {},
         "needs step tables; lighten the model first"),
        (models.MLPDenoiser(input_features="fourier"), dict(size=1), "size must be at least 2"),
        (models.MLPDenoiser(input_features="fourier"), dict(bound=0.0), "bound must be"),
        (models.MLPDenoiser(input_features="fourier", input_table=4), {}, "already read"),
    ],
)  # fmt: skip
def test_tabulate_inputs_refuses_what_it_cannot_do(model, kw, match):
    with pytest.raises(ValueError, match=match):
        models.tabulate_inputs(models._Apply(model), None, **kw)  # before reading params
    with pytest.raises(ValueError, match="takes an apply_fn from functional or lighten"):
        models.tabulate_inputs(lambda p, x, t: x, None)


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(input_table=1), "input_table must be 0 .no tables. or at least 2 points, got 1"),
        (dict(input_table=-2), "input_table must be a non-negative integer"),
        (dict(input_table=8, input_bound=-1.0), "input_bound must be"),
        (dict(input_table=8), "input_table needs input_features 'fourier' and time_embedding"),
    ],
)
def test_bad_input_tables_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        models.functional(models.MLPDenoiser(**kw), jax.random.key(0))


@pytest.mark.parametrize(
    "model,kw,match",
    [
        (models.MLPDenoiser(), dict(drop=1), "drop must be 0 for a model without residual"),
        (models.MLPDenoiser(residual=True), dict(drop=3), "drop must be below the model's depth 3"),
        (models.MLPDenoiser(), dict(drop=-1), "drop must be a non-negative integer, got -1"),
        (models.MLPDenoiser(), dict(activation="tanh"), "activation must be one of"),
        (models.MLPDenoiser(num_classes=3), {}, "unconditional"),
    ],
)
def test_lighten_refuses_what_it_cannot_do(model, kw, match):
    with pytest.raises(ValueError, match=match):
        models.lighten(model, None, **kw)  # refused before the parameters are read


def test_on_steps_cuts_the_step_tables_to_the_rows_it_is_called_at():
    """The cut network equals the whole one at its steps, given in any order (oracle: the
    whole network); ``restore`` writes the cut rows back and leaves every other row, and
    takes the other parameters from the cut network's."""
    model, _, params = _residual_sinusoidal()
    light_fn, lparams = models.lighten(model, params, drop=1)
    steps = [37, 3, 12]
    cut_fn, cut, restore = models.on_steps(light_fn, lparams, steps)
    assert {k: v["embedding"].shape for k, v in cut.items() if k.startswith("Embed")} == {
        "Embed_0": (3, 32), "Embed_1": (3, 32), "Embed_2": (3, 32)
    }  # fmt: skip
    x = jax.random.normal(jax.random.key(5), (300, 2))
    t = jnp.asarray(steps)[jnp.arange(300) % 3]
    got, want = jax.jit(cut_fn)(cut, x, t), jax.jit(light_fn)(lparams, x, t)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)
    moved = jax.tree.map(lambda a: a + 1.0, cut)
    back = restore(moved)
    rows = np.sort(steps)
    for name in ("Embed_0", "Embed_1", "Embed_2"):
        table, old = back[name]["embedding"], lparams[name]["embedding"]
        np.testing.assert_array_equal(table[rows], moved[name]["embedding"])
        others = np.setdiff1d(np.arange(model.num_steps), rows)
        np.testing.assert_array_equal(table[others], old[others])
    np.testing.assert_array_equal(back["Dense_1"]["kernel"], moved["Dense_1"]["kernel"])


@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_adam_on_the_cut_tables_trains_as_on_the_whole_tables(decay):
    """Twenty Adam steps on the cut tables, written back, give the parameters of twenty
    on the whole tables (the oracle), bit for bit. With weight decay, which moves the rows
    no sample reads, they do not: the condition ``on_steps`` states."""
    import optax

    model, _, params = _residual_sinusoidal()
    light_fn, lparams = models.lighten(model, params, drop=1)
    steps = [40, 9]
    x = jax.random.normal(jax.random.key(6), (64, 2))
    t = jnp.asarray(steps)[jnp.arange(64) % 2]
    y = jax.random.normal(jax.random.key(7), (64, 2))
    optimizer = optax.adamw(1e-2, weight_decay=decay)

    def train(fn, p):
        loss = lambda p: jnp.mean(jnp.square(fn(p, x, t) - y))  # noqa: E731

        @jax.jit
        def step(p, state):
            updates, state = optimizer.update(jax.grad(loss)(p), state, p)
            return optax.apply_updates(p, updates), state

        state = optimizer.init(p)
        for _ in range(20):
            p, state = step(p, state)
        return p

    whole = train(light_fn, lparams)
    cut_fn, cut, restore = models.on_steps(light_fn, lparams, steps)
    back = restore(train(cut_fn, cut))
    same = jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), whole, back)
    if decay == 0.0:
        assert all(jax.tree.leaves(same)), same
        moved = (
            whole["Embed_1"]["embedding"][np.asarray(steps)]
            - lparams["Embed_1"]["embedding"][np.asarray(steps)]
        )
        assert float(jnp.max(jnp.abs(moved))) > 1e-3  # the rows did train
    else:
        assert not same["Embed_0"]["embedding"]


@pytest.mark.parametrize(
    "steps,match",
    [
        ([], "steps must be one or more integers"),
        ([1.5, 3.0], "steps must be one or more integers"),
        ([0, 50], r"steps must lie in \[0, 50\), got 0 to 50"),
        ([-1], r"steps must lie in \[0, 50\)"),
    ],
)
def test_on_steps_refuses_what_it_cannot_do(steps, match):
    tables = models._Apply(models.MLPDenoiser(num_steps=50))
    with pytest.raises(ValueError, match=match):
        models.on_steps(tables, None, steps)  # refused before the parameters are read
    sinusoidal_steps = models._Apply(models.MLPDenoiser(time_embedding="sinusoidal"))
    assert models.has_step_tables(tables)
    assert not models.has_step_tables(sinusoidal_steps)
    assert not models.has_step_tables(lambda p, x, t: x)  # not a functional network
    with pytest.raises(ValueError, match="takes an apply_fn with step tables"):
        models.on_steps(sinusoidal_steps, None, [1])
