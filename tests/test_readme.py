"""The README's code blocks, Python and shell, run as written.

- Every Python block runs in a temp folder (the README's paths to the bundled files made
  absolute) and prints what it shows.
- Every command line of the shell blocks is known here: either it is run (slow set, in a temp
  folder, placeholders such as ``frame.jpg`` or ``runs/x8/generator.keras`` replaced by real
  files) or it is listed in ``NOT_RUN`` with the reason and the test that covers it instead.
  Each ``keras-facesr`` line parses against the real CLI (default set), so a renamed option or
  a wrong choice in the README fails at once.
- The quickstart ``fit`` runs twice, with an empty and with a populated model cache, and must
  print the same figures both times, the ones the README quotes; the README's ``evaluate ids``
  line must print the figures of the README's x8 table.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
from conftest import REPO, USER_CACHE

README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
SHELL_BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.S)
SAMPLES = REPO / "keras_facesr" / "samples"
X8 = REPO / "keras_facesr" / "weights" / "facesr_edge_x8.keras"


def shell_commands() -> list[str]:
    """Every command of the README's bash blocks: continuations joined, comments dropped, ``&&`` split."""
    commands = []
    for block in SHELL_BLOCKS:
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"(^|\s+)#.*$", "", line).strip()
            if line:
                commands += [" ".join(part.split()) for part in line.split("&&")]
    return commands


# command (start of it) -> why it is not run here, and what covers it instead
NOT_RUN = {
    "python3 -m venv .venv": ".ci/run: a fresh venv, and the built wheel in another",
    ". .venv/bin/activate": ".ci/run",
    'pip install -e ".[train,test]"': ".ci/run (extras checked by test_readme_pip_extras_exist)",
    'pip install "keras-facesr[edge]"': "tests/test_cli_without_tensorflow.py (extras checked here)",
    "python -m pytest -q": "this very test run",
    "python benchmarks/": "minutes to an hour each; they print the README's tables (run by hand)",
    "keras-facesr data fetch nba ids faces heldout": "network and minutes; the sets are fetched by "
                                                     "the slow tests that need them",
    "keras-facesr models fetch --all": "network; tests/test_recognition.py converts each encoder",
    "keras-facesr fit --data faces/ --config my.toml": "a full training run (hours); the quickstart is run",
    "keras-facesr fit --data faces/ --output runs/mine --resume": "tests/test_train.py (SIGKILL + --resume)",
    "keras-facesr evaluate faces/ --aligned --split val": "needs a run on your own faces; "
                                                          "tests/test_evaluate.py",
    "keras-facesr enhance archive/ --output enhanced/ --runner beam": "tests/test_beam.py",
    "keras-facesr enhance gs://": "a cloud project; tests/test_beam.py runs the same pipeline locally",
    "keras-facesr fit --data faces/ --output runs/big": "several GPUs",
    "CUDA_VISIBLE_DEVICES=0,1": "several GPUs",
    "TF_CONFIG=": "two hosts; tests/test_multiworker.py runs two workers on loopback",
    "keras-facesr evaluate /data/lfw": "LFW is not in any package registry",
    "keras-facesr export runs/x8/generator.keras --output bundle/ --quantize all":
        "minutes (int8 calibration); tests/test_export.py",
    "keras-facesr edge run both/ rtsp://": "a camera; tests/test_live.py streams over loopback",
    "python scripts/train_torch.py faces": "fetched data sets; tests/test_train_torch.py exports a "
                                           "faces file from folders",
    "KERAS_BACKEND=torch python scripts/train_torch.py": "PyTorch (a GPU machine); "
                                                         "tests/test_train_torch.py where it is installed",
}

