import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiff.core import apply, models


@pytest.fixture(scope="module")
def seed_model():
    return apply.functional(models.MLPDenoiser(), jax.random.key(0))


def test_seed_parameter_count_and_embedding_tables(seed_model):
    _, params = seed_model
    assert apply.param_count(params) == 72_066
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
    apply_fn, params = apply.functional(
        models.MLPDenoiser(data_dim=5, num_steps=7, config=models.NetworkConfig(width=32, depth=2)),
        jax.random.key(0),
    )
    assert apply_fn(params, jnp.zeros((3, 5)), jnp.array([0, 3, 6])).shape == (3, 5)
    expected = (5 * 32 + 32) + (32 * 32 + 32) + (32 * 5 + 5) + 2 * 7 * 32
    assert apply.param_count(params) == expected


def test_apply_fn_is_hashable_and_stable():
    m = models.MLPDenoiser()
    a1, _ = apply.functional(m, jax.random.key(0))
    a2, _ = apply.functional(m, jax.random.key(1))
    assert hash(a1) == hash(a2) and a1 == a2


@pytest.mark.parametrize("field, value", [("data_dim", 2.5), ("num_steps", 0)])
def test_bad_sizes_are_rejected(field, value):
    with pytest.raises(ValueError, match=f"{field} must be a positive integer, got {value}"):
        apply.functional(models.MLPDenoiser(**{field: value}), jax.random.key(0))


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"num_classes": -1}, "num_classes must be a non-negative integer, got -1"),
        ({"context": 1.5}, "context must be a non-negative integer, got 1.5"),
        ({"config": "wide"}, "config must be a NetworkConfig, got 'wide'"),
    ],
)
def test_bad_class_context_and_config_are_named_exactly(kw, message):
    with pytest.raises(ValueError) as err:
        apply.check(models.MLPDenoiser(**kw))
    assert str(err.value) == message


def test_what_a_model_is_given_is_checked_in_one_exact_line():
    """``check_fits`` on a model's sampler and context (labels are checked in
    test_conditions.py): each refusal's whole message, and what fits passes."""
    plain = apply.Apply(models.MLPDenoiser(num_steps=10))
    mean_flow = apply.Apply(
        models.MLPDenoiser(num_steps=10, config=models.NetworkConfig(interval=True))
    )
    with pytest.raises(ValueError) as err:
        apply.check_fits(plain, method="mean")
    assert str(err.value) == (
        "method 'mean' needs a MeanFlow model (built with interval=True); sample this "
        "model with 'euler', 'midpoint', 'heun' or 'adaptive'"
    )
    apply.check_fits(mean_flow, method="mean")
    apply.check_fits(plain, method="euler")
    ctx = apply.Apply(models.MLPDenoiser(num_steps=10, context=3))
    apply.check_fits(ctx)  # a context is needed for training only (context_required)
    for fits in (np.zeros(3, np.float32), np.zeros((4, 3), np.float32)):
        apply.check_fits(ctx, labels=fits)
    with pytest.raises(ValueError) as err:
        apply.check_fits(ctx, labels=np.zeros((4, 3), np.int32))
    assert str(err.value) == (
        "context must be floats, got dtype int32 (class labels are for a class-conditional model)"
    )
    for shape in ((2, 4, 3), (4, 2), (3, 1)):
        with pytest.raises(ValueError) as err:
            apply.check_fits(ctx, labels=np.zeros(shape, np.float32))
        assert str(err.value) == (
            f"context must have shape (3,) or (n, 3) for this model, got {shape}"
        )


def test_an_interval_reaches_the_network():
    """A MeanFlow network's output depends on the interval it is given."""
    model = models.MLPDenoiser(num_steps=10, config=models.NetworkConfig(interval=True))
    apply_fn, params = apply.functional(model, jax.random.key(0))
    x, t = jnp.ones((3, 2)), jnp.full((3,), 5, jnp.int32)
    wide = apply_fn(params, x, t, interval=jnp.full((3,), 4.0))
    assert not np.allclose(wide, apply_fn(params, x, t, interval=jnp.zeros(3)))
    np.testing.assert_array_equal(wide, apply_fn(params, x, t, None, jnp.full((3,), 4.0)))


@pytest.mark.parametrize("field, value", [("width", 0), ("depth", -1), ("feature_size", 0)])
def test_bad_network_sizes_are_refused_when_the_options_are_built(field, value):
    with pytest.raises(ValueError, match=f"{field} must be a positive integer, got {value}"):
        models.NetworkConfig(**{field: value})
    with pytest.raises(ValueError, match=f"{field} must be a positive integer, got {value}"):
        models.NetworkConfig().replace(**{field: value})


