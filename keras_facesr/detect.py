"""Face detection with MTCNN (PyPI ``mtcnn``, which ships its weights): boxes, scores, 5 points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass
class Face:
    box: tuple[int, int, int, int]  # x, y, width, height
    confidence: float
    landmarks: np.ndarray  # (5, 2) float32, in KEYPOINTS order


class FaceDetector:
    """MTCNN with a minimum confidence and a minimum face size (pixels, box side)."""

    def __init__(self, min_confidence: float = 0.9, min_face: int = 20):
        from mtcnn import MTCNN

        self.min_confidence = min_confidence
        self.min_face = min_face
        self._mtcnn = MTCNN()

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
