"""What a trained generator is, for the stages after training: :class:`ModelInfo` (scale, face
size, measured defaults), kept in a sidecar ``NAME.keras.json`` beside the ``.keras`` file that
``fit`` writes, in bundle manifests, and for the generators bundled in ``keras_facesr/weights``."""

from __future__ import annotations

import json
import math
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
    # native face sizes (px) it is sent: one range of sizes where it beats bicubic on every
    # held-out set (where two models do, the one the judge rates higher on most sets)
    face_sizes: tuple[float, float] | None = None
    # the same for grey faces (night-mode cameras, old photos), measured apart: None = face_sizes
    grey_face_sizes: tuple[float, float] | None = None
    # native face sizes fed at their own size instead of resampled to lr_size: a face a little
    # smaller or larger than lr_size loses detail to that resampling (measured, not assumed)
    own_size: tuple[float, float] | None = None
    # the HR -> LR degradation it was trained on (config `degrade` keys); `evaluate` uses it
    # when no --degradation is given, so its held-out PSNR is the one `fit` printed
    degradation: dict | None = None

    @property
    def hr_size(self) -> int:
        return self.lr_size * self.scale

    def sizes_for(self, grey: bool) -> tuple[float, float] | None:
        """The native face sizes it takes: its grey range for a grey face, if it has one."""
        return self.grey_face_sizes if grey and self.grey_face_sizes is not None else self.face_sizes

    def input_side(self, size: float) -> int:
        """The side of the crop a face of native ``size`` px is fed at: its own (rounded)
        within ``own_size``, else ``lr_size``."""
        if self.own_size is not None and self.own_size[0] <= size < self.own_size[1]:
            return max(1, math.floor(size + 0.5))
        return self.lr_size

    def own_sides(self) -> list[int]:
        """Every crop side :meth:`input_side` gives within ``own_size`` (``export`` makes a
        fixed-size TFLite generator for each)."""
        if self.own_size is None:
            return []
        low, high = self.own_size
        return list(range(max(1, math.floor(low + 0.5)), math.ceil(high - 0.5) + 1))

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
    ranges = {key: _size_range(raw, key) for key in ("face_sizes", "grey_face_sizes", "own_size")}
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
                  **ranges, degradation=degradation)
    return ModelInfo(**{**fields, **override})


def ratio_distance(size: float, lr_size: int) -> float:
    """How far a face of native ``size`` px is from a model input of ``lr_size`` px, by ratio:
    the pipeline sends a face to the candidate model whose input is nearest by this."""
    return abs(math.log(max(size, 1.0) / lr_size))


def winning_range(wins: dict[float, bool], lr_size: int) -> tuple[float, float] | None:
    """The ``face_sizes`` a sweep's wins give (``benchmarks/face_size_sweep.py``): the run of
    measured sizes it wins that holds the winning size nearest ``lr_size`` (by ratio), each size
    standing for the faces nearer to it than to the next size measured (half a pixel either way
    at whole sizes: a 16.7 px face is fed as a 17 px one). None when it wins at no size."""
    sizes = sorted(wins)
    won = [s for s in sizes if wins[s]]
    if not won:
        return None
    centre = sizes.index(min(won, key=lambda s: ratio_distance(s, lr_size)))
    low = high = centre
    while low > 0 and wins[sizes[low - 1]]:
        low -= 1
    while high + 1 < len(sizes) and wins[sizes[high + 1]]:
        high += 1
    start = (sizes[low - 1] + sizes[low]) / 2 if low > 0 else sizes[low] - 0.5
    end = (sizes[high] + sizes[high + 1]) / 2 if high + 1 < len(sizes) else sizes[high] + 0.5
    return float(max(start, 0.0)), float(end)


def _size_range(raw: dict, key: str) -> tuple[float, float] | None:
    sizes = raw.get(key)
    if sizes is None:
        return None
    if not isinstance(sizes, list | tuple) or len(sizes) != 2 or not 0 <= float(sizes[0]) < float(sizes[1]):
        raise ValueError(f"{key} must be [low, high] with 0 <= low < high, got {sizes}")
    return float(sizes[0]), float(sizes[1])


def bundled_models() -> list[Path]:
    """Generators shipped inside the package (``keras_facesr/weights/*.keras``)."""
    return sorted(WEIGHTS_DIR.glob("*.keras")) if WEIGHTS_DIR.is_dir() else []
