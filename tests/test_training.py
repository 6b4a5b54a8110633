import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import impostors, leaves_equal, passes, scores

from jaxdiff.core import data
from jaxdiff.engine import fitting, samplers, train_spec, training


def _adam_np(grads, lr=1e-3, clip=1.0, b1=0.9, b2=0.999, eps=1e-8):
    """Float64 numpy oracle: clip the global norm, then Adam (Kingma & Ba 2015, Alg. 1)."""
    m = v = 0.0
    out = []
    for k, g in enumerate(grads, start=1):
        g = np.asarray(g, np.float64)
        norm = np.linalg.norm(g)
        if clip is not None and norm > clip:
            g = g * clip / norm
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mhat, vhat = m / (1 - b1**k), v / (1 - b2**k)
        out.append(-lr * mhat / (np.sqrt(vhat) + eps))
    return out


def test_clipping_happens_before_adam(x64_standard):
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=5) * s for s in (0.1, 1e6, 3.0, 1e-3)]
    opt = train_spec.make_optimizer(1e-3, 1.0)
    state = opt.init(jnp.zeros(5))
    got = []
    for g in grads:
        u, state = opt.update(jnp.asarray(g), state)
        got.append(np.asarray(u))
    want = _adam_np(grads)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
    # the oracle can tell the orders apart: Adam then clip gives a different second step
    unclipped = _adam_np(grads, clip=None)
    assert not np.allclose(unclipped[2], want[2], rtol=1e-3)


def test_huge_gradient_gives_update_of_norm_one_gradient(x64_standard):
    g = np.array([3.0, -4.0, 12.0])
    opt = train_spec.make_optimizer(1e-3, 1.0)
    s1 = s2 = opt.init(jnp.zeros(3))
    warm = jnp.asarray([0.2, 0.1, -0.3])
    _, s1 = opt.update(warm, s1)
    _, s2 = opt.update(warm, s2)
    u_huge, _ = opt.update(jnp.asarray(g * 1e8), s1)
    u_unit, _ = opt.update(jnp.asarray(g / np.linalg.norm(g)), s2)
    np.testing.assert_allclose(np.asarray(u_huge), np.asarray(u_unit), rtol=1e-12)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(learning_rate=0.0), "learning_rate must be positive, got 0.0"),
        (dict(learning_rate=-1e-3), "learning_rate must be positive"),
        (dict(clip_norm=0.0), "clip_norm must be positive or None, got 0.0"),
    ],
)
def test_make_optimizer_rejects(kw, match):
    with pytest.raises(ValueError, match=match):
        train_spec.make_optimizer(**kw)


def test_epoch_is_one_scan_plus_ragged_step_and_matches_manual_steps(small):
    """101 points at batch 16 = 6 full batches + 5: 7 steps, in the order of the permutation."""
    state, x, kw = small
    new, loss = training.train_epoch(state, x, **kw())
    assert int(new.step) == 7 and int(new.epoch) == 1
    perm_key, steps_key = jax.random.split(jax.random.fold_in(state.key, 0))
    perm = np.asarray(jax.random.permutation(perm_key, 101))
    s, total = state, 0.0
    for i in range(7):
        idx = perm[16 * i : 16 * (i + 1)]
        s, l_i = training.train_step(s, x[idx], jax.random.fold_in(steps_key, i), **kw())
        total += float(l_i) * len(idx)
    for p, q in zip(
        jax.tree_util.tree_leaves(new.params), jax.tree_util.tree_leaves(s.params), strict=True
    ):
        np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=1e-5, atol=1e-6)
    assert float(loss) == pytest.approx(total / 101, rel=1e-5)
    assert sorted(perm.tolist()) == list(range(101))  # every point exactly once


