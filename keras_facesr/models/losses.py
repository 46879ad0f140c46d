"""Generator and discriminator losses: pixel, adversarial (5 kinds), content.

The identity loss lives with the encoders (``keras_facesr.recognition.encoders.identity_loss``).
Adversarial losses take discriminator *logits* for real (HR) and fake (SR) batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import keras
from keras import ops

if TYPE_CHECKING:  # annotations only: these modules run on any Keras backend
    import tensorflow as tf

from keras_facesr.registry import ADVERSARIAL_LOSSES


def _bce(logits, target: float):
    labels = ops.full_like(logits, target)
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


@dataclass(frozen=True)
class AdversarialLoss:
    """One kind of GAN loss (``loss.gan``), registered in
    ``keras_facesr.registry.ADVERSARIAL_LOSSES``: what the discriminator (critic) and the
    generator minimise, given logits for real and fake batches, and how it is trained."""

    d_loss: Callable  # (real, fake) -> scalar, gradient penalty excluded
    g_loss: Callable  # (real, fake) -> scalar
    gradient_penalty: bool = False  # WGAN-GP's penalty on the critic (weight loss.gp_weight)
    weight_clipping: bool = False  # WGAN's clipping of the critic's weights (loss.clip_value)
    critic: bool = False  # a Wasserstein critic: no normalisation layers, Adam betas (0.5, 0.9)

    @property
    def adam_betas(self) -> dict:
        return dict(beta_1=0.5, beta_2=0.9) if self.critic else {}


def _wasserstein_d(real, fake):
    return ops.mean(fake) - ops.mean(real)


def _wasserstein_g(real, fake):
    return -ops.mean(fake)


GAN = AdversarialLoss(lambda r, f: _bce(r, 1.0) + _bce(f, 0.0), lambda r, f: _bce(f, 1.0))
RAGAN = AdversarialLoss(  # relativistic average (ESRGAN)
    lambda r, f: 0.5 * (_bce(r - ops.mean(f), 1.0) + _bce(f - ops.mean(r), 0.0)),
    lambda r, f: 0.5 * (_bce(r - ops.mean(f), 0.0) + _bce(f - ops.mean(r), 1.0)))
WGAN = AdversarialLoss(_wasserstein_d, _wasserstein_g, weight_clipping=True, critic=True)
WGAN_GP = AdversarialLoss(_wasserstein_d, _wasserstein_g, gradient_penalty=True, critic=True)
HINGE = AdversarialLoss(lambda r, f: ops.mean(ops.relu(1.0 - r)) + ops.mean(ops.relu(1.0 + f)),
                        _wasserstein_g)


def discriminator_loss(gan_type: str, real, fake):
    """The discriminator's (critic's) loss to minimise, gradient penalty excluded."""
    real, fake = ops.cast(real, "float32"), ops.cast(fake, "float32")
    return ADVERSARIAL_LOSSES.get(gan_type).d_loss(real, fake)


def generator_adversarial_loss(gan_type: str, real, fake):
    """The generator's adversarial loss to minimise (``real`` matters only for ``ragan``)."""
    real, fake = ops.cast(real, "float32"), ops.cast(fake, "float32")
    return ADVERSARIAL_LOSSES.get(gan_type).g_loss(real, fake)


def gradient_penalty(critic: Callable, real: tf.Tensor, fake: tf.Tensor, alpha: tf.Tensor):
    """WGAN-GP: mean((||grad critic(x_hat)||_2 - 1)^2), x_hat = alpha real + (1 - alpha) fake.

    ``alpha`` has shape (N, 1, 1, 1), drawn uniformly in [0, 1] by the caller.
    """
    import tensorflow as tf  # the gradient tape is TensorFlow's (the training backend)

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
