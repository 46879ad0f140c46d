"""Reading pictures as they are (layout, depth, EXIF orientation), refusing bad ones by name."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from keras_facesr.images import ImageReadError, from_rgb_float, read_picture, write_image


def test_exif_orientation_matches_pillow(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (12, 20, 3), np.uint8)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.png"  # lossless, so pixels compare exactly
        Image.fromarray(rgb).save(path, exif=exif.tobytes())
        expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
        np.testing.assert_array_equal(read_picture(path).pixels, expected, err_msg=str(orientation))
    assert read_picture(tmp_path / "o6.png").pixels.shape == (20, 12, 3)


def test_layouts_and_depths_are_kept(tmp_path):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (10, 14, 4), np.uint8)
    deep = rng.integers(0, 65536, (10, 14, 3), np.uint16)
    grey = rng.integers(0, 256, (10, 14), np.uint8)
    for name, pixels in (("a.png", rgba), ("d.png", deep), ("g.png", grey)):
        write_image(tmp_path / name, pixels)
        back = read_picture(tmp_path / name).pixels
        assert back.dtype == pixels.dtype
        np.testing.assert_array_equal(back, pixels)


def test_from_rgb_float_matches_the_target_layout():
    rgb = np.random.default_rng(2).random((6, 6, 3)).astype(np.float32)
    alpha = np.full((6, 6), 7, np.uint8)
    assert from_rgb_float(rgb, np.zeros((1, 1), np.uint8)).shape == (6, 6)
    out = from_rgb_float(rgb, np.zeros((1, 1, 4), np.uint8), alpha)
    assert out.shape == (6, 6, 4) and (out[..., 3] == 7).all()
    deep = from_rgb_float(rgb, np.zeros((1, 1, 3), np.uint16))
    np.testing.assert_allclose(deep / 65535.0, rgb, atol=1e-4)


def _png_with_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's header)."""
    ok, buf = cv2.imencode(".png", np.zeros((1, 1), np.uint8))
    data = bytearray(buf.tobytes())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def test_bad_images_get_one_clear_line(tmp_path):
    ok, jpg = cv2.imencode(".jpg", np.random.default_rng(3).integers(0, 256, (64, 64, 3), np.uint8))
    cases = {
        "empty.jpg": b"",
        "truncated.jpg": jpg.tobytes()[: len(jpg) // 2],
        "text.png": b"this is not an image\n",
        "bomb.png": _png_with_size(40000, 40000),
        "anim.gif": b"GIF89a",
    }
    expected = {"empty.jpg": "empty file", "truncated.jpg": "corrupt or truncated",
                "text.png": "not a readable image", "bomb.png": "too many pixels",
                "anim.gif": "unsupported format"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageReadError) as e:
            read_picture(tmp_path / name)
        message = str(e.value)
        assert message.startswith(str(tmp_path / name)) and "\n" not in message
        assert expected[name] in message, message
    with pytest.raises(ImageReadError, match="cannot read"):
        read_picture(tmp_path / "missing.jpg")
    (tmp_path / "big.png").write_bytes(_png_with_size(300, 200))
    with pytest.raises(ImageReadError, match=r"too many pixels \(300 x 200\)"):
        read_picture(tmp_path / "big.png", max_pixels=50_000)


def test_pillow_reads_what_we_write(tmp_path):
    rgb = np.random.default_rng(4).integers(0, 256, (8, 8, 3), np.uint8)
    write_image(tmp_path / "x.png", rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO((tmp_path / "x.png").read_bytes()))), rgb)


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0)
    os.umask(umask)
    write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint8))
    assert (tmp_path / "x.png").stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temporary file left


def test_upscaled_output_over_the_limit_is_refused_from_the_header(tmp_path, monkeypatch):
    """--upscale 8 on an image whose output would pass --max-pixels: one line, before decoding."""
    import cv2

    from keras_facesr import images
    from keras_facesr.images import ImageReadError, read_picture

    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), np.zeros((100, 150, 3), np.uint8))
    monkeypatch.setattr(images.cv2, "imdecode", lambda *a: pytest.fail("pixels were decoded"))
    with pytest.raises(ImageReadError, match=r"wide.png: the output at --upscale 8 would be 1200 x 800"):
        read_picture(path, max_pixels=500_000, upscale=8)
    monkeypatch.undo()
    assert read_picture(path, max_pixels=500_000, upscale=4).pixels.shape == (100, 150, 3)
