"""TFLite models through LiteRT (``ai_edge_litert``): the GPU delegate when there is one, else
the CPU (XNNPACK), and it says which. No TensorFlow."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import numpy as np

from keras_facesr.errors import FaceSRError

# Where LiteRT's GPU delegate library may be found (it ships with Android/iOS builds and
# self-built Linux ones; set KERAS_FACESR_GPU_DELEGATE to its path).
GPU_DELEGATES = ("libtensorflowlite_gpu_delegate.so", "libLiteRtGpuAccelerator.so")
_said: set[str] = set()


class EdgeError(FaceSRError, RuntimeError):
    """A bundle or a model cannot be used (the message names the file and the problem)."""


def _say_once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        print(message, file=sys.stderr, flush=True)


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter, load_delegate
    except ImportError as e:
        raise EdgeError("the on-device runtime needs LiteRT: pip install 'keras-facesr[edge]' "
                        f"(ai-edge-litert) ({e})") from None
    return Interpreter, load_delegate


def gpu_delegate(use_gpu: bool = True):
    """LiteRT's GPU delegate, or None (said once, with the reason) when it cannot be loaded."""
    if not use_gpu:
        return None
    _, load_delegate = _interpreter_class()
    names = [os.environ["KERAS_FACESR_GPU_DELEGATE"]] if os.environ.get("KERAS_FACESR_GPU_DELEGATE") \
        else list(GPU_DELEGATES)
    errors = []
    for name in names:
        try:  # probe first: a failed load_delegate leaves a half-made object that complains later
            ctypes.CDLL(name)
            delegate = load_delegate(name)
        except (ValueError, OSError, RuntimeError) as e:
            reason = str(e).strip()
            errors.append(f"{name}: {reason.splitlines()[0] if reason else type(e).__name__}")
            continue
        _say_once(f"edge: GPU delegate {name} loaded")
        return delegate
    _say_once("edge: no GPU delegate here (" + "; ".join(errors) + "): running on the CPU (XNNPACK)")
    return None


class TFLiteModel:
    """One .tflite file. ``outputs`` are returned in the order of their last dimension sizes
    given at construction (``order``), so callers do not depend on the converter's naming."""

    def __init__(self, path: str | Path, threads: int = 2, delegate=None, order: tuple[int, ...] = ()):
        interpreter_cls, _ = _interpreter_class()
        self.path = Path(path)
        if not self.path.is_file():
            raise EdgeError(f"{self.path}: model file not found")
        delegates = [delegate] if delegate is not None else None
        try:
            self._interp = interpreter_cls(model_path=str(self.path), num_threads=threads,
                                           experimental_delegates=delegates)
        except (ValueError, RuntimeError) as e:
            if delegates is None:
                raise EdgeError(f"{self.path}: not a loadable TFLite model ({e})") from None
            _say_once(f"edge: {self.path.name} cannot run on the GPU delegate ({e}); using the CPU")
            self._interp = interpreter_cls(model_path=str(self.path), num_threads=threads)
        self._input = self._interp.get_input_details()[0]
        self._outputs = self._interp.get_output_details()
        self._order = order
        self._shape: tuple[int, ...] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self._input["shape_signature"])

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, np.float32)
        if x.shape != self._shape:  # resized to what it was given last, not what it was made with
            current = self._shape or tuple(self._input["shape"])
            if current != x.shape:
                self._interp.resize_tensor_input(self._input["index"], list(x.shape), strict=False)
            self._interp.allocate_tensors()
            self._shape = x.shape
        self._interp.set_tensor(self._input["index"], x)
        self._interp.invoke()
        outs = [self._interp.get_tensor(o["index"]) for o in self._outputs]
        if self._order:
            outs = sorted(outs, key=lambda o: self._order.index(o.shape[-1]))
        return outs
