"""Faces tracked through a video: full MTCNN on key frames, O-Net alone in between.

A full detection (the image pyramid: most of a frame's time) runs on a key frame: every
``key_interval`` frames, on a scene cut, and when a tracked face is lost. In between, each
tracked face is refined by MTCNN's last stage (O-Net) on the box predicted from its motion,
which gives its new box, five landmarks and a face score; a score below the detector's
``min_confidence`` ends the track. Landmarks are smoothed with a One-Euro filter (Casiez et
al., CHI 2012) in units of the face's size, so the alignment, and so the super-resolved face,
does not jitter while the face is still, yet follows it without lag when it moves. Each track
keeps its id (``Face.track_id``) for the report. Shared by ``enhance`` and ``edge run``; no
TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from keras_facesr.face.detect import Detector, Face

KEY_INTERVAL = 10  # full detection every this many frames (and on cuts and lost tracks)
SCENE_CUT = 40.0  # mean absolute grey-level change of a thumbnail that counts as a cut (0-255)
MATCH_IOU = 0.3  # a detection continues a track when their boxes overlap at least this much


class OneEuroFilter:
    """Casiez et al.'s One-Euro filter over an array: a low-pass whose cutoff rises with speed.

    ``min_cutoff`` (Hz) sets the smoothing at rest, ``beta`` how fast the cutoff rises with
    speed (in the units of ``x`` per second, divided by ``scale`` when given)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 1.0, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx) / max(scale, 1e-6)
        self._x = self._x + self._alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()


@dataclass
class Track:
    id: int
    box: np.ndarray  # x1, y1, x2, y2 of the last measurement
    velocity: np.ndarray  # box change per frame
    smoother: OneEuroFilter
    face: Face  # the smoothed face the pipeline uses


