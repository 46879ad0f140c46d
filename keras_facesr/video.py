"""Video in and out, frame by frame, with OpenCV: RGB frames; outputs written atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from keras_facesr.images import default_permissions

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID",
          ".webm": "VP80"}


class VideoReadError(ValueError):
    """A video cannot be opened or decoded; the message starts with the file name."""


class VideoReader:
    """Iterate a video's frames as RGB uint8. After iterating, ``complete`` says whether every
    frame the container announces was decoded (a broken or truncated video stops early)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoReadError(f"{self.path}: no such file")
        if self.path.stat().st_size == 0:
            raise VideoReadError(f"{self.path}: empty file")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise VideoReadError(f"{self.path}: not a readable video (corrupt or unsupported codec)")
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frame_count = max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.frames_read = 0
        if self.width <= 0 or self.height <= 0:
            self.close()
            raise VideoReadError(f"{self.path}: not a readable video (no frame size)")

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                break
            self.frames_read += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        self.close()

    @property
    def complete(self) -> bool:
        return self.frames_read > 0 and (self.frame_count == 0 or self.frames_read >= self.frame_count)

    def problem(self) -> str | None:
        """A one-line description of what went wrong reading, or None."""
        if self.frames_read == 0:
            return f"{self.path}: no decodable frame (corrupt video)"
        if not self.complete:
            return (f"{self.path}: frame {self.frames_read + 1} of {self.frame_count} is broken or "
                    f"missing; the {self.frames_read} frames before it were processed")
        return None

    def close(self) -> None:
        self._cap.release()


class AtomicVideoWriter:
    """Write RGB frames to a temporary file beside ``path``; ``commit`` renames it into place,
    ``discard`` (or an exception inside ``with``) deletes it."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ext = self.path.suffix.lower()
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.stem}.",
                                         suffix=ext)
        os.close(fd)
        default_permissions(self._tmp)
        fourcc = cv2.VideoWriter_fourcc(*FOURCC.get(ext, "mp4v"))
        self._writer = cv2.VideoWriter(self._tmp, fourcc, fps, size)
        if not self._writer.isOpened():
            self.discard()
            raise VideoReadError(f"{self.path}: OpenCV cannot write {ext} video here")
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def commit(self) -> None:
        self._writer.release()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        writer = getattr(self, "_writer", None)
        if writer is not None:
            writer.release()
        Path(self._tmp).unlink(missing_ok=True)

    def __enter__(self) -> AtomicVideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
