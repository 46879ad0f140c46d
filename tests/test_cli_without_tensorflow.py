"""The TensorFlow commands on an install without TensorFlow (the [edge] extra): one line, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

BLOCK = ("import sys; sys.modules['tensorflow'] = None; sys.argv[0] = 'keras-facesr'; "
         "from keras_facesr.cli import main; main()")


@pytest.mark.parametrize("args", [
    ["fit", "--data", "{tmp}", "--output", "{tmp}/run"],
    ["enhance", "keras_facesr/samples/astronaut.jpg", "--output", "{tmp}/out"],
    ["evaluate", "{tmp}", "--judge", "none"],
    ["export", "keras_facesr/weights/facesr_edge_x4.keras", "--output", "{tmp}/bundle"],
    ["benchmark", "keras_facesr/weights/facesr_edge_x4.keras"],
    ["data", "fetch", "ids", "--cache", "{tmp}/cache"],
    ["data", "align", "{tmp}", "--output", "{tmp}/aligned"],
    ["models", "fetch", "sface", "--cache", "{tmp}/cache"],
])
def test_tensorflow_commands_say_what_to_install(args, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = subprocess.run([sys.executable, "-c", BLOCK, *argv], capture_output=True, text=True,
                       cwd=REPO, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs TensorFlow" in lines[0] and "keras-facesr[train]" in lines[0]
    assert f"`{' '.join(args[:2]) if args[0] in ('data', 'models') else args[0]}`" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written (no config.toml)
