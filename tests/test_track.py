"""Tracking between detections: ids kept, lost faces re-detected, smoothing that does not lag,
and a still noisy face that flickers no more than bicubic."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from keras_facesr.face.detect import Face
from keras_facesr.images import read_picture
from keras_facesr.pipeline.track import FaceTracker, OneEuroFilter, iou, xyxy

SAMPLES = Path(__file__).resolve().parents[1] / "keras_facesr" / "samples"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _face(x: float, y: float, side: float = 40.0, confidence: float = 0.99) -> Face:
    pts = np.array([[0.35, 0.4], [0.65, 0.4], [0.5, 0.55], [0.38, 0.72], [0.62, 0.72]]) * side
    return Face((round(x), round(y), round(side), round(side)), confidence,
                (pts + (x, y)).astype(np.float32))


class ScriptedDetector:
    """Faces at known places per frame (frame index = ``calls``); ``refine`` finds the face
    under a box as O-Net would, and scores an empty box low. Counts full detections."""

    min_confidence, min_face = 0.9, 12

    def __init__(self, script):
        self.script, self.frame, self.detections = script, -1, 0

    def faces(self) -> list[Face]:
        return self.script(self.frame)

    def detect(self, rgb):
        self.detections += 1
        return self.faces()

    def refine(self, rgb, boxes):
        out = []
        for box in boxes:
            near = [f for f in self.faces() if iou(box, xyxy(f.box)) > 0.2]
            out.append(near[0] if near else Face(tuple(int(v) for v in (*box[:2], *(box[2:] - box[:2]))),
                                                 0.05, np.zeros((5, 2), np.float32)))
        return out


def _run(detector: ScriptedDetector, frames: int, **kwargs) -> list[list[Face]]:
    tracker = FaceTracker(detector, smooth=False, **kwargs)
    out = []
    frame = np.zeros((240, 320, 3), np.uint8)
    for k in range(frames):
        detector.frame = k
        out.append(tracker.update(frame))
    return out


def test_a_moving_face_keeps_its_id_and_full_detection_runs_only_on_key_frames():
    det = ScriptedDetector(lambda k: [_face(10 + 5 * k, 50), _face(250, 150 - 2 * k)])
    faces = _run(det, 40, key_interval=10)
    assert all(len(f) == 2 for f in faces)
    ids = {f.track_id for frame in faces for f in frame}
    assert ids == {0, 1}
    assert det.detections == 4  # frames 0, 10, 20, 30
    first = {f.track_id: f.box[0] for f in faces[0]}
    last = {f.track_id: f.box[0] for f in faces[-1]}
    moving = max(first, key=lambda i: last[i] - first[i])
    assert last[moving] - first[moving] == 5 * 39


def test_a_face_that_leaves_is_dropped_at_once_and_found_again_when_it_returns():
    visible = lambda k: k < 12 or k >= 25  # noqa: E731
    det = ScriptedDetector(lambda k: [_face(100, 80)] if visible(k) else [])
    faces = _run(det, 50, key_interval=10)
    assert [len(f) for f in faces[:12]] == [1] * 12
    assert faces[12] == []  # lost on the frame it left: O-Net scores the empty box low
    assert all(f == [] for f in faces[13:25])
    back = next(k for k in range(25, 50) if faces[k])
    assert back <= 25 + 10  # found again by the next key frame
    assert faces[back][0].track_id != faces[0][0].track_id  # a new track
    assert det.detections <= 7


def test_a_scene_cut_forces_a_full_detection():
    det = ScriptedDetector(lambda k: [_face(100, 80)])
    tracker = FaceTracker(det, key_interval=100, smooth=False)
    dark, bright = np.zeros((120, 160, 3), np.uint8), np.full((120, 160, 3), 200, np.uint8)
    for k, frame in enumerate([dark, dark, dark, bright, bright]):
        det.frame = k
        tracker.update(frame)
    assert det.detections == 2  # the first frame and the cut


def test_one_euro_filter_steadies_a_still_point_and_follows_a_moving_one():
    rng = np.random.default_rng(0)
    still = OneEuroFilter(min_cutoff=1.0, beta=1.0)
    noisy = 100 + rng.normal(0, 1.0, 100)
    smoothed = np.array([still(np.array([v]), k / 25, scale=20)[0] for k, v in enumerate(noisy)])
    assert smoothed[20:].std() < 0.5 * noisy[20:].std()
    moving = OneEuroFilter(min_cutoff=1.0, beta=1.0)
    ramp = 4.0 * np.arange(50)  # 100 px/s at 25 fps, a 20 px face
    out = np.array([moving(np.array([v]), k / 25, scale=20)[0] for k, v in enumerate(ramp)])
    assert abs(out[-1] - ramp[-1]) < 8.0  # lags by under two frames' motion


@pytest.fixture(scope="module")
def detector():
    from keras_facesr.face.detect import FaceDetector

    return FaceDetector(0.9, 12)


def test_real_faces_are_tracked_across_the_frame_with_one_id(detector):
    astro = cv2.resize(read_picture(SAMPLES / "astronaut.jpg").pixels, (120, 120),
                       interpolation=cv2.INTER_AREA)  # face ~40 px
    frames, xs = [], list(range(0, 440, 8))
    for x in xs:  # left to right and out; then back in from the left
        frame = np.full((240, 400, 3), 90, np.uint8)
        if x + 120 <= 400:
            frame[60:180, x : x + 120] = astro
        frames.append(frame)
    frames += [frames[0]] * 3
    tracker = FaceTracker(detector, key_interval=10)
    found = [tracker.update(f) for f in frames]
    inside = [k for k, x in enumerate(xs) if x + 120 <= 400]
    assert all(len(found[k]) == 1 for k in inside)
    assert len({found[k][0].track_id for k in inside}) == 1
    assert tracker.key_frames < len(frames) / 3
    assert all(not found[k] for k in range(len(xs)) if xs[k] > 400)
    assert len(found[-1]) == 1 and found[-1][0].track_id != found[inside[0]][0].track_id
    # the tracked landmarks stay on the face: the left eye moves with the frame
    eye = [found[k][0].landmarks[0][0] - xs[k] for k in inside]
    assert np.ptp(eye) < 4.0


def test_a_still_noisy_face_flickers_no_more_than_bicubic():
    from temporal_stability import flicker, still_face_clip

    from keras_facesr.pipeline.enhance import FaceEnhancer

    enhancer = FaceEnhancer(upscale=4)
    sr, bicubic = flicker(enhancer, still_face_clip(24, 3.0), key_interval=10, smooth=True)
    assert sr <= 1.05 * bicubic, (sr, bicubic)


def test_refine_each_is_refine_image_by_image_in_one_batch(detector):
    """O-Net on one box per image in one call gives each image's own ``refine``: the same face
    score, box and landmarks, whatever else is in the batch."""
    astro = read_picture(SAMPLES / "astronaut.jpg").pixels
    face = detector.detect(astro)[0]
    x, y, w, h = face.box
    images = [astro, cv2.resize(astro, (256, 256), interpolation=cv2.INTER_AREA),
              np.full((128, 128, 3), 90, np.uint8)]
    boxes = np.array([[x, y, x + w, y + h], [x / 2, y / 2, (x + w) / 2, (y + h) / 2],
                      [20, 20, 100, 110]], np.float32)
    batched = detector.refine_each(images, boxes)
    assert len(batched) == 3
    for image, box, got in zip(images, boxes, batched, strict=True):
        alone = detector.refine(image, box[None])[0]
        assert got.box == alone.box
        assert got.confidence == pytest.approx(alone.confidence, abs=1e-4)
        np.testing.assert_allclose(got.landmarks, alone.landmarks, atol=1e-2)
    assert batched[0].confidence > 0.9 and batched[2].confidence < 0.5
