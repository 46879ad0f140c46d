import cv2
import numpy as np
import pytest

from keras_facesr.data.degrade import Degradation
from keras_facesr.data.pipeline import DataError, find_split, heldout_dataset, pair_dataset, precheck
from keras_facesr.images import read_image


def test_reads_grey_rgba_16bit_webp_bmp(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 24, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "grey.png"), rgb[..., 0])
    rgba = np.dstack([rgb, np.full((20, 24), 255, np.uint8)])
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    cv2.imwrite(str(tmp_path / "deep.png"), rgb.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "x.webp"), rgb, [cv2.IMWRITE_WEBP_QUALITY, 101])
    cv2.imwrite(str(tmp_path / "x.bmp"), rgb)
    for name in ("grey.png", "rgba.png", "deep.png", "x.webp", "x.bmp"):
        img = read_image(tmp_path / name)
        assert img.shape == (20, 24, 3) and img.dtype == np.uint8, name
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgb[..., ::-1])
    np.testing.assert_array_equal(read_image(tmp_path / "deep.png"), rgb[..., ::-1])


def test_pairs_have_the_right_shapes_and_match(image_dir):
    split = find_split(image_dir, 0.25)
    assert len(split.train) + len(split.val) == 12 and split.val
    deg = Degradation(4)
    for crop in ("full", "random"):
        lr, hr = next(iter(pair_dataset(split.train, deg, 32, 4, crop)))
        assert lr.shape == (4, 8, 8, 3) and hr.shape == (4, 32, 32, 3)
        # LR is HR degraded (crop and flip were applied to HR before degrading):
        for i in range(4):
            np.testing.assert_allclose(lr[i], deg(hr[i], [0, 0]).numpy(), atol=1e-6)


def test_training_stream_is_reproducible_and_validation_is_fixed(image_dir):
    split = find_split(image_dir, 0.25)
    deg = Degradation(4, noise=0.05)
    a = next(iter(pair_dataset(split.train, deg, 32, 4, "random", seed=3)))[0].numpy()
    b = next(iter(pair_dataset(split.train, deg, 32, 4, "random", seed=3)))[0].numpy()
    np.testing.assert_array_equal(a, b)
    # held-out LR faces are seeded by file name: the same faces whatever order they come in
    v1 = [lr.numpy() for lr, _, _ in heldout_dataset(split.val, deg, 32)]
    v2 = [lr.numpy() for lr, _, _ in heldout_dataset(split.val[::-1], deg, 32)]
    assert len(v1) == len(split.val) >= 2
    np.testing.assert_array_equal(np.stack(v1), np.stack(v2[::-1]))


def test_corrupt_files_are_reported_once_and_skipped(image_dir, capfd):
    (image_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (image_dir / "empty.png").write_bytes(b"")
    split = find_split(image_dir, 0.0)
    ds = pair_dataset(split.train, Degradation(4), 32, 4)
    n = sum(1 for _ in ds.take(10))
    err = capfd.readouterr().err
    assert n == 10
    assert err.count("broken.jpg") == 1 and err.count("empty.png") == 1


def test_empty_missing_and_unreadable_folders_fail_before_training(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        find_split(tmp_path / "missing", 0.1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        find_split(tmp_path / "empty", 0.1)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_text("not an image")
    with pytest.raises(DataError, match="a.png"):
        precheck(find_split(bad, 0.0).train, str(bad))


def test_split_is_stable_when_files_are_added(image_dir):
    before = find_split(image_dir, 0.3)
    cv2.imwrite(str(image_dir / "new.png"), np.zeros((40, 40, 3), np.uint8))
    after = find_split(image_dir, 0.3)
    assert set(before.val) <= set(after.val) | {image_dir / "new.png"}
    assert set(before.train) <= set(after.train)
