import pytest

from keras_facesr.config import Config, ConfigError, load_config


def test_defaults_follow_the_method():
    cfg = load_config()
    assert cfg.model.scale == 4 and cfg.degrade.resize == ["bilinear"]
    assert cfg.loss.identity > 0 and cfg.loss.gan in ("gan", "ragan", "wgan", "wgan-gp", "hinge")


def test_toml_file_and_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[model]\ngenerator = "srresnet"\nscale = 8\n[loss]\ngan = "wgan-gp"\n'
                 "identity = 0\n[train]\nsteps = 5\nhr_size = 64\n")
    cfg = load_config(f, ["train.steps=7", "degrade.blur=[\"box\", \"gaussian\"]", "loss.gan=hinge"])
    assert (cfg.model.generator, cfg.model.scale, cfg.loss.identity) == ("srresnet", 8, 0.0)
    assert cfg.train.steps == 7 and cfg.degrade.blur == ["box", "gaussian"]
    assert cfg.loss.gan == "hinge"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loss.gann=gan", "loss.gann"),
        ("nosection.x=1", "nosection.x"),
        ("loss.gan=wgn", "loss.gan = 'wgn'"),
        ("model.scale=3", "model.scale = 3"),
        ("train.steps=fast", "train.steps = 'fast'"),
        ("train.hr_size=102", "train.hr_size = 102"),
        ("degrade.jpeg_quality=[90, 10]", "degrade.jpeg_quality"),
        ("degrade.native_size=[30, 20]", "degrade.native_size"),
        ("train.ema=1", "train.ema = 1"),
        ("train.ema=-0.5", "train.ema = -0.5"),
    ],
)
def test_errors_name_key_and_value(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        load_config(None, [override])


def test_bad_file_is_named(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text("[model\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_config(f)
    with pytest.raises(ConfigError, match="missing.toml"):
        load_config(tmp_path / "missing.toml")


def test_round_trip_through_toml(tmp_path):
    cfg = load_config(None, ["loss.gan=hinge", "degrade.jpeg_quality=[20, 80]"])
    f = tmp_path / "saved.toml"
    f.write_text(cfg.to_toml())
    assert load_config(f).to_dict() == cfg.to_dict()
    assert Config().check().to_dict() == load_config().to_dict()


def test_every_choice_the_cli_offers_is_one_the_code_accepts():
    """`evaluate --degradation` once offered "nearest", which the degradations lack."""
    import click

    from keras_facesr.cli import main
    from keras_facesr.data.degrade import RESIZE, Degradation
    from keras_facesr.models.archs.generator import build_generator

    evaluate = main.commands["evaluate"]
    (degradation,) = [p for p in evaluate.params if p.name == "resize"]
    assert isinstance(degradation.type, click.Choice)
    for method in degradation.type.choices:
        assert method in RESIZE
        Degradation(4, resize=[method])
    (generator,) = [p for p in main.commands["fit"].params if p.name == "generator"]
    for name in generator.type.choices:
        build_generator(name, 4, 1, 8)