def xyxy(box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return np.array([x, y, x + w, y + h], np.float64)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """``update(rgb)`` -> the faces of the next frame of one video, each with a ``track_id``.

    ``key_interval``: full detection every this many frames (1: every frame, no tracking in
    between). ``fps``: the video's frame rate, the smoother's clock. ``smooth``: One-Euro
    smoothing of the landmarks (``min_cutoff`` Hz at rest, ``beta`` per face size per second).
    The defaults hold a still face with sensor noise below bicubic's flicker while a 25 px face
    moving 200 px/s lags by under half a pixel (benchmarks/temporal_stability.py,
    tests/test_track.py)."""

    def __init__(self, detector: Detector, key_interval: int = KEY_INTERVAL, fps: float = 25.0,
                 smooth: bool = True, min_cutoff: float = 0.5, beta: float = 5.0,
                 scene_cut: float = SCENE_CUT):
        if key_interval < 1:
            raise ValueError(f"key_interval must be >= 1, got {key_interval}")
        self.detector, self.key_interval, self.fps = detector, key_interval, fps or 25.0
        self.smooth, self.min_cutoff, self.beta, self.scene_cut = smooth, min_cutoff, beta, scene_cut
        self.tracks: list[Track] = []
        self.frame = -1
        self.key_frames = 0
        self._next_id = 0
        self._since_key = 0
        self._thumb: np.ndarray | None = None

    def update(self, rgb: np.ndarray) -> list[Face]:
        """The faces in the next frame, most confident first."""
        self.frame += 1
        cut = self._scene_cut(rgb)
        if cut:
            self.tracks = []
        key = cut or self.frame == 0 or self._since_key >= self.key_interval - 1
        lost = [] if key else self._follow(rgb)
        if key or lost:  # a lost face: look for it (and any other) in the whole frame
            self._detect(rgb, lost)
        else:
            self._since_key += 1
        return sorted((t.face for t in self.tracks), key=lambda f: -f.confidence)

    def _scene_cut(self, rgb: np.ndarray) -> bool:
        grey = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        thumb = cv2.resize(grey, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)
        cut = self._thumb is not None and (self._thumb.shape != thumb.shape or float(
            np.abs(thumb - self._thumb).mean()) > self.scene_cut)
        self._thumb = thumb
        return cut

    def _follow(self, rgb: np.ndarray) -> list[Track]:
        """Refine every track on its predicted box; returns the tracks lost (dropped here).

        A face that moved further than predicted is re-centred by O-Net's box regression but
        scored low: such a track gets a second refinement on the box the first one gave."""
        if not self.tracks:
            return []
        refined = self._refine(rgb, self.tracks)
        kept, lost = [], []
        for track, face in zip(self.tracks, refined, strict=True):
            if face is not None:
                self._measure(track, face)
                kept.append(track)
            else:
                lost.append(track)
        self.tracks = kept
        return lost

    def _refine(self, rgb: np.ndarray, tracks: list[Track]) -> list[Face | None]:
        """O-Net on each track's predicted box, twice where needed; None where no face is left."""
        faces: list[Face | None] = list(self.detector.refine(
            rgb, np.stack([t.box + t.velocity for t in tracks])))
        retry = [i for i, f in enumerate(faces) if not self._usable(f)]
        if retry:
            again = self.detector.refine(rgb, np.stack([xyxy(faces[i].box) for i in retry]))
            for i, face in zip(retry, again, strict=True):
                faces[i] = face if self._usable(face) else None
        return faces

    def _usable(self, face: Face) -> bool:
        return face.confidence >= self.detector.min_confidence and min(face.box[2:]) >= self.detector.min_face

    def _detect(self, rgb: np.ndarray, lost: list[Track] = ()) -> None:
        """A key frame: full detection, matched to the tracks (and to those just ``lost``, which
        keep their ids when found again) by overlap with their predicted boxes. A track that no
        detection continues is refined on its own and kept while O-Net still finds its face."""
        self.key_frames += 1
        self._since_key = 0
        faces = self.detector.detect(rgb)
        candidates = self.tracks + list(lost)
        pairs = sorted(((iou(t.box + t.velocity, xyxy(f.box)), i, j)
                        for i, t in enumerate(candidates) for j, f in enumerate(faces)), reverse=True)
        used_t, used_f, kept = set(), set(), []
        for overlap, i, j in pairs:
            if overlap < MATCH_IOU or i in used_t or j in used_f:
                continue
            used_t.add(i)
            used_f.add(j)
            self._measure(candidates[i], faces[j])
            kept.append(candidates[i])
        unmatched = [t for i, t in enumerate(self.tracks) if i not in used_t]
        if unmatched:  # the pyramid can miss a small face that O-Net still finds where it was
            for track, face in zip(unmatched, self._refine(rgb, unmatched), strict=True):
                if face is not None and all(iou(xyxy(face.box), k.box) < MATCH_IOU for k in kept):
                    self._measure(track, face)
                    kept.append(track)
        for j, face in enumerate(faces):
            if j not in used_f and all(iou(xyxy(face.box), k.box) < MATCH_IOU for k in kept):
                kept.append(self._start(face))
        self.tracks = kept

    def _start(self, face: Face) -> Track:
        track = Track(self._next_id, xyxy(face.box), np.zeros(4), OneEuroFilter(
            self.min_cutoff, self.beta), face)
        self._next_id += 1
        self._measure(track, face, first=True)
        return track

    def _measure(self, track: Track, face: Face, first: bool = False) -> None:
        box = xyxy(face.box)
        if not first:
            track.velocity = 0.5 * track.velocity + 0.5 * (box - track.box)
        track.box = box
        marks = face.landmarks
        if self.smooth:
            size = max(box[2] - box[0], box[3] - box[1], 1.0)
            marks = track.smoother(marks, self.frame / self.fps, scale=size).astype(np.float32)
        track.face = replace(face, landmarks=marks, track_id=track.id)


def frame_to_frame_change(frames: list[np.ndarray], box: tuple[int, int, int, int]) -> float:
    """Mean absolute change (grey levels) between consecutive frames inside ``box`` (x, y, w, h):
    how much a still face flickers."""
    x, y, w, h = box
    crops = np.stack([f[y : y + h, x : x + w] for f in frames]).astype(np.float32)
    return float(np.abs(np.diff(crops, axis=0)).mean())
