"""The fit command end to end on small folders: run folder, stop conditions, resume, devices."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, run_cli

from keras_facesr.models.archs import load_generator
from keras_facesr.train.callbacks import HistoryCSV, NaNGuard, RunCheckpoint

TINY = ["--set", "train.hr_size=32", "--set", "model.disc_filters=4", "--set", "model.blocks=1",
        "--set", "model.filters=8", "--set", "train.batch_size=4", "--set", "loss.identity=0",
        "--set", "loss.content=0", "--set", "train.tensorboard=false"]


def test_fit_writes_a_complete_run_folder(image_dir, tmp_path):
    out = tmp_path / "run"
    r = run_cli("fit", "--data", str(image_dir), "--output", str(out), "--steps", "4",
                "--set", "train.steps_per_epoch=2", "--set", "train.pretrain_steps=2",
                "--set", 'degrade.resize=["area", "bilinear"]', "--set", "degrade.noise=0.05",
                "--set", "data.val_fraction=0.3", *TINY)
    assert r.returncode == 0, r.stderr
    assert "resolved configuration" in r.stdout and "phase 2: GAN training" in r.stdout
    for name in ("config.toml", "history_pretrain.csv", "history.csv", "summary.json",
                 "generator.keras", "generator.keras.json"):
        assert (out / name).is_file(), name
    header = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert "loss_d" in header and all(len(row.split(",")) == len(header)
                                      for row in (out / "history.csv").read_text().splitlines())
    assert list((out / "samples").glob("step-*.png"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 4 and "step budget" in summary["stop_reason"]
    # s/step per phase: a GAN step costs more than a pixel step, so one median would mislead
    assert set(summary["seconds_per_step"]) == {"pretraining", "gan"}
    assert re.search(r"pixel-loss pre-training [\d.]+ s/step, GAN training [\d.]+ s/step", r.stdout)
    assert {"psnr", "psnr_bicubic", "ssim"} <= set(summary["validation"])
    g = load_generator(out / "generator.keras")
    assert g(np.zeros((1, 8, 8, 3), np.float32)).shape == (1, 32, 32, 3)
    # one definition of the held-out figures: `evaluate --split val` on the run's model (its
    # training degradation by default, random draws seeded by file name) prints fit's numbers
    ev = run_cli("evaluate", str(image_dir), "--aligned", "--split", "val", "--val-fraction", "0.3",
                 "--model", str(out / "generator.keras"), "--judge", "none",
                 "--json", str(tmp_path / "e.json"))
    assert ev.returncode == 0, ev.stderr
    rows = json.loads((tmp_path / "e.json").read_text())["methods"]
    val = summary["validation"]
    assert rows["bicubic"]["psnr"] == pytest.approx(val["psnr_bicubic"], abs=1e-3)
    assert rows["run"]["psnr"] == pytest.approx(val["psnr"], abs=1e-3)
    assert rows["run"]["ssim"] == pytest.approx(val["ssim"], abs=1e-4)
    # A second fit into the same folder refuses instead of overwriting the run.
    again = run_cli("fit", "--data", str(image_dir), "--output", str(out), *TINY)
    assert again.returncode == 1 and "--resume" in again.stderr


@pytest.mark.parametrize(
    ("setting", "reason"),
    [("train.loss_threshold=10", "loss_pixel"), ("train.d_threshold=0.001", "D(SR)")],
)
def test_threshold_stop_conditions(image_dir, tmp_path, setting, reason):
    out = tmp_path / "run"
    r = run_cli("fit", "--data", str(image_dir), "--output", str(out), "--steps", "50",
                "--set", "train.steps_per_epoch=5", "--set", setting, *TINY)
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 1 and reason in summary["stop_reason"]


def test_config_errors_are_one_clear_line(image_dir, tmp_path):
    r = run_cli("fit", "--data", str(image_dir), "--output", str(tmp_path / "r"),
                "--set", "loss.gan=wgn")
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "error: loss.gan = 'wgn': must be one of gan, ragan, wgan, wgan-gp, hinge")
    r = run_cli("fit", "--data", str(tmp_path / "nowhere"), "--output", str(tmp_path / "r2"))
    assert r.returncode == 1 and "nowhere: no such folder" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_resume_after_sigkill_continues_at_the_same_step(image_dir, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "keras_facesr.cli", "fit", "--data", str(image_dir),
           "--output", str(out), "--steps", "100000", "--set", "train.steps_per_epoch=3", *TINY]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    latest = out / "checkpoints" / "latest"
    deadline = time.time() + 300
    while time.time() < deadline and not (latest.exists() and "0000006" in latest.read_text()):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert latest.exists(), "no checkpoint was written before the kill"
    ckpt = out / "checkpoints" / latest.read_text().strip()
    saved_step = json.loads((ckpt / "state.json").read_text())["step"]
    assert saved_step >= 6 and saved_step % 3 == 0
    saved_opt = dict(np.load(ckpt / "optimizers.npz"))

    # The checkpoint restores optimizer state exactly.
    from keras_facesr.config import load_config
    from keras_facesr.train.checkpoint import load_checkpoint
    from keras_facesr.train.fit import build_gan

    gan = build_gan(load_config(out / "config.toml"))
    state = load_checkpoint(ckpt, gan)
    assert state["step"] == saved_step == int(gan.g_optimizer.iterations.numpy())
    restored = [np.asarray(v) for v in gan.g_optimizer.variables]
    expected = [saved_opt[k] for k in sorted(saved_opt) if k.startswith("g")]
    for a, b in zip(restored, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(np.abs(a).max() > 0 for a in restored[2:]), "Adam moments should be non-zero"

    r = run_cli("fit", "--data", str(image_dir), "--output", str(out), "--resume",
                "--set", f"train.steps={saved_step + 3}", "--set", "train.g_lr=0.0025")
    assert r.returncode == 0, r.stderr
    # the step and optimizer moments come from the checkpoint, the learning rate from --set
    assert f"at step {saved_step} (g_lr 0.0025," in r.stdout
    assert json.loads((out / "summary.json").read_text())["step"] == saved_step + 3


def test_resume_with_overrides_records_them_in_the_run_folder(tmp_path):
    from keras_facesr.config import load_config
    from keras_facesr.train.run import prepare_run

    run = tmp_path / "run"
    prepare_run(run, None, ["degrade.grey=0.15"], resume=False)
    before = (run / "config.toml").read_text()
    assert prepare_run(run, None, [], resume=True).degrade.grey == 0.15
    assert (run / "config.toml").read_text() == before  # a plain resume rewrites nothing
    assert prepare_run(run, None, ["degrade.grey=0.5"], resume=True).degrade.grey == 0.5
    # the folder's config is what the run now trains with: a later plain --resume keeps 0.5
    assert load_config(run / "config.toml").degrade.grey == 0.5
    assert prepare_run(run, None, [], resume=True).degrade.grey == 0.5


def test_nan_guard_stops_and_blocks_checkpoints(tmp_path):
    import types

    import tensorflow as tf

    class Model:
        stop_training = False
        g_optimizer = types.SimpleNamespace(iterations=tf.Variable(7))

    model = Model()
    guard = NaNGuard()
    guard.set_model(model)
    guard.on_train_batch_end(0, {"loss_g": 0.5})
    assert not model.stop_training
    guard.on_train_batch_end(1, {"loss_g": float("nan")})
    assert model.stop_training and "loss_g = nan at step 7" in model.stop_reason
    ckpt = RunCheckpoint(tmp_path / "ck", {})
    ckpt.set_model(model)
    ckpt.on_train_end()
    assert not (tmp_path / "ck").exists()


def test_history_csv_widens_its_header_when_a_resumed_run_logs_a_new_term(tmp_path):
    import csv

    path = tmp_path / "history.csv"
    HistoryCSV(path).on_epoch_end(0, {"loss_g": 0.5, "loss_id": 0.25})
    HistoryCSV(path).on_epoch_end(1, {"loss_g": 0.4, "loss_id": 0.2, "loss_id_guard": 0.01})
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss_g,loss_id,loss_id_guard"
    assert all(len(line.split(",")) == 4 for line in lines)
    rows = list(csv.DictReader(path.open()))
    assert rows[0] == {"epoch": "0", "loss_g": "0.5", "loss_id": "0.25", "loss_id_guard": ""}
    assert rows[1]["loss_id_guard"] == "0.01" and rows[1]["epoch"] == "1"
    assert not list(tmp_path.glob(".*tmp"))  # written atomically, no temporary left


def test_mirrored_strategy_on_two_logical_cpus(image_dir, tmp_path):
    out = tmp_path / "run"
    script = (
        "import tensorflow as tf, sys\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()]*2)\n"
        "from keras_facesr.cli import main\n"
        "sys.exit(main())\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script, "fit", "--data", str(image_dir), "--output", str(out),
         "--steps", "4", "--set", "train.steps_per_epoch=2", "--set", "train.strategy=mirrored",
         "--set", "train.precision=mixed_bfloat16", *TINY],
        capture_output=True, text=True, cwd=REPO, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "devices: 2 (MirroredStrategy)" in r.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 4 and np.isfinite(summary["validation"]["psnr"])


def test_xla_compiled_wgan_gp_run(image_dir, tmp_path):
    out = tmp_path / "run"
    r = run_cli("fit", "--data", str(image_dir), "--output", str(out), "--steps", "2",
                "--set", "train.steps_per_epoch=2", "--set", "train.jit_compile=true",
                "--set", "loss.gan=wgan-gp", *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 2 and np.isfinite(summary["validation"]["psnr"])


def test_init_starts_from_a_saved_generator_and_rejects_another_architecture(image_dir, tmp_path):
    from keras_facesr.models.archs import build_generator

    g = build_generator("edge", 4, 1, 8)
    g.set_weights([np.full_like(w, 0.01) for w in g.get_weights()])
    g.save(tmp_path / "start.keras")
    out = tmp_path / "run"
    r = run_cli("fit", "--data", str(image_dir), "--output", str(out), "--steps", "1",
                "--set", "train.steps_per_epoch=1", "--set", f'train.init="{tmp_path / "start.keras"}"',
                "--set", "train.g_lr=1e-9", *TINY)
    assert r.returncode == 0, r.stderr
    assert "generator initialised from" in r.stdout
    trained = load_generator(out / "generator.keras").get_weights()
    assert all(np.allclose(w, 0.01, atol=1e-4) for w in trained)
    build_generator("edge", 4, 2, 8).save(tmp_path / "other.keras")
    r = run_cli("fit", "--data", str(image_dir), "--output", str(tmp_path / "run2"), "--steps", "1",
                "--set", f'train.init="{tmp_path / "other.keras"}"', *TINY)
    assert r.returncode == 1 and "architecture differs" in r.stderr


def test_ema_writes_the_moving_average_and_checkpoints_keep_the_raw_weights(image_dir, tmp_path):
    from keras_facesr.train.checkpoint import KEEP

    out = tmp_path / "run"
    r = run_cli("fit", "--data", str(image_dir), "--output", str(out), "--steps", str(KEEP),
                "--set", "train.steps_per_epoch=1", "--set", "train.ema=0.5",
                "--set", "train.g_lr=1e-2", "--set", "loss.adversarial=0", *TINY)
    assert r.returncode == 0, r.stderr
    assert "moving average of its weights (train.ema = 0.5)" in r.stdout
    # one checkpoint a step: the raw weights w1..wK; the average starts at w1 and then
    # a_k = 0.5 * a_(k-1) + 0.5 * w_k (Keras' use_ema)
    import keras

    raw = []
    for step in range(1, KEEP + 1):
        g = keras.models.clone_model(load_generator(out / "generator.keras"))
        g.load_weights(out / "checkpoints" / f"ckpt-{step:07d}" / "generator.weights.h5")
        raw.append(g.get_weights())
    average = raw[0]
    for w in raw[1:]:
        average = [0.5 * a + 0.5 * b for a, b in zip(average, w, strict=True)]
    written = load_generator(out / "generator.keras").get_weights()
    for a, b in zip(written, average, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(written, raw[-1], strict=True))
    # a resumed run goes on from the raw weights and the saved average
    r = run_cli("fit", "--data", str(image_dir), "--output", str(out), "--resume",
                "--steps", str(KEEP + 1))
    assert r.returncode == 0, r.stderr
    g = keras.models.clone_model(load_generator(out / "generator.keras"))
    g.load_weights(out / "checkpoints" / f"ckpt-{KEEP + 1:07d}" / "generator.weights.h5")
    resumed = load_generator(out / "generator.keras").get_weights()
    for a, b, w in zip(resumed, written, g.get_weights(), strict=True):
        np.testing.assert_allclose(a, 0.5 * b + 0.5 * w, rtol=1e-5, atol=1e-6)
    # a run cannot change whether it averages on resume: one clear line
    r = run_cli("fit", "--data", str(image_dir), "--output", str(out), "--resume",
                "--steps", str(KEEP + 2), "--set", "train.ema=0")
    assert r.returncode == 1 and "optimizer 'g'" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_run_records_its_faces_and_a_resume_on_other_faces_says_so(image_dir, tmp_path):
    import shutil

    import cv2
    from conftest import smooth_face_like

    out = tmp_path / "run"
    args = ["--output", str(out), "--set", "train.steps_per_epoch=2", *TINY]
    r = run_cli("fit", "--data", str(image_dir), "--steps", "2", *args)
    assert r.returncode == 0, r.stderr

    def record() -> list[dict]:
        return json.loads((out / "data.json").read_text())["data"]

    first, = record()
    assert first["step"] == 0 and len(first["sources"]) == 1
    assert first["sources"][0]["source"] == str(image_dir)
    assert first["sources"][0]["train"] + first["sources"][0]["val"] == 12
    # the same faces in another folder are the same data: nothing said, nothing added
    moved = tmp_path / "elsewhere"
    shutil.copytree(image_dir, moved)
    r = run_cli("fit", "--data", str(moved), "--output", str(out), "--resume", "--steps", "4")
    assert r.returncode == 0, r.stderr
    assert "note: --data" not in r.stdout and record() == [first]
    # one face more: the run goes on, says so, and records from which step
    cv2.imwrite(str(moved / "a" / "99.png"), smooth_face_like(np.random.default_rng(1), 64))
    r = run_cli("fit", "--data", str(moved), "--output", str(out), "--resume", "--steps", "6")
    assert r.returncode == 0, r.stderr
    was, now = record()
    assert was == first and now["step"] == 4 and now["sha256"] != first["sha256"]
    counts = now["sources"][0]
    assert counts["train"] + counts["val"] == 13
    assert ("note: --data holds other faces than this run trained on until step 4 "
            f"({image_dir}: {first['sources'][0]['train']} training / {first['sources'][0]['val']} "
            f"validation faces; now {moved}: {counts['train']} training / {counts['val']} validation "
            "faces)") in r.stdout


def test_a_data_record_this_version_did_not_write_is_a_one_line_error(tmp_path):
    from keras_facesr.train.run import RunError, record_data

    for text in ("[1, 2", '{"data": [{"step": 0}]}', '{"data": [7]}'):
        (tmp_path / "data.json").write_text(text)
        with pytest.raises(RunError, match=r"data\.json: not a data record") as e:
            record_data(tmp_path, 10, {"sources": [], "sha256": "x"}, print)
        assert "\n" not in str(e.value)
