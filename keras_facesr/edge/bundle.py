"""An exported bundle (``keras-facesr export``) as a ready pipeline: TFLite MTCNN + TFLite
generator inside :class:`keras_facesr.pipeline.enhance.FaceEnhancer`. No TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from keras_facesr.edge.litert import EdgeError, TFLiteModel, gpu_delegate
from keras_facesr.edge.mtcnn import TFLiteMTCNN
from keras_facesr.models.info import ModelInfo, info_from_dict
from keras_facesr.pipeline.enhance import FaceEnhancer

BUNDLE_FORMAT = "keras-facesr-bundle/1"  # one generator (+ MTCNN)
MULTI_BUNDLE_FORMAT = "keras-facesr-bundle/2"  # several generators, each in a sub-folder, + MTCNN
QUANT_PREFERENCE = ("fp32", "fp16", "dynamic", "int8")


class TFLiteSR:
    """A bundled generator (static input, batch 1) as a super-resolution back-end: one TFLite
    file per square input side it was exported at (its face size, and the sides faces are fed
    at their own size); a crop of another side is resized to the face size first."""

    fixed_input = True

    def __init__(self, paths: dict[int, Path], info: ModelInfo, threads: int = 2, delegate=None):
        self.models = {side: TFLiteModel(path, threads, delegate) for side, path in paths.items()}
        self.info = info

    @property
    def input_sides(self) -> frozenset[int]:
        return frozenset(self.models)

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        out = []
        for face in lr:
            h, w = face.shape[:2]
            side = h if h == w and h in self.models else self.info.lr_size
            if face.shape[:2] != (side, side):
                face = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
            out.append(self.models[side](face[None])[0][0])
        if not out:
            return np.zeros((0, 0, 0, 3), np.float32)
        return np.clip(np.stack(out), 0.0, 1.0)


def read_manifest(bundle: str | Path, need_detector: bool = True) -> dict:
    """The bundle's manifest, checked; ``need_detector=False`` accepts a generator-only one."""
    bundle = Path(bundle)
    path = bundle / "manifest.json"
    if not path.is_file():
        raise EdgeError(f"{bundle}: not a keras-facesr bundle (no manifest.json); make one with "
                        "`keras-facesr export MODEL --tflite --output DIR`")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EdgeError(f"{path}: not valid JSON ({e})") from None
    if manifest.get("format") == MULTI_BUNDLE_FORMAT:
        names = manifest.get("generators")
        if not isinstance(names, list) or not names or (need_detector and not manifest.get("detector")):
            raise EdgeError(f"{path}: the bundle has no generator or no MTCNN files")
        for name in names:
            if not isinstance(name, str) or Path(name).name != name or name.startswith("."):
                raise EdgeError(f"{path}: bad generator folder name {name!r}")
        return manifest
    if manifest.get("format") != BUNDLE_FORMAT:
        raise EdgeError(f"{path}: format {manifest.get('format')!r}, this runtime reads "
                        f"{BUNDLE_FORMAT} and {MULTI_BUNDLE_FORMAT}")
    if not manifest.get("models") or (need_detector and not manifest.get("detector")):
        raise EdgeError(f"{path}: the bundle has no generator or no MTCNN files")
    return manifest


def _generator(folder: Path, manifest: dict, quantize: str | None, threads: int, delegate) -> TFLiteSR:
    """The generator of a one-generator manifest: ``quantize``, default the most precise one
    exported at the model's face size."""
    lr = manifest["lr_size"]
    square = [m for m in manifest["models"] if m["input_size"] == [lr, lr]]
    if quantize:
        square = [m for m in square if m["quantize"] == quantize]
    if not square:
        have = ", ".join(f"{m['file']}" for m in manifest["models"])
        raise EdgeError(f"{folder}: no {quantize or ''} generator for {lr}x{lr} faces (has: {have})")
    chosen = min(square, key=lambda m: QUANT_PREFERENCE.index(m["quantize"]))
    info = info_from_dict(manifest, name=f"{manifest['name']} ({chosen['quantize']})", lr_size=lr)
    # the same quantisation at every other square side it was exported at
    files = {m["input_size"][0]: folder / m["file"] for m in manifest["models"]
             if m["quantize"] == chosen["quantize"] and m["input_size"][0] == m["input_size"][1]}
    return TFLiteSR(files, info, threads, delegate)


def load(
    bundle: str | Path,
    quantize: str | None = None,
    threshold: float | None = None,
    min_confidence: float = 0.9,
    min_face: int = 12,
    threads: int = 2,
    use_gpu: bool = True,
    upscale: float = 1.0,
) -> FaceEnhancer:
    """The pipeline of ``bundle``: its generators (``quantize``, default the most precise one
    exported at each model's face size) and its MTCNN; GPU delegate when available. Faces go to
    the generators by size as in ``enhance``."""
    bundle = Path(bundle)
    manifest = read_manifest(bundle)
    delegate = gpu_delegate(use_gpu)
    if manifest["format"] == MULTI_BUNDLE_FORMAT:
        generators = [_generator(bundle / name, read_manifest(bundle / name, need_detector=False),
                                 quantize, threads, delegate) for name in manifest["generators"]]
    else:
        generators = [_generator(bundle, manifest, quantize, threads, delegate)]
    det = manifest["detector"]
    detector = TFLiteMTCNN(bundle / det["pnet"], bundle / det["rnet"], bundle / det["onet"],
                           min_confidence, min_face, threads, delegate)
    return FaceEnhancer(generators, threshold, detector=detector, min_confidence=min_confidence,
                        min_face=min_face, upscale=upscale)
