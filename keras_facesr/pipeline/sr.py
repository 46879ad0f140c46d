"""Super-resolution back-ends for the pipeline: a trained Keras generator (here) or a TFLite
file (``keras_facesr.edge``). Each takes aligned LR face crops and returns SR crops.

A generator saved by ``fit`` has a sidecar ``NAME.keras.json``
(:class:`keras_facesr.models.info.ModelInfo`): its scale and the face-crop side it was trained
on. TensorFlow is imported only when a Keras model loads.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from keras_facesr.models.info import ModelInfo, read_model_info


class SuperResolver(Protocol):
    info: ModelInfo
    # True: only square crops of the sides in ``input_sides`` (default: lr_size), e.g. TFLite
    # with static shapes, exported at those sides
    fixed_input: bool

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        """(N, h, w, 3) float32 RGB in [0, 1] -> (N, h*scale, w*scale, 3) in [0, 1]."""


def super_resolve(model: SuperResolver, lr: np.ndarray, mirror: bool = False) -> np.ndarray:
    """``model(lr)``; with ``mirror``, the mean of that and the mirrored SR of the mirrored faces.

    Faces are near-symmetric, so a generator's two readings of a face and of its mirror image
    share what the input supports and differ in part of what the generator invents: their mean
    keeps what they share and halves where they differ, at twice the SR time (both readings in
    one call). Measured in README, "Mirror averaging"."""
    lr = np.asarray(lr, np.float32)
    if not mirror or len(lr) == 0:
        return model(lr)
    both = model(np.concatenate([lr, lr[:, :, ::-1]]))
    n = len(lr)
    return ((both[:n] + both[n:, :, ::-1]) * np.float32(0.5)).astype(np.float32)


def takes(model: SuperResolver, side: int) -> bool:
    """Whether ``model`` takes (side, side) crops as they are."""
    return not model.fixed_input or side in getattr(model, "input_sides", (model.info.lr_size,))


class KerasSR:
    """A Keras generator (``.keras`` file or model) as a pipeline back-end; uses a GPU if present."""

    fixed_input = False

    def __init__(self, model, lr_size: int | None = None, name: str | None = None,
                 batch_size: int = 8):
        import tensorflow as tf

        from keras_facesr.models.archs.generator import load_generator

        info = None
        if isinstance(model, str | Path):
            info = read_model_info(model)
            name = name or Path(model).stem
            model = load_generator(model)
        self.model = model
        # Faces per call: on 2 CPU cores the bundled x4 generator takes ~12 ms a face in calls of
        # 4-12 faces and ~18 ms in calls of 24 (larger activations fall out of cache).
        self.batch_size = batch_size
        # Compiled per square crop side the pipeline feeds (lr_size, and faces fed at their own
        # size), the batch dimension left open; other crops run eagerly (--aligned crops of any
        # size: a graph with unknown sizes cannot hold UpSampling2D).
        self._compiled: dict[int, object] = {}
        self._tf = tf
        if info is None:
            probe = np.zeros((1, 8, 8, 3), np.float32)
            scale = int(model(probe, training=False).shape[1]) // 8
            info = ModelInfo(name or model.name, scale, lr_size or 128 // scale)
        elif lr_size:
            info = replace(info, lr_size=lr_size)
        self.info = info

    def _runner(self, h: int, w: int):
        """The compiled model for (h, w) crops when the pipeline feeds that side, else eager."""
        if h != w or self.info.input_side(h) != h:
            return lambda x: self.model(x, training=False)
        if h not in self._compiled:
            tf = self._tf
            # a partial, not a lambda: TensorFlow counts traces by the function's code object, so
            # one lambda per side read as one function retraced ("triggered tf.function retracing")
            self._compiled[h] = tf.function(functools.partial(self.model, training=False),
                                            input_signature=[tf.TensorSpec((None, h, h, 3), tf.float32)])
        return self._compiled[h]

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        lr = np.asarray(lr, np.float32)
        if len(lr) == 0:
            return np.zeros((0, 0, 0, 3), np.float32)
        run = self._runner(*lr.shape[1:3])
        out = [np.asarray(run(lr[i : i + self.batch_size])) for i in range(0, len(lr), self.batch_size)]
        return np.clip(np.concatenate(out), 0.0, 1.0)
