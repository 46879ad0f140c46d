"""What a trained generator is, for the stages after training: :class:`ModelInfo` (scale, face
size, measured defaults), kept in a sidecar ``NAME.keras.json`` beside the ``.keras`` file that
``fit`` writes, in bundle manifests, and for the generators bundled in ``keras_facesr/weights``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from keras_facesr.errors import FaceSRError
from keras_facesr.images import write_bytes_atomic


class ModelFileError(FaceSRError, ValueError):
    """A generator file or its description cannot be used (the message names the file)."""


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
    # the HR -> LR degradation it was trained on (config `degrade` keys); `evaluate` uses it
    # when no --degradation is given, so its held-out PSNR is the one `fit` printed
    degradation: dict | None = None

    @property
    def hr_size(self) -> int:
        return self.lr_size * self.scale

    def describe(self) -> str:
        return f"{self.name} (x{self.scale}, {self.lr_size}->{self.hr_size} px)"


# the keys of data.degrade.Degradation.to_config (a sidecar's "degradation")
DEGRADATION_KEYS = {"resize", "antialias", "blur", "blur_radius", "noise", "jpeg_quality", "native_size"}


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
        raise ModelFileError(f"{path}: not a valid model description ({e})") from None


def info_from_dict(raw: dict, **override) -> ModelInfo:
    """A ModelInfo from its JSON form (a sidecar or a bundle manifest); ValueError if invalid."""
    sizes = raw.get("face_sizes")
    if sizes is not None and (len(sizes) != 2 or not 0 <= float(sizes[0]) < float(sizes[1])):
        raise ValueError(f"face_sizes must be [low, high] with 0 <= low < high, got {sizes}")
    degradation = raw.get("degradation")
    if degradation is not None and (not isinstance(degradation, dict)
                                    or not set(degradation) <= DEGRADATION_KEYS):
        raise ValueError(f"degradation must be an object with keys among {sorted(DEGRADATION_KEYS)}")
    fidelity = float(raw.get("fidelity", 1.0))
    if not 0.0 <= fidelity <= 1.0:
        raise ValueError(f"fidelity must be between 0 and 1, got {fidelity}")
    fields = dict(name=str(raw["name"]), scale=int(raw["scale"]), lr_size=int(raw["lr_size"]),
                  template=str(raw.get("template", "canonical")),
                  identity_encoder=raw.get("identity_encoder"), fidelity=fidelity,
                  face_sizes=tuple(float(v) for v in sizes) if sizes is not None else None,
                  degradation=degradation)
    return ModelInfo(**{**fields, **override})


def bundled_models() -> list[Path]:
    """Generators shipped inside the package (``keras_facesr/weights/*.keras``)."""
    return sorted(WEIGHTS_DIR.glob("*.keras")) if WEIGHTS_DIR.is_dir() else []
