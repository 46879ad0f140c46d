"""scripts/train_torch.py: the faces file it trains from, and (where PyTorch is installed) a
few steps on Keras' torch backend that TensorFlow then loads."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "train_torch.py"


def _script():
    spec = importlib.util.spec_from_file_location("train_torch", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _faces(folder: Path, n: int, seed: int) -> None:
    import cv2

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for k in range(n):
        image = rng.integers(0, 256, (150 + 10 * k, 140, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"face{k}.png"), image)


def test_faces_file_holds_the_training_crops_with_their_weights(tmp_path):
    import tensorflow as tf

    from keras_facesr.data.pipeline import crop_hr
    from keras_facesr.images import read_image

    _faces(tmp_path / "a", 3, 0)
    _faces(tmp_path / "b", 2, 1)
    script = _script()
    out = tmp_path / "faces.npz"
    script.export_faces([str(tmp_path / "a"), f"{tmp_path / 'b'}:3"], out, 128, 0.0)
    faces, weight = script.load_faces(out)
    assert faces.shape == (5, 128, 128, 3) and faces.dtype == np.uint8
    assert sorted(weight.tolist()) == [1.0, 1.0, 1.0, 3.0, 3.0]
    # each face is fit's HR crop of its file (data.crop = full), rounded to 8 bits
    with np.load(out) as f:
        names = [str(n) for n in f["names"]]
    k = next(i for i, n in enumerate(names) if n.endswith("/face1.png") and weight[i] == 3.0)
    want = crop_hr(tf.constant(read_image(tmp_path / "b" / "face1.png")), 128, "full", None).numpy()
    assert np.abs(faces[k] / 255.0 - want).max() <= 0.5 / 255 + 1e-6
    only, only_weight = script.load_faces(out, [str(tmp_path / "b")])
    assert len(only) == 2 and only_weight.tolist() == [3.0, 3.0]
    with pytest.raises(SystemExit, match="no faces of nobody"):
        script.load_faces(out, ["nobody"])


def test_torch_backend_steps_write_a_generator_tensorflow_loads(tmp_path):
    pytest.importorskip("torch")
    _faces(tmp_path / "a", 2, 0)
    out = tmp_path / "faces.npz"
    _script().export_faces([str(tmp_path / "a")], out, 128, 0.0)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "train", "--faces", str(out), "--scale", "8", "--steps", "2",
         "--batch-size", "2", "--every", "1", "--output", str(tmp_path / "g.keras")],
        env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert '"step": 2' in run.stdout.splitlines()[-1]
    from keras_facesr.models.archs.generator import load_generator

    sr = load_generator(tmp_path / "g.keras")(np.zeros((1, 16, 16, 3), np.float32))
    assert tuple(sr.shape) == (1, 128, 128, 3)
