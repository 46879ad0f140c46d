"""Identity encoders: frozen face-recognition networks E for the loss 1 - cos(E(HR), E(SR)).

An ``IdentityEncoder`` knows its network's input size, input normalisation and the 5-point
alignment template it was trained on. Training faces are aligned to ``CANONICAL_TEMPLATE``;
the encoder maps them onto its own template with a differentiable resize + affine warp
("alignment-aware resize"), so gradients flow from the embedding back to the SR image.

Encoders are registered by name (``register_encoder``) or loaded from a user's ``.keras`` file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import ops

if TYPE_CHECKING:  # annotations only: these modules run on any Keras backend
    import tensorflow as tf

from keras_facesr.errors import FaceSRError
from keras_facesr.templates import ARCFACE_TEMPLATE, CANONICAL_TEMPLATE

# Input normalisations: image in [0, 1] -> network input = (x * scale - mean) / std (per channel).
NORMALISATIONS = {
    "0_1": (1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "-1_1": (1.0, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "0_255": (255.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "arcface": (255.0, (127.5, 127.5, 127.5), (128.0, 128.0, 128.0)),
    "dlib": (255.0, (122.782, 117.001, 104.298), (256.0, 256.0, 256.0)),
    "per_image": None,  # 0..255, then each image standardised by its own mean and std (FaceNet)
}


class EncoderError(FaceSRError, ValueError):
    """An identity encoder cannot be found or loaded (the message says which and why)."""


def similarity_no_rotation(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares scale s and translation t with dst ~ s * src + t (both upright)."""
    sc, dc = src.mean(0), dst.mean(0)
    s = float(((src - sc) * (dst - dc)).sum() / ((src - sc) ** 2).sum())
    return s, dc - s * sc


@dataclass
class IdentityEncoder:
    """A frozen face-recognition model with its input contract."""

    model: keras.Model
    input_size: int
    template: np.ndarray = field(default_factory=lambda: ARCFACE_TEMPLATE.copy())  # fractions
    normalisation: str = "arcface"
    name: str = "encoder"
    content_layers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.normalisation not in NORMALISATIONS:
            raise EncoderError(
                f"encoder {self.name}: unknown normalisation {self.normalisation!r} "
                f"(one of {', '.join(NORMALISATIONS)})"
            )
        self.model.trainable = False
        self.template = np.asarray(self.template, np.float32)
        s, t = similarity_no_rotation(CANONICAL_TEMPLATE, self.template)
        # canonical (fractions) -> encoder (fractions): p_e = s p_c + t. The warp needs the
        # inverse in pixels of the encoder-sized canvas: p_c = (p_e - t n) / s.
        n = self.input_size
        self._warp = None
        if abs(s - 1) > 1e-3 or np.abs(t).max() * n > 0.05:
            self._warp = np.array(
                [1 / s, 0, -t[0] * n / s, 0, 1 / s, -t[1] * n / s, 0, 0], np.float32
            )
        self._features = None

    def prepare(self, faces: tf.Tensor) -> tf.Tensor:
        """Canonically aligned faces in [0, 1], any size -> the network's input (differentiable)."""
        x = ops.cast(faces, "float32")
        x = ops.image.resize(x, (self.input_size, self.input_size), interpolation="bilinear")
        if self._warp is not None:
            x = _warp(x, self._warp)
        if self.normalisation == "per_image":
            x = x * 255.0
            mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
            floor = 1.0 / float(np.sqrt(self.input_size * self.input_size * 3))
            return (x - mean) / ops.maximum(ops.std(x, axis=(1, 2, 3), keepdims=True), floor)
        scale, mean, std = NORMALISATIONS[self.normalisation]
        return (x * scale - ops.convert_to_tensor(mean)) / ops.convert_to_tensor(std)

    def embed(self, faces: tf.Tensor) -> tf.Tensor:
        """Unit-norm embeddings of canonically aligned faces (differentiable)."""
        e = ops.cast(self.model(self.prepare(faces), training=False), "float32")
        e = ops.reshape(e, (ops.shape(e)[0], -1))
        return e / (ops.norm(e, axis=-1, keepdims=True) + 1e-12)

    def features(self, faces: tf.Tensor) -> list[tf.Tensor]:
        """Intermediate feature maps for the content loss."""
        if self._features is None:
            layers = self.content_layers or (default_content_layer(self.model),)
            try:
                outs = [self.model.get_layer(n).output for n in layers]
            except ValueError as e:
                raise EncoderError(f"encoder {self.name}: {e}") from None
            self._features = keras.Model(self.model.inputs, outs, name=f"{self.name}_features")
            self._features.trainable = False
        out = self._features(self.prepare(faces), training=False)
        return [ops.cast(o, "float32") for o in (out if isinstance(out, list) else [out])]


