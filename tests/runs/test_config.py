"""Settings: presets, the JSON round-trip, what a command line's settings mean, and
the resume policy."""

import dataclasses

import pytest

from jaxdiff.runs import build, config, overrides, presets


@pytest.mark.parametrize("name", ["seed", "fast"])
def test_presets_round_trip_through_json(name):
    cfg = presets.preset(name)
    assert config.Config.from_json(cfg.to_json()) == cfg


def test_seed_preset_holds_every_seed_constant():
    cfg = presets.preset("seed")
    assert (cfg.schedule.kind, cfg.schedule.num_steps) == ("sigmoid", 100)
    assert (cfg.schedule.beta_start, cfg.schedule.beta_end) == (1e-5, 5e-3)
    assert (cfg.model.width, cfg.model.depth, cfg.model.init_style) == (128, 3, "torch")
    t = cfg.train
    assert (t.epochs, t.batch_size, t.learning_rate, t.clip_norm) == (4000, 128, 1e-3, 1.0)
    assert (t.target, t.t_sampler, t.ema_decay, t.lr_schedule) == (
        "eps",
        "antithetic",
        None,
        "constant",
    )
    smp = cfg.sample
    assert (smp.method, smp.variance, smp.last_step_noise) == ("ddpm", "beta", True)
    assert (cfg.data.name, cfg.data.n, cfg.data.standardize) == ("s_curve", 10_000, False)


@pytest.mark.parametrize(
    "text, match",
    [
        ("[1, 2]", "config must be a JSON object"),
        ('{"model": {"width": "wide"}}', "config model.width must be of type int"),
        ('{"model": {"height": 3}}', r"section 'model' has unknown key\(s\) \['height'\]"),
        ('{"extra": {}}', r"unknown section\(s\) \['extra'\]"),
        ('{"seed": -1}', "config seed must be a non-negative integer, got -1"),
        ("{not json", "config is not valid JSON"),
        ('{"train": {"ema_decay": "high"}}', "config train.ema_decay must be of type"),
    ],
)
def test_bad_config_json(text, match):
    with pytest.raises(ValueError, match=match):
        config.Config.from_json(text)


def test_unknown_preset():
    with pytest.raises(
        ValueError, match=r"preset must be one of \['default', 'fast', 'seed'\], got 'x'"
    ):
        presets.preset("x")


def test_configure_applies_settings_as_the_command_line_means_them(tmp_path):
    fast = presets.preset("fast")
    cfg = overrides.configure(fast, epochs=300, learning_rate=0.01, ema_decay=0, schedule="sigmoid")
    assert (cfg.train.epochs, cfg.train.lr_decay_epochs) == (300, 300)  # the decay follows
    assert cfg.train.learning_rate == 0.01 and cfg.train.ema_decay is None
    assert (cfg.schedule.kind, cfg.schedule.beta_start, cfg.schedule.beta_end) == (
        "sigmoid",
        1e-5,
        5e-3,
    )
    assert overrides.configure(fast) == fast  # nothing given, nothing changed
    path = tmp_path / "rows.csv"
    seed = overrides.configure(presets.preset("seed"), data=str(path))
    assert (seed.data.name, seed.data.path, seed.data.standardize) == ("file", str(path), True)
    raw = overrides.configure(presets.preset("seed"), data=str(path), standardize=False)
    assert raw.data.standardize is False  # a file is standardised unless asked not to be
    with pytest.raises(ValueError, match="need --conditional"):
        overrides.configure(fast, guidance=2.0)
    with pytest.raises(ValueError, match="--batch-size: must be at most the data size 10000"):
        overrides.configure(fast, batch_size=20_000)
    with pytest.raises(TypeError, match="unknown setting"):
        overrides.configure(fast, colour="red")


