"""MTCNN face detection with TFLite P/R/O-Nets and numpy: the same steps, thresholds and
non-maximum suppression as PyPI ``mtcnn`` 1.0.0 (image pyramid, proposals, two refinements,
five landmarks), so the on-device runtime finds the faces the TensorFlow pipeline finds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from keras_facesr.detect import Face
from keras_facesr.edge.litert import TFLiteModel


def scale_pyramid(width: int, height: int, min_face_size: int, factor: float = 0.709,
                  min_size: int = 12) -> np.ndarray:
    count = round(-(np.log(min(width, height) / min_size) / np.log(factor) + 1))
    return (min_size / min_face_size) * factor ** np.arange(count)


def _sort_desc(boxes: np.ndarray, column: int = 5) -> np.ndarray:
    return boxes[np.argsort(boxes[:, column])[::-1]]


def _iou(boxes: np.ndarray, method: str) -> np.ndarray:
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    a, b = boxes[None], boxes[:, None]
    w = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]))
    h = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]))
    inter = w * h
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "union":
            return inter / (area[:, None] + area[None, :] - inter)
        return inter / np.minimum(area[:, None], area[None, :])


def nms(boxes: np.ndarray, threshold: float, method: str = "union", sort: bool = True) -> np.ndarray:
    """mtcnn's suppression: a box goes when any higher-ranked box overlaps it > threshold."""
    if not len(boxes):
        return boxes
    if sort:
        boxes = _sort_desc(boxes)
    overlap = _iou(boxes[:, 1:5], method) > threshold
    keep = ~(np.triu(overlap, k=1)).any(axis=0)
    return boxes[keep]


def square(boxes: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w, h = boxes[:, 3] - boxes[:, 1], boxes[:, 4] - boxes[:, 2]
    side = np.maximum(w, h)
    boxes[:, 1] += w * 0.5 - side * 0.5
    boxes[:, 2] += h * 0.5 - side * 0.5
    boxes[:, 3:5] = boxes[:, 1:3] + side[:, None]
    return boxes


def adjust(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = boxes[:, 3] - boxes[:, 1] + 1
    h = boxes[:, 4] - boxes[:, 2] + 1
    boxes[:, 1:5] += offsets * np.stack([w, h, w, h], axis=-1)
    return boxes


def crop_and_resize(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """``tf.image.crop_and_resize`` (bilinear, extrapolation 0) of boxes [., x1, y1, x2, y2]."""
    h, w = image.shape[:2]
    steps = np.arange(size) / (size - 1)
    ys = (boxes[:, 2:3] / h) * (h - 1) + steps * ((boxes[:, 4:5] - boxes[:, 2:3]) / h) * (h - 1)
    xs = (boxes[:, 1:2] / w) * (w - 1) + steps * ((boxes[:, 3:4] - boxes[:, 1:2]) / w) * (w - 1)
    y_ok, x_ok = (ys >= 0) & (ys <= h - 1), (xs >= 0) & (xs <= w - 1)
    y0 = np.clip(np.floor(ys), 0, h - 1).astype(int)
    x0 = np.clip(np.floor(xs), 0, w - 1).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - np.floor(ys))[:, :, None, None], (xs - np.floor(xs))[:, None, :, None]
    top = image[y0[:, :, None], x0[:, None, :]] * (1 - wx) + image[y0[:, :, None], x1[:, None, :]] * wx
    bottom = image[y1[:, :, None], x0[:, None, :]] * (1 - wx) + image[y1[:, :, None], x1[:, None, :]] * wx
    out = top * (1 - wy) + bottom * wy
    return (out * (y_ok[:, :, None, None] & x_ok[:, None, :, None])).astype(np.float32)


class TFLiteMTCNN:
    """``detect(rgb) -> list[Face]``, like :class:`keras_facesr.detect.FaceDetector`."""

    def __init__(self, pnet: Path, rnet: Path, onet: Path, min_confidence: float = 0.9,
                 min_face: int = 12, threads: int = 2, delegate=None):
        # P-Net runs on many image sizes (the pyramid): CPU. R/O-Nets on the GPU if given one.
        self.pnet = TFLiteModel(pnet, threads, order=(4, 2))
        self.rnet = TFLiteModel(rnet, threads, delegate, order=(4, 2))
        self.onet = TFLiteModel(onet, threads, delegate, order=(4, 10, 2))
        self.min_confidence, self.min_face = min_confidence, min_face

    def _proposals(self, norm: np.ndarray) -> np.ndarray:
        h, w = norm.shape[:2]
        found = []
        for scale in scale_pyramid(w, h, min(20, max(12, self.min_face))):
            sh, sw = int(h * scale), int(w * scale)
            if min(sh, sw) < 12:
                continue
            reg, cls = self.pnet(cv2.resize(norm, (sw, sh), interpolation=cv2.INTER_AREA)[None])
            conf = cls[0, :, :, 1]
            ys, xs = np.where(conf > 0.6)
            if not len(ys):
                continue
            r = reg[0, ys, xs]
            x1, y1 = xs * 2 + 1 + r[:, 0] * 11, ys * 2 + 1 + r[:, 1] * 11
            x2, y2 = xs * 2 + 12 + r[:, 2] * 11, ys * 2 + 12 + r[:, 3] * 11
            boxes = np.stack([np.zeros_like(x1), x1, y1, x2, y2, conf[ys, xs]], axis=1)
            boxes = _sort_desc(boxes)
            boxes[:, 1:5] /= scale
            found.append(nms(boxes, 0.5, "union", sort=False))
        if not found:
            return np.empty((0, 6))
        return square(nms(np.concatenate(found), 0.7, "union", sort=True))

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, most confident first."""
        h, w = rgb.shape[:2]
        if min(h, w) < 12:
            return []
        norm = (rgb.astype(np.float32) - 127.5) / 128.0
        boxes = self._proposals(norm)
        if len(boxes):
            reg, cls = self.rnet(crop_and_resize(norm, boxes, 24))
            boxes[:, 5] = cls[:, 1]
            boxes = adjust(boxes, reg)
            boxes = square(nms(boxes[boxes[:, 5] > 0.7], 0.7, "union"))
        if len(boxes):
            reg, marks, cls = self.onet(crop_and_resize(norm, boxes, 48))
            bw = boxes[:, 3:4] - boxes[:, 1:2] + 1
            bh = boxes[:, 4:5] - boxes[:, 2:3] + 1
            lx = bw * marks[:, 0:5] + boxes[:, 1:2] - 1
            ly = bh * marks[:, 5:10] + boxes[:, 2:3] - 1
            boxes[:, 5] = cls[:, 1]
            boxes = np.concatenate([adjust(boxes, reg), lx, ly], axis=1)
            boxes = nms(boxes[boxes[:, 5] > 0.8], 0.7, "min")
        faces = []
        for b in boxes:
            x1, x2 = np.clip([b[1], b[3]], 0, w - 1)
            y1, y2 = np.clip([b[2], b[4]], 0, h - 1)
            box = tuple(int(v) for v in np.round([x1, y1, x2 - x1, y2 - y1]))
            if b[5] < self.min_confidence or min(box[2:]) < self.min_face:
                continue
            marks = np.round(np.stack([b[6:11], b[11:16]], axis=1)).astype(np.float32)
            faces.append(Face(box, float(b[5]), marks))
        return sorted(faces, key=lambda f: -f.confidence)
