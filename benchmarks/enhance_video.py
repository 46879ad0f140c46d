"""Milliseconds per frame of ``keras-facesr enhance`` on a 640x360 video with 3 small faces,
split into detection (with tracking) / alignment / SR / paste-back.

    python benchmarks/enhance_video.py [--frames 100] [--model FILE.keras ...] [--key-interval N]
        [--mirror]
    python benchmarks/enhance_video.py --bundle DIR [--quantize dynamic]   # the edge runtime

The video is composed from the public-domain photos bundled in the package (the NASA astronaut
portrait shrunk so its face is ~30 px, two faces of the half-size Solvay photo, ~25 px),
drifting a few pixels per frame, and run through the same code as the CLI (``jobs.run``) with
its defaults. Without ``--model``: the bundled models. With ``--bundle``: the on-device runtime
(LiteRT, 2 threads, CPU) on an exported bundle, as ``keras-facesr edge run``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from keras_facesr.images import read_picture  # noqa: E402
from keras_facesr.pipeline import jobs  # noqa: E402
from keras_facesr.pipeline.enhance import FaceEnhancer  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "keras_facesr" / "samples"


def compose_frames(n: int) -> list[np.ndarray]:
    """640x360 RGB frames: a shrunken astronaut (face ~32 px) beside two Solvay faces (~22 px)."""
    astro = cv2.resize(read_picture(SAMPLES / "astronaut.jpg").pixels, (100, 100),
                       interpolation=cv2.INTER_AREA)
    solvay = read_picture(SAMPLES / "solvay_1927_small.jpg").pixels
    pair = cv2.cvtColor(solvay[155:190, 240:312], cv2.COLOR_GRAY2RGB)  # two faces
    frames = []
    for k in range(n):
        frame = np.full((360, 640, 3), 90, np.uint8)
        dx = int(6 * np.sin(k / 8))
        frame[100:200, 60 + dx : 160 + dx] = astro
        frame[160:195, 400 - dx : 472 - dx] = pair
        frames.append(frame)
    return frames


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--model", type=Path, action="append", help="Default: the bundled models.")
    p.add_argument("--bundle", type=Path, help="Run the edge runtime on this exported bundle.")
    p.add_argument("--quantize", default="dynamic", help="With --bundle: which generator file.")
    p.add_argument("--key-interval", type=int, default=jobs.KEY_INTERVAL)
    p.add_argument("--mirror", action="store_true",
                   help="Mirror-average the SR faces, as photos are (video is not by default).")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = tmp / "clip.avi"
        frames = compose_frames(args.frames)
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 360))
        for f in frames:
            writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        writer.release()
        if args.bundle:
            from keras_facesr import edge

            enhancer = edge.load(args.bundle, args.quantize, threads=2, use_gpu=False)
        else:
            enhancer = FaceEnhancer(args.model)
        enhancer.mirror = args.mirror or None
        enhancer.enhance(frames[0])  # warm-up: loads MTCNN, traces the generator
        t0 = time.perf_counter()
        report = jobs.run(enhancer, [video], tmp / "out", progress=False,
                          key_interval=args.key_interval)
        wall = (time.perf_counter() - t0) * 1000 / args.frames
    entry = report["inputs"][0]
    per_face = (entry["faces_super_resolved"] + entry["faces_kept"]) / entry["frames"]
    print(f"640x360 video, {entry['frames']} frames, {per_face:.1f} faces per frame "
          f"({entry['faces_super_resolved']} super-resolved, {entry['faces_kept']} kept), "
          f"models {', '.join(report['models'])}; {'edge runtime' if args.bundle else 'TensorFlow'}, "
          f"key frames {entry['key_frames']} (every {args.key_interval}), tracks {entry['tracks']}"
          + (", SR faces mirror-averaged" if args.mirror else ""))
    print(json.dumps({"ms_per_frame": entry["ms_per_frame"], "wall_ms_per_frame": round(wall, 1)}))
    stages = entry["ms_per_frame"]
    print("| detection | alignment | SR | paste-back | total (wall, incl. decode/encode) |")
    print("|---|---|---|---|---|")
    print(f"| {stages['detect']:.1f} ms | {stages['align']:.1f} ms | {stages['sr']:.1f} ms | "
          f"{stages['paste']:.1f} ms | {wall:.1f} ms ({1000 / wall:.1f} fps) |")


if __name__ == "__main__":
    main()
