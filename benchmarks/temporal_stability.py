"""Flicker of a still face in a noisy video: mean absolute frame-to-frame change inside the face,
super-resolved (tracked and smoothed, or detected afresh on every frame) against bicubic.

    python benchmarks/temporal_stability.py [--frames 40] [--noise 3] [--model FILE.keras ...]

A still face (the bundled NASA portrait shrunk so the face is ~24 px) in a 320x240 frame, with
new Gaussian sensor noise (sigma ``--noise`` grey levels) on every frame, enlarged x4
(``--upscale 4``). Bicubic: the same frames enlarged x4 by OpenCV. The ratio SR / bicubic is
the flicker the pipeline adds; tests/test_track.py holds it under a bound.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from keras_facesr.images import read_picture  # noqa: E402
from keras_facesr.pipeline.enhance import FaceEnhancer  # noqa: E402
from keras_facesr.pipeline.track import FaceTracker, frame_to_frame_change  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "keras_facesr" / "samples"


def still_face_clip(frames: int, noise: float, seed: int = 0) -> list[np.ndarray]:
    """320x240 RGB frames of one still face (~24 px), each with fresh sensor noise."""
    rng = np.random.default_rng(seed)
    astro = cv2.resize(read_picture(SAMPLES / "astronaut.jpg").pixels, (80, 80),
                       interpolation=cv2.INTER_AREA)
    base = np.full((240, 320, 3), 100, np.float32)
    base[80:160, 120:200] = astro
    return [np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)
            for _ in range(frames)]


def flicker(enhancer: FaceEnhancer, clip: list[np.ndarray], key_interval: int, smooth: bool
            ) -> tuple[float, float]:
    """(SR flicker, bicubic flicker) inside the face of the first frame, in the x4 frame."""
    tracker = FaceTracker(enhancer.detector, key_interval, 25.0, smooth=smooth)
    faces = [tracker.update(f) for f in clip]
    if not faces[0]:
        raise SystemExit("no face found in the first frame")
    out = [r.image for r in enhancer.enhance_batch(clip, faces=faces, video=True)]
    x, y, w, h = faces[0][0].box
    s = round(enhancer.upscale)
    box = (x * s, y * s, w * s, h * s)
    bicubic = [cv2.resize(f, (f.shape[1] * s, f.shape[0] * s), interpolation=cv2.INTER_CUBIC)
               for f in clip]
    return frame_to_frame_change(out, box), frame_to_frame_change(bicubic, box)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--noise", type=float, default=3.0)
    p.add_argument("--model", type=Path, action="append", help="Default: the bundled models.")
    args = p.parse_args()
    clip = still_face_clip(args.frames, args.noise)
    enhancer = FaceEnhancer(args.model, upscale=4)
    print(f"still face, 320x240 x4, {args.frames} frames, noise sigma {args.noise:g}")
    print("| faces from | SR flicker | bicubic flicker | SR / bicubic |")
    print("|---|---|---|---|")
    for label, interval, smooth in (("detection on every frame", 1, False),
                                    ("tracking, no smoothing", 10, False),
                                    ("tracking + One-Euro (default)", 10, True)):
        sr, bic = flicker(enhancer, clip, interval, smooth)
        print(f"| {label} | {sr:.2f} | {bic:.2f} | {sr / bic:.2f} |")


if __name__ == "__main__":
    main()
