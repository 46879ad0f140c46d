"""Fidelity by frequency band: a generator whose change to the bicubic face is split in two.

``BandBlended(model, low, high)`` returns bicubic(lr) + low * L + high * (d - L), where d is the
generator's face minus the bicubic one and L is d blurred by a Gaussian of half an input pixel:
the part of the change at the scale the input resolves (shape, contrast, deblurring) and the
finer part (texture the generator adds). ``low = high = w`` is the pipeline's fidelity blend at
``w``. The wrapper's default fidelity is 1, so ``enhance`` and the benchmarks use its output as
it is. Used by ``face_size_sweep.py --bands`` and ``solvay_faces.py --bands``; measured in the
model card ("Fidelity by band"), not shipped.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from keras_facesr.images import upscale_bicubic

SIGMA_LR_PX = 0.5  # the blur that splits the bands, in input pixels


class BandBlended:
    """A pipeline back-end (``pipeline.sr.SuperResolver``) blended toward bicubic by band."""

    def __init__(self, model, low: float, high: float):
        for name, w in (("low", low), ("high", high)):
            if not 0.0 <= w <= 1.0:
                raise ValueError(f"band weight {name} must be between 0 and 1, got {w}")
        self.model, self.low, self.high = model, low, high
        self.info = replace(model.info, name=f"{model.info.name} bands {low:g}/{high:g}", fidelity=1.0)

    def __getattr__(self, name: str):  # fixed_input, input_sides: the wrapped back-end's
        return getattr(self.model, name)

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        lr = np.asarray(lr, np.float32)
        sr = self.model(lr)
        if len(sr) == 0:
            return sr
        base = upscale_bicubic(lr, sr.shape[1:3])
        d = sr - base
        sigma = SIGMA_LR_PX * sr.shape[1] / lr.shape[1]
        low = np.stack([cv2.GaussianBlur(x, (0, 0), sigma) for x in d]).reshape(d.shape)
        return np.clip(base + self.low * low + self.high * (d - low), 0.0, 1.0).astype(np.float32)