def test_float_steps_interpolate_the_step_embeddings():
    apply_fn, params = apply.functional(models.MLPDenoiser(num_steps=10), jax.random.key(0))
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
    apply_fn, params = apply.functional(models.MLPDenoiser(num_classes=C), jax.random.key(0))
    base = apply.param_count(apply.functional(models.MLPDenoiser(), jax.random.key(0))[1])
    assert base == 72_066  # the seed's model is unchanged
    assert apply.param_count(params) == base + 3 * (C + 1) * 128
    x, t = jnp.ones((4, 2)), jnp.arange(4)
    null = apply_fn(params, x, t, jnp.full(4, -1))
    np.testing.assert_array_equal(apply_fn(params, x, t), null)  # no label = the null label
    outs = [apply_fn(params, x, t, jnp.full(4, c)) for c in range(C)]
    assert all(not np.allclose(a, null) for a in outs)  # every class moves the output
    uncond, p0 = apply.functional(models.MLPDenoiser(), jax.random.key(0))
    with pytest.raises(ValueError, match="a condition was given but the model is unconditional"):
        uncond(p0, x, t, jnp.zeros(4, jnp.int32))


def _count(model):
    """The parameter count of ``model``'s init, from shapes alone (nothing is computed)."""
    shapes = jax.eval_shape(lambda key: apply.functional(model, key)[1], jax.random.key(0))
    return apply.param_count(shapes)


def test_each_option_has_the_parameter_count_of_its_layers():
    w, d, dim = 128, 3, 2
    mlp = (dim * w + w) + (d - 1) * (w * w + w) + (w * dim + dim)
    assert _count(models.MLPDenoiser()) == mlp + d * 100 * w == 72_066  # the seed's
    f = 2 * 64  # features per coordinate
    with_features = (dim * f * w + w) + (d - 1) * (w * w + w) + (w * dim + dim) + d * 100 * w
    for kind in ("sinusoidal", "fourier"):
        assert (
            _count(
                models.MLPDenoiser(config=models.NetworkConfig(input_features=kind, feature_size=f))
            )
            == with_features
        )
    # Sinusoidal steps: no tables, w step features concatenated to the input.
    sin_time = ((dim + w) * w + w) + (d - 1) * (w * w + w) + (w * dim + dim)
    assert (
        _count(models.MLPDenoiser(config=models.NetworkConfig(time_embedding="sinusoidal")))
        == sin_time
        == 50_050
    )
    # Residual: an input layer, then d blocks (one table each, input layer included).
    residual = (dim * w + w) + d * (w * w + w) + (w * dim + dim) + (d + 1) * 100 * w
    assert _count(models.MLPDenoiser(config=models.NetworkConfig(residual=True))) == residual
    # The peer's architecture (tiny-diffusion): 99,074 parameters.
    peer = models.MLPDenoiser(
        num_steps=50,
        config=models.NetworkConfig(
            input_features="sinusoidal",
            time_embedding="sinusoidal",
            residual=True,
            activation="gelu",
        ),
    )
    assert _count(peer) == 99_074


