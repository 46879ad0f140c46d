"""scripts/train_default_models.sh is the exact record of the bundled models' training: the
commands it runs, checked with ``keras-facesr`` replaced by a stub that writes them down."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_default_models.sh"


def _glasses() -> list[str]:
    """The GLASSES array of the script: SOURCE/FILE names of the registry's faces."""
    body = re.search(r"^GLASSES=\((.*?)\)", SCRIPT.read_text(), re.S | re.M).group(1)
    return shlex.split(body)


def _run(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.txt"
    bin_dir.mkdir(parents=True, exist_ok=True)
    stub = bin_dir / "keras-facesr"
    # the stub writes its command down (its arguments split by the unit separator, so that a
    # value with spaces stays whole) and, as fit does, starts the run folder (config.toml)
    stub.write_text(f'#!/bin/sh\nprintf "%s\\037" "$@" >> "{log}"\necho >> "{log}"\n'
                    'while [ "$#" -gt 0 ]; do [ "$1" = --output ] && mkdir -p "$2" && '
                    'touch "$2/config.toml"; shift; done\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env}
    done = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "runs")], env=env,
                          capture_output=True, text=True, cwd=SCRIPT.parents[1])
    lines = log.read_text().splitlines() if log.exists() else []
    calls = [line.rstrip("\x1f").split("\x1f") for line in lines]
    return done, calls


def _data(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--data"]


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    root = tmp_path / "cache"
    for face in _glasses():
        source, name = face.split("/")
        path = root / "datasets" / source / "faces" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"face")
    return root


def test_stage12_links_the_glasses_faces_and_weights_them(tmp_path, cache):
    done, calls = _run(tmp_path, {"STAGE12_ONLY": "1", "KERAS_FACESR_CACHE": str(cache)})
    assert done.returncode == 0, done.stderr
    glasses = tmp_path / "runs" / "glasses-faces"
    assert [c[:1] for c in calls] == [["fit"]]
    assert _data(calls[0]) == ["nba", "faces:6", f"{glasses}:18"]
    links = sorted(glasses.iterdir())
    # each link keeps its file's name, so the hash split treats it as its own source does
    assert sorted(p.name for p in links) == sorted(f.split("/")[1] for f in _glasses())
    assert all(p.is_symlink() and p.resolve().is_relative_to(cache.resolve()) for p in links)


def test_a_resumed_run_is_given_every_data_option_again(tmp_path, cache):
    run = tmp_path / "runs" / "x4-v12-glasses"
    run.mkdir(parents=True)
    (run / "config.toml").write_text("")
    done, calls = _run(tmp_path, {"STAGE12_ONLY": "1", "KERAS_FACESR_CACHE": str(cache)})
    assert done.returncode == 0, done.stderr
    glasses = tmp_path / "runs" / "glasses-faces"
    assert calls == [["fit", "--data", "nba", "--data", "faces:6", "--data", f"{glasses}:18",
                      "--output", str(run), "--resume", "--steps", "800"]]


def test_stage12_without_the_faces_says_which_and_runs_nothing(tmp_path, cache):
    missing = _glasses()[3]
    (cache / "datasets" / missing.replace("/", "/faces/")).unlink()
    done, calls = _run(tmp_path, {"STAGE12_ONLY": "1", "KERAS_FACESR_CACHE": str(cache)})
    assert done.returncode != 0
    assert calls == []
    assert missing in done.stderr and "data fetch faces" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_stage13_is_stage9s_twin_with_the_weight_average_then_longer(tmp_path):
    _, stage9 = _run(tmp_path / "a", {"STAGE9_ONLY": "1"})
    done, stage13 = _run(tmp_path / "b", {"STAGE13_ONLY": "1"})
    assert done.returncode == 0, done.stderr
    twin, = [c for c in stage9 if "x4-v9-longer" in c[c.index("--output") + 1]]
    ema, longer, longest = stage13
    i = twin.index("--output")
    runs = tmp_path / "b" / "runs"
    assert ema == twin[:i] + ["--set", "train.ema=0.999", "--output", str(runs / "x4-v13-ema")] + twin[i + 2:]
    # the longer runs are copies of the run before's folder, resumed
    assert longer == ["fit", "--data", "nba", "--data", "faces:6", "--output",
                      str(runs / "x4-v13-ema-3000"), "--resume", "--steps", "3000"]
    assert longest == [*longer[:6], str(runs / "x4-v13-ema-4500"), "--resume", "--steps", "4500"]
    assert (runs / "x4-v13-ema-3000" / "config.toml").is_file()
    assert (runs / "x4-v13-ema-4500" / "config.toml").is_file()


def test_stage14_continues_the_shipped_x8_on_its_own_recipe_with_the_weight_average(tmp_path):
    from keras_facesr.config import load_config

    done, calls = _run(tmp_path, {"STAGE14_ONLY": "1"})
    assert done.returncode == 0, done.stderr
    run, = calls
    assert run[run.index("--output") + 1] == str(tmp_path / "runs" / "x8-v14-ema")
    assert _data(run) == ["nba", "faces:6"]
    # the settings as fit resolves them: every --set in order (the last of a key wins), then
    # the shortcut options
    sets = [run[i + 1] for i, a in enumerate(run[:-1]) if a == "--set"]
    shortcuts = {"--steps": "train.steps", "--batch-size": "train.batch_size", "--scale": "model.scale"}
    sets += [f"{key}={run[run.index(opt) + 1]}" for opt, key in shortcuts.items()]
    cfg = load_config(overrides=sets)
    assert (cfg.model.scale, cfg.train.steps, cfg.train.batch_size) == (8, 3000, 16)
    assert cfg.train.init == "keras_facesr/weights/facesr_edge_x8.keras"
    assert (cfg.train.g_lr, cfg.train.ema, cfg.train.pretrain_steps) == (1e-4, 0.999, 0)
    assert (cfg.loss.identity, cfg.loss.encoder, cfg.loss.adversarial) == (0.03, "sface", 0.0)
    # stage 7's recipe had no framing or colour augmentation
    assert (cfg.degrade.jitter, cfg.degrade.grey, cfg.degrade.gamma, cfg.degrade.native_size) == (
        0.0, 0.0, 0.0, [])
    assert cfg.degrade.resize == ["area", "bilinear"] and cfg.degrade.antialias is False


def _stage13_rerun(tmp_path, stage: str, run: str, added: list[str]) -> None:
    """A stage that reruns stage 13's 800 steps (with ``added`` options) and its resume to 3,000."""
    _, stage13 = _run(tmp_path / "a", {"STAGE13_ONLY": "1"})
    done, calls = _run(tmp_path / "b", {f"STAGE{stage}_ONLY": "1"})
    assert done.returncode == 0, done.stderr
    ema, longer, _ = stage13
    first, resumed = calls
    out = str(tmp_path / "b" / "runs" / run)
    i = ema.index("--output")
    assert first == [*ema[:i], *added, "--output", out, *ema[i + 2:]]
    assert resumed == [*longer[:6], out, *longer[7:]]
    assert "faces:6" in first and "train.ema=0.999" in first


def test_stage15_is_stage13s_longer_run_without_the_gan_term(tmp_path):
    _stage13_rerun(tmp_path, "15", "x4-v15-ema-nogan", ["--set", "loss.adversarial=0"])


def test_stage16_is_stage13s_longer_run_as_it_was(tmp_path):
    """The same commands as stage 13's: only the faces `data fetch` holds differ."""
    _stage13_rerun(tmp_path, "16", "x4-v16-more-faces", [])
