import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_facesr.models import losses
from keras_facesr.recognition.encoders import (
    EncoderError,
    IdentityEncoder,
    get_encoder,
    identity_guard_loss,
    identity_loss,
    load_keras_encoder,
    register_encoder,
)
from keras_facesr.templates import ARCFACE_TEMPLATE, CANONICAL_TEMPLATE

GAN_TYPES = ["gan", "ragan", "wgan", "wgan-gp", "hinge"]


def _grads(fn, real, fake):
    real, fake = tf.Variable(real), tf.Variable(fake)
    with tf.GradientTape() as tape:
        value = fn(real, fake)
    return value, *tape.gradient(value, [real, fake])


@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_discriminator_loss_rewards_real_high_fake_low(gan_type):
    real = np.array([[0.3], [-0.2], [0.5]], np.float32)
    fake = np.array([[-0.4], [0.1], [0.2]], np.float32)
    value, g_real, g_fake = _grads(lambda r, f: losses.discriminator_loss(gan_type, r, f), real, fake)
    assert np.all(g_real.numpy() < 0), "raising D(real) must lower the D loss"
    assert np.all(g_fake.numpy() > 0), "raising D(fake) must raise the D loss"
    better = losses.discriminator_loss(gan_type, real + 0.5, fake - 0.5)
    assert float(better) < float(value)


@pytest.mark.parametrize("gan_type", GAN_TYPES)
def test_generator_loss_rewards_fooling_the_discriminator(gan_type):
    real = np.array([[0.3], [-0.2]], np.float32)
    fake = np.array([[-0.4], [0.1]], np.float32)
    _, _, g_fake = _grads(lambda r, f: losses.generator_adversarial_loss(gan_type, r, f), real, fake)
    assert np.all(g_fake.numpy() < 0), "raising D(SR) must lower the generator loss"


def test_known_values():
    z = np.zeros((4, 1), np.float32)
    assert float(losses.discriminator_loss("gan", z, z)) == pytest.approx(2 * np.log(2), rel=1e-5)
    assert float(losses.discriminator_loss("hinge", z, z)) == pytest.approx(2.0)
    assert float(losses.discriminator_loss("wgan", z + 1, z)) == pytest.approx(-1.0)
    hr = np.zeros((1, 2, 2, 3), np.float32)
    assert float(losses.pixel_loss("l1", hr, hr + 0.5)) == pytest.approx(0.5)
    assert float(losses.pixel_loss("l2", hr, hr + 0.5)) == pytest.approx(0.25)


def test_gradient_penalty_is_zero_for_unit_norm_linear_critic():
    w = tf.constant(np.random.default_rng(0).normal(size=(1, 4, 4, 3)), tf.float32)
    w = w / tf.norm(w)

    def critic(x, training=True):
        return tf.reduce_sum(x * w, axis=[1, 2, 3])[:, None]

    real = tf.random.uniform((5, 4, 4, 3))
    fake = tf.random.uniform((5, 4, 4, 3))
    alpha = tf.random.uniform((5, 1, 1, 1))
    assert float(losses.gradient_penalty(critic, real, fake, alpha)) == pytest.approx(0, abs=1e-6)

    def steep(x, training=True):
        return 2 * critic(x)

    assert float(losses.gradient_penalty(steep, real, fake, alpha)) == pytest.approx(1, rel=1e-4)


def _conv_encoder(size=32):
    keras.utils.set_random_seed(0)
    inp = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="feat1")(inp)
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu", name="feat2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(16)(x))


@pytest.fixture
def encoder_file(tmp_path):
    path = tmp_path / "enc.keras"
    _conv_encoder().save(path)
    path.with_suffix(".keras.json").write_text(json.dumps({"normalisation": "-1_1"}))
    return path


def test_identity_loss_is_zero_for_identical_faces_and_rises_with_distortion(encoder_file):
    enc = load_keras_encoder(encoder_file)
    assert enc.input_size == 32 and enc.normalisation == "-1_1"
    hr = tf.random.stateless_uniform((4, 48, 48, 3), (0, 1))
    assert float(identity_loss(enc, hr, hr)) == pytest.approx(0, abs=1e-5)
    values = []
    for sigma in (0.05, 0.2, 0.5):
        noisy = tf.clip_by_value(hr + tf.random.stateless_normal(hr.shape, (1, 2)) * sigma, 0, 1)
        values.append(float(identity_loss(enc, hr, noisy)))
    assert 0 < values[0] < values[1] < values[2]


def test_identity_loss_gradient_reaches_the_sr_image(encoder_file):
    enc = load_keras_encoder(encoder_file)
    hr = tf.random.stateless_uniform((2, 40, 40, 3), (0, 1))
    sr = tf.Variable(tf.clip_by_value(hr + 0.1, 0, 1))
    with tf.GradientTape() as tape:
        loss = identity_loss(enc, hr, sr)
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, sr)))) > 0


def test_identity_loss_gives_no_gradient_to_out_of_range_pixels(encoder_file):
    enc = load_keras_encoder(encoder_file)
    hr = tf.random.stateless_uniform((1, 40, 40, 3), (0, 1))
    sr = tf.Variable(tf.concat([hr[:, :20] + 2.0, hr[:, 20:]], axis=1))  # top half far above 1
    with tf.GradientTape() as tape:
        loss = identity_loss(enc, hr, sr)
    grad = tape.gradient(loss, sr).numpy()
    assert np.abs(grad[:, :20]).max() == 0 and np.abs(grad[:, 20:]).max() > 0


