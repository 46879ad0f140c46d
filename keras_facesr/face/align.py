"""5-point similarity alignment onto a face template, and its inverse for paste-back."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from keras_facesr.templates import CANONICAL_TEMPLATE


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) src -> dst, as 2x3.

    Umeyama's closed form; ``src`` and ``dst`` are (N, 2) point arrays.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / s0.var(0).sum()
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def alignment_matrix(landmarks: np.ndarray, size: int, template=CANONICAL_TEMPLATE) -> np.ndarray:
    """2x3 matrix taking image coordinates to a ``size`` x ``size`` aligned crop."""
    return similarity_transform(landmarks, np.asarray(template) * size)


def native_size(landmarks: np.ndarray, template=CANONICAL_TEMPLATE) -> float:
    """Side in pixels that the aligned crop has at the face's own resolution (scale 1)."""
    m = alignment_matrix(landmarks, 1, template)
    return 1.0 / float(np.hypot(m[0, 0], m[0, 1]))


def inside_fraction(landmarks: np.ndarray, shape: tuple[int, ...], template=CANONICAL_TEMPLATE,
                    size: int = 64) -> float:
    """Share of the aligned crop that lies inside an image of ``shape``: the rest of the crop is
    mirrored border (``align_face``), which shows a face's features twice."""
    m = alignment_matrix(landmarks, size, template)
    inside = cv2.warpAffine(np.ones(shape[:2], np.uint8), m, (size, size), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return float(inside.mean())


def crop_bounds(crop_to_image: np.ndarray, size: int, shape: tuple[int, ...], pad: int = 2):
    """Integer (x0, y0, x1, y1) of the image region a ``size`` crop covers, clipped to ``shape``."""
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
    pts = corners @ np.asarray(crop_to_image, np.float64).T
    x0, y0 = np.floor(pts.min(0)).astype(int) - pad
    x1, y1 = np.ceil(pts.max(0)).astype(int) + pad
    h, w = shape[:2]
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


AREA_FIRST_BELOW = 0.8  # warp scale below which a face is area-shrunk before the warp


def warp_interpolation(scale: float) -> int:
    """The OpenCV interpolation for a warp at ``scale`` (output px per input px: crop per image
    when aligning, frame per crop when pasting back). Bicubic wherever the warp itself sets the
    detail, enlarging or at about the face's own size (a face fed at its whole size is warped
    at scale 0.98-1.02, where bilinear softens it); bilinear after an area pre-shrink (``scale <
    AREA_FIRST_BELOW``), as the 128 px training and evaluation crops of faces over 160 px are
    made."""
    return cv2.INTER_CUBIC if scale >= AREA_FIRST_BELOW else cv2.INTER_LINEAR


# The data sets' crop rule (framing, size and ``dataset_interpolation``): recorded in each fetched
# source's manifest. Bump it when the rule changes, so `data fetch` re-crops caches made by
# another rule instead of keeping them (a silent change of every held-out figure).
DATASET_CROP_VERSION = 1


def dataset_interpolation(scale: float) -> int:
    """The warp the fetched data sets' crops are made with: bicubic only when enlarging.

    Kept as it was when every published figure was measured (README, model card), so that a
    fresh ``data fetch`` gives the same held-out faces; the pipeline's own rule
    (:func:`warp_interpolation`) moved on."""
    return cv2.INTER_CUBIC if scale > 1 else cv2.INTER_LINEAR


def align_face(
    image: np.ndarray, landmarks: np.ndarray, size: int, template=CANONICAL_TEMPLATE,
    interpolation: Callable[[float], int] = warp_interpolation,
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the face onto the template at ``size``; returns (crop, image->crop matrix).

    When the crop is much smaller than the face (scale below ``AREA_FIRST_BELOW``), the face's
    region is first shrunk with area averaging, so the crop is anti-aliased (``warpAffine``
    alone would alias). ``interpolation``: the OpenCV flag for the warp at a given scale."""
    m = alignment_matrix(landmarks, size, template)
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    src, m_src = image, m
    if scale < AREA_FIRST_BELOW:
        x0, y0, x1, y1 = crop_bounds(invert(m), size, image.shape)
        if x1 > x0 and y1 > y0:
            w, h = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
            src = cv2.resize(image[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_AREA)
            # INTER_AREA maps pixel centres: small u <-> region x = (u + 0.5) / s - 0.5
            sx, sy = w / (x1 - x0), h / (y1 - y0)
            m_src = np.empty((2, 3))
            m_src[:, :2] = m[:, :2] @ np.diag([1 / sx, 1 / sy])
            offset = np.array([x0 + (1 / sx - 1) / 2, y0 + (1 / sy - 1) / 2])
            m_src[:, 2] = m[:, :2] @ offset + m[:, 2]
    crop = cv2.warpAffine(src, m_src, (size, size), flags=interpolation(scale),
                          borderMode=cv2.BORDER_REFLECT101)
    return crop, m


def invert(m: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine matrix (crop -> image, for paste-back)."""
    return cv2.invertAffineTransform(m)