def _warp(x, warp: np.ndarray):
    """Bilinear resampling of NHWC ``x`` by a projective ``warp`` (output pixel -> input pixel,
    as ``ops.image.affine_transform``), edges extended. On the torch backend, whose
    ``affine_transform`` samples image by image, one ``grid_sample`` call for the whole batch
    (affine warps only; the encoders' is a scale and a shift)."""
    if keras.backend.backend() != "torch":
        tiled = ops.tile(ops.convert_to_tensor(warp)[None], [ops.shape(x)[0], 1])
        return ops.image.affine_transform(x, tiled, interpolation="bilinear", fill_mode="nearest")
    import torch
    import torch.nn.functional as F

    n, h, w = x.shape[0], x.shape[1], x.shape[2]
    a0, a1, a2, b0, b1, b2, c0, c1 = (float(v) for v in warp)
    if c0 or c1:
        raise ValueError("_warp on torch takes affine warps only")
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype, device=x.device),
                            torch.arange(w, dtype=x.dtype, device=x.device), indexing="ij")
    # input pixel of each output pixel, then grid_sample's [-1, 1] (align_corners: pixel centres)
    gx = (a0 * xs + a1 * ys + a2) * (2.0 / (w - 1)) - 1.0
    gy = (b0 * xs + b1 * ys + b2) * (2.0 / (h - 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1)[None].expand(n, h, w, 2)
    out = F.grid_sample(x.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode="border",
                        align_corners=True)
    return out.permute(0, 2, 3, 1)


def default_content_layer(model: keras.Model) -> str:
    """The last layer before global pooling/flattening with a 4-D output (a feature map)."""
    spatial = [
        layer.name for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer) and len(layer.output.shape) == 4
    ]
    if not spatial:
        raise EncoderError(f"encoder {model.name}: no layer with a feature-map output")
    return spatial[-1]


class EncoderEnsemble:
    """Several encoders judged together: the identity loss is the mean of theirs, the content
    loss sums their feature maps. Networks trained on different faces and losses disagree on
    what to hallucinate, so the generator cannot please one network's quirks (``sface+faceres``)."""

    def __init__(self, members: list[IdentityEncoder]):
        if len(members) < 2:
            raise EncoderError("an encoder ensemble needs at least two encoders")
        self.members = list(members)
        self.name = "+".join(m.name for m in members)

    def features(self, faces: tf.Tensor) -> list[tf.Tensor]:
        return [f for m in self.members for f in m.features(faces)]


def identity_loss(encoder: IdentityEncoder | EncoderEnsemble, hr: tf.Tensor, sr: tf.Tensor) -> tf.Tensor:
    """Mean over the batch of 1 - cos(E(HR), E(SR)); E(HR) is a constant target (an ensemble:
    the mean over its encoders)."""
    return identity_terms(encoder, hr, sr)[0]


def identity_guard_loss(encoder: IdentityEncoder | EncoderEnsemble, hr: tf.Tensor, sr: tf.Tensor,
                        bicubic: tf.Tensor, margin: float) -> tf.Tensor:
    """Never worse than bicubic, face by face: mean over the batch of
    max(0, margin - (cos(E(HR), E(SR)) - cos(E(HR), E(bicubic)))).

    The plain identity loss is a batch mean, which a large gain on some faces satisfies while
    others end below bicubic; this term is zero on a face whose SR beats its bicubic enlargement
    by ``margin`` and grows as the face falls short (an ensemble: the mean over its encoders).
    """
    return identity_terms(encoder, hr, sr, bicubic, margin)[1]


