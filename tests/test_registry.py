"""Extension points: every name offered resolves, and a part registered by a plugin (here, by
the test) is usable from the config and the CLI without touching any other file."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
from click.testing import CliRunner
from keras import ops

from keras_facesr.cli import main
from keras_facesr.config import ConfigError, load_config
from keras_facesr.face.detect import Face
from keras_facesr.registry import (
    ADVERSARIAL_LOSSES,
    DETECTORS,
    DISCRIMINATORS,
    GENERATORS,
    REGISTRIES,
    Registry,
    UnknownName,
)

SAMPLES = Path(__file__).resolve().parents[1] / "keras_facesr" / "samples"


def test_every_registered_name_resolves_to_a_part_of_its_kind():
    from keras_facesr.models.archs.discriminator import DiscriminatorSpec
    from keras_facesr.models.losses import AdversarialLoss

    kinds = {"discriminator": DiscriminatorSpec, "adversarial loss": AdversarialLoss}
    for kind, registry in REGISTRIES.items():
        assert registry.names()
        for name in registry.names():
            part = registry.get(name)
            assert isinstance(part, kinds[kind]) if kind in kinds else callable(part), (kind, name)
    for name in GENERATORS.names():
        assert GENERATORS.get(name)(4, 1, 8, None)(np.zeros((1, 8, 8, 3), np.float32)).shape == (1, 32, 32, 3)


def test_the_cli_and_the_config_offer_exactly_the_registered_names():
    (generator,) = [p for p in main.commands["fit"].params if p.name == "generator"]
    assert list(generator.type.choices) == list(GENERATORS.names())
    (detector,) = [p for p in main.commands["enhance"].params if p.name == "detector"]
    assert list(detector.type.choices) == list(DETECTORS.names())
    for key, registry in (("model.generator", GENERATORS), ("model.discriminator", DISCRIMINATORS),
                          ("loss.gan", ADVERSARIAL_LOSSES)):
        for name in registry.names():
            load_config(overrides=[f'{key}="{name}"'])
        with pytest.raises(ConfigError, match=key):
            load_config(overrides=[f'{key}="no-such-part"'])


def test_a_registry_refuses_duplicates_and_names_what_it_knows():
    r = Registry("widget", {"a": "keras_facesr.images:read_image"})
    with pytest.raises(ValueError, match="already registered"):
        r.register("a", object())
    with pytest.raises(UnknownName, match="unknown widget 'b' \\(one of a\\)"):
        r.get("b")
    assert callable(r.get("a"))


@pytest.fixture
def plugins():
    """A generator, an adversarial loss and a detector, registered as a plugin would."""
    from keras_facesr.models.losses import AdversarialLoss

    @GENERATORS.register("test-tiny")
    def tiny(scale: int, blocks: int = 0, filters: int = 0, name: str | None = None):
        lr = keras.Input((None, None, 3))
        x = keras.layers.UpSampling2D(scale, interpolation="bilinear")(lr)
        x = keras.layers.Conv2D(filters or 8, 3, padding="same", activation="relu")(x)
        return keras.Model(lr, keras.layers.Conv2D(3, 3, padding="same")(x), name=name)

    ADVERSARIAL_LOSSES.register("test-lsgan", AdversarialLoss(  # least squares (Mao et al.)
        lambda r, f: ops.mean(ops.square(r - 1.0)) + ops.mean(ops.square(f)),
        lambda r, f: ops.mean(ops.square(f - 1.0))))

    class OneFace:
        """A detector that always 'finds' one ~22 px face at a fixed place."""

        def __init__(self, min_confidence: float, min_face: int):
            self.min_confidence, self.min_face = min_confidence, min_face

        def detect(self, rgb):
            pts = np.array([[113, 113], [119, 113], [116, 117], [114, 120], [118, 120]], np.float32)
            return [Face((100, 100, 32, 36), 0.99, pts)]

        def refine(self, rgb, boxes):
            return [self.detect(rgb)[0] for _ in boxes]

    DETECTORS.register("test-one-face", OneFace)
    yield
    for registry, name in ((GENERATORS, "test-tiny"), (ADVERSARIAL_LOSSES, "test-lsgan"),
                           (DETECTORS, "test-one-face")):
        registry.unregister(name)


def test_a_plugin_generator_and_gan_loss_train_from_the_cli(plugins, image_dir, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "fit", "--data", str(image_dir), "--output", str(out), "--steps", "4", "--generator", "test-tiny",
        "--set", 'loss.gan="test-lsgan"', "--set", 'model.discriminator="patch"',
        "--set", "train.steps_per_epoch=2", "--set", "train.pretrain_steps=2",
        "--set", "train.batch_size=4", "--set", "loss.identity=0", "--set", "loss.content=0",
        "--set", "train.tensorboard=false", "--set", "loss.adversarial=0.01"])
    assert result.exit_code == 0, result.output
    history = (out / "history.csv").read_text().splitlines()
    assert "loss_d" in history[0] and len(history) > 1
    assert 'generator = "test-tiny"' in (out / "config.toml").read_text()
    assert json.loads((out / "summary.json").read_text())["step"] == 4


def test_a_plugin_detector_is_used_by_enhance(plugins, tmp_path):
    result = CliRunner().invoke(main, [
        "enhance", str(SAMPLES / "solvay_1927_small.jpg"), "--output", str(tmp_path / "out"),
        "--report", str(tmp_path / "r.json"), "--detector", "test-one-face", "--quiet"])
    assert result.exit_code == 0, result.output
    faces = json.loads((tmp_path / "r.json").read_text())["inputs"][0]["faces"]
    assert [f["box"] for f in faces] == [[100, 100, 32, 36]]
    assert faces[0]["path"] == "super_resolved"


def test_a_plugin_detector_without_refine_each_checks_aligned_crops(plugins, tmp_path, monkeypatch):
    """`--aligned` checks a crop's framing with the detector's last stage, batched where the
    detector has ``refine_each``; one with only ``detect`` and ``refine`` (as the README's table
    asks of a detector) is refined image by image instead."""
    one_face = DETECTORS.get("test-one-face")
    assert not hasattr(one_face, "refine_each")
    refined = []  # boxes per refine call

    def counting_refine(self, rgb, boxes):
        refined.append(len(boxes))
        return [self.detect(rgb)[0] for _ in boxes]

    monkeypatch.setattr(one_face, "refine", counting_refine)
    crop = tmp_path / "crop.png"
    cv2.imwrite(str(crop), cv2.resize(cv2.imread(str(SAMPLES / "solvay_1927_small.jpg")), (32, 32)))
    result = CliRunner().invoke(main, [
        "enhance", str(crop), "--aligned", "--output", str(tmp_path / "out"),
        "--report", str(tmp_path / "r.json"), "--detector", "test-one-face", "--quiet"])
    assert result.exit_code == 0, result.output
    (face,) = json.loads((tmp_path / "r.json").read_text())["inputs"][0]["faces"]
    assert face["path"] == "super_resolved"
    assert refined and set(refined) == {1}  # the check ran, one box per call
