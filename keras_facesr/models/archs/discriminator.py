"""Discriminators: SRGAN's (VGG-style strided convs + dense head), a light patch critic and a
light U-Net critic.

All take HR-sized RGB in [0, 1] and return logits: one per image (``srgan``), one per
overlapping patch (``patch``) or one per 2x2 pixel block (``unet``); the adversarial losses
average them.
Registered by name in ``keras_facesr.registry.DISCRIMINATORS`` as a :class:`DiscriminatorSpec`:
a builder ``(hr_size, filters, norm, clip_value, name)``, the normalisation it takes by default
and, optionally, its own default width.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import ops

from keras_facesr.registry import DISCRIMINATORS


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


def build_srgan_discriminator(
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
    _check_norm(norm)
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


NORMS = ("batch", "spectral", "none")


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"unknown discriminator norm {norm!r} (one of {', '.join(NORMS)})")


# (filters multiplier, kernel, stride) of the patch critic after its first conv.
PATCH_BLOCKS = [(2, 4, 2), (4, 4, 2), (4, 3, 1)]


def build_patch_discriminator(
    hr_size: int,
    filters: int = 32,
    norm: str = "spectral",
    clip_value: float | None = None,
    name: str = "discriminator",
) -> keras.Model:
    """A light PatchGAN-style critic (~0.3 M parameters at 32 filters): four strided/plain
    convs and a 1-channel conv, so each logit judges a ~40 px patch of a 128 px face. Spectral
    normalisation (default) keeps it Lipschitz without batch statistics; it costs a fraction of
    SRGAN's dense head, which is what makes a GAN step affordable on a CPU."""
    _check_norm(norm)
    L = keras.layers
    constraint = ClipWeights(clip_value) if clip_value else None

    def conv(f, k, stride, n):
        layer = L.Conv2D(f, k, stride, padding="same", name=n, use_bias=norm != "batch",
                         kernel_constraint=constraint, bias_constraint=constraint)
        return L.SpectralNormalization(layer, name=f"sn_{n}") if norm == "spectral" else layer

    hr = keras.Input((hr_size, hr_size, 3), name="image")
    x = L.Rescaling(2.0, offset=-1.0, name="to_pm1")(hr)
    x = L.LeakyReLU(0.2)(conv(filters, 4, 2, "conv0")(x))
    for i, (mult, k, stride) in enumerate(PATCH_BLOCKS, 1):
        x = conv(filters * mult, k, stride, f"conv{i}")(x)
        if norm == "batch":
            x = L.BatchNormalization(name=f"bn{i}", beta_constraint=constraint,
                                     gamma_constraint=constraint)(x)
        x = L.LeakyReLU(0.2)(x)
    logits = conv(1, 3, 1, "logits")(x)
    logits = L.Activation("linear", dtype="float32", name="logit_f32")(logits)
    return keras.Model(hr, logits, name=name)


def build_unet_discriminator(
    hr_size: int,
    filters: int = 16,
    norm: str = "spectral",
    clip_value: float | None = None,
    name: str = "discriminator",
) -> keras.Model:
    """Real-ESRGAN's U-Net critic (``UNetDiscriminatorSN``) cut to a CPU's budget: a strided
    stem and three strided 4x4 convs down to ``hr_size / 16``, three bilinear x2 steps up with
    skip connections, one refining conv and a 1-channel conv. It returns one logit per 2x2 HR
    pixel block (``hr_size / 2`` square), each seeing both the whole face (from the bottleneck)
    and its own neighbourhood. Real-ESRGAN keeps the full resolution, 64 filters and two
    refining convs (4.4 M parameters); here 16 filters give ~0.27 M, and the stride-2 stem and
    single refining conv bring an edge GAN step from 4.7x a pixel step (that layout at 16
    filters) to 1.9x (``benchmarks/train_step.py``, README "Measured"). ``hr_size`` must be a
    multiple of 16. The first and last convs are left unnormalised, as in Real-ESRGAN."""
    _check_norm(norm)
    if hr_size % 16:
        raise ValueError(f"the unet discriminator needs hr_size divisible by 16, not {hr_size}")
    L = keras.layers
    constraint = ClipWeights(clip_value) if clip_value else None

    def conv(f, k, stride, n, normed=True):
        layer = L.Conv2D(f, k, stride, padding="same", name=n,
                         use_bias=not (normed and norm == "batch"),
                         kernel_constraint=constraint, bias_constraint=constraint)
        if normed and norm == "spectral":
            return L.SpectralNormalization(layer, name=f"sn_{n}")
        return layer

    def block(x, f, k, stride, n, skip=None):
        x = conv(f, k, stride, n)(x)
        if norm == "batch":
            x = L.BatchNormalization(name=f"bn_{n}", beta_constraint=constraint,
                                     gamma_constraint=constraint)(x)
        x = L.LeakyReLU(0.2)(x)
        return x if skip is None else L.Add(name=f"skip_{n}")([x, skip])

    hr = keras.Input((hr_size, hr_size, 3), name="image")
    x0 = L.Rescaling(2.0, offset=-1.0, name="to_pm1")(hr)
    x0 = L.LeakyReLU(0.2)(conv(filters, 3, 2, "conv0", normed=False)(x0))
    x1 = block(x0, filters * 2, 4, 2, "conv1")
    x2 = block(x1, filters * 4, 4, 2, "conv2")
    x = block(x2, filters * 8, 4, 2, "conv3")
    for i, skip in ((4, x2), (5, x1), (6, x0)):
        x = L.UpSampling2D(2, interpolation="bilinear", name=f"up{i}")(x)
        x = block(x, skip.shape[-1], 3, 1, f"conv{i}", skip=skip)
    x = block(x, filters, 3, 1, "conv7")
    logits = conv(1, 3, 1, "logits", normed=False)(x)
    logits = L.Activation("linear", dtype="float32", name="logit_f32")(logits)
    return keras.Model(hr, logits, name=name)


@dataclass(frozen=True)
class DiscriminatorSpec:
    """A discriminator kind: ``build(hr_size, filters, norm, clip_value, name)``, the norm it
    takes when the config says "auto" (Wasserstein critics always get none) and the width it
    takes when ``model.disc_filters`` is 0 (None: the generator's, 64 for srresnet, 32 for
    edge)."""

    build: Callable[..., keras.Model]
    default_norm: str = "spectral"
    default_filters: int | None = None


SRGAN = DiscriminatorSpec(build_srgan_discriminator, "batch")
PATCH = DiscriminatorSpec(build_patch_discriminator, "spectral")
UNET = DiscriminatorSpec(build_unet_discriminator, "spectral", default_filters=16)


def build_discriminator(
    hr_size: int,
    filters: int = 64,
    norm: str = "batch",
    clip_value: float | None = None,
    name: str = "discriminator",
    kind: str = "srgan",
) -> keras.Model:
    """The registered discriminator ``kind`` (``srgan``, ``patch``, ``unet``, or one added by a
    plugin)."""
    return DISCRIMINATORS.get(kind).build(hr_size, filters, norm, clip_value, name)