def test_chunked_epochs_are_bit_identical(small):
    state, x, kw = small
    a, la = training.train_epochs(state, x, 6, buffer=6, **kw())
    b = state
    lb = []
    for n in (1, 3, 2):
        b, l_n = training.train_epochs(b, x, n, buffer=6, **kw())
        lb.extend(np.asarray(l_n).tolist())
    assert leaves_equal(a.params, b.params) and leaves_equal(a.opt_state, b.opt_state)
    assert np.array_equal(np.asarray(la), np.asarray(lb))
    assert int(a.epoch) == int(b.epoch) == 6


def test_ema_off_leaves_none_and_on_follows_formula(small):
    state, x, kw = small
    batch = x[:16]
    key = jax.random.key(9)
    s_off, _ = training.train_step(state, batch, key, **kw())
    assert s_off.ema_params is None
    ema_state = dataclasses.replace(state, ema_params=state.params)
    s_on, _ = training.train_step(ema_state, batch, key, **kw(ema_decay=0.99))
    assert leaves_equal(s_on.params, s_off.params)
    for e, p0, p1 in zip(
        jax.tree_util.tree_leaves(s_on.ema_params),
        jax.tree_util.tree_leaves(state.params),
        jax.tree_util.tree_leaves(s_on.params),
        strict=True,
    ):
        np.testing.assert_allclose(
            np.asarray(e), 0.99 * np.asarray(p0) + 0.01 * np.asarray(p1), rtol=1e-6, atol=1e-7
        )


@pytest.mark.parametrize(
    "bs, match",
    [
        (0, "batch_size must be a positive integer, got 0"),
        (-4, "batch_size must be a positive integer"),
        (500, "at most the number of data points 101, got 500"),
    ],
)
def test_bad_batch_size(small, bs, match):
    state, x, kw = small
    with pytest.raises(ValueError, match=match):
        training.train_epoch(state, x, **kw(batch_size=bs))


@pytest.mark.slow
def test_seed_preset_learns_the_s_curve():
    """The seed preset trained for 600 epochs (47,400 steps) samples the S-curve better
    than three impostors: a uniform box and a Gaussian with the data's mean and std, and
    the data blurred by N(0, 0.03²) (three times its own noise).

    Measured here (2,000 samples against a fresh draw, floor MMD² 3.4e-4, precision 0.975,
    recall 0.973): 600 epochs MMD² 6.5e-3, precision 0.856, recall 0.975; the blurred
    curve 1.6e-2 / 0.687, the box 4.0e-2 / 0.533, the Gaussian 7.5e-2 / 0.400. At 150
    epochs the model scored 4.2e-2 / 0.56, no better than the box: short seed training
    cannot be told from a rectangle, so this test needs the longer run (``pytest -m slow``).
    """
    from jaxdiff.runs import presets, setup

    s = setup.setup(presets.preset("seed"))
    state, info = fitting.fit_state(
        s.state, s.data, spec=s.spec, schedule=s.schedule, epochs=600, epochs_per_call=150
    )
    assert info["losses"][-1] < info["losses"][0]
    reference, floor_draw = data.s_curve(4321, 2000), data.s_curve(5, 2000)
    floor = scores(reference, floor_draw)
    bounds = dict(mmd2=1e-2, precision=0.2, recall=0.05)
    x = samplers.sample(jax.random.key(7), s.apply_fn, state.params, s.schedule, (2000, 2))
    got = scores(reference, x)
    assert passes(got, floor, **bounds), (got, floor)
    for name, fake in impostors(data.s_curve(99, 2000), 2000, blur=0.03).items():
        wrong = scores(reference, fake)
        assert not passes(wrong, floor, **bounds), f"the {name} passed: {wrong}"


def _updates(opt, grads):
    state, out = opt.init(jnp.zeros(5)), []
    for g in grads:
        u, state = opt.update(jnp.asarray(g), state)
        out.append(np.asarray(u))
    return out


