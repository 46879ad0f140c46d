"""Generator and discriminator losses: pixel, adversarial (5 kinds), content.

The identity loss lives with the encoders (``keras_facesr.recognition.encoders.identity_loss``).
Adversarial losses take discriminator *logits* for real (HR) and fake (SR) batches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf
from keras import ops

from keras_facesr.config import GAN_TYPES


def _bce(logits, target: float):
    labels = ops.full_like(logits, target)
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


def discriminator_loss(gan_type: str, real, fake):
    """The discriminator's (critic's) loss to minimise, gradient penalty excluded."""
    real, fake = ops.cast(real, "float32"), ops.cast(fake, "float32")
    if gan_type == "gan":
        return _bce(real, 1.0) + _bce(fake, 0.0)
    if gan_type == "ragan":
        return 0.5 * (_bce(real - ops.mean(fake), 1.0) + _bce(fake - ops.mean(real), 0.0))
    if gan_type in ("wgan", "wgan-gp"):
        return ops.mean(fake) - ops.mean(real)
    if gan_type == "hinge":
        return ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake))
    raise ValueError(f"unknown gan type {gan_type!r} (one of {', '.join(GAN_TYPES)})")


def generator_adversarial_loss(gan_type: str, real, fake):
    """The generator's adversarial loss to minimise (``real`` matters only for ``ragan``)."""
    real, fake = ops.cast(real, "float32"), ops.cast(fake, "float32")
    if gan_type == "gan":
        return _bce(fake, 1.0)
    if gan_type == "ragan":
        return 0.5 * (_bce(real - ops.mean(fake), 0.0) + _bce(fake - ops.mean(real), 1.0))
    if gan_type in ("wgan", "wgan-gp", "hinge"):
        return -ops.mean(fake)
    raise ValueError(f"unknown gan type {gan_type!r} (one of {', '.join(GAN_TYPES)})")


def gradient_penalty(critic: Callable, real: tf.Tensor, fake: tf.Tensor, alpha: tf.Tensor):
    """WGAN-GP: mean((||grad critic(x_hat)||_2 - 1)^2), x_hat = alpha real + (1 - alpha) fake.

    ``alpha`` has shape (N, 1, 1, 1), drawn uniformly in [0, 1] by the caller.
    """
    x_hat = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        score = ops.cast(critic(x_hat, training=True), "float32")
    grad = tape.gradient(score, x_hat)
    norm = ops.sqrt(ops.sum(ops.square(grad), axis=[1, 2, 3]) + 1e-12)
    return ops.mean(ops.square(norm - 1.0))


def pixel_loss(kind: str, hr, sr):
    """Mean absolute (``l1``) or squared (``l2``) error."""
    diff = ops.cast(sr, "float32") - ops.cast(hr, "float32")
    return ops.mean(ops.abs(diff)) if kind == "l1" else ops.mean(ops.square(diff))


def content_loss(features: Callable, hr, sr):
    """Mean squared distance between frozen-network feature maps of HR and SR."""
    f_hr = [ops.stop_gradient(f) for f in features(hr)]
    f_sr = features(sr)
    return ops.sum(ops.stack([ops.mean(ops.square(a - b)) for a, b in zip(f_hr, f_sr, strict=True)]))


class VGGFeatures:
    """VGG19 features (SRGAN's phi_5,4: ``block5_conv4``) from a local ImageNet weights file.

    ``keras.applications`` would download the weights at run time; offline that fails, so the
    file must be given (``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` or a
    ``.weights.h5`` saved from ``keras.applications.VGG19(include_top=False)``).
    """

    def __init__(self, weights: str | Path, layer: str = "block5_conv4"):
        weights = Path(weights)
        if not weights.is_file():
            raise FileNotFoundError(
                f"{weights}: VGG19 weights file not found (keras.applications cannot download "
                "them offline; give the local path of the ImageNet no-top weights)"
            )
        vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
        try:
            vgg.load_weights(str(weights))
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{weights}: not VGG19 no-top weights ({e})") from e
        self.model = keras.Model(vgg.input, vgg.get_layer(layer).output, name="vgg19_features")
        self.model.trainable = False

    def __call__(self, images):
        x = ops.cast(images, "float32") * 255.0
        x = keras.applications.vgg19.preprocess_input(x)
        return [ops.cast(self.model(x, training=False), "float32")]
