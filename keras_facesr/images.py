"""Reading and writing images: any depth/channel layout in, RGB out; atomic writes."""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from keras_facesr.errors import FaceSRError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class ImageReadError(FaceSRError, ValueError):
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


# Decoding a bigger image is refused (decompression bombs): 100 megapixels, e.g. 12000 x 8000.
MAX_PIXELS = 100_000_000

# EXIF orientation -> the numpy operation that shows the image upright.
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


@dataclass
class Picture:
    """A decoded image in its own layout, upright: (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA,
    uint8 or uint16. ``rgb`` is the RGB uint8 view used for detection and alignment."""

    pixels: np.ndarray
    path: Path | None = None

    @property
    def rgb(self) -> np.ndarray:
        return to_rgb_uint8(self.pixels)

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Grey, RGB, RGBA (composited on black); 8-, 16-bit or float in [0, 1] -> RGB uint8."""
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[..., 3:].astype(np.float32) / 255.0
        return (image[..., :3].astype(np.float32) * alpha + 0.5).astype(np.uint8)
    return np.ascontiguousarray(image)


def from_rgb_float(rgb: np.ndarray, like: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """RGB float in [0, 1] -> the layout and dtype of ``like`` (grey, RGB or RGBA; 8/16-bit).

    For RGBA, ``alpha`` (same height and width, ``like``'s dtype) is used, else opaque."""
    top = 65535.0 if like.dtype == np.uint16 else 255.0
    rgb = np.clip(rgb, 0.0, 1.0).astype(np.float32)
    if like.ndim == 2 or like.shape[2] == 1:
        out = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        out = out if like.ndim == 2 else out[..., None]
    elif like.shape[2] == 4:
        a = np.ones(rgb.shape[:2], np.float32) if alpha is None else alpha.astype(np.float32) / top
        out = np.dstack([rgb, a])
    else:
        out = rgb
    return (out * top + 0.5).astype(like.dtype)


def _bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def _orientation(exif: bytes | None) -> int:
    """The EXIF orientation tag (1 = upright) from raw EXIF bytes, read without decoding pixels."""
    from PIL import Image

    if not exif:
        return 1
    tags = Image.Exif()
    try:
        tags.load(exif)
    except Exception:  # noqa: BLE001 - damaged EXIF: show the pixels as stored
        return 1
    return int(tags.get(0x0112, 1) or 1)


def read_picture(path: str | Path, max_pixels: int = MAX_PIXELS, upscale: float = 1.0) -> Picture:
    """Decode an image file in its own layout and depth, EXIF-rotated upright.

    Raises ImageReadError with a one-line message naming the file: unsupported format, empty,
    unreadable, not an image, truncated/corrupt, or above ``max_pixels`` - the image or the
    output ``upscale`` times larger (checked from the header, before decoding)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ImageReadError(
            f"{path}: unsupported format '{path.suffix}' (supported: {', '.join(IMAGE_EXTENSIONS)})"
        )
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read ({e.strerror or e})") from None
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    try:
        with warnings.catch_warnings():  # the size is checked below, against max_pixels
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data.tobytes())) as header:
                width, height = header.size
                orientation = _orientation(header.info.get("exif"))
    except Image.DecompressionBombError:
        width = height = None  # Pillow's own limit: far above ours
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageReadError(f"{path}: not a readable image (unknown or damaged header)") from None
    if width is None or width * height > max_pixels:
        size = "" if width is None else f" ({width} x {height})"
        raise ImageReadError(
            f"{path}: too many pixels{size}, above the limit of {max_pixels / 1e6:.0f} "
            "megapixels (possible decompression bomb; raise --max-pixels if it is genuine)"
        )
    check_output_size(path, width, height, upscale, max_pixels, ImageReadError)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageReadError(f"{path}: corrupt or truncated image data")
    if image.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f"{path}: unsupported pixel type {image.dtype}")
    image = _bgr_to_rgb(image)
    if orientation in _ORIENT:
        image = np.ascontiguousarray(_ORIENT[orientation](image))
    return Picture(image, path)


def check_output_size(path, width: int, height: int, upscale: float, max_pixels: int, error) -> None:
    """Raise ``error`` when the output, ``upscale`` times the input's size, is above
    ``max_pixels`` (about 3 bytes each, plus working copies): refused before any work."""
    if upscale == 1.0:
        return
    out_w, out_h = round(width * upscale), round(height * upscale)
    if out_w * out_h > max_pixels:
        raise error(f"{path}: the output at --upscale {upscale:g} would be {out_w} x {out_h} "
                    f"({out_w * out_h / 1e6:.0f} megapixels, several GB of memory), above the limit "
                    f"of {max_pixels / 1e6:.0f} megapixels; lower --upscale or raise --max-pixels")


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3), upright; raises ImageReadError naming the file."""
    return read_picture(path, max_pixels).rgb


def encode_image(path: str | Path, pixels: np.ndarray) -> bytes:
    """Encode grey/RGB/RGBA (8- or 16-bit) pixels in the format of ``path``'s extension."""
    path = Path(path)
    ext = path.suffix.lower() or ".png"
    if pixels.dtype == np.uint16 and ext not in (".png", ".tif", ".tiff"):
        pixels = (pixels.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if ext in (".jpg", ".jpeg", ".bmp") and pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[..., :3]
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    elif pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, pixels, params)
    if not ok:
        raise ValueError(f"{path}: OpenCV cannot encode this format")
    return buf.tobytes()


def write_image(path: str | Path, pixels: np.ndarray) -> None:
    """Write grey/RGB/RGBA pixels atomically (temp file in the same folder, then rename)."""
    write_bytes_atomic(path, encode_image(path, pixels))


def default_permissions(path: str | Path, directory: bool = False) -> None:
    """Give a file made by ``tempfile`` (0600/0700) the permissions a plain ``open`` would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes so that ``path`` holds either the old or the whole new content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    default_permissions(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def centre_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """The centred square of an aligned face photo at ``size`` px (area averaging when it
    shrinks, bicubic when it grows): how held-out faces are taken, in ``fit`` and ``evaluate``."""
    side = min(rgb.shape[:2])
    y, x = (rgb.shape[0] - side) // 2, (rgb.shape[1] - side) // 2
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(rgb[y : y + side, x : x + side], (size, size), interpolation=interp)


def upscale_bicubic(lr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, h, w, C) -> (N, H, W, C) bicubic, clipped to [0, 1]; ``size`` is (H, W)."""
    out = [cv2.resize(face, (size[1], size[0]), interpolation=cv2.INTER_CUBIC) for face in lr]
    return np.clip(np.stack(out).reshape(len(lr), size[0], size[1], -1), 0.0, 1.0)


def downscale_area(sr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, H, W, C) -> (N, h, w, C) by area averaging (how a sensor records a small face)."""
    out = [cv2.resize(face, (size[1], size[0]), interpolation=cv2.INTER_AREA) for face in sr]
    return np.stack(out).reshape(len(sr), size[0], size[1], -1)


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