def test_the_optimizer_defaults_are_the_seeds_and_adams_constants_are_passed(x64_standard):
    """``make_optimizer()`` is the seed's clip at 1 then Adam(1e-3) with PyTorch's
    constants; other constants, a schedule and no clipping reach the optimiser."""
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=5) * s for s in (10.0, 0.1, 5.0, 0.01)]
    for a, b in zip(_updates(train_spec.make_optimizer(), grads), _adam_np(grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
    odd = train_spec.make_optimizer(2e-3, None, b1=0.5, b2=0.9, eps=1e-2)
    want = _adam_np(grads, lr=2e-3, clip=None, b1=0.5, b2=0.9, eps=1e-2)
    for a, b in zip(_updates(odd, grads), want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
    scheduled = train_spec.make_optimizer(optax.constant_schedule(1e-3))
    for a, b in zip(_updates(scheduled, grads), _adam_np(grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)


def test_a_fresh_state_counts_from_zero_with_ema_only_when_asked():
    params = {"w": jnp.arange(3.0)}
    opt = train_spec.make_optimizer()
    state = train_spec.init_state(jax.random.key(0), params, opt)
    assert state.ema_params is None
    assert state.step.dtype == state.epoch.dtype == jnp.int32 and int(state.step) == 0
    ema = train_spec.init_state(jax.random.key(0), params, opt, ema=True)
    np.testing.assert_array_equal(ema.ema_params["w"], params["w"])


def _apply(interval=False):
    from jaxdiff.core import apply, models

    net = models.MLPDenoiser(num_steps=10, config=models.NetworkConfig(interval=interval))
    return apply.Apply(net)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"objective": "score"},
         "objective must be one of ['ddpm', 'flow', 'meanflow'], got 'score'"),
        ({"target": "noise"}, "target must be one of ['eps', 'x0', 'v'], got 'noise'"),
        ({"t_sampler": "logit_normal"},
         "t_sampler must be one of ['antithetic', 'uniform'], got 'logit_normal'"),
        ({"objective": "flow", "t_sampler": "even"},
         "t_sampler must be one of ['antithetic', 'uniform', 'logit_normal'], got 'even'"),
        ({"pairing": "best"}, "pairing must be one of ['independent', 'ot', 'given'], got 'best'"),
        ({"pairing": "ot"}, "pairing is for objectives 'flow' and 'meanflow', got pairing='ot' "
                            "with objective 'ddpm'"),
        ({"objective": "flow", "pairing": "ot", "batch_sharding": "rows"},
         "pairing 'ot' cannot be sharded over devices yet (the assignment runs on the host); "
         "train it on one device, or use pairing 'independent' with devices"),
        ({"objective": "meanflow"}, "objective 'meanflow' needs a model that takes an interval, "
                                    "built with NetworkConfig(interval=True)"),
    ],
)  # fmt: skip
def test_a_train_spec_refuses_in_one_exact_line(kw, message):
    with pytest.raises(ValueError) as err:
        train_spec.TrainSpec(_apply(), train_spec.make_optimizer(), **kw)
    assert str(err.value) == message


def test_a_train_spec_accepts_each_family_with_its_own_options():
    opt = train_spec.make_optimizer()
    train_spec.TrainSpec(_apply(), opt, objective="flow", t_sampler="logit_normal", pairing="ot")
    train_spec.TrainSpec(_apply(True), opt, objective="meanflow", pairing="given")
    train_spec.TrainSpec(lambda p, x, t: x, opt, objective="meanflow")  # not ours: unchecked
    train_spec.TrainSpec(_apply(), opt, batch_sharding="rows", t_sampler="uniform")
    train_spec.TrainSpec(_apply(), opt, objective="flow", batch_sharding="rows")


def _spec(objective="ddpm", pairing="independent", data_dim=2, **net):
    from jaxdiff.core import apply, models

    model = models.MLPDenoiser(data_dim=data_dim, num_steps=20, **net)
    return train_spec.TrainSpec(
        apply.Apply(model), train_spec.make_optimizer(), batch_size=4, objective=objective,
        pairing=pairing,
    )  # fmt: skip


