"""5-point similarity alignment onto a face template, and its inverse for paste-back."""

from __future__ import annotations

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


def align_face(
    image: np.ndarray, landmarks: np.ndarray, size: int, template=CANONICAL_TEMPLATE
) -> tuple[np.ndarray, np.ndarray]:
    """Warp the face onto the template at ``size``; returns (crop, image->crop matrix)."""
    m = alignment_matrix(landmarks, size, template)
    scale = np.hypot(m[0, 0], m[0, 1])
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    crop = cv2.warpAffine(image, m, (size, size), flags=interp, borderMode=cv2.BORDER_REFLECT101)
    return crop, m


def invert(m: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine matrix (crop -> image, for paste-back)."""
    return cv2.invertAffineTransform(m)
