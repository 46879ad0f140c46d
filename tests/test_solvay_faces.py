"""benchmarks/solvay_faces.py: the reference's band, which --reference-band judges SR and bicubic at."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from solvay_faces import _band_limited  # noqa: E402


def test_band_limited_keeps_what_the_reference_side_holds_and_drops_finer_detail():
    y, x = np.mgrid[:128, :128].astype(np.float32)
    smooth = np.repeat((0.5 + 0.3 * np.sin(x / 128 * np.pi))[..., None], 3, axis=-1)
    fine = np.repeat((0.1 * ((x + y) % 2 * 2 - 1))[..., None], 3, axis=-1)  # 1 px checkerboard
    out = _band_limited(smooth + fine, 42)
    assert out.shape == (128, 128, 3)
    assert np.abs(out - smooth)[8:-8, 8:-8].max() < 0.02  # the checkerboard is gone, the shading kept
    assert np.abs(_band_limited(smooth + fine, 128) - (smooth + fine)).max() < 1e-5  # at full side: as is
