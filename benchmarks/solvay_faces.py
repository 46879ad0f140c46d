"""Face by face on the bundled Solvay photo: is any super-resolved face worse than bicubic?

    python benchmarks/solvay_faces.py [--judge dlib-resnet] [--fidelity F]

The half-size sample (``samples/solvay_1927_small.jpg``, faces 21-30 px, as in footage) goes
through the pipeline exactly as ``keras-facesr enhance`` runs it (bundled models, threshold,
model by face size, default fidelity). The reference for each face is the same face in the
full-size photo (``samples/solvay_1927.jpg``, twice the resolution), aligned on the same
landmarks. Per face: the judge's identity cosine of the SR face and of the bicubic face to the
reference, and PSNR; the count of faces where SR is worse than bicubic.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from keras_facesr.face.align import align_face  # noqa: E402
from keras_facesr.face.detect import Face, FaceDetector  # noqa: E402
from keras_facesr.images import read_image  # noqa: E402
from keras_facesr.models.gan import psnr  # noqa: E402
from keras_facesr.models.info import WEIGHTS_DIR  # noqa: E402
from keras_facesr.pipeline.enhance import SUPER_RESOLVED, FaceEnhancer  # noqa: E402
from keras_facesr.recognition.encoders import get_encoder  # noqa: E402

SAMPLES = WEIGHTS_DIR.parent / "samples"


class _Given:
    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb):
        return self.faces


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--judge", default="dlib-resnet")
    p.add_argument("--fidelity", type=float, help="Default: each model's own.")
    args = p.parse_args()
    full = read_image(SAMPLES / "solvay_1927.jpg")
    small = read_image(SAMPLES / "solvay_1927_small.jpg")
    f = small.shape[1] / full.shape[1]
    found = FaceDetector(min_confidence=0.9, min_face=12).detect(full)
    # the same faces in the small photo: landmarks scaled (pixel centres), so both align alike
    faces = [Face(tuple(round(v * f) for v in d.box), d.confidence,
                  ((d.landmarks + 0.5) * f - 0.5).astype(np.float32)) for d in found]
    result = FaceEnhancer(detector=_Given(faces), keep_crops=True, fidelity=args.fidelity).enhance(small)
    judge = get_encoder(args.judge)
    rows = []
    for d, face in zip(found, result.faces, strict=True):
        if face.path != SUPER_RESOLVED:
            continue
        hr, _ = align_face(full, d.landmarks, 128)
        sr = face.sr.astype(np.float32) / 255
        bicubic = cv2.resize(face.lr, (128, 128), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
        ref = hr.astype(np.float32) / 255
        e = np.asarray(judge.embed(np.stack([ref, sr, bicubic])))
        rows.append((face.size, face.model, float(e[0] @ e[1]), float(e[0] @ e[2]),
                     float(psnr(ref[None], sr[None])[0]), float(psnr(ref[None], bicubic[None])[0])))
    print(f"{len(rows)} super-resolved faces; judge {args.judge}; reference: the full-size photo")
    print(f"{'px':>4} {'model':16s} {'cos SR':>7} {'bicubic':>8} {'PSNR SR':>8} {'bicubic':>8}")
    for size, model, c_sr, c_bi, p_sr, p_bi in sorted(rows):
        flag = "  <- worse" if c_sr < c_bi else ""
        print(f"{size:4.0f} {model:16s} {c_sr:7.4f} {c_bi:8.4f} {p_sr:8.2f} {p_bi:8.2f}{flag}")
    worse = sum(r[2] < r[3] for r in rows)
    a = np.array([r[2:] for r in rows])
    print(f"mean: cos SR {a[:, 0].mean():.4f} vs bicubic {a[:, 1].mean():.4f}; PSNR {a[:, 2].mean():.2f} "
          f"vs {a[:, 3].mean():.2f} dB; faces worse than bicubic under the judge: {worse} of {len(rows)}")


if __name__ == "__main__":
    main()
