"""HR -> LR degradations as TensorFlow ops (usable inside ``tf.data``), seeded and reproducible.

Images are float32 in [0, 1], shaped (H, W, C) or (N, H, W, C). Random choices use stateless
ops keyed by an explicit ``seed`` (a shape-[2] int tensor), so the same seed gives the same LR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

RESIZE = {
    "bilinear": tf.image.ResizeMethod.BILINEAR,
    "bicubic": tf.image.ResizeMethod.BICUBIC,
    "area": tf.image.ResizeMethod.AREA,
}


def downscale(image: tf.Tensor, scale: int, method: str = "bilinear", antialias: bool = False):
    """Downscale by an integer factor (H and W must be multiples of ``scale``)."""
    shape = tf.shape(image)
    size = tf.stack([shape[-3] // scale, shape[-2] // scale])
    out = tf.image.resize(image, size, method=RESIZE[method], antialias=antialias)
    return tf.clip_by_value(out, 0.0, 1.0)


def upscale(image: tf.Tensor, scale: int, method: str = "bicubic") -> tf.Tensor:
    """Classical interpolation baseline (what super-resolution must beat)."""
    shape = tf.shape(image)
    size = tf.stack([shape[-3] * scale, shape[-2] * scale])
    return tf.clip_by_value(tf.image.resize(image, size, method=RESIZE[method]), 0.0, 1.0)


def box_kernel(radius: float) -> np.ndarray:
    """1-D box ("fast blur") kernel of 2r+1 equal taps."""
    r = max(1, round(radius))
    return np.full(2 * r + 1, 1.0 / (2 * r + 1), np.float32)


def stack_kernel(radius: float) -> np.ndarray:
    """1-D stack-blur kernel: triangular weights r+1-|i| (Mario Klingemann's StackBlur)."""
    r = max(1, round(radius))
    k = (r + 1 - np.abs(np.arange(-r, r + 1))).astype(np.float32)
    return k / k.sum()


def gaussian_kernel(radius: float) -> np.ndarray:
    """1-D Gaussian as Android RenderScript's ScriptIntrinsicBlur builds it.

    sigma = 0.4 * radius + 0.6, taps at -ceil(radius)..ceil(radius), normalised to sum 1.
    """
    sigma = 0.4 * radius + 0.6
    r = math.ceil(radius)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-(x**2) / (2 * sigma**2))
    return (k / k.sum()).astype(np.float32)


KERNELS = {"box": box_kernel, "stack": stack_kernel, "gaussian": gaussian_kernel}
# Blurs whose kernel is drawn per sample (from the seed): camera or subject motion.
RANDOM_BLURS = ("motion",)
BLURS = ("none", *KERNELS, *RANDOM_BLURS)


