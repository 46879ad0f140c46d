"""The notebooks' install cell, from one setting, and their stored outputs, from one executed run.

    python scripts/notebooks.py --sync        # rewrite each install cell from pyproject.toml
    python scripts/notebooks.py --execute     # run all three in order (their default, small
                                              # settings) and store them with their outputs

Where a fresh machine (Colab) installs keras-facesr from is set once, in ``pyproject.toml``:
``[tool.keras-facesr] notebook-source`` (a pip requirement: ``git+https://...`` of the
repository before the package is on PyPI, ``keras-facesr`` after). Inside a checkout the cell
installs the checkout itself (``pip install -e``). ``tests/test_notebooks.py`` fails when a
cell differs from what ``--sync`` writes, or when a notebook is stored without its outputs.

``--execute`` runs the notebooks in a temporary folder, as a user would (the model cache is the
user's: ``KERAS_FACESR_MODELS`` is honoured), and replaces each notebook only when all three ran
without an error; each write is atomic.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_train.ipynb", "02_export_tflite.ipynb", "03_on_device.ipynb"]
EXTRAS = {"01_train.ipynb": "train", "02_export_tflite.ipynb": "train,edge", "03_on_device.ipynb": "edge"}
MARK = "# Install (Colab or any fresh machine)"


def notebook_source() -> str:
    """The one setting: where a machine without a checkout installs keras-facesr from."""
    tool = tomllib.loads((REPO / "pyproject.toml").read_text()).get("tool", {}).get("keras-facesr", {})
    return str(tool.get("notebook-source", ""))


def install_cell(extras: str, source: str) -> str:
    """The install cell's code for a notebook needing ``extras``."""
    return f'''{MARK}; skipped when keras-facesr is importable.
# Inside a checkout it installs the checkout; elsewhere SOURCE, set for every notebook in
# pyproject.toml ([tool.keras-facesr] notebook-source) by `python scripts/notebooks.py --sync`.
import importlib.util, pathlib, subprocess, sys
SOURCE = {source!r}
if importlib.util.find_spec("keras_facesr") is None:
    here = next((p for p in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]
                 if 'name = "keras-facesr"' in ((p / "pyproject.toml").read_text()
                                                if (p / "pyproject.toml").is_file() else "")), None)
    if here is None and not SOURCE:
        raise SystemExit("keras-facesr is not published yet: open this notebook from a clone of its "
                         "repository, or set SOURCE to the repository (git+https://...)")
    target = f"{{here}}[{extras}]" if here else f"{{SOURCE}}[{extras}]"
    editable = ["-e"] if here else []
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *editable, target])'''


def sync(nb, name: str) -> bool:
    """Rewrite the install cell of ``nb`` (an nbformat notebook); True if it changed."""
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(MARK))
    want = install_cell(EXTRAS[name], notebook_source())
    changed = cell.source != want
    cell.source = want
    return changed


# Python-side log lines that reach a kernel's streams beside the native ones the CLI hides
# (keras_facesr.cli.NATIVE_NOISE): TensorFlow's INFO logger, LiteRT's delegate line, the
# TFLite converter's summary
PYTHON_NOISE = re.compile(r"^(INFO:tensorflow:|INFO: Created TensorFlow Lite|fully_quantize: \d)")


def drop_log_noise(nb) -> None:
    """Remove the log lines the CLI hides, and :data:`PYTHON_NOISE`, from every stream output;
    outputs left empty go."""
    from keras_facesr.cli import NATIVE_NOISE

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream":
                out.text = "".join(line for line in out.text.splitlines(keepends=True)
                                   if not (NATIVE_NOISE.match(line) or PYTHON_NOISE.match(line)))
                if not out.text.strip():
                    continue
            kept.append(out)
        cell.outputs = kept


def write_atomic(path: Path, nb) -> None:
    import nbformat

    from keras_facesr.images import write_bytes_atomic

    write_bytes_atomic(path, (nbformat.writes(nb) + "\n").encode())


def execute() -> None:
    import nbclient
    import nbformat

    work = Path(tempfile.mkdtemp(prefix="keras-facesr-notebooks-"))
    done = []
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
        sync(nb, name)
        print(f"{name}: running in {work} ...", flush=True)
        nbclient.NotebookClient(nb, timeout=7200, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}}).execute()
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            sys.exit(f"{name}: a cell failed ({errors[0].get('ename')}: {errors[0].get('evalue')}); "
                     "no notebook was replaced")
        drop_log_noise(nb)
        nb.metadata["keras_facesr"] = {"executed": datetime.date.today().isoformat(),
                                       "by": "python scripts/notebooks.py --execute", "tiny": False}
        done.append((name, nb))
    for name, nb in done:
        write_atomic(REPO / "notebooks" / name, nb)
        print(f"{name}: stored with its outputs")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sync", action="store_true", help="Rewrite the install cells.")
    p.add_argument("--execute", action="store_true", help="Run the notebooks and store their outputs.")
    args = p.parse_args()
    if not (args.sync or args.execute):
        p.error("give --sync and/or --execute")
    if os.environ.get("KERAS_FACESR_NOTEBOOK_TINY") == "1":
        sys.exit("KERAS_FACESR_NOTEBOOK_TINY=1 is set: stored outputs come from the default settings")
    if args.execute:
        execute()
    elif args.sync:
        import nbformat

        for name in NOTEBOOKS:
            path = REPO / "notebooks" / name
            nb = nbformat.read(path, as_version=4)
            if sync(nb, name):
                write_atomic(path, nb)
                print(f"{name}: install cell rewritten")


if __name__ == "__main__":
    main()