def test_identity_guard_penalises_only_faces_not_ahead_of_bicubic(encoder_file):
    enc = load_keras_encoder(encoder_file)
    hr = tf.random.stateless_uniform((2, 40, 40, 3), (0, 1))
    far = tf.clip_by_value(hr + tf.random.stateless_normal(hr.shape, (3, 4)) * 0.5, 0, 1)
    # SR equal to HR, bicubic far from it: the gain is large, so the hinge is zero
    assert float(identity_guard_loss(enc, hr, hr, far, margin=0.0)) == pytest.approx(0, abs=1e-6)
    # SR no better than bicubic (the same image): the loss is the margin exactly
    assert float(identity_guard_loss(enc, hr, far, far, margin=0.05)) == pytest.approx(0.05, abs=1e-5)
    # one face of two behind bicubic: the batch mean counts that face alone
    sr = tf.concat([hr[:1], far[1:]], axis=0)
    bicubic = tf.concat([far[:1], hr[1:]], axis=0)
    c_hr = np.sum(enc.embed(hr).numpy() * enc.embed(far).numpy(), axis=1)
    assert float(identity_guard_loss(enc, hr, sr, bicubic, margin=0.0)) == pytest.approx(
        (1 - c_hr[1]) / 2, abs=1e-5)
    sr_var = tf.Variable(far)
    with tf.GradientTape() as tape:
        loss = identity_guard_loss(enc, hr, sr_var, far, margin=0.05)
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, sr_var)))) > 0


def test_alignment_aware_resize_moves_canonical_points_onto_encoder_template():
    size = 112
    enc = IdentityEncoder(_conv_encoder(size), size, ARCFACE_TEMPLATE, "0_1")
    img = np.zeros((1, 224, 224, 3), np.float32)
    for x, y in CANONICAL_TEMPLATE * 224:
        img[0, int(y) - 3 : int(y) + 4, int(x) - 3 : int(x) + 4] = 1.0
    out = enc.prepare(tf.constant(img)).numpy()[0, ..., 0]
    for x, y in ARCFACE_TEMPLATE * size:
        patch = out[int(round(y)) - 1 : int(round(y)) + 2, int(round(x)) - 1 : int(round(x)) + 2]
        assert patch.max() > 0.5, f"landmark not found at ({x:.0f}, {y:.0f})"
    assert out.mean() < 0.05


def test_content_loss_uses_encoder_features(encoder_file):
    enc = load_keras_encoder(encoder_file)
    hr = tf.random.stateless_uniform((2, 32, 32, 3), (0, 1))
    assert float(losses.content_loss(enc.features, hr, hr)) == pytest.approx(0, abs=1e-7)
    assert float(losses.content_loss(enc.features, hr, 1 - hr)) > 0
    assert enc.features(hr)[0].shape[-1] == 32  # the last feature map (feat2)


def test_encoder_registry_and_errors(tmp_path, encoder_file):
    register_encoder("test-enc", lambda: load_keras_encoder(encoder_file))
    assert get_encoder("test-enc").input_size == 32
    with pytest.raises(EncoderError, match="no-such-encoder"):
        get_encoder("no-such-encoder")
    with pytest.raises(EncoderError, match="missing.keras"):
        get_encoder(str(tmp_path / "missing.keras"))
    (tmp_path / "junk.keras").write_text("junk")
    with pytest.raises(EncoderError, match="junk.keras"):
        get_encoder(str(tmp_path / "junk.keras"))


def test_vgg19_needs_a_local_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="cannot download"):
        losses.VGGFeatures(tmp_path / "vgg19.h5")
    vgg = keras.applications.VGG19(include_top=False, weights=None)
    path = tmp_path / "vgg19_notop.weights.h5"
    vgg.save_weights(path)
    features = losses.VGGFeatures(path)
    out = features(tf.zeros((1, 32, 32, 3)))
    assert out[0].shape == (1, 2, 2, 512)


def test_encoder_ensemble_averages_its_members(tmp_path, encoder_file):
    from keras_facesr.recognition.encoders import EncoderEnsemble

    other = tmp_path / "other.keras"
    keras.utils.set_random_seed(1)
    inp = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="f")(inp)
    keras.Model(inp, keras.layers.Dense(8)(keras.layers.GlobalAveragePooling2D()(x))).save(other)
    ensemble = get_encoder(f"{encoder_file}+{other}")
    assert isinstance(ensemble, EncoderEnsemble) and ensemble.name == "enc+other"
    hr = tf.random.stateless_uniform((2, 48, 48, 3), (0, 1))
    sr = tf.clip_by_value(hr + 0.2 * tf.random.stateless_normal(hr.shape, (3, 4)), 0, 1)
    parts = [float(identity_loss(m, hr, sr)) for m in ensemble.members]
    assert float(identity_loss(ensemble, hr, sr)) == pytest.approx(np.mean(parts), rel=1e-5)
    assert len(ensemble.features(hr)) == 2
    with pytest.raises(EncoderError, match="missing.keras"):
        get_encoder(f"{encoder_file}+{tmp_path / 'missing.keras'}")
