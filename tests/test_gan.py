import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_facesr.config import load_config
from keras_facesr.train.fit import build_gan


def _gan(gan_type="ragan", **train):
    overrides = [f"loss.gan={gan_type}", "loss.identity=0", "loss.content=0", "train.hr_size=32",
                 "model.disc_filters=4", "model.blocks=1", "model.filters=8"]
    overrides += [f"train.{k}={v}" for k, v in train.items()]
    return build_gan(load_config(None, overrides))


def _batch(n=4):
    hr = tf.random.stateless_uniform((n, 32, 32, 3), (0, 1))
    return tf.image.resize(hr, (8, 8), "area"), hr


@pytest.mark.parametrize("gan_type", ["gan", "ragan", "wgan", "wgan-gp", "hinge"])
def test_train_step_updates_both_networks(gan_type):
    gan = _gan(gan_type, d_steps=2)
    g0 = [w.copy() for w in gan.generator.get_weights()]
    d0 = [w.copy() for w in gan.discriminator.get_weights()]
    logs = gan.train_step(_batch())
    for key in ("loss_g", "loss_pixel", "loss_adv", "loss_d", "d_real", "d_fake"):
        assert np.isfinite(float(logs[key])), key
    assert any(np.abs(a - b).max() > 0 for a, b in zip(g0, gan.generator.get_weights(), strict=True))
    assert any(np.abs(a - b).max() > 0 for a, b in zip(d0, gan.discriminator.get_weights(), strict=True))
    assert int(gan.d_optimizer.iterations.numpy()) == 2
    assert int(gan.g_optimizer.iterations.numpy()) == 1
    if gan_type == "wgan-gp":
        assert float(logs["loss_gp"]) > 0


def test_wgan_clips_discriminator_weights():
    gan = _gan("wgan")
    gan.d_optimizer.learning_rate.assign(0.5)
    gan.train_step(_batch())
    for w in gan.discriminator.trainable_weights:
        assert float(tf.reduce_max(tf.abs(w))) <= 0.01 + 1e-7, w.name


def test_pretraining_touches_only_the_generator():
    gan = _gan()
    gan.pretraining = True
    d0 = [w.copy() for w in gan.discriminator.get_weights()]
    logs = gan.train_step(_batch())
    assert set(logs) == {"loss_pixel", "loss_g"}
    for a, b in zip(d0, gan.discriminator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(gan.d_optimizer.iterations.numpy()) == 0


def test_test_step_reports_psnr_against_bicubic():
    gan = _gan()
    logs = gan.test_step(_batch())
    assert {"psnr", "ssim", "psnr_bicubic", "ssim_bicubic"} <= set(logs)
    assert 5 < float(logs["psnr_bicubic"]) < 60


def test_identity_term_is_logged_when_an_encoder_is_given(tmp_path):
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="f")(inp)
    enc = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))
    enc.save(tmp_path / "enc.keras")
    cfg = load_config(None, [f"loss.encoder={tmp_path / 'enc.keras'}", "train.hr_size=32",
                             "model.disc_filters=4", "model.blocks=1", "loss.identity=0.5",
                             "loss.content=0.01"])
    from keras_facesr.train.fit import resolve_losses

    encoder, content, weights, notes = resolve_losses(cfg)
    gan = build_gan(cfg, encoder, content, weights)
    logs = gan.train_step(_batch())
    assert float(logs["loss_id"]) >= 0 and float(logs["loss_content"]) >= 0
    assert "loss_id" in logs and weights.identity == 0.5
    assert "loss_id_guard" not in logs  # off unless weighted


def test_identity_guard_term_is_logged_and_needs_an_encoder(tmp_path):
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="f")(inp)
    keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x)).save(tmp_path / "enc.keras")
    sets = ["train.hr_size=32", "model.disc_filters=4", "model.blocks=1", "loss.identity=0",
            "loss.content=0", "loss.identity_guard=0.2", "loss.identity_guard_margin=0.1"]
    from keras_facesr.train.fit import resolve_losses

    encoder, content, weights, _ = resolve_losses(
        load_config(None, [f"loss.encoder={tmp_path / 'enc.keras'}", *sets]))
    gan = build_gan(load_config(None, sets), encoder, content, weights)
    assert weights.identity_guard == 0.2 and gan.guard_margin == 0.1
    logs = gan.train_step(_batch())
    assert 0 <= float(logs["loss_id_guard"]) and "loss_id" not in logs
    _, _, off, notes = resolve_losses(load_config(None, ["loss.encoder=none", *sets]))
    assert off.identity_guard == 0 and any("identity" in n for n in notes)


