"""The Colab notebooks run end to end (tiny settings), in order, so they cannot rot."""

from __future__ import annotations

import re

import pytest
from conftest import REPO, USER_CACHE

NOTEBOOKS = ["01_train.ipynb", "02_export_tflite.ipynb", "03_on_device.ipynb"]


@pytest.mark.slow
def test_notebooks_execute(tmp_path, monkeypatch, nba_faces):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("KERAS_FACESR_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("KERAS_FACESR_MODELS", str(USER_CACHE / "models"))  # reuse conversions
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
        nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
        outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                          for o in c.get("outputs", []))
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (name, errors)
        if name == "03_on_device.ipynb":
            assert "TensorFlow imported: False" in outputs
            photo = re.search(r"(\d+) faces, (\d+) super-resolved", outputs)
            assert photo and int(photo[1]) >= 25 and int(photo[2]) >= 25, outputs[-2000:]
            video = re.search(r"(\d+) faces super-resolved", outputs)
            assert video and int(video[1]) > 0, outputs[-2000:]
            assert (tmp_path / "enhanced" / "clip.avi").is_file()
    assert (tmp_path / "bundle" / "manifest.json").is_file()
