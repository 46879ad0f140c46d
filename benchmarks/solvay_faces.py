"""Face by face on the bundled Solvay photo: is any super-resolved face worse than bicubic?

    python benchmarks/solvay_faces.py [--judge dlib-resnet faceres] [--fidelity F] [--draws 8]
        [--sigma 0.35] [--model G.keras ...] [--no-mirror] [--bands LOW HIGH] [--reference-band]

The half-size sample (``samples/solvay_1927_small.jpg``, faces 21-30 px, as in footage) goes
through the pipeline exactly as ``keras-facesr enhance`` runs it (bundled models or ``--model``, threshold,
model by face size, default fidelity, SR faces mirror-averaged as in every photo;
``--no-mirror``: not; ``--bands LOW HIGH``: blended toward bicubic by frequency band,
``bands.py``, instead of by the fidelity). The reference for each face is the same face in the
full-size photo (``samples/solvay_1927.jpg``, twice the resolution), aligned on the same
landmarks. That reference is itself a small face (the full-size photo's faces are 42-57 px,
enlarged 2.3-3.1 times onto the 128 px crop), so it cannot show detail SR adds beyond its own
sampling, and a judge reads such detail as a difference. ``--reference-band`` judges SR and
bicubic at the reference's band: each 128 px face is shrunk by area to the size the reference
face had (128 px over its alignment scale) and enlarged back with bicubic, as aligning enlarged
the reference. Per face: PSNR, and each judge's identity cosine of the SR face and of the bicubic
face to the reference. The judges (default dlib-resnet and faceres) are in no bundled model's
training loss.

One alignment gives one noisy reading: a sub-pixel change of the landmarks, which no viewer
would call a different face, moves the judge's cosine by as much as SR and bicubic differ.
So each face is also run ``--draws`` times with its landmarks moved by seeded Gaussian noise
(``--sigma`` px in the small photo, below MTCNN's own error on such faces), SR and bicubic
on the same crops (paired). A face is **worse** when its mean SR-minus-bicubic cosine over the
draws is below zero by more than twice its standard error, i.e. beyond the judge's own noise.
Each judge's count of worse faces is printed, with the count its rule would flag by chance
alone were SR and bicubic alike on every face (``paired.py``: the draws' signs flipped), and
the faces that every judge finds worse: two networks trained apart disagree on single faces at
this level, so a face both find worse is worse, and one only one judge flags may be that
judge's quirk.
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
from keras_facesr.images import centre_square, read_image  # noqa: E402
from keras_facesr.models.gan import psnr  # noqa: E402
from keras_facesr.models.info import WEIGHTS_DIR, bundled_models  # noqa: E402
from keras_facesr.pipeline.enhance import SUPER_RESOLVED, FaceEnhancer  # noqa: E402
from keras_facesr.pipeline.sr import KerasSR  # noqa: E402
from keras_facesr.recognition.encoders import get_encoder  # noqa: E402

from bands import BandBlended  # noqa: E402
from paired import PairedGain, paired_gain  # noqa: E402

SAMPLES = WEIGHTS_DIR.parent / "samples"
# Judges in no bundled model's training loss (x4 and x8 had SFace in stage 1).
JUDGES = ("dlib-resnet", "faceres")


@dataclass
class JudgedGain:
    """One judge's view of one face: SR and bicubic cosine to the reference, and the gain."""

    cos_sr: float  # the judge's cosine to the reference, as `enhance` aligns the face
    cos_bicubic: float
    gain: PairedGain  # SR minus bicubic cosine over the re-aligned draws

    @property
    def worse(self) -> bool:
        return self.gain.worse


@dataclass
class FaceComparison:
    size: float  # native face size in the small photo, px
    model: str
    psnr_sr: float
    psnr_bicubic: float
    judged: dict[str, JudgedGain]  # by judge name

    @property
    def worse(self) -> bool:
        """Worse by every judge: the independent judges agree."""
        return all(j.worse for j in self.judged.values())


class _Given:
    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb):
        return self.faces


