"""Face crops framed by another tool (a detector's box plus a margin), as `enhance --aligned` gets them.

    python benchmarks/framed_crops.py [--data nba:val ids heldout] [--scale 4 8] [--margin 0.2]
        [--judge dlib-resnet] [--model G.keras ...]

The held-out faces are template-aligned crops; a user's crops from another tool are framed by a
detector's box instead: another scale, the face off centre, a tilted head left tilted. Each
held-out face is reframed that way: MTCNN's box on the face at its own resolution, widened by
``--margin`` of its side on every side, cut square and resized to 128 px (the HR crop), then
shrunk by area to 128 / scale px (the LR crop). Four enlargements of each LR crop to 128 px are compared:

- bicubic;
- ``enhance --aligned --no-reframe`` (the crop fed to the model as it is, mirror-averaged,
  each model's default fidelity, the pipeline's model by the crop's side);
- ``enhance --aligned``: as above, but a crop whose face, by the landmarks found on its
  enlargement, is off the template's framing (``REFRAME_BEYOND``) has that face re-aligned,
  super-resolved as in a photo and pasted over the crop super-resolved whole;
- the crop as a photo: the face found on its bicubic enlargement, aligned to the template,
  super-resolved and pasted back (``enhance`` on the LR crop with ``--upscale`` = scale, the
  face's landmarks found at 128 px instead of on the small crop, where MTCNN does not find
  faces this small). A crop where no face is found stays bicubic.

Each scale also prints the time a crop takes in the two `--aligned` rows (batched, after a
warm-up, on this machine), how much of it is the reframing check on the crop's enlargement
(O-Net alone on the template's box, and MTCNN's full pass where O-Net does not find the face
framed as the template), on how many crops the full pass ran, and how many were reframed.

The judge (in no bundled model's loss) compares each output with the HR crop, all aligned by
the landmarks MTCNN finds on the HR crop: cosine to the HR face, the gain over bicubic, how many
faces are below bicubic, and PSNR over the whole 128 px crop.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from face_size_sweep import set_files  # noqa: E402

from keras_facesr.face.align import align_face  # noqa: E402
from keras_facesr.face.detect import Face, FaceDetector  # noqa: E402
from keras_facesr.images import read_image  # noqa: E402
from keras_facesr.models import gan  # noqa: E402
from keras_facesr.pipeline.enhance import FaceEnhancer  # noqa: E402
from keras_facesr.recognition.encoders import get_encoder  # noqa: E402

SIDE = 128


def box_crop(face: np.ndarray, box: tuple, margin: float) -> np.ndarray:
    """The square of ``box``'s longer side widened by ``margin`` of it on each side, at 128 px
    (area when shrinking, bicubic when enlarging; the border mirrored where it leaves the face)."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    s = SIDE / side
    m = np.float32([[s, 0, -(x + w / 2 - side / 2) * s], [0, s, -(y + h / 2 - side / 2) * s]])
    if s < 1:  # area-shrink first, as the data sets' crops are made
        face = cv2.resize(face, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        m = np.float32([[1, 0, m[0, 2]], [0, 1, m[1, 2]]])
    return cv2.warpAffine(face, m, (SIDE, SIDE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


def largest(faces: list[Face]) -> Face | None:
    return max(faces, key=lambda f: f.box[2] * f.box[3], default=None)


def as_photo(enhancer: FaceEnhancer, detector: FaceDetector, lr: np.ndarray, scale: int
             ) -> tuple[np.ndarray, bool]:
    """``lr`` (uint8) enhanced as a photo, its face's landmarks found on its bicubic enlargement."""
    canvas = cv2.resize(lr, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
    face = largest(detector.detect(canvas))
    if face is None:
        return canvas, False
    # enlarged-frame pixel centres -> LR pixel centres
    marks = ((face.landmarks + 0.5) / scale - 0.5).astype(np.float32)
    box = tuple(int(round(v / scale)) for v in face.box)
    out = enhancer.enhance_batch([lr], faces=[[Face(box, face.confidence, marks)]])[0].image
    return out, True


def embed(judge, images, marks: list[np.ndarray]) -> np.ndarray:
    """The judge's embeddings of 128 px crops, each aligned by the HR crop's landmarks."""
    chips = np.stack([align_face(im, m, SIDE)[0] for im, m in zip(images, marks, strict=True)])
    return np.asarray(judge.embed(chips.astype(np.float32) / 255))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["nba:val", "ids", "heldout"])
    p.add_argument("--scale", nargs="+", type=int, default=[4, 8])
    p.add_argument("--margin", type=float, default=0.2,
                   help="Box widened by this share of its side, each side.")
    p.add_argument("--judge", default="dlib-resnet")
    p.add_argument("--model", action="append", help="Generators (default: the bundled ones).")
    p.add_argument("--val-fraction", type=float, default=0.08)
    args = p.parse_args()
    detector = FaceDetector(min_confidence=0.9, min_face=12)
    judge = get_encoder(args.judge)
    print(f"judge {args.judge}; crops: MTCNN box + {args.margin:g} of its side each side, 128 px; "
          "cosine to the HR crop's face (all aligned by its landmarks), PSNR over the crop")
    print(f"{'set':8s} {'x':>2} {'faces':>5}  {'method':26s} {'cosine':>7} {'gain':>8} {'below':>6} "
          f"{'PSNR':>6}")
    for spec in args.data:
        hrs, marks = [], []
        for _, path in set_files(spec, args.val_fraction):
            face = read_image(path)  # at the resolution it was aligned at
            found = largest(detector.detect(face))
            if found is None:
                continue
            hr = box_crop(face, found.box, args.margin)
            again = largest(detector.detect(hr))
            if again is None:
                continue
            hrs.append(hr)
            marks.append(again.landmarks)
        hrs_f = np.stack(hrs).astype(np.float32) / 255

        e_hr = embed(judge, hrs, marks)
        for scale in args.scale:
            counted = _CountingDetector(detector)
            enhancer = FaceEnhancer(args.model, detector=counted, upscale=scale)
            small = SIDE // scale
            lrs = [cv2.resize(h, (small, small), interpolation=cv2.INTER_AREA) for h in hrs]
            outs = {"bicubic": np.stack([cv2.resize(x, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
                                         for x in lrs])}
            # warm-up: the models' first calls on each crop side (reframed faces are fed at
            # their own) trace them
            for reframe in (False, True):
                enhancer.reframe = reframe
                enhancer.enhance_batch(lrs, aligned=True)
            counted.full_passes = 0
            t0 = time.perf_counter()
            reframed = enhancer.enhance_batch(lrs, aligned=True)
            ms_reframe = (time.perf_counter() - t0) * 1000 / len(lrs)
            full_passes = counted.full_passes
            n_reframed = sum("framed off the template" in r.faces[0].reason for r in reframed)
            ms_detect = float(np.mean([r.timings_ms["detect"] for r in reframed]))
            outs["enhance --aligned"] = np.stack([r.image for r in reframed])
            enhancer.reframe = False
            t0 = time.perf_counter()
            outs["--aligned --no-reframe"] = np.stack(
                [r.image for r in enhancer.enhance_batch(lrs, aligned=True)])
            ms_plain = (time.perf_counter() - t0) * 1000 / len(lrs)
            photo = [as_photo(enhancer, detector, x, scale) for x in lrs]
            outs["as a photo (face re-aligned)"] = np.stack([o for o, _ in photo])
            cos = {k: np.sum(embed(judge, v, marks) * e_hr, axis=1) for k, v in outs.items()}
            for k, v in outs.items():
                gain = cos[k] - cos["bicubic"]
                p_db = float(np.mean(gan.psnr(hrs_f, v.astype(np.float32) / 255)))
                print(f"{spec:8s} {scale:>2} {len(hrs):>5}  {k:26s} {cos[k].mean():7.4f} {gain.mean():+8.4f} "
                      f"{int(np.sum(gain < 0)) if k != 'bicubic' else '':>6} {p_db:6.2f}")
            print(f"{'':8s} {'':>2} {'':>5}  (faces found on the bicubic enlargement: "
                  f"{sum(f for _, f in photo)} of {len(hrs)})")
            print(f"{'':8s} {'':>2} {'':>5}  (enhance --aligned {ms_reframe:.1f} ms a crop, "
                  f"{ms_detect:.1f} of it the reframing check, with MTCNN's full pass on "
                  f"{full_passes} of {len(lrs)} crops; {n_reframed} reframed; --no-reframe "
                  f"{ms_plain:.1f} ms)")


class _CountingDetector:
    """The detector, counting its full passes (``detect``; ``refine`` is O-Net alone)."""

    def __init__(self, detector: FaceDetector):
        self._detector = detector
        self.min_confidence, self.min_face = detector.min_confidence, detector.min_face
        self.full_passes = 0

    def detect(self, rgb: np.ndarray) -> list[Face]:
        self.full_passes += 1
        return self._detector.detect(rgb)

    def refine(self, rgb: np.ndarray, boxes: np.ndarray) -> list[Face]:
        return self._detector.refine(rgb, boxes)

    def refine_each(self, images: list[np.ndarray], boxes: np.ndarray) -> list[Face]:
        return self._detector.refine_each(images, boxes)


if __name__ == "__main__":
    main()
