"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``; 150 x 150 chip ->
128-d) as a Keras 3 model, with the weights of face-api.js' port (npm ``@vladmandic/face-api``:
``model/face_recognition_model-weights_manifest.json`` + ``.bin``, uint8-quantised).

The architecture follows face-api.js' ``faceRecognitionNet``: 7x7/2 conv + per-channel scale +
ReLU, 3x3/2 max-pool, residual blocks (conv-scale-ReLU, conv-scale, add, ReLU) at 32/64/128/256
channels, down-sampling blocks whose shortcut is a 2x2 average pool with zero channels appended
(the main path padded by one zero row/column when the sizes differ), global mean, 256x128 matrix.
Input: RGB minus the mean [122.782, 117.001, 104.298], divided by 256 (dlib's own scaling).
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
from keras import layers as L
from keras import ops

INPUT_SIZE = 150
MEAN_RGB = (122.782, 117.001, 104.298)
BLOCKS = [("conv32", 32, 3), ("conv64", 64, 3), ("conv128", 128, 2), ("conv256", 256, 2)]


@keras.saving.register_keras_serializable(package="keras_facesr")
class PadChannels(keras.layers.Layer):
    """Append ``extra`` all-zero channels."""

    def __init__(self, extra: int, **kwargs):
        super().__init__(**kwargs)
        self.extra = extra

    def call(self, x):
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, self.extra]])

    def compute_output_shape(self, shape):
        return (*shape[:3], shape[3] + self.extra)

    def get_config(self):
        return {**super().get_config(), "extra": self.extra}


def read_face_api_weights(manifest: str | Path) -> dict[str, np.ndarray]:
    """Tensors of a face-api.js weights manifest (uint8-quantised: ``q * scale + min``)."""
    manifest = Path(manifest)
    groups = json.loads(manifest.read_text())
    out = {}
    for group in groups:
        data = b"".join((manifest.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            n = int(np.prod(spec["shape"])) if spec["shape"] else 1
            quant = spec.get("quantization")
            if quant:
                dtype = np.dtype(quant["dtype"])
                raw = np.frombuffer(data, dtype, n, offset)
                if "scale" in quant:
                    value = raw.astype(np.float32) * quant["scale"] + quant["min"]
                else:
                    value = raw.astype(np.float32)
            else:
                dtype = np.dtype(spec["dtype"])
                value = np.frombuffer(data, dtype, n, offset).astype(np.float32)
            offset += n * dtype.itemsize
            out[spec["name"]] = value.reshape(spec["shape"])
        if offset != len(data):
            raise ValueError(f"{manifest}: weights use {offset} of {len(data)} bytes")
    return out


def build(weights: dict[str, np.ndarray] | None = None) -> keras.Model:
    """The network; with ``weights`` (face-api.js names) loaded, scale layers folded into convs."""
    pending = []

    def conv(x, prefix, strides, relu, padding="same"):
        filters = (weights or {}).get(f"{prefix}/conv/filters")
        k = 7 if x.shape[-1] == 3 else 3  # the stem is 7x7, every other conv 3x3
        n = _channels(prefix)
        layer = L.Conv2D(n, k, strides, padding, name=prefix.replace("/", "_"))
        x = layer(x)
        if weights is not None:
            w = weights[f"{prefix}/scale/weights"]
            pending.append((layer, [filters * w, weights[f"{prefix}/conv/bias"] * w
                                    + weights[f"{prefix}/scale/biases"]]))
        return L.ReLU(name=prefix.replace("/", "_") + "_relu")(x) if relu else x

    def residual(x, name):
        y = conv(x, f"{name}/conv1", 1, True)
        y = conv(y, f"{name}/conv2", 1, False)
        return L.ReLU(name=f"{name}_out")(L.Add(name=f"{name}_add")([y, x]))

    def residual_down(x, name):
        y = conv(x, f"{name}/conv1", 2, True, "valid")
        y = conv(y, f"{name}/conv2", 1, False)
        pooled = L.AveragePooling2D(2, 2, "valid", name=f"{name}_pool")(x)
        if pooled.shape[1] != y.shape[1]:
            y = L.ZeroPadding2D(((0, pooled.shape[1] - y.shape[1]), (0, pooled.shape[2] - y.shape[2])),
                                name=f"{name}_pad")(y)
        if pooled.shape[-1] != y.shape[-1]:
            pooled = PadChannels(y.shape[-1] - pooled.shape[-1], name=f"{name}_zeros")(pooled)
        return L.ReLU(name=f"{name}_out")(L.Add(name=f"{name}_add")([pooled, y]))

    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    x = conv(inp, "conv32_down", 2, True, "valid")
    x = L.MaxPooling2D(3, 2, "valid", name="pool")(x)
    for name, _, n in BLOCKS:
        if name != "conv32":
            x = residual_down(x, f"{name}_down")
        for i in range(1, n + 1):
            x = residual(x, f"{name}_{i}")
    x = residual_down(x, "conv256_down_out")
    x = L.GlobalAveragePooling2D(name="mean")(x)
    dense = L.Dense(128, use_bias=False, name="embedding")
    out = dense(x)
    model = keras.Model(inp, out, name="dlib_resnet")
    for layer, w in pending:
        layer.set_weights([np.asarray(v, np.float32) for v in w])
    if weights is not None:
        dense.set_weights([weights["fc"].astype(np.float32)])
    return model


def _channels(prefix: str) -> int:
    return int(prefix.split("_")[0].removeprefix("conv").split("/")[0])


def from_face_api(manifest: str | Path) -> keras.Model:
    """Build the model from face-api.js' ``face_recognition_model-weights_manifest.json``."""
    return build(read_face_api_weights(manifest))
