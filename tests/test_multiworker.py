"""Multi-worker training, run for real: two local `fit` workers with TF_CONFIG on loopback
(MultiWorkerMirroredStrategy on the CPU) train in step, the chief alone writes the run, and a
killed run resumes from the last checkpoint (README, "Scaling out")."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow
ARGS = ["--steps", "8", "--set", "train.steps_per_epoch=2", "--set", "train.pretrain_steps=2",
        "--set", "model.filters=8", "--set", "train.batch_size=4", "--set", "loss.identity=0",
        "--set", "loss.content=0", "--set", "train.tensorboard=false", "--set", "train.samples=0",
        "--set", 'train.strategy="multiworker"']


def _ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _start(data: Path, outputs: list[Path], logs: Path, resume: bool = False) -> list[subprocess.Popen]:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _ports(2)]}
    procs = []
    for index, output in enumerate(outputs):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        cmd = [sys.executable, "-m", "keras_facesr.cli", "fit", "--output", str(output)]
        cmd += ["--data", str(data)] + (["--resume"] if resume else ARGS)
        log = (logs / f"worker{index}{'-resumed' if resume else ''}.log").open("w")
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def _sha(log: Path) -> str:
    found = re.findall(r"generator weights sha256 ([0-9a-f]{16})", log.read_text())
    assert found, log.read_text()[-3000:]
    return found[-1]


def test_two_workers_train_in_step_and_only_the_chief_writes(image_dir, tmp_path):
    chief, other = tmp_path / "chief", tmp_path / "worker1"  # two hosts, no shared storage
    procs = _start(image_dir, [chief, other], tmp_path)
    for proc in procs:
        assert proc.wait(timeout=600) == 0, (tmp_path / "worker0.log").read_text()[-3000:]
    assert _sha(tmp_path / "worker0.log") == _sha(tmp_path / "worker1.log")  # the same weights
    assert "devices: 2 (CollectiveAllReduceStrategy)" in (tmp_path / "worker0.log").read_text()
    summary = json.loads((chief / "summary.json").read_text())
    assert summary["step"] == 8 and summary["weights_sha256"].startswith(_sha(tmp_path / "worker0.log"))
    assert (chief / "generator.keras").is_file() and list((chief / "checkpoints").glob("ckpt-*"))
    assert not other.exists() or not any(other.iterdir())  # the other worker wrote nothing


def test_a_killed_run_resumes_from_the_last_checkpoint(image_dir, tmp_path):
    shared = tmp_path / "run"  # one folder both workers see, as on shared storage
    procs = _start(image_dir, [shared, shared], tmp_path)
    deadline = time.time() + 300
    while time.time() < deadline and not [c for c in (shared / "checkpoints").glob("ckpt-*")
                                           if int(c.name[5:]) >= 4]:
        assert procs[0].poll() is None, (tmp_path / "worker0.log").read_text()[-3000:]
        time.sleep(0.5)
    procs[1].send_signal(signal.SIGKILL)  # a worker dies mid-run
    try:
        procs[0].wait(timeout=60)  # the chief fails (or hangs) without its peer ...
    except subprocess.TimeoutExpired:
        procs[0].kill()  # ... and is stopped, as the job's supervisor would
        procs[0].wait()
    assert procs[0].returncode != 0
    if procs[0].returncode == 1:  # it noticed: one line, saying how to recover
        assert "restart every worker with --resume" in (tmp_path / "worker0.log").read_text()
    resumed = _start(image_dir, [shared, shared], tmp_path, resume=True)  # the documented recovery
    for proc in resumed:
        assert proc.wait(timeout=600) == 0, (tmp_path / "worker0-resumed.log").read_text()[-3000:]
    for index in (0, 1):
        log = (tmp_path / f"worker{index}-resumed.log").read_text()
        step = int(re.search(r"resumed from .* at step (\d+)", log).group(1))
        assert 4 <= step < 8
    assert _sha(tmp_path / "worker0-resumed.log") == _sha(tmp_path / "worker1-resumed.log")
    assert json.loads((shared / "summary.json").read_text())["step"] == 8
