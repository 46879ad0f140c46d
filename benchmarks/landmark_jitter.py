"""How far off is the framing of a small face? MTCNN's 5 landmarks on 16-40 px faces.

    python benchmarks/landmark_jitter.py [--data faces heldout] [--sizes 16 20 24 ...] [--limit 40]

Whole photos of the fetched photo sources are shrunk by area averaging until a face has a given
native size (the side of its aligned crop), and detected as ``enhance`` detects them (MTCNN,
confidence >= 0.9, box >= 12 px). The alignment from the landmarks found there is compared with
the alignment from the landmarks MTCNN finds on the full-resolution photo: the framing error as
shift (fraction of the crop side), scale (|log|, about a fraction) and rotation (radians), median
and 90th percentile, with the share of faces found at all. This is what the training
augmentation ``degrade.jitter`` must cover (shift and scale up to ``jitter``, rotation up to
twice it).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from keras_facesr.data.sources import resolve_data_dirs  # noqa: E402
from keras_facesr.face.align import native_size, similarity_transform  # noqa: E402
from keras_facesr.face.detect import FaceDetector  # noqa: E402
from keras_facesr.images import list_images, read_image  # noqa: E402
from keras_facesr.templates import CANONICAL_TEMPLATE  # noqa: E402


def framing_error(detected: np.ndarray, truth: np.ndarray, size: float) -> tuple[float, float, float]:
    """(shift, |log scale|, |rotation|) between the aligned crops (side ``size``) that
    ``detected`` and ``truth`` landmarks give: the warp of one crop onto the other."""
    a = similarity_transform(truth, CANONICAL_TEMPLATE * size)
    b = similarity_transform(detected, CANONICAL_TEMPLATE * size)
    m = np.vstack([b, [0, 0, 1]]) @ np.linalg.inv(np.vstack([a, [0, 0, 1]]))  # true crop -> found
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    rotation = float(np.arctan2(m[1, 0], m[0, 0]))
    c = np.array([(size - 1) / 2, (size - 1) / 2])
    shift = float(np.linalg.norm(m[:2, :2] @ c + m[:2, 2] - c)) / size
    return shift, abs(float(np.log(scale))), abs(rotation)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["faces", "heldout"])
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 20, 24, 28, 32, 40])
    p.add_argument("--limit", type=int, default=40, help="Photos per source at most.")
    args = p.parse_args()

    detector = FaceDetector()  # enhance's defaults: confidence 0.9, box >= 12 px
    reference = []  # (photo, landmarks at full resolution, native size)
    for spec in args.data:
        for faces_dir in resolve_data_dirs(spec):
            for path in list_images(faces_dir.parent / "images")[: args.limit]:
                photo = read_image(path)
                for face in detector.detect(photo):
                    native = native_size(face.landmarks)
                    if native >= 64:
                        reference.append((photo, face.landmarks, native))
    print(f"{len(reference)} faces >= 64 px in the photos of {', '.join(args.data)}; framing error "
          f"of MTCNN's alignment on the photo shrunk to each native face size")
    print(f"{'native px':>9} {'found':>6} {'shift p50':>10} {'p90':>6} {'scale p50':>10} {'p90':>6} "
          f"{'rot p50':>8} {'p90':>6}")
    for size in args.sizes:
        errors = []
        for photo, landmarks, native in reference:
            f = size / native
            small = cv2.resize(photo, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            fx, fy = small.shape[1] / photo.shape[1], small.shape[0] / photo.shape[0]
            truth = landmarks * [fx, fy]
            hits = [h for h in detector.detect(small)
                    if np.linalg.norm(h.landmarks.mean(0) - truth.mean(0)) < size / 3]
            if hits:
                errors.append(framing_error(hits[0].landmarks, truth, size))
        e = np.array(errors) if errors else np.full((1, 3), np.nan)
        q = np.percentile(e, [50, 90], axis=0)
        print(f"{size:>9} {len(errors) / len(reference):6.0%} {q[0, 0]:10.3f} {q[1, 0]:6.3f} "
              f"{q[0, 1]:10.3f} {q[1, 1]:6.3f} {q[0, 2]:8.3f} {q[1, 2]:6.3f}")


if __name__ == "__main__":
    main()