# placeholders of the README's commands -> what the slow run uses
PLACEHOLDERS = {
    "keras_facesr/samples/": f"{SAMPLES}/",
    "runs/x8/generator.keras": str(X8),
    "keras_facesr/weights/": f"{REPO / 'keras_facesr' / 'weights'}/",
    "frame.jpg": "frame.jpg", "footage/": "footage/", "clip.mp4": "clip.mp4", "photos/": "photos/",
    "edge run bundle/": "edge run both/",  # the bundle the no-MODEL export writes (run first)
}
# run in this order (the export before the edge run that reads its bundle)
RUN_ORDER = ["keras-facesr enhance keras_facesr/samples/", "keras-facesr enhance frame.jpg",
             "keras-facesr data align", "keras-facesr data fetch nba", "keras-facesr fit --data nba",
             "keras-facesr models list", "keras-facesr data fetch ids", "keras-facesr evaluate ids",
             "keras-facesr evaluate nba", "keras-facesr export --output both/", "keras-facesr edge run"]


def _not_run(command: str) -> str | None:
    return next((why for start, why in NOT_RUN.items() if command.startswith(start)), None)


def _args(command: str) -> list[str]:
    """The command's arguments after ``keras-facesr`` (optional ``[...]`` parts dropped)."""
    tokens = shlex.split(re.sub(r"\[--[^\]]*\]", "", command))
    while tokens and re.match(r"^[A-Z_]+=", tokens[0]):
        tokens.pop(0)
    return tokens[1:]


def _parse(args: list[str]) -> click.Context:
    """Parse like ``keras-facesr ARGS`` down to the leaf command, without running anything."""
    from keras_facesr.cli import main

    ctx = main.make_context("keras-facesr", list(args))
    command = main
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, command, rest = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, rest, parent=ctx)
    return ctx


