"""Reading and writing images: any depth/channel layout in, RGB out; atomic writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class ImageReadError(ValueError):
    """An image file could not be read; the message starts with the file name."""


def list_images(root: str | Path) -> list[Path]:
    """All images under ``root`` (recursive, sorted); a clear error if there are none."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such folder")
    if root.is_file():
        return [root]
    files = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )
    if not files:
        raise FileNotFoundError(
            f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)}, recursively)"
        )
    return files


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Grey, BGR, BGRA (composited on black), 8- or 16-bit (as OpenCV decodes) -> RGB uint8."""
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        alpha = image[..., 3:].astype(np.float32) / 255.0
        rgb = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB).astype(np.float32)
        return (rgb * alpha + 0.5).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); raises ImageReadError naming the file."""
    path = Path(path)
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read ({e.strerror or e})") from None
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageReadError(f"{path}: not a readable image (corrupt or unsupported format)")
    try:
        return to_rgb_uint8(image)
    except ValueError as e:
        raise ImageReadError(f"{path}: {e}") from None


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"{path}: OpenCV cannot encode this format")
    write_bytes_atomic(path, buf.tobytes())


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes so that ``path`` holds either the old or the whole new content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def tile(rows: Iterator[list[np.ndarray]] | list[list[np.ndarray]], pad: int = 2) -> np.ndarray:
    """Lay out equally sized RGB uint8 images as a grid (for sample sheets)."""
    rows = [list(r) for r in rows]
    h, w = rows[0][0].shape[:2]
    n = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + pad) + pad, n * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, im in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y : y + h, x : x + w] = im
    return grid
