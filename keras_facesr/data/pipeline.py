"""``tf.data`` pipelines of (LR, HR) pairs built from a folder of face images."""

from __future__ import annotations

import hashlib
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_facesr.data.augment import Augmentation
from keras_facesr.data.degrade import Degradation
from keras_facesr.data.sources import DataSource
from keras_facesr.errors import FaceSRError
from keras_facesr.images import ImageReadError, centre_square, list_images, read_image, upscale_bicubic

# Decoded images are cached in memory when the files add up to less than this.
CACHE_BYTES = 512 * 2**20
# Files decoded up front to catch a folder of nothing but unreadable files before training.
PRECHECK_FILES = 64


class DataError(FaceSRError, ValueError):
    """The data folder cannot be used (the message names it)."""


@dataclass
class DataSplit:
    train: list[Path]
    val: list[Path]


class _Reporter:
    """Reports each unreadable file once, by name, on stderr."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, message: str, key: str) -> None:
        with self.lock:
            if key in self.seen:
                return
            self.seen.add(key)
        print(f"warning: skipped {message}", file=sys.stderr, flush=True)


REPORT = _Reporter()


def split_files(files: list[Path], root: Path, val_fraction: float) -> DataSplit:
    """Stable split by a hash of each relative path (adding files never moves old ones)."""
    train, val = [], []
    for f in files:
        rel = str(f.relative_to(root)) if f.is_relative_to(root) else f.name
        h = int.from_bytes(hashlib.sha1(rel.encode()).digest()[:4], "big") / 2**32
        (val if h < val_fraction else train).append(f)
    if val_fraction > 0 and not val and len(train) > 1:
        val.append(train.pop())
    return DataSplit(train, val)


def find_split(data_dir: str | Path, val_fraction: float, val_dir: str | Path = "") -> DataSplit:
    """List the images of ``data_dir`` and split them; clear errors for empty/missing folders."""
    root = Path(data_dir)
    try:
        files = list_images(root)
    except FileNotFoundError as e:
        raise DataError(str(e)) from None
    if val_dir:
        try:
            return DataSplit(files, list_images(val_dir))
        except FileNotFoundError as e:
            raise DataError(str(e)) from None
    split = split_files(files, root, val_fraction)
    if not split.train:
        raise DataError(f"{root}: only {len(files)} image(s), none left for training")
    return split


def find_splits(sources: list[DataSource], val_fraction: float, val_dir: str | Path = "") -> list[DataSplit]:
    """:func:`find_split` per source; a separate ``val_dir`` is the validation set of the first."""
    splits = []
    for k, source in enumerate(sources):
        split = find_split(source.path, val_fraction, val_dir if k == 0 else "")
        if val_dir and k:
            split = DataSplit(split.train + split.val, [])
        splits.append(split)
    return splits


def _load(path: bytes) -> tuple[np.ndarray, bool]:
    name = path.decode()
    try:
        return read_image(name), True
    except ImageReadError as e:
        REPORT(str(e), name)
        return np.zeros((1, 1, 3), np.uint8), False


def precheck(files: list[Path], label: str) -> None:
    """Fail before training when the first files are all unreadable."""
    sample = files[:PRECHECK_FILES]
    errors = []
    for f in sample:
        try:
            read_image(f)
            return
        except ImageReadError as e:
            errors.append(str(e))
    raise DataError(f"{label}: none of the first {len(sample)} images is readable ({errors[0]})")


def _is_ok(image, ok):
    return ok


def _image_only(image, ok):
    return image


def decoded_dataset(files: list[Path]) -> tf.data.Dataset:
    """RGB uint8 images of variable size; unreadable files reported once and dropped."""
    ds = tf.data.Dataset.from_tensor_slices([str(f) for f in files])

    def load(path):
        image, ok = tf.numpy_function(_load, [path], [tf.uint8, tf.bool], stateful=False)
        image.set_shape([None, None, 3])
        ok.set_shape([])
        return image, ok

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.filter(_is_ok).map(_image_only)
    if sum(f.stat().st_size for f in files) < CACHE_BYTES:
        ds = ds.cache()
    return ds


def crop_hr(image: tf.Tensor, hr_size: int, mode: str, seed: tf.Tensor | None) -> tf.Tensor:
    """An (hr_size, hr_size, 3) float32 crop.

    ``full``: the centred square of the whole (aligned) face, resized; ``random``: a random
    window (centred when ``seed`` is None), the image first upscaled if it is too small.
    """
    x = tf.image.convert_image_dtype(image, tf.float32)
    h, w = tf.shape(x)[0], tf.shape(x)[1]
    if mode == "full":
        side = tf.minimum(h, w)
        x = tf.image.crop_to_bounding_box(x, (h - side) // 2, (w - side) // 2, side, side)
        x = tf.image.resize(x, [hr_size, hr_size], method="bicubic", antialias=True)
        return tf.clip_by_value(x, 0.0, 1.0)
    short = tf.minimum(h, w)
    grow = tf.maximum(1.0, hr_size / tf.cast(short, tf.float32))
    new_h = tf.maximum(hr_size, tf.cast(tf.math.ceil(tf.cast(h, tf.float32) * grow), tf.int32))
    new_w = tf.maximum(hr_size, tf.cast(tf.math.ceil(tf.cast(w, tf.float32) * grow), tf.int32))
    x = tf.cond(
        short < hr_size,
        lambda: tf.clip_by_value(tf.image.resize(x, [new_h, new_w], method="bicubic"), 0.0, 1.0),
        lambda: x,
    )
    if seed is None:
        return tf.image.resize_with_crop_or_pad(x, hr_size, hr_size)
    return tf.image.stateless_random_crop(x, [hr_size, hr_size, 3], seed=seed)


def pair_dataset(
    files: list[Path] | list[list[Path]],
    degradation: Degradation,
    hr_size: int,
    batch_size: int,
    crop: str = "full",
    flip: bool = True,
    seed: int = 0,
    shuffle_buffer: int = 1024,
    weights: list[float] | None = None,
    augmentation: Augmentation | None = None,
) -> tf.data.Dataset:
    """Training batches of (LR, HR) float32 pairs in [0, 1].

    Shuffled, repeated forever, random crops/flips and degradations drawn from ``seed`` (the
    same seed gives the same stream). ``files`` may be several lists (data sources); each image
    of source k is then drawn ``weights[k]`` times as often as with weight 1 (default 1: every
    image alike). Held-out faces are :func:`heldout_dataset`'s.
    """
    groups = list(files) if files and isinstance(files[0], list) else [files]
    weights = list(weights) if weights else [1.0] * len(groups)
    weighted = [(g, w) for g, w in zip(groups, weights, strict=True) if g]  # empty sources drop out
    parts = [decoded_dataset(g).shuffle(min(shuffle_buffer, len(g)), seed=seed + k).repeat()
             for k, (g, _) in enumerate(weighted)]
    if len(parts) == 1:
        ds = parts[0]
    else:
        w = [len(g) * weight for g, weight in weighted]
        ds = tf.data.Dataset.sample_from_datasets(parts, [x / sum(w) for x in w], seed=seed)
    ds = ds.enumerate()

    def make_pair(index, image):
        base = tf.stack([tf.constant(seed, tf.int64), index])
        seeds = tf.random.experimental.stateless_split(base, 3)
        hr = crop_hr(image, hr_size, crop, seeds[0])
        if flip:
            hr = tf.image.stateless_random_flip_left_right(hr, seeds[1])
        if augmentation is not None:
            hr = augmentation(hr, tf.random.experimental.stateless_fold_in(seeds[1], 1))
        lr = degradation(hr, seeds[2])
        side = hr_size // degradation.scale
        lr.set_shape([side, side, 3])  # JPEG and warps lose the static shape the generator needs
        return lr, hr

    ds = ds.map(make_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


# Held-out faces: one definition for `fit`'s validation and `evaluate`, so both print the same
# PSNR for the same model, faces and degradation. The HR face is the centred square of the
# (aligned) photo (``images.centre_square``); the LR face is the degradation of it with a seed
# from the file's name (not its position in a list); bicubic is OpenCV's, the enlargement the
# pipeline pastes into and blends with.
HELDOUT_SEED = 7


def face_seed(path: tf.Tensor) -> tf.Tensor:
    """The degradation seed of a held-out face: from its file name, the same wherever it lies."""
    name = tf.strings.split(path, "/")[-1]
    return tf.stack([tf.constant(HELDOUT_SEED, tf.int64),
                     tf.strings.to_hash_bucket_fast(name, 2**62)])


def heldout_lr(hr: np.ndarray, files: list[Path], degradation: Degradation) -> np.ndarray:
    """(N, lr, lr, 3) held-out LR faces of the HR faces (float32 [0, 1]) read from ``files``."""
    return np.stack([degradation(tf.constant(h), face_seed(tf.constant(Path(f).name))).numpy()
                     for h, f in zip(hr, files, strict=True)])


def _heldout_hr(image: np.ndarray, size: int) -> np.ndarray:
    return centre_square(image, int(size)).astype(np.float32) / 255.0


def _bicubic(lr: np.ndarray, size: int) -> np.ndarray:
    return upscale_bicubic(lr[None], (int(size), int(size)))[0].astype(np.float32)


def heldout_dataset(files: list[Path], degradation: Degradation, hr_size: int,
                    crop: str = "full") -> tf.data.Dataset:
    """Unbatched (LR, HR, bicubic) held-out triples, as ``evaluate --aligned`` computes them.

    ``crop = "random"`` (training on windows of larger images) takes the centred window."""
    side = hr_size // degradation.scale
    paths = tf.data.Dataset.from_tensor_slices([str(f) for f in files])

    def load(path):
        image, ok = tf.numpy_function(_load, [path], [tf.uint8, tf.bool], stateful=False)
        return path, image, ok

    def triple(path, image, ok):
        if crop == "full":
            hr = tf.numpy_function(_heldout_hr, [image, hr_size], tf.float32, stateful=False)
        else:
            image.set_shape([None, None, 3])
            hr = crop_hr(image, hr_size, crop, None)
        hr.set_shape([hr_size, hr_size, 3])
        lr = degradation(hr, face_seed(path))
        lr.set_shape([side, side, 3])
        bicubic = tf.numpy_function(_bicubic, [lr, hr_size], tf.float32, stateful=False)
        bicubic.set_shape([hr_size, hr_size, 3])
        return lr, hr, bicubic

    ds = paths.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.filter(lambda path, image, ok: ok)
    return ds.map(triple, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
