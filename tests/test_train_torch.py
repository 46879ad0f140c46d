"""scripts/train_torch.py: the faces file it trains from, and (where PyTorch is installed) a
few steps on Keras' torch backend that TensorFlow then loads."""

from __future__ import annotations

import importlib.util
import json
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

    # A file from before the "sources" field: every face, and --source is refused in one line.
    with np.load(out) as f:
        old = {k: f[k] for k in f.files if k != "sources"}
    np.savez(tmp_path / "old.npz", **old)
    assert len(script.load_faces(tmp_path / "old.npz")[0]) == 5
    with pytest.raises(SystemExit, match="no 'sources' field"):
        script.load_faces(tmp_path / "old.npz", ["nobody"])


def test_torch_pairs_warp_shrink_and_recolour_as_described():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    script = _script()
    hr = torch.rand(6, 128, 128, 3, generator=torch.Generator().manual_seed(0))
    x = hr.permute(0, 3, 1, 2)
    # area resizing: the mean of each block at a whole ratio, fractional overlaps otherwise
    assert torch.allclose(script.area_resize(x, 32), F.avg_pool2d(x, 4), atol=1e-6)
    assert torch.allclose(script.area_resize(x, 35).mean((2, 3)), x.mean((2, 3)), atol=1e-5)
    # no warp is no change; a shift of a quarter side moves the face 32 px right
    none = torch.zeros(6, 2), torch.ones(6), torch.zeros(6)
    assert torch.allclose(script.similarity_warp(x, *none), x, atol=1e-5)
    moved = script.similarity_warp(x, torch.tensor([[0.25, 0.0]] * 6), torch.ones(6), torch.zeros(6))
    assert torch.allclose(moved[..., 40:120], x[..., 8:88], atol=1e-5)
    lr, out = script.make_pairs(hr, 4, torch.Generator().manual_seed(1), (18, 35), 0.08, 0.3, 0.2, 1.0)
    assert lr.shape == (6, 32, 32, 3) and out.shape == (6, 128, 128, 3)
    assert 0 <= lr.min() and lr.max() <= 1 and 0 <= out.min() and out.max() <= 1
    assert torch.allclose(out[..., 0], out[..., 2]) and torch.allclose(lr[..., 0], lr[..., 1], atol=1e-6)
    # without augmentations the HR face is the input or its mirror, and LR its shrunk copy
    lr, out = script.make_pairs(hr, 8, torch.Generator().manual_seed(1))
    for k in range(6):
        assert torch.equal(out[k], hr[k]) or torch.equal(out[k], hr[k].flip(1))
        face = out[k].permute(2, 0, 1)[None]
        area = F.avg_pool2d(face, 8)
        bilinear = F.interpolate(face, size=(16, 16), mode="bilinear", align_corners=False)
        got = lr[k].permute(2, 0, 1)[None]
        assert torch.allclose(got, area, atol=1e-6) or torch.allclose(got, bilinear.clamp(0, 1), atol=1e-6)


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
    summary = json.loads(run.stdout.splitlines()[-1])
    assert summary["step"] == 2 and summary["recipe"]["scale"] == 8
    from keras_facesr.models.archs.generator import load_generator
    from keras_facesr.models.info import read_model_info

    sr = load_generator(tmp_path / "g.keras")(np.zeros((1, 16, 16, 3), np.float32))
    assert tuple(sr.shape) == (1, 128, 128, 3)
    info = read_model_info(tmp_path / "g.keras")  # evaluate's defaults come from it
    assert (info.name, info.scale, info.lr_size) == ("g", 8, 16)


def test_sidecar_and_summary_record_how_the_generator_was_trained(tmp_path):
    from keras_facesr.data.degrade import Degradation
    from keras_facesr.models.info import read_model_info, write_model_info

    script = _script()
    run = tmp_path / "x4-people" / "generator.keras"
    args = script.build_parser().parse_args(
        ["train", "--faces", "f.npz", "--output", str(run), "--scale", "4", "--native-size", "18",
         "35", "--identity", "0.1", "--encoder", "sface.keras", "--jitter", "0.08", "--grey", "0.15"])
    info = script.model_info(args, 32, "sface")
    assert (info.name, info.scale, info.lr_size, info.identity_encoder) == ("x4-people", 4, 32, "sface")
    # the shrinking make_pairs does, in the form evaluate rebuilds a Degradation from
    degradation = Degradation.from_dict(info.degradation, 4)
    assert degradation.to_config() == info.degradation
    assert degradation.native_size == [18, 35] and degradation.resize == ["area", "bilinear"]
    write_model_info(run.parent / "g.keras", info)
    assert read_model_info(run.parent / "g.keras") == info
    recipe = json.loads(json.dumps(script.recipe(args)))
    assert recipe["native_size"] == [18, 35] and recipe["jitter"] == 0.08 and recipe["grey"] == 0.15
    assert recipe["output"] == str(run) and "log" not in recipe

    pixel_only = script.build_parser().parse_args(
        ["train", "--faces", "f.npz", "--output", str(tmp_path / "plain.keras"), "--encoder", "e.keras"])
    info = script.model_info(pixel_only, 16, "sface")
    assert (info.name, info.identity_encoder, info.degradation["native_size"]) == ("plain", None, [])
    named = script.build_parser().parse_args(
        ["train", "--faces", "f.npz", "--output", str(run), "--name", "mine"])
    assert script.model_info(named, 16, None).name == "mine"
