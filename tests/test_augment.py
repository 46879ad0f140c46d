"""HR augmentations (framing jitter, grey, gamma, contrast, spectacles), motion blur, and mixing
sources."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_facesr.config import ConfigError, load_config
from keras_facesr.data.augment import Augmentation, draw_spectacles, similarity_warp
from keras_facesr.data.degrade import Degradation, motion_kernel
from keras_facesr.data.pipeline import find_split, pair_dataset
from keras_facesr.templates import CANONICAL_TEMPLATE


def _image(seed=0, size=64):
    return tf.random.stateless_uniform((size, size, 3), (seed, 1))


def test_similarity_warp_is_identity_at_rest_and_moves_content():
    x = _image()
    same = similarity_warp(x, tf.zeros(2), tf.constant(1.0), tf.constant(0.0))
    np.testing.assert_allclose(same.numpy(), x.numpy(), atol=1e-5)
    dot = np.zeros((64, 64, 3), np.float32)
    dot[20, 30] = 1.0
    moved = similarity_warp(tf.constant(dot), tf.constant([4 / 64, 0.0]), tf.constant(1.0),
                            tf.constant(0.0)).numpy()
    assert np.unravel_index(moved[..., 0].argmax(), (64, 64)) == (20, 34)  # 4 px to the right
    assert moved.shape == dot.shape


def test_augmentation_is_seeded_and_each_part_does_its_job():
    x = _image()
    aug = Augmentation(jitter=0.1, grey=0.5, gamma=0.3, contrast=0.2)
    a = aug(x, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(a, aug(x, tf.constant([1, 2], tf.int64)).numpy())
    assert not np.array_equal(a, aug(x, tf.constant([1, 3], tf.int64)).numpy())
    assert a.min() >= 0 and a.max() <= 1 and a.shape == x.shape
    always_grey = Augmentation(grey=1.0)(x, tf.constant([0, 0], tf.int64)).numpy()
    np.testing.assert_allclose(always_grey[..., 0], always_grey[..., 2], atol=1e-6)
    np.testing.assert_array_equal(Augmentation()(x, tf.constant([0, 0], tf.int64)).numpy(), x.numpy())
    with pytest.raises(ValueError, match="jitter"):
        Augmentation(jitter=2)


def test_spectacles_are_drawn_over_the_eyes_only_and_seeded():
    """A frame over the template's eyes: pixels change only in a band about the eye line, the
    rims darken a light face, and seeds draw other frames."""
    side = 128
    face = tf.fill((side, side, 3), 0.8)
    a = draw_spectacles(face, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(a, draw_spectacles(face, tf.constant([1, 2], tf.int64)).numpy())
    assert not np.array_equal(a, draw_spectacles(face, tf.constant([1, 3], tf.int64)).numpy())
    changed = np.abs(a - np.float32(0.8)).max(axis=-1) > 0
    eye_y = CANONICAL_TEMPLATE[0, 1] * side
    eye_distance = (CANONICAL_TEMPLATE[1, 0] - CANONICAL_TEMPLATE[0, 0]) * side
    assert changed.sum() > 100  # a frame, not a speck
    assert a[changed].min() < 0.7  # a frame darker than this light skin, not a faint tint
    mouth_and_forehead = np.r_[0 : int(eye_y - 0.6 * eye_distance), int(eye_y + 0.6 * eye_distance) : side]
    np.testing.assert_array_equal(a[mouth_and_forehead], np.float32(0.8))


def test_spectacles_draw_from_their_own_stream():
    """Turning spectacles on changes no other augmentation's draw: away from the eyes the face is
    as it was (grey and gamma act per pixel, so they show it)."""
    x = _image(size=128)
    seed = tf.constant([5, 6], tf.int64)
    without = Augmentation(grey=0.5, gamma=0.3)(x, seed).numpy()
    with_frames = Augmentation(grey=0.5, gamma=0.3, spectacles=1.0)(x, seed).numpy()
    eye_y = CANONICAL_TEMPLATE[0, 1] * 128
    np.testing.assert_array_equal(with_frames[: int(eye_y) - 25], without[: int(eye_y) - 25])
    np.testing.assert_array_equal(with_frames[int(eye_y) + 25 :], without[int(eye_y) + 25 :])
    assert not np.array_equal(with_frames, without)
    never = Augmentation(grey=0.5, gamma=0.3, spectacles=0.0)(x, seed).numpy()
    np.testing.assert_array_equal(never, without)


def test_spectacles_probability_is_checked():
    assert load_config(None, ["degrade.spectacles=0.3"]).degrade.spectacles == 0.3
    with pytest.raises(ConfigError, match="degrade.spectacles"):
        load_config(None, ["degrade.spectacles=1.5"])
    with pytest.raises(ValueError, match="spectacles"):
        Augmentation(spectacles=-0.1)


def test_motion_blur_kernel_and_degradation():
    k = motion_kernel(2.0, tf.constant(5.0), tf.constant(0.0)).numpy()
    assert k.shape == (5, 5) and k.sum() == pytest.approx(1.0)
    assert k[2].sum() == pytest.approx(1.0, abs=1e-6)  # horizontal: all weight on the middle row
    vertical = motion_kernel(2.0, tf.constant(5.0), tf.constant(np.pi / 2)).numpy()
    np.testing.assert_allclose(vertical, k.T, atol=1e-6)
    deg = Degradation(4, blur=["motion"], blur_radius=2.0)
    lr = deg(_image(), tf.constant([3, 4], tf.int64))
    assert lr.shape == (16, 16, 3)
    sharp = Degradation(4)(_image(), tf.constant([3, 4], tf.int64))
    assert float(tf.math.reduce_std(lr)) < float(tf.math.reduce_std(sharp))
    with pytest.raises(ValueError, match="unknown blur"):
        Degradation(4, blur=["shake"])


def test_sources_are_mixed_by_weight(tmp_path):
    """Two sources of 6 images each (black vs white); weight 3 on the white one: ~75% white."""
    import cv2

    groups = []
    for name, value in (("black", 0), ("white", 255)):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(6):
            cv2.imwrite(str(folder / f"{i}.png"), np.full((32, 32, 3), value, np.uint8))
        groups.append(find_split(folder, 0.0).train)
    ds = pair_dataset(groups, Degradation(4), 32, 16, weights=[1.0, 3.0], seed=5)
    white = np.concatenate([hr.numpy().mean(axis=(1, 2, 3)) > 0.5 for _, hr in ds.take(20)])
    assert 0.68 < white.mean() < 0.82
    with_empty = pair_dataset([[], *groups], Degradation(4), 32, 16, weights=[5.0, 1.0, 3.0], seed=5)
    white = np.concatenate([hr.numpy().mean(axis=(1, 2, 3)) > 0.5 for _, hr in with_empty.take(20)])
    assert 0.68 < white.mean() < 0.82  # a source with no training image drops out with its weight
    even = pair_dataset(groups, Degradation(4), 32, 16, seed=5)
    white = np.concatenate([hr.numpy().mean(axis=(1, 2, 3)) > 0.5 for _, hr in even.take(20)])
    assert 0.4 < white.mean() < 0.6
    lr, _ = next(iter(pair_dataset(groups, Degradation(4, jpeg_quality=[50, 90]), 32, 4,
                                   augmentation=Augmentation(jitter=0.1))))
    assert lr.shape == (4, 8, 8, 3)  # static shape kept through JPEG and warps