def test_a_fits_inputs_are_checked_and_returned_ready():
    """``check_inputs``: rows, labels or a context (in the model's dtype), pairs of rows
    and their noise for a flow with given pairs; each refusal names what is wrong."""
    from jaxdiff.ddpm import schedules

    sched = schedules.cosine_schedule(20)
    rows = np.ones((6, 2))
    x, y = training.check_inputs(rows, None, spec=_spec(), schedule=sched)
    assert x.shape == (6, 2) and y is None
    labels = np.array([0, 1, 2, 0, 1, 2])
    x, y = training.check_inputs(rows, labels, spec=_spec(num_classes=3), schedule=sched)
    assert y.dtype == jnp.int32 and y.tolist() == labels.tolist()
    ctx = np.arange(12.0).reshape(6, 2)  # float64, given with float32 rows
    x, y = training.check_inputs(rows.astype(np.float32), ctx, spec=_spec(context=2),
                                 schedule=sched)  # fmt: skip
    assert y.dtype == x.dtype == jnp.float32 and np.asarray(y).tolist() == ctx.tolist()
    pairs = np.ones((6, 6))  # [x_0 | noise] rows of a 3-D model
    given = _spec("flow", "given", data_dim=3)
    x, _ = training.check_inputs(pairs, None, spec=given, schedule=sched)
    assert x.shape == (6, 6)
    for bad, labels, spec, steps, message in (
        (np.ones((6, 3)), None, _spec("flow", "given", data_dim=1), 20,
         "pairs [x_0 | noise] need an even number of columns, got 3"),
        (np.ones((6, 4)), None, _spec("flow"), 20,
         "data has 4 features but the model was built for 2"),
        (np.ones((6, 2)), None, _spec(context=2), 20,
         "this model needs a context of 2 columns: give context"),
        (np.ones((6, 2)), np.ones((5, 2)), _spec(context=2), 20,
         "context must have one row per data row, 6, got shape (5, 2)"),
        (np.ones((6, 2)), np.zeros(5, int), _spec(num_classes=3), 20,
         "labels must have shape (6,), one per data row, got (5,)"),
        (np.ones((6, 1, 2)), None, _spec(), 20,
         "data must be a non-empty (n, dim) array, got shape (6, 1, 2)"),
        (np.ones((6, 2)), None, _spec(), 30,
         "the schedule has 30 steps but the model's step embeddings have only 20 rows; "
         "build both with the same T"),
    ):  # fmt: skip
        with pytest.raises(ValueError) as err:
            training.check_inputs(bad, labels, spec=spec, schedule=schedules.cosine_schedule(steps))
        assert str(err.value) == message


def test_train_epochs_counts_and_sizes_its_buffer():
    from jaxdiff.core import apply, models
    from jaxdiff.ddpm import schedules

    apply_fn, params = apply.functional(
        models.MLPDenoiser(num_steps=10, config=models.NetworkConfig(width=8)), jax.random.key(0)
    )
    spec = train_spec.TrainSpec(apply_fn, train_spec.make_optimizer(), batch_size=8)
    state = train_spec.init_state(jax.random.key(1), params, spec.optimizer)
    x, sched = jnp.ones((16, 2)), schedules.cosine_schedule(10)
    same, losses = training.train_epochs(state, x, 0, spec=spec, schedule=sched)
    assert losses.shape == (0,) and int(same.epoch) == 0
    on, losses = training.train_epochs(state, x, 2, spec=spec, schedule=sched)
    assert losses.shape == (2,) and int(on.epoch) == 2 and int(on.step) == 4
    for n, kw, message in (
        (-1, {}, "num_epochs must be a non-negative integer, got -1"),
        (2, {"buffer": 1}, "num_epochs must be at most buffer=1, got 2"),
    ):
        with pytest.raises(ValueError) as err:
            training.train_epochs(state, x, n, spec=spec, schedule=sched, **kw)
        assert str(err.value) == message
