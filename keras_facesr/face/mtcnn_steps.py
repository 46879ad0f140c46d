"""MTCNN's steps in numpy, as PyPI ``mtcnn`` 1.0.0 takes them (image pyramid scales, box
regression, non-maximum suppression, ``tf.image.crop_and_resize``), shared by the on-device
detector (:mod:`keras_facesr.edge.mtcnn`) and the tracker's O-Net refinement
(:mod:`keras_facesr.pipeline.track`). No TensorFlow."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from keras_facesr.face.detect import Face


def scale_pyramid(width: int, height: int, min_face_size: int, factor: float = 0.709,
                  min_size: int = 12) -> np.ndarray:
    count = round(-(np.log(min(width, height) / min_size) / np.log(factor) + 1))
    return (min_size / min_face_size) * factor ** np.arange(count)


def sort_desc(boxes: np.ndarray, column: int = 5) -> np.ndarray:
    return boxes[np.argsort(boxes[:, column])[::-1]]


def _iou(boxes: np.ndarray, method: str) -> np.ndarray:
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    a, b = boxes[None], boxes[:, None]
    w = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]))
    h = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]))
    inter = w * h
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "union":
            return inter / (area[:, None] + area[None, :] - inter)
        return inter / np.minimum(area[:, None], area[None, :])


def nms(boxes: np.ndarray, threshold: float, method: str = "union", sort: bool = True) -> np.ndarray:
    """mtcnn's suppression: a box goes when any higher-ranked box overlaps it > threshold."""
    if not len(boxes):
        return boxes
    if sort:
        boxes = sort_desc(boxes)
    overlap = _iou(boxes[:, 1:5], method) > threshold
    keep = ~(np.triu(overlap, k=1)).any(axis=0)
    return boxes[keep]


def square(boxes: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w, h = boxes[:, 3] - boxes[:, 1], boxes[:, 4] - boxes[:, 2]
    side = np.maximum(w, h)
    boxes[:, 1] += w * 0.5 - side * 0.5
    boxes[:, 2] += h * 0.5 - side * 0.5
    boxes[:, 3:5] = boxes[:, 1:3] + side[:, None]
    return boxes


def adjust(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    w = boxes[:, 3] - boxes[:, 1] + 1
    h = boxes[:, 4] - boxes[:, 2] + 1
    boxes[:, 1:5] += offsets * np.stack([w, h, w, h], axis=-1)
    return boxes


def crop_and_resize(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """``tf.image.crop_and_resize`` (bilinear, extrapolation 0) of boxes [., x1, y1, x2, y2]."""
    h, w = image.shape[:2]
    steps = np.arange(size) / (size - 1)
    ys = (boxes[:, 2:3] / h) * (h - 1) + steps * ((boxes[:, 4:5] - boxes[:, 2:3]) / h) * (h - 1)
    xs = (boxes[:, 1:2] / w) * (w - 1) + steps * ((boxes[:, 3:4] - boxes[:, 1:2]) / w) * (w - 1)
    y_ok, x_ok = (ys >= 0) & (ys <= h - 1), (xs >= 0) & (xs <= w - 1)
    y0 = np.clip(np.floor(ys), 0, h - 1).astype(int)
    x0 = np.clip(np.floor(xs), 0, w - 1).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - np.floor(ys))[:, :, None, None], (xs - np.floor(xs))[:, None, :, None]
    top = image[y0[:, :, None], x0[:, None, :]] * (1 - wx) + image[y0[:, :, None], x1[:, None, :]] * wx
    bottom = image[y1[:, :, None], x0[:, None, :]] * (1 - wx) + image[y1[:, :, None], x1[:, None, :]] * wx
    out = top * (1 - wy) + bottom * wy
    return (out * (y_ok[:, :, None, None] & x_ok[:, None, :, None])).astype(np.float32)


Net = Callable[[np.ndarray], list[np.ndarray]]  # a batch of patches -> outputs in a fixed order


def onet_stage(norm: np.ndarray, boxes: np.ndarray, onet: Net) -> np.ndarray:
    """O-Net on boxes [., x1, y1, x2, y2, score]: rows [., x1', y1', x2', y2', face score,
    5 landmark xs, 5 landmark ys] (``onet`` returns box offsets, landmarks, class scores).
    ``norm`` is the image as MTCNN takes it, (rgb - 127.5) / 128."""
    return onet_rows(boxes, *onet(crop_and_resize(norm, boxes, 48)))


def onet_rows(boxes: np.ndarray, reg: np.ndarray, marks: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """O-Net's outputs for the patches of ``boxes`` as :func:`onet_stage`'s rows."""
    bw = boxes[:, 3:4] - boxes[:, 1:2] + 1
    bh = boxes[:, 4:5] - boxes[:, 2:3] + 1
    lx = bw * marks[:, 0:5] + boxes[:, 1:2] - 1
    ly = bh * marks[:, 5:10] + boxes[:, 2:3] - 1
    boxes = boxes.copy()
    boxes[:, 5] = cls[:, 1]
    return np.concatenate([adjust(boxes, reg), lx, ly], axis=1)


def normalise(rgb: np.ndarray) -> np.ndarray:
    """An RGB uint8 image as MTCNN's networks take it."""
    return (rgb.astype(np.float32) - 127.5) / 128.0


def to_face(row: np.ndarray, shape: tuple[int, ...], round_landmarks: bool = True) -> Face:
    """An O-Net row as a Face: box clipped to the image and rounded, as PyPI ``mtcnn`` does
    (landmarks too, unless ``round_landmarks`` is off: the tracker keeps them sub-pixel)."""
    h, w = shape[:2]
    x1, x2 = np.clip([row[1], row[3]], 0, w - 1)
    y1, y2 = np.clip([row[2], row[4]], 0, h - 1)
    box = tuple(int(v) for v in np.round([x1, y1, x2 - x1, y2 - y1]))
    marks = np.stack([row[6:11], row[11:16]], axis=1)
    marks = np.round(marks) if round_landmarks else marks
    return Face(box, float(row[5]), marks.astype(np.float32))


def refine(rgb: np.ndarray, boxes: np.ndarray, onet: Net) -> list[Face]:
    """O-Net alone on face boxes (x1, y1, x2, y2), squared as MTCNN squares R-Net's boxes: the
    refined face for each box, in order, with O-Net's face score as confidence (a box that no
    longer holds a face scores low). What the tracker runs between full detections."""
    if not len(boxes):
        return []
    rows = np.zeros((len(boxes), 6))
    rows[:, 1:5] = boxes
    rows = onet_stage(normalise(rgb), square(rows), onet)
    return [to_face(r, rgb.shape, round_landmarks=False) for r in rows]


def refine_each(images: list[np.ndarray], boxes: np.ndarray, onet: Net) -> list[Face]:
    """:func:`refine` of one box per image (``boxes[i]`` in ``images[i]``), all in one O-Net
    call: a network this small costs its call's overhead more than its arithmetic."""
    if not len(images):
        return []
    rows = np.zeros((len(images), 6))
    rows[:, 1:5] = boxes
    rows = square(rows)
    patches = np.concatenate([crop_and_resize(normalise(im), r[None], 48)
                              for im, r in zip(images, rows, strict=True)])
    rows = onet_rows(rows, *onet(patches))
    return [to_face(r, im.shape, round_landmarks=False) for r, im in zip(rows, images, strict=True)]