def motion_kernel(radius: float, length: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
    """2-D linear motion-blur kernel, (2r+1)^2 taps: a line of ``length`` px at ``angle`` rad
    through the centre, anti-aliased (1 px wide tent across and at its ends), summing to 1."""
    r = math.ceil(radius)
    grid = tf.range(-r, r + 1, dtype=tf.float32)
    y, x = tf.meshgrid(grid, grid, indexing="ij")
    along = tf.abs(tf.cos(angle) * x + tf.sin(angle) * y)
    across = tf.abs(-tf.sin(angle) * x + tf.cos(angle) * y)
    k = tf.nn.relu(1.0 - across) * tf.clip_by_value(1.0 - (along - length / 2), 0.0, 1.0)
    return k / tf.reduce_sum(k)


def blur2d(image: tf.Tensor, kernel_2d: tf.Tensor) -> tf.Tensor:
    """Blur with one square 2-D kernel (reflected borders), every channel alike."""
    squeeze = image.shape.rank == 3
    x = image[None] if squeeze else image
    r = kernel_2d.shape[0] // 2
    x = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
    k = tf.tile(kernel_2d[:, :, None, None], [1, 1, x.shape[-1], 1])
    x = tf.nn.depthwise_conv2d(x, k, [1, 1, 1, 1], "VALID")
    return x[0] if squeeze else x


def blur(image: tf.Tensor, kernel_1d: np.ndarray) -> tf.Tensor:
    """Separable blur with reflected borders (the kernel is applied along H then W)."""
    squeeze = image.shape.rank == 3
    x = image[None] if squeeze else image
    channels = x.shape[-1]
    r = len(kernel_1d) // 2
    x = tf.pad(x, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
    k = tf.constant(kernel_1d, tf.float32)
    kh = tf.tile(tf.reshape(k, [-1, 1, 1, 1]), [1, 1, channels, 1])
    kw = tf.tile(tf.reshape(k, [1, -1, 1, 1]), [1, 1, channels, 1])
    x = tf.nn.depthwise_conv2d(x, kh, [1, 1, 1, 1], "VALID")
    x = tf.nn.depthwise_conv2d(x, kw, [1, 1, 1, 1], "VALID")
    return x[0] if squeeze else x


def add_noise(image: tf.Tensor, sigma: tf.Tensor | float, seed: tf.Tensor) -> tf.Tensor:
    """Additive Gaussian noise of standard deviation ``sigma``, clipped to [0, 1]."""
    noise = tf.random.stateless_normal(tf.shape(image), seed=seed, stddev=sigma)
    return tf.clip_by_value(image + noise, 0.0, 1.0)


def jpeg(image: tf.Tensor, quality: tf.Tensor | int) -> tf.Tensor:
    """JPEG re-compression of one (H, W, 3) image at ``quality`` (1-100)."""
    return tf.image.adjust_jpeg_quality(image, quality)


def resample_via(image: tf.Tensor, native: tf.Tensor, size: int, method: str = "bilinear",
                 antialias: bool = False) -> tf.Tensor:
    """A face recorded at ``native`` px, then resampled to ``size`` px as alignment does.

    The camera records the face at its own size (``method``); the pipeline's alignment
    (``face.align``) then enlarges a smaller face to the model's input with bicubic
    interpolation, or shrinks a larger one by area averaging. So a 21 px face reaches the x4
    model as a 32 px crop softer than any 128 -> 32 downscale."""
    recorded = tf.image.resize(image, tf.stack([native, native]), method=RESIZE[method],
                               antialias=antialias)
    out = tf.cond(native < size,
                  lambda: tf.image.resize(recorded, [size, size], method=RESIZE["bicubic"]),
                  lambda: tf.image.resize(recorded, [size, size], method=RESIZE["area"]))
    return tf.clip_by_value(out, 0.0, 1.0)


class Degradation:
    """A configured HR -> LR degradation: blur, downscale, noise, JPEG (in that order).

    ``resize`` and ``blur`` may list several options; each sample draws one of them.
    ``native_size`` = (low, high) records each face at a random size in that range (px) and
    resamples it to the LR size as the pipeline's alignment does (:func:`resample_via`), so a
    model is trained on every face size it is routed. Called on one (H, W, C) image with a
    shape-[2] seed.
    """

    def __init__(
        self,
        scale: int = 4,
        resize: Sequence[str] = ("bilinear",),
        antialias: bool = False,
        blur: Sequence[str] = ("none",),
        blur_radius: float = 2.0,
        noise: float = 0.0,
        jpeg_quality: Sequence[int] = (),
        native_size: Sequence[int] = (),
    ):
        self.scale = scale
        self.native_size = list(native_size)
        self.resize = list(resize)
        self.antialias = antialias
        self.blur = list(blur)
        self.blur_radius = blur_radius
        self.noise = noise
        self.jpeg_quality = list(jpeg_quality)
        for r in self.resize:
            if r not in RESIZE:
                raise ValueError(f"unknown resize method {r!r} (one of {', '.join(RESIZE)})")
        for b in self.blur:
            if b not in BLURS:
                raise ValueError(f"unknown blur {b!r} (one of {', '.join(BLURS)})")

    @classmethod
    def from_config(cls, degrade_cfg, scale: int) -> Degradation:
        return cls(
            scale=scale,
            resize=degrade_cfg.resize,
            antialias=degrade_cfg.antialias,
            blur=degrade_cfg.blur,
            blur_radius=degrade_cfg.blur_radius,
            noise=degrade_cfg.noise,
            jpeg_quality=degrade_cfg.jpeg_quality,
            native_size=degrade_cfg.native_size,
        )

    def to_config(self) -> dict:
        """The ``degrade`` config keys that define it (JSON-able; :meth:`from_dict` reads it)."""
        return {"resize": self.resize, "antialias": self.antialias, "blur": self.blur,
                "blur_radius": self.blur_radius, "noise": self.noise,
                "jpeg_quality": self.jpeg_quality, "native_size": self.native_size}

    @classmethod
    def from_dict(cls, raw: dict, scale: int) -> Degradation:
        """From :meth:`to_config`'s form (a model's sidecar); unknown keys are an error."""
        return cls(scale=scale, **raw)

    def _choose(self, options: list, seed: tf.Tensor, fn) -> tf.Tensor:
        if len(options) == 1:
            return fn(options[0])
        index = tf.random.stateless_uniform([], seed, 0, len(options), dtype=tf.int32)
        return tf.switch_case(index, [lambda o=o: fn(o) for o in options])

    def __call__(self, hr: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 5)

        def do_blur(kind: str) -> tf.Tensor:
            if kind == "none":
                return hr
            if kind == "motion":  # length 1..2r px, any direction (seeds from the JPEG draw's)
                m = tf.random.experimental.stateless_split(seeds[4], 3)
                length = tf.random.stateless_uniform([], m[1], 1.0, 2 * self.blur_radius)
                angle = tf.random.stateless_uniform([], m[2], 0.0, math.pi)
                return blur2d(hr, motion_kernel(self.blur_radius, length, angle))
            return blur(hr, KERNELS[kind](self.blur_radius))

        x = self._choose(self.blur, seeds[0], do_blur)
        if self.native_size:  # the native size from the blur draw's seed (unused by other kinds)
            low, high = self.native_size
            native = tf.random.stateless_uniform([], tf.random.experimental.stateless_split(seeds[0], 2)[1],
                                                 low, high + 1, dtype=tf.int32)
            size = hr.shape[-2] // self.scale

            def down(m: str) -> tf.Tensor:
                return resample_via(x, native, size, m, self.antialias)
        else:
            def down(m: str) -> tf.Tensor:
                return downscale(x, self.scale, m, self.antialias)

        x = self._choose(self.resize, seeds[1], down)
        if self.noise > 0:
            sigma = tf.random.stateless_uniform([], seeds[2], 0.0, self.noise)
            x = add_noise(x, sigma, seeds[3])
        if self.jpeg_quality:
            low, high = self.jpeg_quality
            q = tf.random.stateless_uniform([], seeds[4], low, high + 1, dtype=tf.int32)
            x = tf.clip_by_value(jpeg(x, q), 0.0, 1.0)
        return x

    def describe(self) -> str:
        parts = []
        if self.blur != ["none"]:
            parts.append(f"blur {'/'.join(self.blur)} r={self.blur_radius}")
        parts.append(f"{'/'.join(self.resize)} x{self.scale}" + (" (antialias)" * self.antialias))
        if self.native_size:
            parts.append(f"faces recorded at {self.native_size[0]}-{self.native_size[1]} px, "
                         "then resampled to the model's input")
        if self.noise:
            parts.append(f"noise sigma<={self.noise}")
        if self.jpeg_quality:
            parts.append(f"JPEG q{self.jpeg_quality[0]}-{self.jpeg_quality[1]}")
        return ", ".join(parts)
