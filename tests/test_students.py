"""Network surgery for distillation: lighten, tabulate_inputs and on_steps against the
network they start from (the oracle), and what each refuses."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxdiff.core import apply, models
from jaxdiff.ddpm import students


def _residual_sinusoidal():
    net = models.NetworkConfig(
        width=32, depth=3, init_style="flax", input_features="fourier", feature_size=16,
        feature_scale=3.0, time_embedding="sinusoidal", residual=True, activation="gelu",
    )  # fmt: skip
    model = models.MLPDenoiser(num_steps=50, config=net)
    apply_fn, params = apply.functional(model, jax.random.key(3))
    return model, jax.jit(apply_fn), _perturbed(params)


def _net(**options):
    return models.MLPDenoiser(config=models.NetworkConfig(**options))


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
    light_fn, lparams = students.lighten(model, params, drop=0, activation="gelu")
    assert light_fn.model.config.time_embedding == "table" and light_fn.model.config.depth == 3
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
    light_fn, lparams = students.lighten(model, off, drop=1, activation="gelu")
    assert light_fn.model.config.depth == 2 and set(lparams) == {
        "Dense_0", "Dense_1", "Dense_2", "Dense_3", "Embed_0", "Embed_1", "Embed_2"
    }  # fmt: skip
    x = jax.random.normal(jax.random.key(5), (200, 2))
    t = jnp.arange(200) % model.num_steps
    want = apply_fn(off, x, t)
    np.testing.assert_allclose(jax.jit(light_fn)(lparams, x, t), want, atol=2e-5, rtol=0)
    assert float(jnp.max(jnp.abs(apply_fn(params, x, t) - want))) > 1e-2  # the block mattered
    relu = students.lighten(model, off, drop=1)[0].model
    assert relu.config.activation == "relu"


def test_lighten_keeps_a_model_with_step_tables():
    """A model that already has step tables (the seed's): ``drop=0`` keeps it exactly."""
    model = models.MLPDenoiser()
    params = apply.functional(model, jax.random.key(0))[1]
    light_fn, lparams = students.lighten(model, params, drop=0)
    assert light_fn.model == model
    assert jax.tree_util.tree_all(jax.tree.map(jnp.array_equal, lparams, dict(params)))


def _one_layer(size, bound):
    """A one-layer Fourier model whose output is an affine map of the first layer's
    pre-activation (step rows of +50 keep ReLU the identity), and its tabulation."""
    net = models.NetworkConfig(
        width=32, depth=1, init_style="flax", input_features="fourier", feature_size=16,
        feature_scale=3.0,
    )  # fmt: skip
    model = models.MLPDenoiser(num_steps=4, config=net)
    apply_fn, params = apply.functional(model, jax.random.key(3))
    params = dict(_perturbed(params), Embed_0={"embedding": jnp.full((4, 32), 50.0)})
    return (
        model,
        apply_fn,
        params,
        *students.tabulate_inputs(apply_fn, params, size=size, bound=bound),
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
    # The bound is tight: the largest error is 0.19 of it (AMD EPYC), not orders below.
    assert np.max(error(tab) / tol) > 0.05, np.max(error(tab) / tol)
    table = tab["input_table"]
    linear = table.at[:, 2:].set(0.0).at[:, 1].set(table[:, 2:].sum(1) + table[:, 1])
    shifted = jnp.roll(table, 1, axis=2)
    swapped = students.tabulate_inputs(
        apply.functional(model, jax.random.key(0))[0],
        dict(params, Dense_0={"kernel": jnp.asarray(w0[:, ::-1].reshape(32, 32), jnp.float32),
                              "bias": params["Dense_0"]["bias"]}),
        size=size, bound=bound,
    )[1]["input_table"]  # fmt: skip
    # Measured (AMD EPYC): linear 80x over the bound, shifted 12,000x, swapped 28,000x.
    for wrong, over in ((linear, 40), (shifted, 1000), (swapped, 1000)):
        assert np.max(error(dict(tab, input_table=wrong)) / tol) > over
    far = jnp.asarray([[bound + 3.0, -bound - 1.0], [bound, -bound]])
    read = jax.jit(tab_fn)(tab, far, jnp.zeros(2, jnp.int32))
    np.testing.assert_array_equal(read[0], read[1])


def test_tabulated_light_network_equals_the_light_network():
    """The residual light network (GELU, all blocks) with its inputs tabulated at the
    defaults equals it within 1e-4 at every step (inputs within the bound), with the
    same parameters but ``Dense_0``."""
    model, _, params = _residual_sinusoidal()
    light_fn, lparams = students.lighten(model, params, drop=0, activation="gelu")
    tab_fn, tab = students.tabulate_inputs(light_fn, lparams)
    tables = light_fn.model.config.replace(input_table=2048, input_bound=8.0)
    assert tab_fn.model == light_fn.model.clone(config=tables)
    assert set(tab) == set(lparams) - {"Dense_0"} | {"input_table", "input_bias"}
    x = jnp.clip(2.0 * jax.random.normal(jax.random.key(5), (model.num_steps, 2)), -7.9, 7.9)
    t = jnp.arange(model.num_steps)
    want = jax.jit(light_fn)(lparams, x, t)
    np.testing.assert_allclose(jax.jit(tab_fn)(tab, x, t), want, atol=1e-4, rtol=5e-5)
    # Restoring from settings: the same network, parameters of the same shapes.
    again = apply.functional(tab_fn.model, jax.random.key(0))[1]
    assert jax.tree.map(jnp.shape, again) == jax.tree.map(jnp.shape, tab)


@pytest.mark.parametrize(
    "model,kw,message",
    [
        (_net(), {}, "tabulate_inputs needs Fourier input features, got 'none'"),
        (_net(input_features="fourier", time_embedding="sinusoidal"), {},
         "tabulate_inputs needs step tables; lighten the model first"),
        (_net(input_features="fourier"), dict(size=1), "size must be at least 2, got 1"),
        (_net(input_features="fourier"), dict(size=0), "size must be a positive integer, got 0"),
        (_net(input_features="fourier"), dict(bound=0.0),
         "bound must be a positive finite number, got 0.0"),
        (_net(input_features="fourier", input_table=4), {},
         "the model's inputs are already read from tables"),
    ],
)  # fmt: skip
def test_tabulate_inputs_refuses_what_it_cannot_do(model, kw, message):
    with pytest.raises(ValueError) as err:
        students.tabulate_inputs(apply.Apply(model), None, **kw)  # before reading params
    assert str(err.value) == message
    with pytest.raises(ValueError) as err:
        students.tabulate_inputs(lambda p, x, t: x, None)
    assert str(err.value) == "tabulate_inputs takes an apply_fn from functional or lighten"


def test_the_smallest_tables_and_bounds_are_taken():
    fn, params = apply.functional(_net(input_features="fourier", width=8), jax.random.key(0))
    tab_fn, tab = students.tabulate_inputs(fn, params, size=2, bound=0.5)
    assert tab_fn.model.config.input_table == 2 and tab["input_table"].shape[2] == 1


@pytest.mark.parametrize(
    "model,kw,message",
    [
        (models.MLPDenoiser(), dict(drop=1),
         "drop must be 0 for a model without residual blocks, got 1"),
        (models.MLPDenoiser(config=models.NetworkConfig(residual=True)), dict(drop=3),
         "drop must be below the model's depth 3, got 3"),
        (models.MLPDenoiser(), dict(drop=-1), "drop must be a non-negative integer, got -1"),
        (models.MLPDenoiser(), dict(activation="tanh"),
         "activation must be one of ['relu', 'gelu', 'silu'], got 'tanh'"),
        (models.MLPDenoiser(num_classes=3), {},
         "lighten takes an unconditional model (num_classes=0)"),
        (_net(input_features="fourier", input_table=4), {},
         "lighten takes a model whose inputs are not read from tables"),
    ],
)  # fmt: skip
def test_lighten_refuses_what_it_cannot_do(model, kw, message):
    with pytest.raises(ValueError) as err:
        students.lighten(model, None, **kw)  # refused before the parameters are read
    assert str(err.value) == message


def test_lighten_drops_one_block_by_default():
    model = models.MLPDenoiser(config=models.NetworkConfig(residual=True, depth=2, width=8))
    _, params = apply.functional(model, jax.random.key(0))
    light_fn, _ = students.lighten(model, params)
    assert light_fn.model.config.depth == 1


def test_on_steps_cuts_the_step_tables_to_the_rows_it_is_called_at():
    """The cut network equals the whole one at its steps, given in any order (oracle: the
    whole network); ``restore`` writes the cut rows back and leaves every other row, and
    takes the other parameters from the cut network's."""
    model, _, params = _residual_sinusoidal()
    light_fn, lparams = students.lighten(model, params, drop=1)
    steps = [37, 3, 12]
    cut_fn, cut, restore = students.on_steps(light_fn, lparams, steps)
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

    model, _, params = _residual_sinusoidal()
    light_fn, lparams = students.lighten(model, params, drop=1)
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
    cut_fn, cut, restore = students.on_steps(light_fn, lparams, steps)
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
    "steps,message",
    [
        ([], "steps must be one or more integers, got []"),
        ([1.5, 3.0], "steps must be one or more integers, got [1.5, 3.0]"),
        ([0, 50], "steps must lie in [0, 50), got 0 to 50"),
        ([-1], "steps must lie in [0, 50), got -1 to -1"),
        ([1, 2, 60], "steps must lie in [0, 50), got 1 to 60"),
    ],
)
def test_on_steps_refuses_what_it_cannot_do(steps, message):
    tables = apply.Apply(models.MLPDenoiser(num_steps=50))
    with pytest.raises(ValueError) as err:
        students.on_steps(tables, None, steps)  # refused before the parameters are read
    assert str(err.value) == message
    sinusoidal_steps = apply.Apply(
        models.MLPDenoiser(config=models.NetworkConfig(time_embedding="sinusoidal"))
    )
    assert students.has_step_tables(tables)
    assert not students.has_step_tables(sinusoidal_steps)
    assert not students.has_step_tables(lambda p, x, t: x)  # not a functional network
    with pytest.raises(ValueError) as err:
        students.on_steps(sinusoidal_steps, None, [1])
    assert str(err.value) == (
        "on_steps takes an apply_fn with step tables, from functional or lighten"
    )


def test_on_steps_takes_the_first_and_last_steps():
    fn, params = apply.functional(models.MLPDenoiser(num_steps=50), jax.random.key(0))
    cut_fn, cut, _ = students.on_steps(fn, params, [0, 49])
    x, t = jnp.ones((2, 2)), jnp.array([0, 49])
    np.testing.assert_allclose(cut_fn(cut, x, t), fn(params, x, t), rtol=1e-6, atol=1e-6)