def test_the_readme_has_python_and_shell_blocks():
    assert BLOCKS and SHELL_BLOCKS


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code, tmp_path):
    r = subprocess.run([sys.executable, "-c", _substitute(code)], capture_output=True, text=True,
                       cwd=tmp_path, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip()  # each block prints what it shows


def test_every_readme_command_is_run_or_says_why_not():
    commands = shell_commands()
    assert len(commands) > 20
    unknown = [c for c in commands if not _not_run(c)
               and not any(c.startswith(start) for start in RUN_ORDER)]
    assert not unknown, f"README commands neither run by the slow test nor in NOT_RUN: {unknown}"
    for start in [*NOT_RUN, *RUN_ORDER]:  # no stale entry
        assert any(c.startswith(start) for c in commands), f"no README command starts with {start!r}"


@pytest.mark.parametrize("command", [c for c in shell_commands() if "keras-facesr " in c
                                     and not c.startswith("pip ")])
def test_readme_keras_facesr_command_parses(command):
    ctx = _parse(_args(command))
    assert ctx.command.callback is not None


def test_readme_pip_extras_exist():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for command in shell_commands():
        if command.startswith("pip install"):
            for group in re.findall(r"\[([a-z,]+)\]", command):
                assert set(group.split(",")) <= set(extras), command


def _figures(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+", text)]


def _substitute(text: str) -> str:
    """The README's placeholders replaced by real files, in one pass (no re-replacing)."""
    pattern = "|".join(re.escape(p) for p in sorted(PLACEHOLDERS, key=len, reverse=True))
    return re.sub(pattern, lambda m: PLACEHOLDERS[m[0]], text)


def _run(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    command = _substitute(command)
    r = subprocess.run([sys.executable, "-m", "keras_facesr.cli", *_args(command)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, f"{command}\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}"
    return r


@pytest.mark.slow
def test_readme_shell_commands_run_as_written(tmp_path, ported_encoder):
    """Each runnable README command, in a temp folder; the quickstart with and without a model
    cache; printed figures compared with the README's."""
    import cv2
    import numpy as np

    (tmp_path / "footage").mkdir()
    (tmp_path / "photos").mkdir()
    photo = cv2.imread(str(SAMPLES / "solvay_1927_small.jpg"))
    cv2.imwrite(str(tmp_path / "frame.jpg"), photo[100:280, 150:400])
    shutil.copy(SAMPLES / "solvay_1927_small.jpg", tmp_path / "footage")
    for name in os.listdir(SAMPLES):
        if name.endswith(".jpg"):
            shutil.copy(SAMPLES / name, tmp_path / "photos")
    writer = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for k in range(6):
        writer.write(np.roll(photo[100:340, 160:480], k, axis=1))
    writer.release()

    # the README fetches the encoders (`models fetch --all`) before the commands that judge with
    # them: those run with the user's populated cache; the quickstart runs with both
    ported_encoder("dlib-resnet")
    populated = {**os.environ, "KERAS_FACESR_MODELS": str(USER_CACHE / "models")}
    (tmp_path / "no-models").mkdir()
    empty = {**os.environ, "KERAS_FACESR_MODELS": str(tmp_path / "no-models")}
    commands = shell_commands()
    ran = []
    for start in RUN_ORDER:
        for command in [c for c in commands if c.startswith(start) and not _not_run(c)]:
            quickstart = command.startswith("keras-facesr fit")
            r = _run(command, tmp_path, empty if quickstart else populated)
            ran.append(command)
            if quickstart:
                check_quickstart(command, r, tmp_path, populated)
            if command.startswith("keras-facesr evaluate ids --scale 8"):
                check_evaluate_ids(r.stdout)
    assert len(ran) == len([c for c in commands if not _not_run(c)])
    assert (tmp_path / "enhanced" / "solvay_1927_small.jpg").is_file()
    assert (tmp_path / "faces").is_dir() and any((tmp_path / "faces").rglob("*.png"))


def check_quickstart(command: str, first: subprocess.CompletedProcess, cwd: Path, populated: dict) -> None:
    """The same figures whatever the model cache holds, and the ones the README quotes."""
    line = next(x for x in first.stdout.splitlines() if x.startswith("validation:"))
    psnr, bicubic = _figures(line)[:2]
    quoted = re.search(r"held-out PSNR next to bicubic's \((\d+\.\d+) vs (\d+\.\d+) dB", README)
    assert quoted, "the README no longer quotes the quickstart's figures"
    assert abs(psnr - float(quoted[1])) < 0.1 and abs(bicubic - float(quoted[2])) < 0.02, line
    assert psnr > bicubic
    shutil.rmtree(cwd / "runs" / "quickstart")
    again = _run(command, cwd, populated)
    assert next(x for x in again.stdout.splitlines() if x.startswith("validation:")) == line


def check_evaluate_ids(stdout: str) -> None:
    """The README's x8 evaluate line prints the README table's `ids` rows (PSNR, SSIM, dlib
    cosine, AUC), found by the table's column names."""
    lines = stdout.splitlines()
    head = next(k for k, x in enumerate(lines) if x.startswith("method "))
    columns = lines[head].split()
    n = len(columns) - 1  # method names may hold spaces, values do not
    printed = {" ".join(x.split()[:-n]): dict(zip(columns[1:], x.split()[-n:], strict=True))
               for x in lines[head + 2:] if len(x.split()) > n}
    x8 = README.split("**x8 (16")[1].split("**x4")[0]
    header = next(x for x in x8.splitlines() if x.startswith("| set |"))
    names = [c.strip() for c in header.split("|")]
    column = {"psnr": names.index("PSNR (dB)"), "ssim": names.index("SSIM"),
              "id_cosine": names.index("dlib cosine"), "roc_auc": names.index("ROC AUC")}
    rows = x8.splitlines()
    first = next(k for k, x in enumerate(rows) if x.startswith("| ids |"))
    ids = list(itertools.takewhile(lambda x: not x.startswith("| heldout |"), rows[first:]))
    for method, label in (("bicubic", " bicubic |"), ("facesr-edge-x8 w=0.25", "fidelity 0.25 (shipped")):
        cells = [c.strip() for c in next(x for x in ids if label in x).split("|")]
        quoted = {metric: cells[k] for metric, k in column.items()}
        for metric, value in quoted.items():
            assert float(printed[method][metric]) == pytest.approx(float(value), abs=0.0051), (method, metric)
