"""Video in and out, frame by frame, with OpenCV: RGB frames; outputs written atomically."""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from keras_facesr.errors import FaceSRError
from keras_facesr.images import default_permissions

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID",
          ".webm": "VP80"}


LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


class VideoReadError(FaceSRError, ValueError):
    """A video cannot be opened or decoded; the message starts with the file name."""


def is_live(source: str | Path) -> bool:
    """A camera index ("0") or a stream URL (RTSP, HTTP, ...), not a file."""
    text = str(source)
    return text.isdigit() or text.lower().startswith(LIVE_SCHEMES)


def live_name(source: str) -> str:
    """The output file name for a live source: camera0.mp4, or the stream path's last part."""
    if source.isdigit():
        return f"camera{source}.mp4"
    stem = Path(source.split("://", 1)[1].split("?", 1)[0].rstrip("/")).stem
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem) or "stream"
    return f"{stem}.mp4"


class VideoReader:
    """Iterate a video's frames as RGB uint8. After iterating, ``complete`` says whether every
    frame the container announces was decoded (a broken or truncated video stops early).

    A live source (:func:`is_live`: a camera index or a stream URL, any that OpenCV's capture
    opens) has no end and no frame count: it is read until it stops or the caller stops."""

    def __init__(self, path: str | Path):
        self.live = is_live(path)
        self.path = Path(path) if not self.live else path
        if self.live:
            self._cap = cv2.VideoCapture(int(path) if str(path).isdigit() else str(path))
            if not self._cap.isOpened():
                raise VideoReadError(f"{path}: cannot open the live source")
        elif not self.path.is_file():
            raise VideoReadError(f"{self.path}: no such file")
        elif self.path.stat().st_size == 0:
            raise VideoReadError(f"{self.path}: empty file")
        else:
            self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise VideoReadError(f"{self.path}: not a readable video (corrupt or unsupported codec)")
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frame_count = 0 if self.live else max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))
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


_END = object()


class Dropped:
    """How many frames a live source delivered that were not processed."""

    count = 0


def read_ahead(frames: Iterable[np.ndarray], depth: int = 16, live: bool = False,
               max_fps: float | None = None, dropped: Dropped | None = None) -> Iterator[np.ndarray]:
    """``frames``, decoded by a thread up to ``depth`` frames ahead of the consumer (decoding
    overlaps the work on earlier frames). An error while decoding is raised here, in order.

    ``live``: the source does not wait for us, so only the newest frame is kept and older ones
    are dropped rather than fallen behind on; ``max_fps`` drops frames that arrive sooner than
    1 / max_fps after the last one kept. Drops are counted in ``dropped``."""
    q: queue.Queue = queue.Queue(maxsize=1 if live else depth)
    stop = threading.Event()
    dropped = dropped if dropped is not None else Dropped()

    def put(item) -> bool:
        """Hand ``item`` over unless the consumer has stopped; False when it has."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        last = -float("inf")
        try:
            for frame in frames:
                if max_fps:
                    now = time.monotonic()
                    if now - last < 1.0 / max_fps:
                        dropped.count += 1
                        continue
                    last = now
                if live:
                    try:  # replace the unprocessed frame with this newer one
                        q.get_nowait()
                        dropped.count += 1
                    except queue.Empty:
                        pass
                if not put(frame):
                    return
            put(_END)
        except BaseException as e:  # handed to the consumer
            put(e)

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class BackgroundWriter:
    """Frames handed to ``write`` are encoded into ``writer`` by a thread, in order (encoding
    overlaps the work on later frames). ``close`` waits for the last one; an encoding error is
    raised by the next ``write`` or by ``close``."""

    def __init__(self, writer: AtomicVideoWriter, depth: int = 16):
        self._writer = writer
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="write-behind", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            frame = self._q.get()
            if frame is _END:
                return
            if self._error is None:
                try:
                    self._writer.write(frame)
                except BaseException as e:
                    self._error = e

    def write(self, rgb: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(rgb)

    def close(self) -> None:
        if self._thread.is_alive():
            self._q.put(_END)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._thread.is_alive():
            self._q.put(_END)
            self._thread.join()
