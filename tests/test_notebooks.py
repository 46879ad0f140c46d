"""The Colab notebooks: run end to end (tiny settings, slow set), in order, so they cannot rot;
stored with the outputs of one default run; install cells from the one setting."""

from __future__ import annotations

import json
import re
import sys
from unittest import mock

import pytest
from conftest import REPO, USER_CACHE

sys.path.insert(0, str(REPO / "scripts"))
import notebooks as tool  # noqa: E402  (scripts/notebooks.py)

NOTEBOOKS = tool.NOTEBOOKS


def _code(name: str) -> list[str]:
    nb = json.loads((REPO / "notebooks" / name).read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_install_cell_is_the_one_scripts_notebooks_writes(name):
    assert tool.install_cell(tool.EXTRAS[name], tool.notebook_source()) in _code(name)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_are_stored_with_the_outputs_of_a_default_run(name):
    nb = json.loads((REPO / "notebooks" / name).read_text())
    assert nb["metadata"].get("keras_facesr", {}).get("tiny") is False, "run scripts/notebooks.py --execute"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code)
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    if name != "02_export_tflite.ipynb":  # the figures are visible where the notebook is browsed
        assert any("image/png" in o.get("data", {}) for c in code for o in c["outputs"])


@pytest.mark.parametrize("source", ["", "git+https://example.org/keras-facesr"])
def test_install_cell_installs_the_checkout_or_the_source(source, tmp_path, monkeypatch):
    cell = tool.install_cell("train", source)
    with mock.patch("importlib.util.find_spec", return_value=None), \
            mock.patch("subprocess.check_call") as pip:
        monkeypatch.chdir(REPO / "notebooks")  # inside a checkout: the checkout, editable
        exec(cell, {})
        assert pip.call_args[0][0][-2:] == ["-e", f"{REPO}[train]"]
        monkeypatch.chdir(tmp_path)  # elsewhere (Colab): SOURCE, or one clear line if unset
        if source:
            exec(cell, {})
            assert pip.call_args[0][0][-1] == f"{source}[train]"
        else:
            with pytest.raises(SystemExit, match="not published yet"):
                exec(cell, {})


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