def test_resume_accepts_equal_settings_and_names_a_differing_one():
    started = overrides.configure(
        presets.preset("fast"), data="moons", seed=3, learning_rate=0.01, epochs=200
    )
    same = dict(data="moons", seed=3, learning_rate=0.01)
    resumed = overrides.resume_config(started, "fast", epochs=150, **same)
    assert resumed.train.epochs == 150 and resumed.train.lr_decay_epochs == 200  # kept
    assert overrides.resume_config(started, "fast", epochs=200, **same).train.epochs == 200
    assert overrides.resume_config(started) == started  # nothing given: the saved settings
    assert overrides.resume_config(started, None, learning_rate=0.01) == started
    with pytest.raises(ValueError, match=r"started with train\.learning_rate = 0\.01, this"):
        overrides.resume_config(started, "fast", data="moons", seed=3)  # the preset's 3e-3
    with pytest.raises(ValueError, match="started with seed = 3, this command line gives 4"):
        overrides.resume_config(started, None, seed=4)
    with pytest.raises(ValueError, match=r"started with data\.name = 'moons'"):
        overrides.resume_config(started, None, data="circles")


def test_student_network_choices_and_students_written_before_them():
    """``student``: the teacher's own network (the default) or, for direct distillation,
    the light one: the teacher's with step tables, one residual block fewer and ReLU. A
    student config from before ``student`` (or before ``method``) reads as the teacher's
    network, as it was distilled."""
    from jaxdiff.runs import distill

    teacher = presets.preset("default")
    direct = distill.student_config(teacher, "t", config.DistillConfig(method="direct"), data_dim=2)
    assert direct.distill.student == "teacher" and direct.model == teacher.model
    light = distill.student_config(teacher, "t", config.DistillConfig(student="light"), data_dim=2)
    assert light.model == dataclasses.replace(
        teacher.model, time_embedding="table", depth=2, activation="relu", input_table=2048
    )
    # Input tables only for standardized data of at most 8 coordinates.
    for cfg, dim in ((teacher, 9), (overrides.configure(teacher, standardize=False), 2)):
        plain = distill.student_config(
            cfg, "t", config.DistillConfig(student="light"), data_dim=dim
        )
        assert plain.model.input_table == 0
    progressive = distill.student_config(
        teacher, "t", config.DistillConfig(method="progressive"), data_dim=2
    )
    assert progressive.distill.student == "teacher" and progressive.model == teacher.model
    with pytest.raises(ValueError, match="student 'light' needs method 'direct'"):
        distill.student_config(
            teacher, "t", config.DistillConfig(method="progressive", student="light"), data_dim=2
        )
    # A light student with input tables is no teacher: its tables are not for training
    # (as a teacher's own network) and cannot be lightened.
    for kind in distill.STUDENTS:
        with pytest.raises(ValueError, match="reads its inputs from tables"):
            distill.student_config(light, "t", config.DistillConfig(student=kind), data_dim=2)
    with pytest.raises(ValueError, match=r"student must be one of \['teacher', 'light'\]"):
        distill.student_config(teacher, "t", config.DistillConfig(student="tiny"), data_dim=2)
    for old, method in (({"method": "direct"}, "direct"), ({}, "progressive")):
        d = direct.to_dict()
        d["distill"] = {k: v for k, v in d["distill"].items() if k not in ("student", "method")}
        d["distill"] |= old
        read = config.Config.from_dict(d).distill
        assert (read.method, read.student) == (method, "teacher")
    assert config.Config.from_json(light.to_json()) == light


def test_each_student_has_its_own_iterations_and_pairs():
    """Direct: 6000 steps on 20,000 pairs per level; the light student 12,000 on 40,000
    (fewer pairs let its longer training learn them rather than the map); progressive
    learns from the training rows, so it has no pairs and refuses them. Given settings are
    kept; a student config from before ``pairs`` reads as None."""
    from jaxdiff.runs import distill

    teacher = presets.preset("default")

    def spec(**kw):
        return distill.student_config(teacher, "t", config.DistillConfig(**kw), data_dim=2).distill

    direct, light = spec(), spec(student="light")
    assert (direct.iterations, direct.pairs) == (6000, 20_000)
    assert (light.iterations, light.pairs) == (12_000, 40_000)
    progressive = spec(method="progressive")
    assert (progressive.iterations, progressive.pairs) == (1000, None)
    assert spec(student="light", pairs=300, iterations=7).pairs == 300
    with pytest.raises(ValueError, match=r"pairs is for method 'direct'.*got pairs=5 with method"):
        spec(method="progressive", pairs=5)
    with pytest.raises(ValueError, match="pairs must be a positive integer, got 0"):
        spec(pairs=0)
    d = distill.student_config(teacher, "t", config.DistillConfig(), data_dim=2).to_dict()
    del d["distill"]["pairs"]
    assert config.Config.from_dict(d).distill.pairs is None


