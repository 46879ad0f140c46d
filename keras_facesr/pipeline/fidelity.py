"""Fidelity controls at inference: how far to trust the generator over plain interpolation.

- ``blend(lr, sr, w)``: bicubic(lr) + w * (sr - bicubic(lr)). ``w = 1`` is the generator's face,
  ``w = 0`` the bicubic one (like CodeFormer's fidelity weight, but on the output). What the
  generator adds beyond bicubic is partly real detail and partly hallucination; on faces unlike
  the training faces the hallucinated part costs identity, and a blend keeps most of the real
  part (README, "Fidelity").
- ``back_project(lr, sr, steps)``: iterative back-projection (Irani & Peleg): the SR face is
  corrected until shrinking it gives back the LR face (data consistency). It raises PSNR; it
  does not add identity (it cannot tell real detail from invented detail either).

numpy + OpenCV only (used by the TensorFlow-free edge runtime too). Faces are float32 RGB in
[0, 1], (N, h, w, 3) LR and (N, h*s, w*s, 3) SR.
"""

from __future__ import annotations

import cv2
import numpy as np

from keras_facesr.images import downscale_area, upscale_bicubic


def blend(lr: np.ndarray, sr: np.ndarray, fidelity: float) -> np.ndarray:
    """The SR faces moved toward bicubic: ``fidelity`` 1 keeps ``sr``, 0 gives bicubic(lr)."""
    if not 0.0 <= fidelity <= 1.0:
        raise ValueError(f"fidelity must be between 0 and 1, got {fidelity}")
    if fidelity == 1.0 or len(sr) == 0:
        return sr
    base = upscale_bicubic(lr, sr.shape[1:3])
    return np.clip(base + np.float32(fidelity) * (sr - base), 0.0, 1.0).astype(np.float32)


def back_project(lr: np.ndarray, sr: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` rounds of sr += bicubic_up(lr - area_down(sr)), clipped to [0, 1]."""
    if steps < 0:
        raise ValueError(f"back-projection steps must be >= 0, got {steps}")
    if steps == 0 or len(sr) == 0:
        return sr
    lr = np.asarray(lr, np.float32)
    out = np.asarray(sr, np.float32).copy()
    for _ in range(steps):
        residual = lr - downscale_area(out, lr.shape[1:3])
        out = np.clip(out + np.stack([cv2.resize(r, (out.shape[2], out.shape[1]),
                                                 interpolation=cv2.INTER_CUBIC).reshape(out.shape[1:])
                                      for r in residual]), 0.0, 1.0)
    return out


def refine(lr: np.ndarray, sr: np.ndarray, fidelity: float = 1.0, steps: int = 0) -> np.ndarray:
    """Back-projection (if ``steps``), then the fidelity blend: the pipeline's order."""
    return blend(lr, back_project(lr, sr, steps), fidelity)
