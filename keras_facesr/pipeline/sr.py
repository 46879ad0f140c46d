"""Super-resolution back-ends for the pipeline: a trained Keras generator (here) or a TFLite
file (``keras_facesr.edge``). Each takes aligned LR face crops and returns SR crops.

A generator saved by ``fit`` has a sidecar ``NAME.keras.json`` (:class:`ModelInfo`): its scale
and the face-crop side it was trained on. TensorFlow is imported only when a Keras model loads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from keras_facesr.images import write_bytes_atomic

WEIGHTS_DIR = Path(__file__).parents[1] / "weights"


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline needs to know of a generator."""

    name: str
    scale: int
    lr_size: int  # side of the aligned LR face crop it takes (canonical template)
    template: str = "canonical"
    identity_encoder: str | None = None  # the network in its identity loss, if any
    # Measured defaults for the pipeline (benchmarks/face_size_sweep.py on held-out sets):
    fidelity: float = 1.0  # blend toward bicubic: 1 = the generator's face, 0 = bicubic
    face_sizes: tuple[float, float] | None = None  # native face sizes (px) it beats bicubic on

    @property
    def hr_size(self) -> int:
        return self.lr_size * self.scale

    def describe(self) -> str:
        return f"{self.name} (x{self.scale}, {self.lr_size}->{self.hr_size} px)"


class SuperResolver(Protocol):
    info: ModelInfo
    fixed_input: bool  # True: only (lr_size, lr_size) crops (e.g. TFLite with static shapes)

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        """(N, h, w, 3) float32 RGB in [0, 1] -> (N, h*scale, w*scale, 3) in [0, 1]."""


def info_path(model_path: str | Path) -> Path:
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".json")


def write_model_info(model_path: str | Path, info: ModelInfo) -> None:
    write_bytes_atomic(info_path(model_path), json.dumps(asdict(info), indent=2).encode())


def read_model_info(model_path: str | Path) -> ModelInfo | None:
    """The sidecar's ModelInfo, or None when there is none; ValueError naming a bad one."""
    path = info_path(model_path)
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        return info_from_dict(raw)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a valid model description ({e})") from None


def info_from_dict(raw: dict, **override) -> ModelInfo:
    """A ModelInfo from its JSON form (a sidecar or a bundle manifest); ValueError if invalid."""
    sizes = raw.get("face_sizes")
    if sizes is not None and (len(sizes) != 2 or not 0 <= float(sizes[0]) < float(sizes[1])):
        raise ValueError(f"face_sizes must be [low, high] with 0 <= low < high, got {sizes}")
    fidelity = float(raw.get("fidelity", 1.0))
    if not 0.0 <= fidelity <= 1.0:
        raise ValueError(f"fidelity must be between 0 and 1, got {fidelity}")
    fields = dict(name=str(raw["name"]), scale=int(raw["scale"]), lr_size=int(raw["lr_size"]),
                  template=str(raw.get("template", "canonical")),
                  identity_encoder=raw.get("identity_encoder"), fidelity=fidelity,
                  face_sizes=tuple(float(v) for v in sizes) if sizes is not None else None)
    return ModelInfo(**{**fields, **override})


def bundled_models() -> list[Path]:
    """Generators shipped inside the package (``keras_facesr/weights/*.keras``)."""
    return sorted(WEIGHTS_DIR.glob("*.keras")) if WEIGHTS_DIR.is_dir() else []


class KerasSR:
    """A Keras generator (``.keras`` file or model) as a pipeline back-end; uses a GPU if present."""

    fixed_input = False

    def __init__(self, model, lr_size: int | None = None, name: str | None = None,
                 batch_size: int = 8):
        import tensorflow as tf

        from keras_facesr.models.archs.generator import load_generator

        info = None
        if isinstance(model, str | Path):
            info = read_model_info(model)
            name = name or Path(model).stem
            model = load_generator(model)
        self.model = model
        # Faces per call: on 2 CPU cores the bundled x4 generator takes ~12 ms a face in calls of
        # 4-12 faces and ~18 ms in calls of 24 (larger activations fall out of cache).
        self.batch_size = batch_size
        # Compiled for the face-crop size (the batch dimension left open); other sizes run eagerly
        # (--aligned crops of any size: a graph with unknown sizes cannot hold UpSampling2D).
        self._compiled = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        if info is None:
            probe = np.zeros((1, 8, 8, 3), np.float32)
            scale = int(model(probe, training=False).shape[1]) // 8
            info = ModelInfo(name or model.name, scale, lr_size or 128 // scale)
        elif lr_size:
            info = replace(info, lr_size=lr_size)
        self.info = info

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        lr = np.asarray(lr, np.float32)
        fixed = lr.shape[1:3] == (self.info.lr_size, self.info.lr_size)
        run = self._compiled if fixed else (lambda x: self.model(x, training=False))
        out = [np.asarray(run(lr[i : i + self.batch_size])) for i in range(0, len(lr), self.batch_size)]
        return np.clip(np.concatenate(out), 0.0, 1.0) if out else np.zeros((0, 0, 0, 3), np.float32)
