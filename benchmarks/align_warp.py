"""Faces fed at their own size: does the alignment warp's interpolation matter?

    python benchmarks/align_warp.py [--sizes 28.3 30.4 ...] [--data nba:val ids heldout]
    python benchmarks/align_warp.py --round-trip

Each held-out face is recorded as a camera would: turned by up to ±10°, moved by up to 3 px
in a frame twice its size, and shrunk by area averaging to a native size between two whole
sizes (30.4 px). ``enhance`` aligns it from its five points onto the x4 model's own-size crop
(30 px, a warp at scale 0.99), super-resolves it and blends at the model's fidelity. The
warp is done with bilinear interpolation (the rule before: bilinear at scale <= 1) and with
bicubic (``align_face`` now, at scale >= 0.8). The reference is the same frame at full size on
the SR face's pixels (as ``enhance`` pastes it back), and bicubic is the aligned crop enlarged by bicubic
interpolation: PSNR and the judge's identity cosine to the reference, and the faces below
bicubic, for each warp.

``--round-trip``: the paste-back warp, the inverse of the alignment. Each face of the bundled
full-size Solvay photo (42-57 px, sharp) is aligned onto a crop of its own size and pasted
straight back, as ``enhance --upscale 4`` pastes an SR face into a frame enlarged as much
(scale about 1). A perfect round trip gives the photo back: PSNR of each face's box, with the
paste's face warp bilinear (before) and bicubic (``paste_face`` now).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from face_size_sweep import judged, load_set, psnr, resize_all  # noqa: E402

from keras_facesr.face.align import align_face, native_size  # noqa: E402
from keras_facesr.face.detect import FaceDetector  # noqa: E402
from keras_facesr.images import read_image  # noqa: E402
from keras_facesr.models.info import WEIGHTS_DIR  # noqa: E402
from keras_facesr.pipeline.enhance import frame_to_sr  # noqa: E402
from keras_facesr.pipeline.fidelity import refine  # noqa: E402
from keras_facesr.pipeline.paste import paste_face  # noqa: E402
from keras_facesr.pipeline.sr import KerasSR  # noqa: E402
from keras_facesr.recognition.encoders import get_encoder  # noqa: E402
from keras_facesr.templates import CANONICAL_TEMPLATE  # noqa: E402


def record(hr: np.ndarray, size: float, rng: np.random.Generator):
    """Each 128 px face in a 256 px frame, turned and moved, then shrunk to ``size`` native px:
    (full frames, small frames, the small frames' landmarks)."""
    full, small, small_marks = [], [], []
    n = round(256 * size / 128)
    for face in hr:
        big = cv2.copyMakeBorder(face, 64, 64, 64, 64, cv2.BORDER_REFLECT101)
        m = cv2.getRotationMatrix2D((127.5, 127.5), rng.uniform(-10, 10), 1.0)
        m[:, 2] += rng.uniform(-3, 3, 2)
        frame = cv2.warpAffine(big, m, (256, 256), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
        pts = (CANONICAL_TEMPLATE * 128 + 64) @ m[:, :2].T + m[:, 2]
        full.append(frame)
        small.append(cv2.resize(frame, (n, n), interpolation=cv2.INTER_AREA))
        small_marks.append(((pts + 0.5) * n / 256 - 0.5).astype(np.float32))
    return full, small, small_marks


def round_trip() -> None:
    """Align each face of the full-size Solvay photo at its own size and paste it back."""
    photo = read_image(WEIGHTS_DIR.parent / "samples" / "solvay_1927.jpg")
    faces = FaceDetector(min_confidence=0.9, min_face=12).detect(photo)
    psnrs: dict[str, list[float]] = {"bilinear": [], "bicubic": []}
    for face in faces:
        crop, m = align_face(photo, face.landmarks, round(native_size(face.landmarks)))
        x, y, w, h = face.box
        for name, flag in (("bilinear", cv2.INTER_LINEAR), ("bicubic", cv2.INTER_CUBIC)):
            out = photo.copy()
            paste_face(out, crop.astype(np.float32) / 255, m, interpolation=flag)
            err = np.mean((out[y:y + h, x:x + w].astype(float) - photo[y:y + h, x:x + w]) ** 2)
            psnrs[name].append(10 * np.log10(255**2 / max(err, 1e-10)))
    print(f"{len(faces)} faces of the full-size Solvay photo, aligned at their own size and pasted back; "
          "PSNR of each face's box against the photo")
    for name, p in psnrs.items():
        print(f"  paste warp {name:8s}: mean {np.mean(p):.2f} dB, lowest {np.min(p):.2f} dB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["nba:val", "ids", "heldout"])
    p.add_argument("--sizes", type=float, nargs="+", default=[28.3, 29.2, 30.4, 31.3, 32.2, 33.4, 34.3],
                   help="Native face sizes (px); the own-size crop is the whole size below each.")
    p.add_argument("--model", default=str(WEIGHTS_DIR / "facesr_edge_x4.keras"))
    p.add_argument("--judge", default="dlib-resnet")
    p.add_argument("--round-trip", action="store_true",
                   help="Measure the paste-back warp instead (the bundled full-size Solvay photo).")
    args = p.parse_args()
    if args.round_trip:
        round_trip()
        return
    model = KerasSR(args.model)
    judge = get_encoder(args.judge)
    w = model.info.fidelity
    print(f"{model.info.name} at fidelity {w:g}; PSNR (dB) / {args.judge} cosine to the reference; "
          "faces below bicubic")
    print(f"{'set':8s} {'px':>5} {'side':>4}  {'bicubic':>15}  {'bilinear warp':>24}  {'bicubic warp':>24}")
    total = {"bilinear": 0.0, "bicubic": 0.0}  # summed cosine gain over bicubic enlargement
    below = {"bilinear": 0, "bicubic": 0}
    faces = 0
    ahead: list[tuple[float, float]] = []  # per cell: bicubic warp minus bilinear, dB and cosine
    for spec in args.data:
        hr = load_set(spec, 0.1)
        for size in args.sizes:
            full, small, small_marks = record(hr, size, np.random.default_rng(round(size * 10)))
            side = model.info.input_side(size)
            aligned = [align_face(f, mk, side) for f, mk in zip(small, small_marks, strict=True)]
            crops, matrices = [c for c, _ in aligned], [m for _, m in aligned]
            # the full frame onto the SR crop's pixels, as `enhance` pastes the SR face back
            up = 256 / small[0].shape[0]
            sr_side = side * model.info.scale
            ref = np.stack([cv2.warpAffine(f, frame_to_sr(m, model.info.scale, (up, up)), (sr_side, sr_side),
                                           flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
                            for f, m in zip(full, matrices, strict=True)])
            lr = {"bicubic": np.stack(crops),
                  "bilinear": np.stack([cv2.warpAffine(f, m, (side, side), flags=cv2.INTER_LINEAR,
                                                       borderMode=cv2.BORDER_REFLECT101)
                                        for f, m in zip(small, matrices, strict=True)])}
            outs = [resize_all(lr["bicubic"], ref.shape[1])]
            outs += [refine(lr[k], model(lr[k]), w) for k in ("bilinear", "bicubic")]
            outs = [resize_all(o, 128) for o in outs]
            ref128 = resize_all(ref, 128)
            cos = judged(outs, judge, np.asarray(judge.embed(ref128)))
            cells = [f"{psnr(o, ref128):6.2f} / {c.mean():.4f}" for o, c in zip(outs, cos, strict=True)]
            cells[1:] = [f"{cell} ({np.sum(c < cos[0])} below)"
                         for cell, c in zip(cells[1:], cos[1:], strict=True)]
            for k, c in zip(("bilinear", "bicubic"), cos[1:], strict=True):
                total[k] += float(c.mean() - cos[0].mean())
                below[k] += int(np.sum(c < cos[0]))
            faces += len(hr)
            ahead.append((psnr(outs[2], ref128) - psnr(outs[1], ref128),
                          float(cos[2].mean() - cos[1].mean())))
            print(f"{spec:8s} {size:5.1f} {side:4d}  " + "  ".join(f"{c:>15}" if i == 0 else f"{c:>24}"
                                                              for i, c in enumerate(cells)), flush=True)
    print("identity-cosine gain over bicubic, summed: "
          + ", ".join(f"{k} warp {v:+.4f}" for k, v in total.items()))
    print("faces below bicubic: " + ", ".join(f"{k} warp {v}" for k, v in below.items()) + f" of {faces}")
    db, dc = zip(*ahead, strict=True)
    print(f"bicubic warp minus bilinear, per cell: {min(db):+.2f} to {max(db):+.2f} dB, "
          f"{min(dc):+.4f} to {max(dc):+.4f} cosine")


if __name__ == "__main__":
    main()
