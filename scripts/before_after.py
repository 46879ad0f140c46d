"""Writes the README's before/after picture from the bundled public-domain Solvay photo.

    python scripts/before_after.py [--output docs] [--faces 8]

Runs the bundled models exactly as ``keras-facesr enhance --upscale 4`` does (MTCNN,
alignment, the threshold, the model chosen by face size) on the half-size Solvay photo, whose
faces are 21-30 px as in footage, and writes two pictures: ``before_after.jpg``, a part of the
photo enlarged 4x with bicubic interpolation beside the output; ``faces_before_after.jpg``, per
face of the front row the aligned low-resolution crop the model was given (enlarged with
bicubic interpolation, as a viewer would) above the model's output.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from keras_facesr.images import centre_square, read_image, tile, write_image
from keras_facesr.pipeline.enhance import SUPER_RESOLVED, FaceEnhancer


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    scale = max(1.0, image.shape[1] / 320)
    at = (4, round(14 * scale))
    cv2.putText(out, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, at, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs"), help="Folder.")
    parser.add_argument("--faces", type=int, default=8, help="Faces per row.")
    args = parser.parse_args()

    photo = resources.files("keras_facesr") / "samples" / "solvay_1927_small.jpg"
    image = read_image(str(photo))
    result = FaceEnhancer(keep_crops=True, upscale=4).enhance(image)
    region = np.s_[4 * 125 : 4 * 215, 4 * 190 : 4 * 310]  # three rows of faces
    enlarged = cv2.resize(image, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    write_image(args.output / "before_after.jpg",
                tile([[label(enlarged[region], "bicubic x4"), label(result.image[region], "keras-facesr")]],
                     pad=4))
    faces = [f for f in result.faces if f.path == SUPER_RESOLVED]
    if not faces:
        raise SystemExit(f"{photo}: no face took the super-resolution path")
    faces = sorted(faces, key=lambda f: -f.box[1])[: args.faces]  # the front row,
    faces.sort(key=lambda f: f.box[0])  # left to right
    before, after = [], []
    for f in faces:  # at x4's 128 px output: a face fed at its own size comes out 4x that
        enlarged = cv2.resize(f.lr, (128, 128), interpolation=cv2.INTER_CUBIC)
        before.append(label(enlarged, f"input {f.size:.0f} px"))
        after.append(label(centre_square(f.sr, 128), f.model or ""))
    write_image(args.output / "faces_before_after.jpg", tile([before, after]))
    print(f"wrote {args.output}/before_after.jpg, faces_before_after.jpg ({len(faces)} faces, "
          f"models {', '.join(sorted({f.model for f in faces}))})")


if __name__ == "__main__":
    main()
