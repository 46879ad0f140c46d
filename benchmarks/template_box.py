"""Where `enhance --aligned`'s framing check looks, and how often it agrees with the full pass.

    python benchmarks/template_box.py [--data nba:val ids heldout] [--scale 4 8] [--within 0.08]

Reframing finds a crop's face on the crop's enlargement. Before MTCNN's full pass, O-Net alone
reads the face on ``TEMPLATE_BOX`` (``keras_facesr.pipeline.enhance``), then on the box it
refines that to; a crop it finds framed as the template both times skips the full pass. This
prints, per scale, the box MTCNN's full pass finds on the enlargement of the held-out sets'
template-framed crops shrunk by area to 128 / scale px (median and spread, as fractions of the
side: where ``TEMPLATE_BOX`` comes from), and then, for those crops and for detector-box crops
at margins 0, 0.2 and 0.4 (``framed_crops.py``), how many crops the full pass would reframe
(its face over ``REFRAME_BEYOND`` from the crop's side), how many the check lets skip the full
pass after one O-Net round and after two, and how many of those skips the full pass would
have reframed. ``--within F`` tries another tolerance for the check's face size (|log| of its
ratio to the crop's side; the pipeline's is half of ``REFRAME_BEYOND``).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from face_size_sweep import set_files  # noqa: E402
from framed_crops import SIDE, box_crop, largest  # noqa: E402

from keras_facesr.face.align import native_size  # noqa: E402
from keras_facesr.face.detect import FaceDetector  # noqa: E402
from keras_facesr.images import read_image  # noqa: E402
from keras_facesr.pipeline.enhance import REFRAME_BEYOND, TEMPLATE_BOX, _enlarge  # noqa: E402


def log_size(landmarks: np.ndarray, scale: int, side: int) -> float:
    """|log| of the face's size (landmarks on the enlargement) to the crop's side."""
    return float(abs(np.log(native_size((landmarks + 0.5) / scale - 0.5) / side)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["nba:val", "ids", "heldout"])
    p.add_argument("--scale", nargs="+", type=int, default=[4, 8])
    p.add_argument("--val-fraction", type=float, default=0.08)
    p.add_argument("--within", type=float, default=REFRAME_BEYOND / 2,
                   help="The check's tolerance for the face's size (default: the pipeline's).")
    args = p.parse_args()
    detector = FaceDetector(min_confidence=0.9, min_face=12)
    crops: dict[str, list[np.ndarray]] = {"template": [], "M 0": [], "M 0.2": [], "M 0.4": []}
    for spec in args.data:
        for _, path in set_files(spec, args.val_fraction):
            face = read_image(path)
            crops["template"].append(cv2.resize(face, (SIDE, SIDE), interpolation=cv2.INTER_AREA))
            found = largest(detector.detect(face))
            if found is not None:
                for m in (0.0, 0.2, 0.4):
                    crops[f"M {m:g}"].append(box_crop(face, found.box, m))
    print(f"TEMPLATE_BOX {TEMPLATE_BOX}; a skip: O-Net confident (>= {detector.min_confidence}) "
          f"and its face within {args.within:g} of the crop's side (log)")
    for scale in args.scale:
        small = SIDE // scale
        for name, hrs in crops.items():
            lrs = [cv2.resize(h, (small, small), interpolation=cv2.INTER_AREA) for h in hrs]
            bigs = [_enlarge(x, scale) for x in lrs]
            full = [largest(detector.detect(b)) for b in bigs]
            if name == "template":
                boxes = np.array([np.array(f.box) / SIDE for f in full if f is not None])
                print(f"x{scale} MTCNN's box on {len(boxes)} template-framed crops' enlargements "
                      f"(x, y, w, h of the side): median {np.round(np.median(boxes, 0), 3)}, "
                      f"spread {np.round(boxes.std(0), 3)}")
            reframes = np.array([f is not None and log_size(f.landmarks, scale, small) > REFRAME_BEYOND
                                 for f in full])
            x, y, w, h = (v * SIDE for v in TEMPLATE_BOX)
            box = np.array([[x, y, x + w, y + h]] * len(bigs), np.float32)
            skip = np.ones(len(bigs), bool)
            cells = []
            for round_ in (1, 2):
                for i, face in enumerate(detector.refine_each(bigs, box)):
                    skip[i] &= (face.confidence >= detector.min_confidence
                                and log_size(face.landmarks, scale, small) <= args.within)
                    fx, fy, fw, fh = face.box
                    box[i] = (fx, fy, fx + fw, fy + fh)
                cells.append(f"{round_} round{'s' if round_ > 1 else ''}: {skip.sum():3d} skip, "
                             f"{(skip & reframes).sum()} of them reframed by the full pass")
            print(f"x{scale} {name:8s} {len(bigs):3d} crops, the full pass reframes "
                  f"{reframes.sum():3d}; " + "; ".join(cells))


if __name__ == "__main__":
    main()
