"""MTCNN face detection with TFLite P/R/O-Nets and numpy: the same steps, thresholds and
non-maximum suppression as PyPI ``mtcnn`` 1.0.0 (image pyramid, proposals, two refinements,
five landmarks), so the on-device runtime finds the faces the TensorFlow pipeline finds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from keras_facesr.edge.litert import TFLiteModel
from keras_facesr.face.detect import Face
from keras_facesr.face.mtcnn_steps import (
    adjust,
    crop_and_resize,
    nms,
    normalise,
    onet_stage,
    refine,
    refine_each,
    scale_pyramid,
    sort_desc,
    square,
    to_face,
)


class TFLiteMTCNN:
    """``detect(rgb) -> list[Face]``, like :class:`keras_facesr.face.detect.FaceDetector`."""

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
            boxes = sort_desc(boxes)
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
        norm = normalise(rgb)
        boxes = self._proposals(norm)
        if len(boxes):
            reg, cls = self.rnet(crop_and_resize(norm, boxes, 24))
            boxes[:, 5] = cls[:, 1]
            boxes = adjust(boxes, reg)
            boxes = square(nms(boxes[boxes[:, 5] > 0.7], 0.7, "union"))
        if len(boxes):
            boxes = onet_stage(norm, boxes, self.onet)
            boxes = nms(boxes[boxes[:, 5] > 0.8], 0.7, "min")
        faces = [to_face(b, rgb.shape) for b in boxes]
        faces = [f for f in faces
                 if f.confidence >= self.min_confidence and min(f.box[2:]) >= self.min_face]
        return sorted(faces, key=lambda f: -f.confidence)

    def refine(self, rgb: np.ndarray, boxes: np.ndarray) -> list[Face]:
        """O-Net alone on face boxes (x1, y1, x2, y2): see ``mtcnn_steps.refine``."""
        return refine(rgb, boxes, self.onet)

    def refine_each(self, images: list[np.ndarray], boxes: np.ndarray) -> list[Face]:
        """O-Net alone on one box per image, in one call: see ``mtcnn_steps.refine_each``."""
        return refine_each(images, boxes, self.onet)
