"""Which model helps a face of a given size: PSNR against the 128 px original, per native size.

    python benchmarks/face_size_sweep.py [--data nba] [--model G.keras ...] [--sizes 14 18 ...]

Each held-out face (``--split val`` of ``fit``, as ``evaluate``) is shrunk with area averaging to
a native size, as a camera would record a face that small, then enlarged to 128 px by bicubic
interpolation and by each model, fed the way ``enhance`` feeds it: the face resized to the
model's input side (area averaging down, bicubic up). The answer sets the pipeline's defaults:
the resolution threshold and which model takes which face size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from keras_facesr import gan
from keras_facesr.data import split_files
from keras_facesr.images import list_images, read_image
from keras_facesr.sources import resolve_data_dir
from keras_facesr.sr import KerasSR, bundled_models


def resize_all(faces: np.ndarray, side: int) -> np.ndarray:
    interp = cv2.INTER_AREA if side < faces.shape[1] else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (side, side), interpolation=interp) for f in faces])


def psnr(out: np.ndarray, hr: np.ndarray) -> float:
    """Mean PSNR (dB) over the faces, computed as ``evaluate`` computes it."""
    return float(np.mean(gan.psnr(hr, np.clip(out, 0.0, 1.0))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="nba", help="Aligned faces (a folder or a fetched name).")
    parser.add_argument("--model", action="append", type=Path, help="Default: the bundled ones.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 16, 20, 24, 28, 32, 36, 40, 48])
    parser.add_argument("--val-fraction", type=float, default=0.1)
    args = parser.parse_args()

    root = resolve_data_dir(args.data)
    files = split_files(list_images(root), root, args.val_fraction).val
    hr = np.stack([cv2.resize(read_image(f), (128, 128), interpolation=cv2.INTER_AREA)
                   for f in files]).astype(np.float32) / 255.0
    models = [KerasSR(p) for p in (args.model or bundled_models())]
    names = [m.info.name for m in models]
    print(f"{len(files)} held-out faces from {root}; PSNR (dB) against the 128 px face")
    print(f"{'native px':>9}  {'bicubic':>8}  " + "  ".join(f"{n:>16}" for n in names))
    for size in args.sizes:
        native = resize_all(hr, size)
        row = [psnr(resize_all(native, 128), hr)]
        for m in models:
            sr = m(resize_all(native, m.info.lr_size))
            row.append(psnr(resize_all(sr, 128) if sr.shape[1] != 128 else sr, hr))
        best = int(np.argmax(row))
        cells = [f"{v:8.2f}{'*' if i == best else ' '}" for i, v in enumerate(row)]
        print(f"{size:>9}  {cells[0]}  " + "  ".join(f"{c:>16}" for c in cells[1:]))
    print("* best at that size")


if __name__ == "__main__":
    main()
