"""SRGAN's SRResNet generator and a small edge variant.

Fully convolutional (any input size) and built only from ops the TFLite GPU delegate runs:
CONV_2D, PRELU, ADD, MUL (folded batch norm), DEPTH_TO_SPACE, RESIZE_BILINEAR.
Input and output are RGB in [0, 1].
"""

from __future__ import annotations

import math
import os
import tempfile
import zipfile
from pathlib import Path

import keras

from keras_facesr.images import default_permissions
from keras_facesr.models.info import ModelFileError
from keras_facesr.registry import GENERATORS

GENERATOR_DEFAULTS = {
    # SRGAN (Ledig et al. 2017): 16 residual blocks of 64 filters, batch norm, 9x9 head/tail.
    "srresnet": dict(blocks=16, filters=64, batch_norm=True, outer_kernel=9, bilinear_skip=False),
    # For phones and cameras: no batch norm, 3x3 kernels, learns the residual over bilinear.
    "edge": dict(blocks=6, filters=32, batch_norm=False, outer_kernel=3, bilinear_skip=True),
}


@keras.saving.register_keras_serializable(package="keras_facesr")
class PixelShuffle(keras.layers.Layer):
    """Sub-pixel upsampling (depth_to_space): (H, W, C*r*r) -> (H*r, W*r, C)."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return keras.ops.depth_to_space(x, self.factor)  # tf.nn.depth_to_space under TF

    def compute_output_shape(self, shape):
        r = self.factor
        h = None if shape[1] is None else shape[1] * r
        w = None if shape[2] is None else shape[2] * r
        return (shape[0], h, w, shape[3] // (r * r))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def build_generator(
    kind: str = "edge", scale: int = 4, blocks: int = 0, filters: int = 0, name: str | None = None
) -> keras.Model:
    """The generator registered as ``kind`` (``keras_facesr.registry.GENERATORS``: ``edge``,
    ``srresnet``, or one added by a plugin); 0 keeps the kind's default size."""
    builder = GENERATORS.get(kind)
    if scale not in (2, 4, 8):
        raise ValueError(f"scale {scale}: must be 2, 4 or 8")
    return builder(scale, blocks, filters, name or f"{kind}_x{scale}")


def _sized(kind: str, scale: int, blocks: int, filters: int, name: str | None) -> keras.Model:
    spec = dict(GENERATOR_DEFAULTS[kind])
    spec["blocks"] = blocks or spec["blocks"]
    spec["filters"] = filters or spec["filters"]
    return srresnet(scale=scale, name=name or f"{kind}_x{scale}", **spec)


def edge(scale: int, blocks: int = 0, filters: int = 0, name: str | None = None) -> keras.Model:
    """For phones and cameras: SRResNet's layout without batch norm, 3x3 kernels, residual
    over bilinear (registered as ``edge``)."""
    return _sized("edge", scale, blocks, filters, name)


def srresnet_generator(scale: int, blocks: int = 0, filters: int = 0, name: str | None = None
                       ) -> keras.Model:
    """SRGAN's SRResNet (registered as ``srresnet``)."""
    return _sized("srresnet", scale, blocks, filters, name)


def srresnet(
    scale: int = 4,
    blocks: int = 16,
    filters: int = 64,
    batch_norm: bool = True,
    outer_kernel: int = 9,
    bilinear_skip: bool = False,
    name: str = "srresnet",
) -> keras.Model:
    """SRResNet: head conv + PReLU, residual blocks, long skip, pixel-shuffle upsampling x2 steps."""
    L = keras.layers
    lr = keras.Input((None, None, 3), name="lr")

    def prelu(n):
        return L.PReLU(shared_axes=[1, 2], name=n)

    x = L.Conv2D(filters, outer_kernel, padding="same", name="head_conv")(lr)
    head = x = prelu("head_prelu")(x)
    for i in range(blocks):
        y = L.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=f"res{i}_conv1")(x)
        if batch_norm:
            y = L.BatchNormalization(name=f"res{i}_bn1")(y)
        y = prelu(f"res{i}_prelu")(y)
        y = L.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=f"res{i}_conv2")(y)
        if batch_norm:
            y = L.BatchNormalization(name=f"res{i}_bn2")(y)
        x = L.Add(name=f"res{i}_add")([x, y])
    x = L.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name="body_conv")(x)
    if batch_norm:
        x = L.BatchNormalization(name="body_bn")(x)
    x = L.Add(name="body_skip")([head, x])
    for i in range(int(math.log2(scale))):
        x = L.Conv2D(filters * 4, 3, padding="same", name=f"up{i}_conv")(x)
        x = PixelShuffle(2, name=f"up{i}_shuffle")(x)
        x = prelu(f"up{i}_prelu")(x)
    # With the bilinear skip the tail starts at zero: the untrained model is exactly bilinear.
    init = "zeros" if bilinear_skip else "glorot_uniform"
    x = L.Conv2D(3, outer_kernel, padding="same", kernel_initializer=init, name="tail_conv")(x)
    if bilinear_skip:
        base = L.UpSampling2D(scale, interpolation="bilinear", name="bilinear_up")(lr)
        x = L.Add(name="residual_add")([base, x])
    sr = L.Activation("linear", dtype="float32", name="sr")(x)
    return keras.Model(lr, sr, name=name)


def save_generator(generator: keras.Model, path: Path) -> None:
    """Save as ``.keras`` atomically (a temporary file beside it, then renamed), making its
    folder if need be."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".generator-", suffix=".keras")
    os.close(fd)
    default_permissions(tmp)
    try:
        generator.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_generator(path) -> keras.Model:
    """Load a generator saved as ``.keras`` in safe mode (no arbitrary code is run)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: generator file not found")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a .keras model (a .keras file is a zip archive; this "
                             "file is not one)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - one clear line for any loader failure
        text = " ".join(str(e).split())
        if "safe_mode" in text or "Lambda" in text:
            raise ModelFileError(
                f"{path}: refused: it holds Python code (a Lambda layer or a function reference), "
                "which keras-facesr never loads (Keras safe mode, by design)") from None
        if len(text) > 160:  # Keras may append the whole layer config: the first sentence says it
            text = text.split(". ")[0][:160] + " ..."
        raise ModelFileError(f"{path}: not a loadable Keras generator ({type(e).__name__}: {text})") from e
