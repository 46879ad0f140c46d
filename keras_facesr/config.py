"""Training configuration: typed sections, TOML loading, `section.key=value` overrides.

Every error names the bad key and value, e.g. ``loss.gan = 'wgn': must be one of gan, ragan, ...``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from keras_facesr.errors import FaceSRError
from keras_facesr.registry import ADVERSARIAL_LOSSES, DISCRIMINATORS, GENERATORS

# Generators, discriminators and adversarial losses are named in keras_facesr.registry (a plugin
# adds its own there); the smaller choices below are fixed.
RESIZE_METHODS = ("bilinear", "bicubic", "area")
BLUR_TYPES = ("none", "box", "stack", "gaussian", "motion")
CROP_MODES = ("full", "random")
PIXEL_LOSSES = ("l1", "l2")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")


class ConfigError(FaceSRError, ValueError):
    """A configuration key has a bad value (the message names key and value)."""


@dataclass
class ModelConfig:
    generator: str = "edge"
    scale: int = 4
    blocks: int = 0  # 0: the generator's default
    filters: int = 0  # 0: the generator's default
    # srgan (SRGAN's, dense head) | patch | unet (both light, spectral norm, dense logits)
    discriminator: str = "srgan"
    disc_filters: int = 0  # 0: 16 for unet; else 64 for srresnet, 32 for edge
    # auto | batch | spectral | none  (auto: none for WGANs, batch for srgan, else spectral)
    disc_norm: str = "auto"

    def check(self) -> None:
        _one_of("model.generator", self.generator, GENERATORS.names())
        _one_of("model.scale", self.scale, (2, 4, 8))
        _one_of("model.discriminator", self.discriminator, DISCRIMINATORS.names())
        _one_of("model.disc_norm", self.disc_norm, ("auto", "batch", "spectral", "none"))
        _at_least("model.blocks", self.blocks, 0)
        _at_least("model.filters", self.filters, 0)
        if self.disc_filters and self.disc_filters < 4:
            raise ConfigError(f"model.disc_filters = {self.disc_filters!r}: must be 0 or >= 4")


@dataclass
class DegradeConfig:
    """HR -> LR degradation. Lists pick one option per sample."""

    resize: list[str] = field(default_factory=lambda: ["bilinear"])
    antialias: bool = False
    blur: list[str] = field(default_factory=lambda: ["none"])
    blur_radius: float = 2.0
    noise: float = 0.0  # max Gaussian noise std on [0, 1] images; 0 disables
    jpeg_quality: list[int] = field(default_factory=list)  # [low, high]; empty disables
    # [low, high]: each face recorded at a random size in px, then resampled to the model's
    # input as alignment does (faces the pipeline routes to a model are not all its input size)
    native_size: list[int] = field(default_factory=list)
    # HR-side augmentations (keras_facesr.data.augment), shared by LR and HR; 0 disables each.
    jitter: float = 0.0  # framing error: shift/scale up to this fraction, rotation up to 2x rad
    grey: float = 0.0  # probability of a grey face
    gamma: float = 0.0  # exposure: gamma 2^u, |u| <= this
    contrast: float = 0.0  # contrast factor 1 +- this
    spectacles: float = 0.0  # probability of an eyeglass frame drawn over the eyes

    def check(self) -> None:
        self.resize = _as_list(self.resize)
        self.blur = _as_list(self.blur)
        for r in self.resize:
            _one_of("degrade.resize", r, RESIZE_METHODS)
        for b in self.blur:
            _one_of("degrade.blur", b, BLUR_TYPES)
        if not 0 < self.blur_radius <= 25:
            raise ConfigError(f"degrade.blur_radius = {self.blur_radius!r}: must be in (0, 25]")
        if not 0 <= self.noise <= 1:
            raise ConfigError(f"degrade.noise = {self.noise!r}: must be in [0, 1]")
        for key in ("jitter", "grey", "gamma", "contrast", "spectacles"):
            if not 0 <= getattr(self, key) <= 1:
                raise ConfigError(f"degrade.{key} = {getattr(self, key)!r}: must be in [0, 1]")
        n = self.native_size
        if n and (len(n) != 2 or not 4 <= n[0] <= n[1] <= 1024):
            raise ConfigError(f"degrade.native_size = {n!r}: must be [low, high] px with 4 <= low <= high")
        q = self.jpeg_quality
        if q and (len(q) != 2 or not 1 <= q[0] <= q[1] <= 100):
            raise ConfigError(
                f"degrade.jpeg_quality = {q!r}: must be [low, high] with 1 <= low <= high <= 100"
            )


@dataclass
class LossConfig:
    identity: float = 0.1  # lambda_1
    pixel: float = 1.0
    pixel_type: str = "l1"
    adversarial: float = 1e-3  # lambda_0
    content: float = 6e-3  # lambda
    # face-by-face guard: weight of mean(max(0, margin - (cos(E(HR), E(SR)) - cos(E(HR),
    # E(bicubic))))), which penalises each face whose SR is not ahead of bicubic by the margin
    identity_guard: float = 0.0
    identity_guard_margin: float = 0.05
    gan: str = "ragan"
    gp_weight: float = 10.0
    clip_value: float = 0.01
    # identity encoder: "auto" (first available pretrained one; none -> identity and content
    # terms off, with a notice), "none" (those terms off, whatever is installed), a registered
    # name, a path to a .keras model file, or several joined by "+" (an ensemble).
    encoder: str = "auto"
    content_network: str = "encoder"  # "encoder" or a path to VGG19 ImageNet weights (.h5)
    # the encoder's feature maps the content term compares (layer names; empty: its last one)
    content_layers: list[str] = field(default_factory=list)

    def check(self) -> None:
        for key in ("identity", "pixel", "adversarial", "content", "identity_guard",
                    "identity_guard_margin", "gp_weight", "clip_value"):
            _at_least(f"loss.{key}", getattr(self, key), 0.0)
        _one_of("loss.gan", self.gan, ADVERSARIAL_LOSSES.names())
        _one_of("loss.pixel_type", self.pixel_type, PIXEL_LOSSES)
        if self.content_layers and self.content_network != "encoder":
            raise ConfigError(f"loss.content_layers names layers of the identity encoder; with "
                              f"loss.content_network = {self.content_network!r} it would be unused")


@dataclass
class DataConfig:
    crop: str = "full"  # full: whole (aligned) face resized; random: random crops
    val_fraction: float = 0.1
    val_data: str = ""  # a separate validation folder; overrides val_fraction
    flip: bool = True
    shuffle_buffer: int = 1024

    def check(self) -> None:
        _one_of("data.crop", self.crop, CROP_MODES)
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"data.val_fraction = {self.val_fraction!r}: must be in [0, 1)")


@dataclass
class TrainConfig:
    steps: int = 20000
    pretrain_steps: int = 0  # pixel-loss-only steps before the GAN phase
    batch_size: int = 16
    hr_size: int = 128
    steps_per_epoch: int = 200  # also the checkpoint interval
    g_lr: float = 1e-4
    d_lr: float = 1e-4
    d_steps: int = 1
    seed: int = 0
    val_batches: int = 0  # 0: the whole validation split
    loss_threshold: float = 0.0  # stop when `loss_threshold_metric` <= this; 0 disables
    loss_threshold_metric: str = "loss_pixel"
    d_threshold: float = 0.0  # stop when mean D(SR) probability >= this; 0 disables
    early_stopping: int = 0  # patience in epochs on val_psnr; 0 disables
    samples: int = 4  # faces in the before/after grid written each epoch; 0 disables
    tensorboard: bool = True
    strategy: str = "auto"
    precision: str = "float32"
    jit_compile: bool = False
    # a generator file (.keras, same architecture) to start from instead of random weights:
    # fine-tuning, e.g. a bundled model on your own faces
    init: str = ""
    # momentum of an exponential moving average of the generator's weights (Keras' use_ema),
    # updated every generator step and written as the run's generator.keras; 0 disables.
    # Checkpoints keep the raw weights (and the average, in the optimizer state).
    ema: float = 0.0

    def check(self) -> None:
        for key in ("steps", "batch_size", "steps_per_epoch", "d_steps"):
            _at_least(f"train.{key}", getattr(self, key), 1)
        _at_least("train.pretrain_steps", self.pretrain_steps, 0)
        _at_least("train.hr_size", self.hr_size, 16)
        if not 0 <= self.d_threshold < 1:
            raise ConfigError(f"train.d_threshold = {self.d_threshold!r}: must be in [0, 1)")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"train.ema = {self.ema!r}: must be in [0, 1) (0: no average)")
        _one_of("train.strategy", self.strategy, STRATEGIES)
        _one_of("train.precision", self.precision, PRECISIONS)


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    degrade: DegradeConfig = field(default_factory=DegradeConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def check(self) -> Config:
        for f in fields(self):
            getattr(self, f.name).check()
        if self.train.hr_size % self.model.scale:
            raise ConfigError(
                f"train.hr_size = {self.train.hr_size}: must be a multiple of "
                f"model.scale = {self.model.scale}"
            )
        return self

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        lines = []
        for section, values in self.to_dict().items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
            lines.append("")
        return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the TOML file, then ``section.key=value`` overrides; checked."""
    cfg = Config()
    if path:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        for section, values in data.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: top-level key {section!r} must be a [section]")
            for key, value in values.items():
                _set(cfg, f"{section}.{key}", value)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        key, raw = item.split("=", 1)
        _set(cfg, key.strip(), _parse_value(raw.strip()))
    return cfg.check()


def _set(cfg: Config, dotted: str, value: Any) -> None:
    section, _, key = dotted.partition(".")
    names = {f.name for f in fields(cfg)}
    if section not in names or not key:
        raise ConfigError(f"unknown config key {dotted!r} (sections: {', '.join(sorted(names))})")
    sub = getattr(cfg, section)
    types = {f.name: f.type for f in fields(sub)}
    if key not in types:
        raise ConfigError(
            f"unknown config key {dotted!r} (known in [{section}]: {', '.join(sorted(types))})"
        )
    setattr(sub, key, _coerce(dotted, value, types[key], getattr(sub, key)))


def _coerce(key: str, value: Any, type_name: Any, default: Any) -> Any:
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is str:
        if isinstance(value, str):
            return value
    elif kind is list:
        if isinstance(value, str | int):
            return [value]
        if isinstance(value, list):
            return value
    raise ConfigError(f"{key} = {value!r}: expected {type_name}")


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw  # a bare string


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def _as_list(v: Any) -> list:
    return v if isinstance(v, list) else [v]


def _one_of(key: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{key} = {value!r}: must be one of {', '.join(map(str, allowed))}")


def _at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(f"{key} = {value!r}: must be >= {low}")
