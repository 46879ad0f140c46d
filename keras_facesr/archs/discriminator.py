"""SRGAN's discriminator (VGG-style strided convs + dense head), optionally spectral-normalised."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_facesr")
class ClipWeights(keras.constraints.Constraint):
    """WGAN weight clipping to [-c, c], applied by the optimizer after every update."""

    def __init__(self, clip_value: float = 0.01):
        self.clip_value = clip_value

    def __call__(self, w):
        return ops.clip(w, -self.clip_value, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}


# (filters multiplier, stride) after the first conv, as in SRGAN.
SRGAN_BLOCKS = [(1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)]


def build_discriminator(
    hr_size: int,
    filters: int = 64,
    norm: str = "batch",
    clip_value: float | None = None,
    name: str = "discriminator",
) -> keras.Model:
    """SRGAN discriminator for ``hr_size`` x ``hr_size`` RGB in [0, 1]; returns one logit.

    norm: ``batch`` (SRGAN), ``spectral`` (SpectralNormalization on every conv/dense layer),
    or ``none`` (required for WGAN-GP, whose gradient penalty is per sample).
    clip_value: WGAN weight clipping on every kernel and bias.
    """
    if norm not in ("batch", "spectral", "none"):
        raise ValueError(f"unknown discriminator norm {norm!r}")
    L = keras.layers
    constraint = ClipWeights(clip_value) if clip_value else None

    def wrap(layer):
        return L.SpectralNormalization(layer) if norm == "spectral" else layer

    def conv(f, stride, n):
        return wrap(
            L.Conv2D(
                f, 3, stride, padding="same", name=n, use_bias=norm != "batch",
                kernel_constraint=constraint, bias_constraint=constraint,
            )
        )

    hr = keras.Input((hr_size, hr_size, 3), name="image")
    x = L.Rescaling(2.0, offset=-1.0, name="to_pm1")(hr)
    x = L.LeakyReLU(0.2)(conv(filters, 1, "conv0")(x))
    for i, (mult, stride) in enumerate(SRGAN_BLOCKS, 1):
        x = conv(filters * mult, stride, f"conv{i}")(x)
        if norm == "batch":
            x = L.BatchNormalization(name=f"bn{i}", beta_constraint=constraint,
                                     gamma_constraint=constraint)(x)
        x = L.LeakyReLU(0.2)(x)
    x = L.Flatten()(x)
    dense = dict(kernel_constraint=constraint, bias_constraint=constraint)
    x = L.LeakyReLU(0.2)(wrap(L.Dense(filters * 16, name="fc1", **dense))(x))
    logit = wrap(L.Dense(1, name="logit", **dense))(x)
    logit = L.Activation("linear", dtype="float32", name="logit_f32")(logit)
    return keras.Model(hr, logit, name=name)
