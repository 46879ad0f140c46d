"""`enhance --runner beam`: the Beam pipeline (DirectRunner) writes what `enhance` writes, sends
bad files to the dead-letter output, and writes nothing new on a second run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import pytest
from conftest import REPO

pytest.importorskip("apache_beam")

SAMPLES = REPO / "keras_facesr" / "samples"
sys.path.insert(0, str(REPO / "benchmarks"))


@pytest.fixture
def archive(tmp_path) -> Path:
    """Good photos (one in a sub-folder), a short video, and bad files."""
    from enhance_video import compose_frames

    root = tmp_path / "archive"
    (root / "day2").mkdir(parents=True)
    (root / "solvay.jpg").write_bytes((SAMPLES / "solvay_1927_small.jpg").read_bytes())
    (root / "day2" / "astronaut.jpg").write_bytes((SAMPLES / "astronaut.jpg").read_bytes())
    writer = cv2.VideoWriter(str(root / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 360))
    for frame in compose_frames(6):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    (root / "empty.jpg").write_bytes(b"")
    (root / "day2" / "notes.png").write_text("not an image")
    return root


def test_beam_matches_enhance_dead_letters_bad_files_and_is_idempotent(archive, tmp_path):
    from keras_facesr.pipeline import beam, jobs
    from keras_facesr.pipeline.enhance import FaceEnhancer

    local = jobs.run(FaceEnhancer(), [archive], tmp_path / "local", progress=False,
                     on_error=lambda m: None)
    out = tmp_path / "beam"
    result = beam.run([str(archive)], str(out), str(tmp_path / "report.json"))
    good = ("solvay.jpg", "day2/astronaut.jpg", "clip.avi")
    for rel in good:
        assert (out / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes(), rel
    dead = (out / "dead_letter.tsv").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in dead) == sorted(
        [str(archive / "empty.jpg"), str(archive / "day2" / "notes.png")])
    assert all(line.split("\t")[1].startswith(line.split("\t")[0]) for line in dead)  # one line, names it
    assert result["summary"]["ok"] == 3 and result["summary"]["failed"] == 2
    report = json.loads((tmp_path / "report.json").read_text())
    by_input = {r["input"]: r for r in report["inputs"]}
    faces = {e["input"]: len(e.get("faces", [])) for e in local["inputs"] if e.get("status") == "ok"}
    assert len(by_input[str(archive / "solvay.jpg")]["faces"]) == faces[str(archive / "solvay.jpg")]
    assert by_input[str(archive / "clip.avi")]["tracks"] == 3

    stamps = {rel: (out / rel).stat().st_mtime_ns for rel in good}
    again = beam.run([str(archive)], str(out))
    assert again["summary"]["skipped"] == 3 and again["summary"]["ok"] == 0
    assert {rel: (out / rel).stat().st_mtime_ns for rel in good} == stamps
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left


def test_beam_runner_bad_options_are_one_line(archive, tmp_path):
    from conftest import run_cli

    proc = run_cli("enhance", str(archive / "solvay.jpg"), "--output", str(tmp_path / "o"),
                   "--runner", "beam", "--model", str(tmp_path / "missing.keras"))
    assert proc.returncode == 1 and "missing.keras: generator file not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("enhance", str(archive / "solvay.jpg"), "--output", str(tmp_path / "o"),
                   "--beam-option=--direct_num_workers=2")
    assert proc.returncode == 1 and "needs --runner beam" in proc.stderr
