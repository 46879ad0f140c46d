"""Can a face that SR makes worse be found at inference time? Identity drift vs the judge's gain.

    python benchmarks/identity_drift.py [--data nba:val ids heldout] [--guards sface faceres]
        [--judge dlib-resnet] [--model G.keras ...]

A guard at inference can only compare the SR face with what it has: the bicubic face. Per
held-out face (shrunk by area averaging to each bundled model's input) this prints the drift
under a guard network, 1 - cos(E(bicubic), E(SR)) at the model's fidelity, and its correlation
with the independent judge's gain, cos(J(HR), J(SR)) - cos(J(HR), J(bicubic)). A usable guard
needs a clearly negative correlation (more drift, less gain); the per-set share of faces the
judge finds worse is printed beside it.

Two guards need no network: ``flip``, how much the model disagrees with itself on the mirrored
face, mean |SR(x) - mirror(SR(mirror(x)))| (where it is unsure, it may be inventing), and
``consistency``, how far the SR face shrunk back is from its input, mean |area(SR) - LR|.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_facesr.data.degrade import Degradation  # noqa: E402
from keras_facesr.data.pipeline import heldout_lr  # noqa: E402
from keras_facesr.data.sources import resolve_data_dirs  # noqa: E402
from keras_facesr.evaluate import prepare_faces, read_faces, select_split  # noqa: E402
from keras_facesr.images import downscale_area, upscale_bicubic  # noqa: E402
from keras_facesr.models.info import bundled_models  # noqa: E402
from keras_facesr.pipeline.fidelity import blend  # noqa: E402
from keras_facesr.pipeline.sr import KerasSR  # noqa: E402
from keras_facesr.recognition.encoders import get_encoder  # noqa: E402

PIXEL_GUARDS = ("flip", "consistency")


def unit_embed(encoder, faces: np.ndarray) -> np.ndarray:
    e = np.concatenate([np.asarray(encoder.embed(faces[i:i + 32])) for i in range(0, len(faces), 32)])
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def load(spec: str):
    """A held-out set as ``evaluate --aligned`` reads it: HR faces and their files."""
    name, _, split = spec.partition(":")
    roots = resolve_data_dirs(name)
    faceset = select_split(read_faces(roots), roots, split or "all")
    hr, ok = prepare_faces(faceset.files, 128, True, lambda m: None)
    return hr, [faceset.files[k] for k in ok]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["nba:val", "ids", "heldout"])
    p.add_argument("--guards", nargs="+", default=["sface", "faceres"],
                   help=f"Encoders, or {' / '.join(PIXEL_GUARDS)} (no network).")
    p.add_argument("--judge", default="dlib-resnet")
    p.add_argument("--model", action="append", type=Path, help="Default: the bundled ones.")
    args = p.parse_args()
    judge = get_encoder(args.judge)
    guards = {name: None if name in PIXEL_GUARDS else get_encoder(name) for name in args.guards}
    sets = {spec: load(spec) for spec in args.data}
    for path in args.model or bundled_models():
        model = KerasSR(path)
        degradation = Degradation(model.info.scale, resize=["area"])
        for spec, (hr, files) in sets.items():
            lr = heldout_lr(hr, files, degradation)
            bicubic = upscale_bicubic(lr, hr.shape[1:3])
            sr = blend(lr, model(lr), model.info.fidelity)
            e_hr = unit_embed(judge, hr)
            gain = (np.sum(unit_embed(judge, sr) * e_hr, 1) - np.sum(unit_embed(judge, bicubic) * e_hr, 1))
            line = (f"{model.info.name} w={model.info.fidelity:g} {spec:8s} {len(hr):3d} faces: "
                    f"mean gain {gain.mean():+.4f}, worse {np.mean(gain < 0):4.0%}")
            for name, guard in guards.items():
                if name == "flip":
                    mirrored = blend(lr[:, :, ::-1], model(lr[:, :, ::-1]), model.info.fidelity)[:, :, ::-1]
                    drift = np.mean(np.abs(sr - mirrored), axis=(1, 2, 3))
                elif name == "consistency":
                    drift = np.mean(np.abs(downscale_area(sr, lr.shape[1:3]) - lr), axis=(1, 2, 3))
                else:
                    drift = 1 - np.sum(unit_embed(guard, sr) * unit_embed(guard, bicubic), 1)
                corr = np.corrcoef(drift, gain)[0, 1]
                line += f"; {name} drift {drift.mean():.3f}, corr(drift, gain) {corr:+.2f}"
            print(line)


if __name__ == "__main__":
    main()
