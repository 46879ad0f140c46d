"""Live sources (a stream URL, served here from a local file) and a clean stop on Ctrl-C."""

from __future__ import annotations

import functools
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO

from keras_facesr.pipeline.video import VideoReader, is_live, live_name

sys.path.insert(0, str(REPO / "benchmarks"))


def _clip(path: Path, frames: int) -> Path:
    from enhance_video import compose_frames

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 360))
    for frame in compose_frames(frames):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _frames(path: Path) -> int:
    return sum(1 for _ in VideoReader(path))


def test_live_sources_are_told_from_files_and_named():
    assert is_live("0") and is_live("rtsp://cam.local/stream1") and is_live("http://h:8/a.mjpg")
    assert not is_live("clip.mp4") and not is_live("/data/0.jpg")
    assert live_name("0") == "camera0.mp4"
    assert live_name("rtsp://cam.local:554/live/front-door?user=x") == "front-door.mp4"


@pytest.fixture
def served(tmp_path):
    """A video served over HTTP on loopback (a stream URL as a camera would give)."""
    _clip(tmp_path / "clip.avi", 30)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/clip.avi"
    server.shutdown()


def test_a_stream_url_is_enhanced_into_a_playable_file(served, tmp_path):
    from keras_facesr.pipeline import jobs
    from keras_facesr.pipeline.enhance import FaceEnhancer

    report = jobs.run(FaceEnhancer(), [served], tmp_path / "out", progress=False)
    entry = report["inputs"][0]
    assert entry["status"] == "ok" and entry["kind"] == "live", entry
    assert entry["faces_super_resolved"] > 0 and entry["tracks"] >= 3
    assert entry["frames"] + entry["frames_dropped"] == 30
    assert _frames(tmp_path / "out" / "clip.mp4") == entry["frames"]


def test_ctrl_c_stops_cleanly_and_leaves_a_playable_output(tmp_path):
    clip = _clip(tmp_path / "long.avi", 2000)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "keras_facesr.cli", "enhance", str(clip), "--output", str(out),
         "--report", str(tmp_path / "r.json"), "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # a shell's background job (`pytest ... &`) ignores SIGINT, and a child inherits that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 180
    while time.time() < deadline and not list(out.glob(".long.*")):
        time.sleep(0.5)
    time.sleep(4)  # some frames through
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"enhance did not stop within 120 s of Ctrl-C: {proc.communicate()[1][-2000:]}")
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    entry = json.loads((tmp_path / "r.json").read_text())["inputs"][0]
    assert entry["status"] == "interrupted" and 0 < entry["frames"] < 2000
    assert _frames(out / "long.avi") == entry["frames"]
    assert not list(out.glob(".long.*"))  # no temporary file left behind
    first = next(iter(VideoReader(out / "long.avi")))
    assert first.shape == (360, 640, 3) and np.ptp(first) > 0


def test_a_live_source_drops_frames_instead_of_falling_behind():
    from keras_facesr.pipeline.video import Dropped, read_ahead

    def camera(n: int):  # delivers frames far faster than the consumer below takes them
        for k in range(n):
            yield np.full((2, 2, 3), k, np.uint8)

    dropped = Dropped()
    seen = []
    for frame in read_ahead(camera(40), live=True, dropped=dropped):
        seen.append(int(frame[0, 0, 0]))
        time.sleep(0.01)
    assert seen == sorted(seen) and seen[-1] == 39  # in order, and the newest frame is never lost
    assert dropped.count > 0 and len(seen) + dropped.count == 40
    capped = Dropped()
    kept = list(read_ahead(camera(40), live=True, max_fps=5, dropped=capped))
    assert len(kept) < 40 and len(kept) + capped.count == 40
    assert len(list(read_ahead(camera(10)))) == 10  # a file: every frame, none dropped
