"""HR-side augmentations as seeded TensorFlow ops: what a real small face looks like before it
is shrunk. Applied to the HR crop, so the (LR, HR) pair shares them.

- ``jitter``: a random similarity warp of the crop (shift, scale, rotation) - the framing error
  of MTCNN's landmarks on 12-24 px faces, or of ``--aligned`` crops made by other tools
  (``benchmarks/landmark_jitter.py`` measures it; see the README).
- ``grey``: probability of a grey photo (the model must keep grey faces grey).
- ``gamma`` / ``contrast``: exposure and contrast of cheap sensors and night scenes.
- ``spectacles``: probability of drawing an eyeglass frame (rims, bridge, temples; dark or
  metal, thin or thick, round to rectangular, sometimes tinted lenses) over the eyes of the
  aligned crop: spectacle-wearers are few among the training faces, and thin dark rims on a
  12-24 px face are what a model must neither lose nor turn into eyes.

Images are float32 (H, W, C) in [0, 1]; ``seed`` is a shape-[2] integer tensor.
"""

from __future__ import annotations

import math

import tensorflow as tf

from keras_facesr.templates import CANONICAL_TEMPLATE


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


def _segment_distance(x: tf.Tensor, y: tf.Tensor, p: tf.Tensor, q: tf.Tensor) -> tf.Tensor:
    """Distance of each pixel (x, y) to the segment from ``p`` to ``q`` (both (x, y))."""
    d = q - p
    along = ((x - p[0]) * d[0] + (y - p[1]) * d[1]) / tf.maximum(tf.reduce_sum(d * d), 1e-6)
    t = tf.clip_by_value(along, 0.0, 1.0)
    return tf.sqrt(tf.square(x - p[0] - t * d[0]) + tf.square(y - p[1] - t * d[1]))


def draw_spectacles(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """An eyeglass frame drawn over the eyes of an aligned face crop (canonical template).

    Sizes are fractions of the eye distance, so any crop side works: lens half-width 0.40-0.52,
    half-height 0.26-0.42, superellipse exponent 2 (round) to 5 (rectangular), bridge and
    temples; a dark frame 0.02-0.09 thick or, one time in three, a grey metal one 0.015-0.04
    thick; opacity 0.75-1; lenses tinted (x 0.55-0.9) one time in five. Antialiased."""
    h = tf.cast(tf.shape(image)[0], tf.float32)
    w = tf.cast(tf.shape(image)[1], tf.float32)
    u = tf.random.stateless_uniform([13], seed)
    left, right = CANONICAL_TEMPLATE[0], CANONICAL_TEMPLATE[1]
    ed = float(right[0] - left[0]) * w  # eye distance in px
    eye_y = float(left[1]) * h + (u[0] - 0.3) * 0.15 * ed  # lens centres a little below the eyes
    a = (0.40 + 0.12 * u[1]) * ed
    b = (0.26 + 0.16 * u[2]) * ed
    power = 2.0 + 3.0 * u[3]
    metal = u[8] < 1 / 3
    thick = tf.where(metal, 0.015 + 0.025 * u[4], 0.02 + 0.07 * u[4]) * ed
    ys, xs = tf.meshgrid(tf.range(h), tf.range(w), indexing="ij")
    rim = tf.zeros_like(xs)
    lens = tf.zeros_like(xs)
    lx, rx = float(left[0]) * w, float(right[0]) * w
    for cx in (lx, rx):
        # the superellipse's level: 1 on the rim's centre line, < 1 inside the lens
        r = tf.pow(tf.pow(tf.abs(xs - cx) / a, power) + tf.pow(tf.abs(ys - eye_y) / b, power), 1.0 / power)
        dist = tf.abs(r - 1.0) * tf.minimum(a, b)  # about the distance to the rim, in px
        rim = tf.maximum(rim, tf.clip_by_value(thick / 2 + 0.5 - dist, 0.0, 1.0))
        lens = tf.maximum(lens, tf.clip_by_value((1.0 - r) * tf.minimum(a, b) + 0.5, 0.0, 1.0))

    def segment(x0, y0, x1, y1):
        return _segment_distance(xs, ys, tf.stack([x0, y0]), tf.stack([x1, y1]))

    bridge_y = eye_y - b * (0.2 + 0.4 * u[5])
    bridge = segment(lx + a * 0.95, bridge_y, rx - a * 0.95, bridge_y)
    temple_y = eye_y - b * (0.3 + 0.4 * u[6])  # the arms, from the rims' outer ends toward the ears
    temples = tf.minimum(segment(lx - a, temple_y, lx - a - 0.3 * ed, temple_y - 0.04 * ed),
                         segment(rx + a, temple_y, rx + a + 0.3 * ed, temple_y - 0.04 * ed))
    frame = tf.maximum(rim, tf.clip_by_value(thick / 2 + 0.5 - tf.minimum(bridge, temples), 0.0, 1.0))
    opacity = 0.75 + 0.25 * u[7]
    shade = tf.where(metal, 0.35 + 0.3 * u[9], 0.02 + 0.2 * u[9])
    tint = tf.stack([1.0, 0.9 + 0.2 * u[10], 0.9 + 0.2 * u[11]])  # a little colour, brown to blue
    colour = tf.clip_by_value(shade * tint, 0.0, 1.0)
    lens_factor = tf.where(u[12] < 0.2, 0.55 + 0.35 * u[11], 1.0)
    x = image * (1.0 - lens[..., None] * (1.0 - lens_factor))
    alpha = (frame * opacity)[..., None]
    return x * (1.0 - alpha) + colour * alpha


class Augmentation:
    """Seeded HR augmentations; all off (identity) by default."""

    def __init__(self, jitter: float = 0.0, grey: float = 0.0, gamma: float = 0.0,
                 contrast: float = 0.0, spectacles: float = 0.0):
        for name, value in (("jitter", jitter), ("grey", grey), ("gamma", gamma), ("contrast", contrast),
                            ("spectacles", spectacles)):
            if not 0 <= value <= 1:
                raise ValueError(f"augmentation {name} = {value!r}: must be in [0, 1]")
        self.jitter, self.grey, self.gamma, self.contrast = jitter, grey, gamma, contrast
        self.spectacles = spectacles

    @classmethod
    def from_config(cls, degrade_cfg) -> Augmentation:
        return cls(degrade_cfg.jitter, degrade_cfg.grey, degrade_cfg.gamma, degrade_cfg.contrast,
                   degrade_cfg.spectacles)

    @property
    def active(self) -> bool:
        return any((self.jitter, self.grey, self.gamma, self.contrast, self.spectacles))

    def __call__(self, hr: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        if not self.active:
            return hr
        s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 6)
        x = hr
        if self.spectacles:
            # drawn on the face before the framing warp moves both; its own stream (fold-in),
            # so the other augmentations draw what they drew without it
            g = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 7)
            gs = tf.random.experimental.stateless_split(g, 2)
            drawn = draw_spectacles(x, gs[1])
            x = tf.where(tf.random.stateless_uniform([], gs[0]) < self.spectacles, drawn, x)
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
                                           ("gamma", self.gamma), ("contrast", self.contrast),
                                           ("spectacles", self.spectacles)) if v]
        return ", ".join(parts) or "none"
