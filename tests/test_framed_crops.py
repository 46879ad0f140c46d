"""benchmarks/framed_crops.py: the detector-box crop it reframes each held-out face by."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from framed_crops import SIDE, box_crop  # noqa: E402


@pytest.mark.parametrize("side", [200, 600])  # enlarged to 128 px, and area-shrunk first
def test_the_box_lands_in_the_middle_of_the_crop_with_the_margin_around_it(side):
    image = np.zeros((side, side, 3), np.uint8)
    x, y, w = side // 4, side // 5, side * 2 // 5
    image[y:y + w, x:x + w] = 255  # the "face": the box itself
    crop = box_crop(image, (x, y, w, w), margin=0.25)
    assert crop.shape == (SIDE, SIDE, 3)
    rows, cols = np.nonzero(crop[..., 0] > 127)
    # the box is 1 / (1 + 2 * 0.25) of the crop's side, centred
    lo, hi = SIDE * 0.25 / 1.5, SIDE * 1.25 / 1.5
    for got in (rows, cols):
        assert abs(got.min() - lo) <= 1.5 and abs(got.max() + 1 - hi) <= 1.5


def test_a_box_at_the_edge_is_widened_with_the_border_mirrored():
    image = np.zeros((100, 100, 3), np.uint8)
    image[:, :10] = 255  # a bright strip along the left edge
    crop = box_crop(image, (0, 30, 40, 40), margin=0.5)  # reaches 20 px past the left edge
    # crop column c shows image x = c / 1.6 - 20: the strip at x -10..10 (mirrored left of 0),
    # dark beyond it on both sides (not black fill, nor the edge pixel repeated)
    band = crop[SIDE // 2, :, 0]
    assert band[0] < 50 and band[24] > 200 and band[40] > 200 and band[64] < 50