@pytest.mark.parametrize("features", ["sinusoidal", "fourier"])
def test_feature_models_accept_real_steps_and_are_deterministic(features):
    model = models.MLPDenoiser(
        num_steps=20,
        config=models.NetworkConfig(input_features=features, time_embedding="sinusoidal"),
    )
    apply_fn, params = apply.functional(model, jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6, 2))
    a = apply_fn(params, x, jnp.full(6, 7, jnp.int32))
    b = apply_fn(params, x, jnp.full(6, 7.0))  # the ODE's real steps: equal at integers
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert a.shape == (6, 2) and not np.allclose(a, apply_fn(params, x, jnp.full(6, 8)))
    np.testing.assert_array_equal(a, apply_fn(params, x, 7))  # a scalar step broadcasts
    # The features' frequencies are a constant of the model, not a parameter: no leaf
    # has their shape, and another init key draws every parameter anew.
    _, other = apply.functional(model, jax.random.key(5))
    leaves, again = jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(other)
    assert (model.config.feature_size // 2,) not in {leaf.shape for leaf in leaves}
    assert not any(np.array_equal(a, b) for a, b in zip(leaves, again, strict=True) if a.size > 2)


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
        models.NetworkConfig(**kw)


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

    from jaxdiff.core import data
    from jaxdiff.ddpm import schedules
    from jaxdiff.engine import fitting, sampler_settings, samplers, train_spec

    sched = schedules.cosine_schedule(100)
    model = models.MLPDenoiser(config=models.NetworkConfig(init_style="flax", **options))
    apply_fn, params = apply.functional(model, jax.random.key(0))
    opt = train_spec.make_optimizer(3e-3, 1.0)
    spec = train_spec.TrainSpec(apply_fn, opt, batch_size=128, target="v")
    x = data.eight_gaussians(0, 2000) / 2.0  # radius 1
    state = train_spec.init_state(jax.random.key(1), params, opt)
    state, _ = fitting.fit_state(state, x, spec=spec, schedule=sched, epochs=40, epochs_per_call=40)
    opts = sampler_settings.SamplerOptions(variance="beta_tilde", last_step_noise=False, target="v")
    reference = data.eight_gaussians(9, 2000) / 2.0

    def drawn(p):
        return samplers.sample(jax.random.key(2), apply_fn, p, sched, (2000, 2), opts)

    trained, untrained = scores(reference, drawn(state.params)), scores(reference, drawn(params))

    def passes(q):
        return q["precision"] >= 0.7 and q["recall"] >= 0.9

    assert passes(trained) and not passes(untrained), (trained, untrained)


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
        models.NetworkConfig(**kw)


def test_torch_bias_is_uniform_within_one_over_root_fan_in():
    """PyTorch's ``nn.Linear`` bias: U(-1/√fan_in, 1/√fan_in), in the dtype asked for."""
    from jaxdiff.core import initializers

    b = np.asarray(initializers.torch_bias(4)(jax.random.key(0), (20_000,)), np.float64)
    assert b.min() >= -0.5 and b.max() < 0.5
    assert b.min() < -0.49 and b.max() > 0.49
    assert b.std() == pytest.approx(0.5 / np.sqrt(3), rel=0.02)
    half = initializers.torch_bias(4)(jax.random.key(0), (8,), jnp.bfloat16)
    assert half.dtype == jnp.bfloat16


def test_read_tables_is_each_coordinates_piecewise_cubic():
    """``read_tables`` against a float64 numpy oracle: for each coordinate, the cubic of
    its interval of the ``n`` equal points over ``[-b, b]`` at the place ``s`` within it,
    summed over coordinates; a coordinate beyond ``±b`` read at the nearer end."""
    rng = np.random.default_rng(0)
    dim, n, width, bound = 3, 6, 4, 2.0
    table = rng.normal(size=(dim, 4, n - 1, width)).astype(np.float32)
    x = rng.uniform(-3.0, 3.0, size=(50, dim)).astype(np.float32)
    x[0] = [-bound, bound, 0.0]  # the two ends and a point on the grid
    got = np.asarray(models.read_tables(jnp.asarray(table), jnp.asarray(x), bound))
    want = np.zeros((len(x), width))
    h = 2 * bound / (n - 1)
    for b in range(len(x)):
        for i in range(dim):
            u = min(max((float(x[b, i]) + bound) / h, 0.0), n - 1.0)
            j = min(int(np.floor(u)), n - 2)
            s = u - j
            want[b] += sum(table[i, k, j].astype(np.float64) * s**k for k in range(4))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


def test_float_steps_outside_the_table_read_its_ends():
    apply_fn, params = apply.functional(models.MLPDenoiser(num_steps=10), jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (4, 2))

    def at(t):
        return np.asarray(apply_fn(params, x, jnp.asarray(t)))

    np.testing.assert_allclose(at(np.float32(-0.5)), at(np.int32(0)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(at(np.float32(9.7)), at(np.int32(9)), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(at(np.float32(12.0)), at(np.int32(9)), rtol=1e-6, atol=1e-6)
    # between the last two rows: a blend of rows 8 and 9
    blended = jax.tree_util.tree_map(lambda a: a, params)
    for name in [k for k in params if k.startswith("Embed")]:
        table = params[name]["embedding"]
        blended[name] = {"embedding": table.at[8].set(0.5 * table[8] + 0.5 * table[9])}
    np.testing.assert_allclose(at(np.float32(8.5)), apply_fn(blended, x, jnp.int32(8)),
                               rtol=1e-6, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"init_style": "jax"}, "init_style must be one of ['torch', 'flax'], got 'jax'"),
        ({"residual": "yes"}, "residual must be True or False, got 'yes'"),
        ({"interval": 1}, "interval must be True or False, got 1"),
        ({"input_table": 1}, "input_table must be 0 (no tables) or at least 2 points, got 1"),
        ({"input_table": 8, "input_features": "fourier", "input_bound": 0.0},
         "input_bound must be a positive finite number, got 0.0"),
        ({"input_table": 8, "input_features": "fourier", "time_embedding": "sinusoidal"},
         "input_table needs input_features 'fourier' and time_embedding 'table', got "
         "'fourier' and 'sinusoidal'"),
        ({"input_table": 8, "input_features": "none"},
         "input_table needs input_features 'fourier' and time_embedding 'table', got "
         "'none' and 'table'"),
    ],
)  # fmt: skip
def test_network_options_are_refused_in_one_exact_line(kw, message):
    with pytest.raises(ValueError) as err:
        models.NetworkConfig(**kw)
    assert str(err.value) == message


def test_network_options_that_fit_are_kept():
    assert models.NetworkConfig(input_features="none", feature_size=3).feature_size == 3
    cfg = models.NetworkConfig(input_table=8, input_features="fourier", input_bound=1e-3)
    assert cfg.input_table == 8
