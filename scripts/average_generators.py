"""Average the weights of generators of one architecture (a uniform "model soup").

    python scripts/average_generators.py OUT.keras A.keras B.keras [...] [--info FROM.keras]

Runs fine-tuned from one parent (e.g. the stage-5 runs of ``scripts/train_default_models.sh``,
each resumed from the shipped x4) can be averaged into one generator of the same size and
speed (Wortsman et al., 2022). The routing sidecar (``.keras.json``: ranges, fidelity) is
copied from ``--info`` (default: the first input), since the average has not been swept.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_facesr.errors import FaceSRError  # noqa: E402
from keras_facesr.models.archs import (
    load_generator,  # noqa: E402
    save_generator,  # noqa: E402
)
from keras_facesr.models.info import ModelFileError, read_model_info, write_model_info  # noqa: E402


def average_generators(inputs: list[Path], out: Path, info_from: Path | None = None) -> None:
    """Write the mean of the inputs' weights to ``out`` (atomically), with a routing sidecar."""
    if len(inputs) < 2:
        raise ValueError("give at least two generators to average")
    models = [load_generator(p) for p in inputs]
    shapes = [tuple(w.shape) for w in models[0].weights]
    for p, m in zip(inputs[1:], models[1:], strict=True):
        if [tuple(w.shape) for w in m.weights] != shapes:
            raise ModelFileError(f"{p}: its architecture differs from {inputs[0]}'s")
    weights = [m.get_weights() for m in models]
    models[0].set_weights([np.mean(ws, axis=0) for ws in zip(*weights, strict=True)])
    save_generator(models[0], out)
    info = read_model_info(info_from or inputs[0])
    if info is not None:
        write_model_info(out, info)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("inputs", type=Path, nargs="+")
    p.add_argument("--info", type=Path, help="Whose .keras.json to copy (default: the first input's).")
    args = p.parse_args()
    try:
        average_generators(args.inputs, args.out, args.info)
    except (FaceSRError, OSError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(f"{args.out}: mean of {len(args.inputs)} generators")


if __name__ == "__main__":
    main()