@pytest.mark.parametrize("kind", ["patch", "unet"])
@pytest.mark.parametrize("gan_type", ["ragan", "wgan-gp", "hinge"])
def test_dense_discriminators_train_with_every_loss(kind, gan_type):
    gan = build_gan(load_config(None, [f"loss.gan={gan_type}", "loss.identity=0", "loss.content=0",
                                       "train.hr_size=32", f"model.discriminator={kind}",
                                       "model.disc_filters=4", "model.blocks=1", "model.filters=8"]))
    assert len(gan.discriminator.output.shape) == 4  # one logit per patch / 2x2 block
    d0 = [w.copy() for w in gan.discriminator.get_weights()]
    logs = gan.train_step(_batch())
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(np.abs(a - b).max() > 0 for a, b in zip(d0, gan.discriminator.get_weights(), strict=True))


def test_unet_takes_its_own_width_unless_one_is_set_and_refuses_sizes_it_cannot_take():
    from keras_facesr.config import ConfigError

    sets = ["loss.identity=0", "loss.content=0", "train.hr_size=32", "model.discriminator=unet",
            "model.blocks=1", "model.filters=8"]
    widths = [build_gan(load_config(None, [*sets, f"model.disc_filters={f}"]))
              .discriminator.get_layer("conv0").filters for f in (0, 8)]
    assert widths == [16, 8]
    with pytest.raises(ConfigError, match=r"^model.discriminator = 'unet': .*divisible by 16, not 120$"):
        build_gan(load_config(None, [*sets, "train.hr_size=120"]))


def test_encoder_none_turns_the_identity_terms_off_whatever_is_installed():
    from keras_facesr.train.fit import resolve_losses

    encoder, content, weights, notes = resolve_losses(load_config(None, ["loss.encoder=none"]))
    assert encoder is None and content is None
    assert weights.identity == 0 and weights.content == 0 and weights.pixel == 1
    assert any('loss.encoder = "none"' in n for n in notes)


def test_content_layers_pick_the_encoder_feature_maps_compared(tmp_path):
    from keras_facesr.config import ConfigError
    from keras_facesr.train.fit import resolve_losses

    inp = keras.Input((16, 16, 3))
    early = keras.layers.Conv2D(4, 3, padding="same", name="early")(inp)
    late = keras.layers.Conv2D(6, 3, strides=2, padding="same", name="late")(early)
    keras.Model(inp, keras.layers.GlobalAveragePooling2D()(late)).save(tmp_path / "enc.keras")
    sets = [f"loss.encoder={tmp_path / 'enc.keras'}", "loss.identity=0", "loss.content=1"]
    faces = tf.random.stateless_uniform((2, 32, 32, 3), (0, 2))

    _, default, _, _ = resolve_losses(load_config(None, sets))
    assert [tuple(f.shape) for f in default(faces)] == [(2, 8, 8, 6)]  # the last feature map
    both = 'loss.content_layers=["early", "late"]'
    encoder, chosen, _, notes = resolve_losses(load_config(None, [*sets, both]))
    assert [tuple(f.shape) for f in chosen(faces)] == [(2, 16, 16, 4), (2, 8, 8, 6)]
    assert encoder.content_layers == ()  # the identity term's encoder is left as it was
    assert any("early, late" in n for n in notes)
    with pytest.raises(ConfigError, match="no layer 'nose'"):
        resolve_losses(load_config(None, [*sets, 'loss.content_layers=["nose"]']))
    with pytest.raises(ConfigError, match="would be unused"):
        load_config(None, [*sets, both, "loss.content_network=vgg19.h5"])