def compare_faces(judges: tuple[str, ...] = JUDGES, fidelity: float | None = None, draws: int = 8,
                  sigma: float = 0.35, seed: int = 0, models: list | None = None,
                  mirror: bool = True, reference_band: bool = False) -> list[FaceComparison]:
    """Every super-resolved face of the half-size photo, SR vs bicubic against the full photo
    (``reference_band``: both limited to the reference's own sampling first)."""
    full = read_image(SAMPLES / "solvay_1927.jpg")
    small = read_image(SAMPLES / "solvay_1927_small.jpg")
    f = small.shape[1] / full.shape[1]
    found = FaceDetector(min_confidence=0.9, min_face=12).detect(full)
    # the same faces in the small photo: landmarks scaled (pixel centres), so both align alike
    marks = [((d.landmarks + 0.5) * f - 0.5).astype(np.float32) for d in found]
    given = _Given([])
    enhancer = FaceEnhancer(models, detector=given, keep_crops=True, fidelity=fidelity, mirror=mirror)
    encoders = {j: get_encoder(j) for j in judges}
    aligned = [align_face(full, d.landmarks, 128) for d in found]
    refs = [crop.astype(np.float32) / 255 for crop, _ in aligned]
    # the side the reference face had before aligning enlarged it: 128 px over the warp's scale
    ref_sides = [max(1, round(128 / float(np.hypot(m[0, 0], m[0, 1])))) for _, m in aligned]
    ref_emb = {j: _unit(e.embed(np.stack(refs))) for j, e in encoders.items()}

    def run(landmarks: list[np.ndarray]):
        """The faces SR took, their SR and bicubic crops, and each judge's SR - bicubic cosines."""
        given.faces = [Face(tuple(round(v * f) for v in d.box), d.confidence, m)
                       for d, m in zip(found, landmarks, strict=True)]
        faces = enhancer.enhance(small).faces
        keep = [k for k, face in enumerate(faces) if face.path == SUPER_RESOLVED]
        # a face fed at its own size (the model's own_size band) comes out at 4x that size
        sr = [centre_square(faces[k].sr, 128) for k in keep]
        bicubic = [cv2.resize(faces[k].lr, (128, 128), interpolation=cv2.INTER_CUBIC) for k in keep]
        if reference_band:
            sr = [_band_limited(x, ref_sides[k]) for x, k in zip(sr, keep, strict=True)]
            bicubic = [_band_limited(x, ref_sides[k]) for x, k in zip(bicubic, keep, strict=True)]
        sr = np.stack(sr).astype(np.float32) / 255
        bicubic = np.stack(bicubic).astype(np.float32) / 255
        cos = {j: (np.sum(_unit(e.embed(sr)) * ref_emb[j][keep], axis=1),
                   np.sum(_unit(e.embed(bicubic)) * ref_emb[j][keep], axis=1))
               for j, e in encoders.items()}
        return keep, faces, sr, bicubic, cos

    keep, faces, sr, bicubic, cos = run(marks)
    rng = np.random.default_rng(seed)
    gains: dict[str, list] = {j: [] for j in judges}
    for _ in range(draws):
        moved = [m + rng.normal(0.0, sigma, m.shape).astype(np.float32) for m in marks]
        keep_d, _, _, _, cos_d = run(moved)
        for j, (c_sr, c_bi) in cos_d.items():
            # a moved face that crossed a model's size boundary took another path: not counted
            by_face = dict(zip(keep_d, c_sr - c_bi, strict=True))
            gains[j].append([by_face.get(k, np.nan) for k in keep])
    judged: dict[str, list[JudgedGain]] = {}
    for j, (c_sr, c_bi) in cos.items():
        g = np.array(gains[j]) if draws else (c_sr - c_bi)[None]
        judged[j] = [JudgedGain(float(c_sr[i]), float(c_bi[i]), paired_gain(g[:, i], seed=i))
                     for i in range(len(keep))]
    refs_kept = np.stack([refs[k] for k in keep])
    p_sr, p_bi = np.asarray(psnr(refs_kept, sr)), np.asarray(psnr(refs_kept, bicubic))
    return [FaceComparison(faces[k].size, faces[k].model, float(p_sr[i]), float(p_bi[i]),
                           {j: judged[j][i] for j in judges})
            for i, k in enumerate(keep)]