def test_sample_config_is_the_sampler_settings_and_n():
    """The sampler's settings are declared once, by ``sampler_settings.SamplerSettings``: the run's
    ``sample`` section adds ``n`` alone; a config written when "all T" was ``steps = 0``
    reads as None."""
    from jaxdiff.engine import sampler_settings

    chosen = [f.name for f in dataclasses.fields(sampler_settings.SamplerSettings)]
    assert [f.name for f in dataclasses.fields(config.SampleConfig)] == [*chosen, "n"]
    opts = build.sampler_options(presets.preset("fast"))
    assert (opts.method, opts.steps, opts.variance, opts.target) == (
        "dpm-solver",
        20,
        "beta_tilde",
        "v",
    )
    old = config.Config().to_dict()
    old["sample"]["steps"] = 0
    assert config.Config.from_dict(old).sample.steps is None
    with pytest.raises(ValueError, match="method must be one of"):
        config.SampleConfig(method="rk45")  # checked where it is declared


def test_model_config_is_the_networks_options_and_conditional():
    """The network's options are declared once, by ``models.NetworkConfig``: the run's
    ``model`` section adds ``conditional`` and ``context`` alone (what the data make the
    model conditional on), and builds the network from them."""
    from jaxdiff.core import models

    network = [f.name for f in dataclasses.fields(models.NetworkConfig)]
    assert [f.name for f in dataclasses.fields(config.ModelConfig)] == [
        *network,
        "conditional",
        "context",
    ]
    cfg = presets.preset("default").model
    assert cfg.network == models.NetworkConfig(**{n: getattr(cfg, n) for n in network})
    assert build.build_model(cfg, 1000, 2).config == cfg.network
    with pytest.raises(ValueError, match="width must be a positive integer, got 0"):
        config.ModelConfig(width=0)  # checked where it is declared


def test_light_network_and_tables_are_the_ones_the_config_names():
    """``light_network`` lightens as ``light_model`` chose (one block fewer and ReLU for the
    residual ``default`` recipe; no block dropped from a plain MLP, where ``drop=1`` would
    be refused), and ``tabulated`` reads the inputs from tables of the chosen size, or
    leaves a network without tables as it was; each builds the network the student's
    config describes."""
    import jax

    from jaxdiff.core import apply
    from jaxdiff.runs import build, distill

    for teacher in (presets.preset("default"), overrides.configure(presets.preset("default"),
                                                               residual=False)):  # fmt: skip
        light = distill.light_model(teacher, 2)
        fn, params = apply.functional(build.build_model(teacher.model, 1000, 2), jax.random.key(0))
        light_fn, light_params = distill.light_network(fn, params, light)
        assert light_fn.model == build.build_model(
            dataclasses.replace(light, input_table=0), 1000, 2
        )
        assert light_fn.model.config.depth == teacher.model.depth - (
            1 if teacher.model.residual else 0
        )
        for tables in (light, dataclasses.replace(light, input_table=64, input_bound=4.0)):
            tab_fn, _ = distill.tabulated(tables, light_fn, light_params)
            assert tab_fn.model == build.build_model(tables, 1000, 2)
        plain = dataclasses.replace(light, input_table=0)
        assert distill.tabulated(plain, light_fn, light_params) == (light_fn, light_params)


def test_student_seed_is_the_teachers_unless_given():
    """``jaxdiff distill --seed``: the student's training, pairs and samples are drawn from
    its own seed, the teacher's when none is given; a negative seed is refused."""
    from jaxdiff.cli.parser import build
    from jaxdiff.runs import distill

    teacher = dataclasses.replace(presets.preset("default"), seed=11)

    def student(seed):
        return distill.student_config(teacher, "t", config.DistillConfig(), data_dim=2, seed=seed)

    assert student(None).seed == 11
    assert student(5).seed == 5 and student(5).model == teacher.model
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        student(-1)
    args = build()[0].parse_args(["distill", "--run", "t", "--out", "s", "--seed", "5"])
    assert args.seed == 5
    assert build()[0].parse_args(["distill", "--run", "t", "--out", "s"]).seed is None
