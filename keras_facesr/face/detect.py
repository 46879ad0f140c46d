"""Face detection with MTCNN (PyPI ``mtcnn``, which ships its weights): boxes, scores, 5 points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass
class Face:
    box: tuple[int, int, int, int]  # x, y, width, height
    confidence: float
    landmarks: np.ndarray  # (5, 2) float32, in KEYPOINTS order
    track_id: int | None = None  # set by the tracker (video): the same face keeps its id


class Detector(Protocol):
    """What the pipeline and the tracker need of a face detector."""

    min_confidence: float
    min_face: int

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, most confident first."""

    def refine(self, rgb: np.ndarray, boxes: np.ndarray) -> list[Face]:
        """The last refinement stage alone on face boxes (N, 4: x1, y1, x2, y2), one Face per
        box in order, its confidence the stage's face score (low where there is no face)."""

    def refine_each(self, images: list[np.ndarray], boxes: np.ndarray) -> list[Face]:
        """``refine`` of one box per image (``boxes[i]`` in ``images[i]``), in one batch.
        Optional: :func:`refine_each` falls back to ``refine`` image by image without it."""


def refine_each(detector: Detector, images: list[np.ndarray], boxes: np.ndarray) -> list[Face]:
    """``detector.refine_each`` where the detector has it (one batch), else its ``refine`` on
    each image's box in turn: a registered detector need only implement ``detect`` and ``refine``."""
    batched = getattr(detector, "refine_each", None)
    if batched is not None:
        return batched(images, boxes)
    return [detector.refine(image, box[None])[0] for image, box in zip(images, boxes, strict=True)]


class FaceDetector:
    """MTCNN with a minimum confidence and a minimum face size (pixels, box side)."""

    def __init__(self, min_confidence: float = 0.9, min_face: int = 20):
        from mtcnn import MTCNN

        self.min_confidence = min_confidence
        self.min_face = min_face
        self._mtcnn = MTCNN()
        # The package calls its three Keras networks eagerly, one call per pyramid scale; as
        # graphs (one trace per input shape) they give the same outputs bit for bit, 2.4x faster
        # on a 640x360 frame (benchmarks/enhance_video.py).
        for stage in self._mtcnn.stages:
            stage._model = _compiled(stage._model)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, most confident first."""
        # mtcnn 1.0.0 finds nothing at all when its min_face_size is above ~20 (its pyramid
        # breaks), so it always searches from <= 20 px and bigger minimums are applied below.
        found = self._mtcnn.detect_faces(rgb, min_face_size=min(20, max(12, self.min_face)))
        faces = []
        for f in found:
            if f["confidence"] < self.min_confidence or min(f["box"][2:]) < self.min_face:
                continue
            pts = np.array([f["keypoints"][k] for k in KEYPOINTS], np.float32)
            faces.append(Face(tuple(int(v) for v in f["box"]), float(f["confidence"]), pts))
        return sorted(faces, key=lambda f: -f.confidence)

    def refine(self, rgb: np.ndarray, boxes: np.ndarray) -> list[Face]:
        """MTCNN's O-Net alone on face boxes: see :func:`keras_facesr.face.mtcnn_steps.refine`."""
        from keras_facesr.face.mtcnn_steps import refine

        return refine(rgb, boxes, self._onet)

    def refine_each(self, images: list[np.ndarray], boxes: np.ndarray) -> list[Face]:
        """O-Net alone on one box per image, in one call: see
        :func:`keras_facesr.face.mtcnn_steps.refine_each`."""
        from keras_facesr.face.mtcnn_steps import refine_each

        return refine_each(images, boxes, self._onet)

    def _onet(self, patches: np.ndarray) -> list[np.ndarray]:
        onet = self._mtcnn.get_stage(stage_id=3)._model
        return [np.asarray(o) for o in onet(patches)]


def _compiled(model):
    import tensorflow as tf

    return tf.function(model, reduce_retracing=True)
