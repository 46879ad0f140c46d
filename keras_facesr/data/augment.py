"""HR-side augmentations as seeded TensorFlow ops: what a real small face looks like before it
is shrunk. Applied to the HR crop, so the (LR, HR) pair shares them.

- ``jitter``: a random similarity warp of the crop (shift, scale, rotation) - the framing error
  of MTCNN's landmarks on 12-24 px faces, or of ``--aligned`` crops made by other tools
  (``benchmarks/landmark_jitter.py`` measures it; see the README).
- ``grey``: probability of a grey photo (the model must keep grey faces grey).
- ``gamma`` / ``contrast``: exposure and contrast of cheap sensors and night scenes.

Images are float32 (H, W, C) in [0, 1]; ``seed`` is a shape-[2] integer tensor.
"""

from __future__ import annotations

import math

import tensorflow as tf


def similarity_warp(image: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
    """Warp about the centre: output(p) = input(c + R(angle) (p - c) / scale - shift * side),
    borders reflected. ``shift`` is (dx, dy) as fractions of the side."""
    h = tf.cast(tf.shape(image)[0], tf.float32)
    w = tf.cast(tf.shape(image)[1], tf.float32)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    # output (x, y) -> input (a0 x + a1 y + a2, b0 x + b1 y + b2)
    a2 = cx - cos * cx + sin * cy - shift[0] * w
    b2 = cy - sin * cx - cos * cy - shift[1] * h
    transform = tf.stack([cos, -sin, a2, sin, cos, b2, 0.0, 0.0])[None]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=transform, output_shape=tf.shape(image)[:2],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")[0]
    out.set_shape(image.shape)
    return out


class Augmentation:
    """Seeded HR augmentations; all off (identity) by default."""

    def __init__(self, jitter: float = 0.0, grey: float = 0.0, gamma: float = 0.0,
                 contrast: float = 0.0):
        for name, value in (("jitter", jitter), ("grey", grey), ("gamma", gamma), ("contrast", contrast)):
            if not 0 <= value <= 1:
                raise ValueError(f"augmentation {name} = {value!r}: must be in [0, 1]")
        self.jitter, self.grey, self.gamma, self.contrast = jitter, grey, gamma, contrast

    @classmethod
    def from_config(cls, degrade_cfg) -> Augmentation:
        return cls(degrade_cfg.jitter, degrade_cfg.grey, degrade_cfg.gamma, degrade_cfg.contrast)

    @property
    def active(self) -> bool:
        return any((self.jitter, self.grey, self.gamma, self.contrast))

    def __call__(self, hr: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        if not self.active:
            return hr
        s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 6)
        x = hr
        if self.jitter:
            # shift up to `jitter` of the side, scale within 1 +- jitter, rotation up to
            # 2 * jitter radians (MTCNN's errors on small faces come together; see the benchmark)
            shift = tf.random.stateless_uniform([2], s[0], -self.jitter, self.jitter)
            scale = tf.exp(tf.random.stateless_uniform([], s[1], -self.jitter, self.jitter))
            angle = tf.random.stateless_uniform([], s[2], -2 * self.jitter, 2 * self.jitter)
            x = tf.clip_by_value(similarity_warp(x, shift, scale, angle), 0.0, 1.0)
        if self.gamma:
            g = tf.exp(tf.random.stateless_uniform([], s[3], -self.gamma, self.gamma) * math.log(2.0))
            x = tf.pow(tf.maximum(x, 1e-6), g)
        if self.contrast:
            c = 1.0 + tf.random.stateless_uniform([], s[4], -self.contrast, self.contrast)
            mean = tf.reduce_mean(x, axis=[0, 1], keepdims=True)
            x = tf.clip_by_value((x - mean) * c + mean, 0.0, 1.0)
        if self.grey:
            grey = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(x))
            x = tf.where(tf.random.stateless_uniform([], s[5]) < self.grey, grey, x)
        return x

    def describe(self) -> str:
        parts = [f"{n} {v:g}" for n, v in (("jitter", self.jitter), ("grey", self.grey),
                                           ("gamma", self.gamma), ("contrast", self.contrast)) if v]
        return ", ".join(parts) or "none"
