"""Paste-back: warp an enhanced face crop into the frame with a feathered mask. numpy + OpenCV.

The frame keeps its own layout and depth (grey, RGB, RGBA with its alpha, 8- or 16-bit);
pixels the mask does not reach are left exactly as they were.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from keras_facesr.face.align import AREA_FIRST_BELOW, crop_bounds, invert, warp_interpolation

FEATHER = 0.08  # width of the soft edge, as a fraction of the crop side


@lru_cache(maxsize=8)
def feather_mask(size: int, feather: float = FEATHER) -> np.ndarray:
    """(size, size) float32 mask: 1 inside, falling smoothly to 0 at the crop's edge."""
    edge = max(1, round(size * feather))
    mask = np.zeros((size, size), np.float32)
    mask[edge:-edge, edge:-edge] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=edge / 2.5, borderType=cv2.BORDER_CONSTANT)
    mask[mask < 1e-3] = 0.0  # no faint halo beyond the crop
    mask.flags.writeable = False
    return mask


GREY_TOLERANCE = 2.5 / 255  # JPEG chroma noise in a grey photo stays within this
LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, as OpenCV's RGB2GRAY


def is_grey(rgb: np.ndarray) -> bool:
    """Whether RGB pixels (float in [0, 1], or uint8) carry no colour: every pixel's channels
    within ``GREY_TOLERANCE`` of their mean. An empty region counts as grey."""
    if rgb.size == 0:
        return True
    x = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb
    return bool(np.abs(x - x.mean(axis=-1, keepdims=True)).max() <= GREY_TOLERANCE)


def match_colour(sr: np.ndarray, lr: np.ndarray, inner: float = 0.6) -> np.ndarray:
    """Shift each channel of ``sr`` so its mean over the crop's centre equals ``lr``'s.

    A generator may tint a face slightly; pasted back, even a small tint shows as a patch.
    A grey ``lr`` (all channels within ``GREY_TOLERANCE``) carries no colour, so ``sr`` is made
    grey too: colour in its output could only be the generator's invention. Both are float RGB
    in [0, 1], square crops (any sizes)."""
    if is_grey(lr):
        sr = np.repeat((sr @ LUMA)[..., None], 3, axis=2)

    def centre_mean(x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        a, b = round(n * (1 - inner) / 2), round(n * (1 + inner) / 2)
        return x[a:b, a:b].reshape(-1, x.shape[2]).mean(0)

    return np.clip(sr + (centre_mean(lr) - centre_mean(sr)), 0.0, 1.0)


def paste_face(frame: np.ndarray, face: np.ndarray, image_to_crop: np.ndarray,
               feather: float = FEATHER, interpolation: int | None = None) -> None:
    """Blend ``face`` (RGB float [0, 1], square) into ``frame`` in place.

    ``image_to_crop`` maps frame coordinates to the face crop at the face's own size (the
    alignment matrix used to make it). Faces reaching past the border are clipped.
    ``interpolation`` (an OpenCV flag) overrides the face warp's rule, for comparisons."""
    size = face.shape[0]
    crop_to_image = invert(image_to_crop)
    x0, y0, x1, y1 = crop_bounds(crop_to_image, size, frame.shape)
    if x1 <= x0 or y1 <= y0:
        return
    # Shrinking a big crop onto a small face: area-average first so the paste does not alias.
    scale = 1.0 / float(np.hypot(image_to_crop[0, 0], image_to_crop[0, 1]))  # frame px per crop px
    mask = feather_mask(size, feather)
    if scale < AREA_FIRST_BELOW:
        small = max(2, round(size * scale))
        face = cv2.resize(face, (small, small), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (small, small), interpolation=cv2.INTER_AREA)
        k = size / small  # pixel centres: small u <-> crop (u + 0.5) * k - 0.5
        crop_to_image = crop_to_image @ np.array([[k, 0, (k - 1) / 2], [0, k, (k - 1) / 2], [0, 0, 1]])
        size = small
    to_roi = crop_to_image.copy()
    to_roi[:, 2] -= (x0, y0)
    roi_size = (x1 - x0, y1 - y0)
    # the face as ``align_face`` warps (bicubic at about its own scale); the smooth mask
    # bilinear (no overshoot past 0 and 1)
    interp = warp_interpolation(scale) if interpolation is None else interpolation
    warped = cv2.warpAffine(face.astype(np.float32), to_roi, roi_size, flags=interp,
                            borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(np.ascontiguousarray(mask), to_roi, roi_size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    touched = alpha > 0
    if not touched.any():
        return
    region = frame[y0:y1, x0:x1]
    colour = region if region.ndim == 2 else region[..., : min(3, region.shape[2])]
    top = float(np.iinfo(frame.dtype).max)
    if colour.ndim == 2:
        target, a = cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY) * top, alpha
    else:
        target, a = warped * top, alpha[..., None]
    blended = colour.astype(np.float32) * (1.0 - a) + np.clip(target, 0, top) * a
    colour[touched] = np.rint(blended).astype(frame.dtype)[touched]