def identity_terms(
    encoder: IdentityEncoder | EncoderEnsemble, hr: tf.Tensor, sr: tf.Tensor,
    bicubic: tf.Tensor | None = None, margin: float = 0.0,
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """``identity_loss`` and, given the bicubic faces, ``identity_guard_loss``, from one pass of
    the encoder over HR and SR."""
    if isinstance(encoder, EncoderEnsemble):
        terms = [identity_terms(m, hr, sr, bicubic, margin) for m in encoder.members]
        loss_id = ops.mean(ops.stack([t[0] for t in terms]))
        return loss_id, None if bicubic is None else ops.mean(ops.stack([t[1] for t in terms]))
    e_hr = ops.stop_gradient(encoder.embed(hr))
    # Judged as an image: pixels outside [0, 1] get no identity gradient, so the identity term
    # cannot push the generator to out-of-range contrast (at x8 it diverged without this).
    cos_sr = ops.sum(e_hr * encoder.embed(ops.clip(sr, 0.0, 1.0)), axis=-1)
    loss_id = ops.mean(1.0 - cos_sr)
    if bicubic is None:
        return loss_id, None
    e_bicubic = ops.stop_gradient(encoder.embed(ops.clip(bicubic, 0.0, 1.0)))
    return loss_id, ops.mean(ops.relu(margin - (cos_sr - ops.sum(e_hr * e_bicubic, axis=-1))))


# ---------------------------------------------------------------- registry

_REGISTRY: dict[str, Callable[[], IdentityEncoder]] = {}
_AVAILABLE: dict[str, Callable[[], bool]] = {}


def register_encoder(name: str, factory: Callable[[], IdentityEncoder],
                     available: Callable[[], bool] | None = None) -> None:
    """Make ``factory`` available as ``loss.encoder = name``; ``available`` tells cheaply
    whether its weights are on this machine (default: try the factory)."""
    _REGISTRY[name] = factory
    if available is not None:
        _AVAILABLE[name] = available


_builtins_registered = False


def _builtins() -> None:
    """Register the ported networks (``keras_facesr.recognition``) once."""
    global _builtins_registered
    if not _builtins_registered:
        _builtins_registered = True
        from keras_facesr import recognition

        recognition.register()


def registered_encoders() -> list[str]:
    """Names in preference order (the identity loss's ``auto`` takes the first available)."""
    _builtins()
    return list(_REGISTRY)


def available_encoders() -> list[str]:
    """Registered encoders whose weights are present on this machine, in preference order."""
    out = []
    for name in registered_encoders():
        if name in _AVAILABLE:
            if _AVAILABLE[name]():
                out.append(name)
            continue
        try:
            get_encoder(name)
        except EncoderError:
            continue
        out.append(name)
    return out


def get_encoder(spec: str) -> IdentityEncoder | EncoderEnsemble:
    """A registered encoder by name, a user's Keras model file (``.keras``), or several of
    these joined by ``+`` (an :class:`EncoderEnsemble`, e.g. ``sface+faceres``)."""
    _builtins()
    if "+" in spec and spec not in _REGISTRY and not Path(spec).exists():
        return EncoderEnsemble([get_encoder(part.strip()) for part in spec.split("+")])
    if spec in _REGISTRY:
        return _REGISTRY[spec]()
    path = Path(spec)
    if path.suffix == ".keras" or path.exists():
        return load_keras_encoder(path)
    known = ", ".join(registered_encoders()) or "none registered yet"
    raise EncoderError(f"identity encoder {spec!r}: not a registered name ({known}) nor a file")


def load_keras_encoder(
    path: str | Path,
    input_size: int | None = None,
    template: np.ndarray | None = None,
    normalisation: str | None = None,
) -> IdentityEncoder:
    """Load a face-recognition model saved as ``.keras`` (safe mode) as an encoder.

    Its input contract comes from the arguments, else from a sidecar ``<file>.json``
    (``{"input_size": 112, "normalisation": "arcface", "template": [[x, y], ...]}`` with the
    template as fractions of the side), else from the model's input shape with ArcFace defaults.
    """
    from keras_facesr.recognition import dlib_resnet  # noqa: F401 - registers its custom layer

    path = Path(path)
    if not path.is_file():
        raise EncoderError(f"{path}: identity encoder file not found")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - any loader failure is reported the same way
        raise EncoderError(f"{path}: cannot load as a Keras model ({type(e).__name__}: {e})") from e
    meta: dict = {}
    sidecar = path.with_suffix(path.suffix + ".json")
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
        except json.JSONDecodeError as e:
            raise EncoderError(f"{sidecar}: not valid JSON ({e})") from None
    shape = model.inputs[0].shape
    size = input_size or meta.get("input_size") or shape[1]
    if not size:
        raise EncoderError(f"{path}: model input size is dynamic; give input_size in {sidecar}")
    return IdentityEncoder(
        model=model,
        input_size=int(size),
        template=np.asarray(
            template if template is not None else meta.get("template", ARCFACE_TEMPLATE),
            np.float32,
        ),
        normalisation=normalisation or meta.get("normalisation", "arcface"),
        name=meta.get("name", path.stem),
        content_layers=tuple(meta.get("content_layers", ())),
    )