def _band_limited(face: np.ndarray, side: int) -> np.ndarray:
    """``face`` shrunk by area to ``side`` px and enlarged back with bicubic: the detail a face
    sampled at ``side`` px can hold."""
    small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, face.shape[1::-1], interpolation=cv2.INTER_CUBIC)


def _unit(e) -> np.ndarray:
    e = np.asarray(e, np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--judge", nargs="+", default=list(JUDGES),
                   help="Encoders in no bundled model's training loss.")
    p.add_argument("--fidelity", type=float, help="Default: each model's own.")
    p.add_argument("--draws", type=int, default=8, help="Re-alignments per face (0: none).")
    p.add_argument("--sigma", type=float, default=0.35, help="Landmark noise, px in the small photo.")
    p.add_argument("--model", action="append", help="Generators (default: the bundled ones).")
    p.add_argument("--no-mirror", dest="mirror", action="store_false",
                   help="SR faces not mirror-averaged (enhance's default for video frames).")
    p.add_argument("--bands", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="Each model blended toward bicubic by band (bands.py) instead of by its fidelity.")
    p.add_argument("--reference-band", action="store_true",
                   help="Judge SR and bicubic limited to the detail the reference face was sampled with.")
    args = p.parse_args()
    models = args.model
    if args.bands:
        if args.fidelity is not None:
            p.error("--bands replaces the fidelity blend: give one of --bands and --fidelity")
        models = [BandBlended(KerasSR(m), *args.bands) for m in models or bundled_models()]
    rows = compare_faces(tuple(args.judge), args.fidelity, args.draws, args.sigma, models=models,
                         mirror=args.mirror, reference_band=args.reference_band)
    band = ", SR and bicubic limited to its sampling" if args.reference_band else ""
    print(f"{len(rows)} super-resolved faces; judges {', '.join(args.judge)}; reference: the full-size "
          f"photo{band}; {args.draws} re-alignments per face (landmark noise {args.sigma} px); SR faces "
          f"{'' if args.mirror else 'not '}mirror-averaged")
    print(f"{'px':>4} {'model':16s} {'PSNR SR':>8} {'bicubic':>8}" + "".join(
        f" {j + ': SR / bicubic, gain ± 2 SE':>44}" for j in args.judge))
    first = args.judge[0]
    for r in sorted(rows, key=lambda r: (r.size, r.judged[first].gain.mean)):
        cells = "".join(f" {g.cos_sr:7.4f} / {g.cos_bicubic:.4f}, {g.gain.mean:+.4f} ± {2 * g.gain.se:.4f}"
                        + (" worse" if g.worse else "      ") for g in r.judged.values())
        flag = "  <- worse by every judge" if r.worse else ""
        print(f"{r.size:4.0f} {r.model:16s} {r.psnr_sr:8.2f} {r.psnr_bicubic:8.2f}{cells}{flag}")
    print(f"mean PSNR {np.mean([r.psnr_sr for r in rows]):.2f} vs bicubic "
          f"{np.mean([r.psnr_bicubic for r in rows]):.2f} dB")
    for j in args.judge:
        g = [r.judged[j] for r in rows]
        print(f"{j}: cos SR {np.mean([x.cos_sr for x in g]):.4f} vs bicubic "
              f"{np.mean([x.cos_bicubic for x in g]):.4f}; mean gain over the draws "
              f"{np.mean([x.gain.mean for x in g]):+.4f}; below bicubic in the one alignment: "
              f"{sum(x.cos_sr < x.cos_bicubic for x in g)} of {len(g)}; worse beyond its noise: "
              f"{sum(x.worse for x in g)} of {len(g)} (by chance alone, were SR and bicubic alike "
              f"on every face: {sum(x.gain.chance for x in g):.1f}); better beyond its noise: "
              f"{sum(x.gain.better for x in g)} of {len(g)}")
    print(f"worse by every judge: {sum(r.worse for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()
