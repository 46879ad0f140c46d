"""`keras-facesr fit` on real faces beats bicubic on held-out faces (slow: 35 s on 2 cores)."""

import json

import pytest
from conftest import run_cli


@pytest.mark.slow
def test_fit_on_real_faces_beats_bicubic(nba_faces, tmp_path):
    out = tmp_path / "run"
    r = run_cli(
        "fit", "--data", str(nba_faces), "--output", str(out), "--generator", "edge",
        "--steps", "350", "--batch-size", "16",
        "--set", "train.hr_size=64", "--set", "train.steps_per_epoch=50",
        "--set", "train.pretrain_steps=300", "--set", "train.g_lr=5e-4",
        "--set", "loss.adversarial=1e-4", "--set", "loss.encoder=none",
        "--set", "train.tensorboard=false",
        timeout=1200,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    val = json.loads((out / "summary.json").read_text())["validation"]
    print(f"held-out PSNR {val['psnr']:.2f} dB vs bicubic {val['psnr_bicubic']:.2f} dB")
    assert val["psnr"] > val["psnr_bicubic"]
