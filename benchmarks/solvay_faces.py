"""Face by face on the bundled Solvay photo: is any super-resolved face worse than bicubic?

    python benchmarks/solvay_faces.py [--judge dlib-resnet] [--fidelity F] [--draws 8] [--sigma 0.35]
        [--model G.keras ...]

The half-size sample (``samples/solvay_1927_small.jpg``, faces 21-30 px, as in footage) goes
through the pipeline exactly as ``keras-facesr enhance`` runs it (bundled models or ``--model``, threshold,
model by face size, default fidelity). The reference for each face is the same face in the
full-size photo (``samples/solvay_1927.jpg``, twice the resolution), aligned on the same
landmarks. Per face: the judge's identity cosine of the SR face and of the bicubic face to the
reference, and PSNR.

One alignment gives one noisy reading: a sub-pixel change of the landmarks, which no viewer
would call a different face, moves the judge's cosine by as much as SR and bicubic differ.
So each face is also run ``--draws`` times with its landmarks moved by seeded Gaussian noise
(``--sigma`` px in the small photo, below MTCNN's own error on such faces), SR and bicubic
on the same crops (paired). A face is **worse** when its mean SR-minus-bicubic cosine over the
draws is below zero by more than twice its standard error, i.e. beyond the judge's own noise.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

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


@dataclass
class FaceComparison:
    size: float  # native face size in the small photo, px
    model: str
    cos_sr: float  # the judge's cosine to the reference, as `enhance` aligns the face
    cos_bicubic: float
    psnr_sr: float
    psnr_bicubic: float
    gain_mean: float  # SR minus bicubic cosine, mean over the re-aligned draws
    gain_se: float  # its standard error

    @property
    def worse(self) -> bool:
        """Below bicubic beyond the judge's noise (two standard errors)."""
        return self.gain_mean < -2 * self.gain_se


class _Given:
    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb):
        return self.faces


def compare_faces(judge: str = "dlib-resnet", fidelity: float | None = None, draws: int = 8,
                  sigma: float = 0.35, seed: int = 0, models: list | None = None) -> list[FaceComparison]:
    """Every super-resolved face of the half-size photo, SR vs bicubic against the full photo."""
    full = read_image(SAMPLES / "solvay_1927.jpg")
    small = read_image(SAMPLES / "solvay_1927_small.jpg")
    f = small.shape[1] / full.shape[1]
    found = FaceDetector(min_confidence=0.9, min_face=12).detect(full)
    # the same faces in the small photo: landmarks scaled (pixel centres), so both align alike
    marks = [((d.landmarks + 0.5) * f - 0.5).astype(np.float32) for d in found]
    given = _Given([])
    enhancer = FaceEnhancer(models, detector=given, keep_crops=True, fidelity=fidelity)
    encoder = get_encoder(judge)
    refs = [align_face(full, d.landmarks, 128)[0].astype(np.float32) / 255 for d in found]
    ref_emb = _unit(encoder.embed(np.stack(refs)))

    def run(landmarks: list[np.ndarray]):
        given.faces = [Face(tuple(round(v * f) for v in d.box), d.confidence, m)
                       for d, m in zip(found, landmarks, strict=True)]
        faces = enhancer.enhance(small).faces
        keep = [k for k, face in enumerate(faces) if face.path == SUPER_RESOLVED]
        sr = np.stack([faces[k].sr for k in keep]).astype(np.float32) / 255
        bicubic = np.stack([cv2.resize(faces[k].lr, (128, 128), interpolation=cv2.INTER_CUBIC)
                            for k in keep]).astype(np.float32) / 255
        cos_sr = np.sum(_unit(encoder.embed(sr)) * ref_emb[keep], axis=1)
        cos_bicubic = np.sum(_unit(encoder.embed(bicubic)) * ref_emb[keep], axis=1)
        return keep, faces, sr, bicubic, cos_sr, cos_bicubic

    keep, faces, sr, bicubic, cos_sr, cos_bicubic = run(marks)
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(draws):
        moved = [m + rng.normal(0.0, sigma, m.shape).astype(np.float32) for m in marks]
        keep_d, _, _, _, c_sr, c_bi = run(moved)
        # a moved face that crossed a model's size boundary took another path: not counted
        by_face = dict(zip(keep_d, c_sr - c_bi, strict=True))
        gains.append([by_face.get(k, np.nan) for k in keep])
    gains = np.array(gains) if draws else (cos_sr - cos_bicubic)[None]
    counted = np.sum(~np.isnan(gains), axis=0)
    se = np.zeros(len(keep))  # no spread to measure from fewer than two draws
    many = counted > 1
    se[many] = np.nanstd(gains[:, many], axis=0, ddof=1) / np.sqrt(counted[many])
    refs_kept = np.stack([refs[k] for k in keep])
    p_sr, p_bi = np.asarray(psnr(refs_kept, sr)), np.asarray(psnr(refs_kept, bicubic))
    return [FaceComparison(faces[k].size, faces[k].model, float(cos_sr[i]), float(cos_bicubic[i]),
                           float(p_sr[i]), float(p_bi[i]), float(np.nanmean(gains[:, i])), float(se[i]))
            for i, k in enumerate(keep)]


def _unit(e) -> np.ndarray:
    e = np.asarray(e, np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--judge", default="dlib-resnet")
    p.add_argument("--fidelity", type=float, help="Default: each model's own.")
    p.add_argument("--draws", type=int, default=8, help="Re-alignments per face (0: none).")
    p.add_argument("--sigma", type=float, default=0.35, help="Landmark noise, px in the small photo.")
    p.add_argument("--model", action="append", help="Generators (default: the bundled ones).")
    args = p.parse_args()
    rows = compare_faces(args.judge, args.fidelity, args.draws, args.sigma, models=args.model)
    print(f"{len(rows)} super-resolved faces; judge {args.judge}; reference: the full-size photo; "
          f"{args.draws} re-alignments per face (landmark noise {args.sigma} px)")
    print(f"{'px':>4} {'model':16s} {'cos SR':>7} {'bicubic':>8} {'PSNR SR':>8} {'bicubic':>8}"
          f" {'gain (mean of draws ± 2 SE)':>28}")
    for r in sorted(rows, key=lambda r: (r.size, r.gain_mean)):
        flag = "  <- worse" if r.worse else ("  (below, within noise)" if r.cos_sr < r.cos_bicubic else "")
        print(f"{r.size:4.0f} {r.model:16s} {r.cos_sr:7.4f} {r.cos_bicubic:8.4f} {r.psnr_sr:8.2f} "
              f"{r.psnr_bicubic:8.2f} {r.gain_mean:+17.4f} ± {2 * r.gain_se:.4f}{flag}")
    a = np.array([(r.cos_sr, r.cos_bicubic, r.psnr_sr, r.psnr_bicubic, r.gain_mean) for r in rows])
    print(f"mean: cos SR {a[:, 0].mean():.4f} vs bicubic {a[:, 1].mean():.4f}; PSNR {a[:, 2].mean():.2f} "
          f"vs {a[:, 3].mean():.2f} dB; mean gain over the draws {a[:, 4].mean():+.4f}")
    print(f"below bicubic in the one alignment: {sum(r.cos_sr < r.cos_bicubic for r in rows)} of "
          f"{len(rows)}; worse beyond the judge's noise: {sum(r.worse for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()
