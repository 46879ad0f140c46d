"""``keras-facesr export``: a trained generator (and MTCNN) as SavedModel / TFLite, in a bundle.

Keras 3 -> ``model.export(..., "tf_saved_model")`` -> ``TFLiteConverter.from_saved_model``, at
fixed input sizes (the GPU delegate wants static shapes), in fp32, fp16, dynamic-range or full
int8 (calibrated on real face crops). Every TFLite file is checked twice before it enters the
bundle: TFLite's analyzer with ``gpu_compatibility=True`` (report saved beside it) and a parity
run against the Keras generator on real faces (PSNR, with a floor per quantisation).

The bundle folder is all the on-device runtime (``keras_facesr.edge``) needs::

    manifest.json   generator files, sizes, quantisation, parity, GPU compatibility
    generator_32x32_fp32.tflite (+ .gpu.txt)   ...   mtcnn_pnet.tflite  mtcnn_rnet.tflite  mtcnn_onet.tflite

Several generators (``export_many``; ``keras-facesr export`` with no MODEL exports the bundled
x4 and x8 together): one such folder per generator, without MTCNN, under the bundle, and a
manifest naming them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_facesr.edge.bundle import BUNDLE_FORMAT, MULTI_BUNDLE_FORMAT  # one definition, read there
from keras_facesr.errors import FaceSRError
from keras_facesr.images import write_bytes_atomic

QUANTIZATIONS = ("fp32", "fp16", "dynamic", "int8")
# PSNR(TFLite, Keras) floors on real faces, dB. fp32 is the issue's bar; the others are set
# below what `keras-facesr export` measured on the bundled models (see README, "Deploying").
PARITY_FLOOR_DB = {"fp32": 45.0, "fp16": 40.0, "dynamic": 32.0, "int8": 26.0}


class ExportError(FaceSRError, RuntimeError):
    """An export step failed or a check did not pass (the message says which and why)."""


def fixed_size(generator, height: int, width: int):
    """The generator with a static (1, height, width, 3) input, as the GPU delegate needs."""
    import keras

    inp = keras.Input((height, width, 3), batch_size=1, name="lr")
    return keras.Model(inp, generator(inp), name=f"{generator.name}_{height}x{width}")


def to_tflite(saved_model: Path, quantize: str, representative: np.ndarray | None = None) -> bytes:
    """Convert a SavedModel with the given quantisation (float32 input/output in every case)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if quantize == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
        if representative is None or not len(representative):
            raise ExportError("int8 needs real faces to calibrate on (--representative-data)")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[None]] for x in representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif quantize != "fp32":
        raise ExportError(f"unknown quantisation {quantize!r} (one of {', '.join(QUANTIZATIONS)})")
    try:
        return converter.convert()
    except Exception as e:  # noqa: BLE001 - the converter raises many types; one line for all
        raise ExportError(f"TFLite conversion ({quantize}) failed: {type(e).__name__}: {e}") from e


# Ops the TFLite GPU delegate takes (tensorflow/lite/tools/versioning/gpu_compatibility.cc).
# TensorFlow 2.19+ stopped running that check in the analyzer, which now prints "looks
# compatible" for any model (tensorflow/tensorflow#77042), so it is applied here to the
# analyzer's op listing. CAST is left out: the delegate takes only bool -> float casts.
GPU_OPS = frozenset("""
    ABS ADD AVERAGE_POOL_2D BATCH_MATMUL CONCATENATION CONV_2D COS DENSIFY DEPTHWISE_CONV_2D
    DEPTH_TO_SPACE DEQUANTIZE DIV ELU EQUAL EXP FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GREATER
    GREATER_EQUAL HARD_SWISH LEAKY_RELU LESS LESS_EQUAL LOG LOGISTIC LSTM MAXIMUM MAX_POOL_2D MEAN
    MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD POW PRELU QUANTIZE REDUCE_MAX REDUCE_MIN
    REDUCE_PROD RELU RELU6 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR RSQRT SIN
    SLICE SOFTMAX SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE STRIDED_SLICE SUB SUM
    TANH TILE TRANSPOSE TRANSPOSE_CONV
""".split())


def gpu_report(model: bytes) -> tuple[str, bool]:
    """TFLite's analyzer report plus the GPU-delegate op check: (report, compatible?)."""
    import re

    import tensorflow as tf

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tf.lite.experimental.Analyzer.analyze(model_content=model, gpu_compatibility=True)
    text = out.getvalue()
    ops = re.findall(r"^\s*Op#\d+ (\w+)\(", text, flags=re.M)
    problems = [f"GPU COMPATIBILITY WARNING: Not supported op {op}" for op in sorted(set(ops) - GPU_OPS)]
    dynamic = re.findall(r"^\s*(T#\d+)\(([^)]*)\) shape_signature:\[([^\]]*-1[^\]]*)\]", text,
                         flags=re.M)
    problems += [f"GPU COMPATIBILITY WARNING: dynamic shape [{sig}] of {t} ({name})"
                 for t, name, sig in dynamic]
    check = ("\n--- keras-facesr GPU delegate check (ops against gpu_compatibility.cc; static "
             f"shapes) ---\n{len(ops)} ops: {', '.join(sorted(set(ops)))}\n"
             + ("\n".join(problems) if problems else "every op and shape is GPU-delegate compatible"))
    return text + check + "\n", not problems


def gpu_summary(text: str, compatible: bool) -> str:
    """One line from a report."""
    if compatible:
        return "GPU delegate: compatible (every op runs on the GPU)"
    issues = sorted({line.split("WARNING: ")[-1] for line in text.splitlines()
                     if line.startswith("GPU COMPATIBILITY WARNING")})
    return "GPU delegate: NOT compatible, falls back to the CPU: " + "; ".join(issues[:4])


def interpreter(model: bytes | str | Path, threads: int = 2):
    """A TFLite interpreter: LiteRT (``ai_edge_litert``) when installed, else TensorFlow's."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806 - the class, named as in both APIs
    if isinstance(model, bytes):
        return Interpreter(model_content=model, num_threads=threads)
    return Interpreter(model_path=str(model), num_threads=threads)


def run_tflite(model: bytes | str | Path, x: np.ndarray, threads: int = 2) -> np.ndarray:
    """Run a single-input model on each item of ``x`` (its batch size is 1)."""
    interp = interpreter(model, threads)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    results = []
    for item in x:
        interp.set_tensor(inp["index"], item[None].astype(np.float32))
        interp.invoke()
        results.append(interp.get_tensor(out["index"])[0].copy())
    return np.stack(results)


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two image batches in [0, 1] (all pixels together)."""
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def real_face_crops(size: int, folder: Path | None = None, limit: int = 64) -> np.ndarray:
    """Real LR face crops (N, size, size, 3) float32 for calibration and parity.

    From ``folder`` (face images, resized to ``size`` with area averaging), else the faces MTCNN
    finds in the bundled public-domain photos, aligned at ``size``."""
    import cv2

    from keras_facesr.images import list_images, read_image

    crops = []
    if folder is not None:
        for path in list_images(folder)[:limit]:
            crops.append(cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA))
    else:
        from keras_facesr.face.align import align_face
        from keras_facesr.face.detect import FaceDetector

        detector = FaceDetector(min_confidence=0.9, min_face=12)
        for name in ("solvay_1927.jpg", "astronaut.jpg"):
            rgb = read_image(Path(__file__).parents[1] / "samples" / name)
            for face in detector.detect(rgb):
                crops.append(align_face(rgb, face.landmarks, size)[0])
    if not crops:
        raise ExportError(f"no face crops for calibration/parity in {folder or 'the bundled samples'}")
    return np.stack(crops[:limit]).astype(np.float32) / 255.0


def export_mtcnn(folder: Path, echo: Callable[[str], None] = print) -> dict[str, str]:
    """MTCNN's P/R/O-Nets (from the ``mtcnn`` package) as TFLite files in ``folder``."""
    import tensorflow as tf
    from mtcnn import MTCNN

    detector = MTCNN()
    stages = {stage.__class__.__name__: stage._model for stage in detector.stages}
    specs = {"pnet": ("StagePNet", (1, None, None, 3)), "rnet": ("StageRNet", (None, 24, 24, 3)),
             "onet": ("StageONet", (None, 48, 48, 3))}
    files = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (stage, shape) in specs.items():
            model = stages[stage]
            saved = Path(tmp) / name
            with contextlib.redirect_stdout(io.StringIO()):
                model.export(str(saved), format="tf_saved_model",
                             input_signature=[tf.TensorSpec(shape, tf.float32)])
            data = to_tflite(saved, "fp32")
            files[name] = f"mtcnn_{name}.tflite"
            write_bytes_atomic(folder / files[name], data)
            echo(f"  {files[name]}: {len(data) / 1024:.0f} KB")
    return files


def export(
    model_path: Path,
    output: Path,
    sizes: list[tuple[int, int]] | None = None,
    quantizations: tuple[str, ...] = ("fp32",),
    saved_model: bool = True,
    tflite: bool = True,
    representative_data: Path | None = None,
    require_gpu_compatible: bool = False,
    include_mtcnn: bool = True,
    generator=None,
    echo: Callable[[str], None] = print,
) -> dict:
    """Export ``model_path`` (or the Keras model ``generator``) into the bundle ``output``."""
    import tensorflow as tf

    from keras_facesr.models.archs.generator import load_generator
    from keras_facesr.models.info import ModelInfo, read_model_info

    info = read_model_info(model_path) if model_path else None
    if generator is None:
        try:
            generator = load_generator(model_path)
        except (FileNotFoundError, ValueError) as e:
            raise ExportError(str(e)) from None
    if info is None:
        scale = int(generator(np.zeros((1, 8, 8, 3), np.float32)).shape[1]) // 8
        info = ModelInfo(generator.name, scale, 128 // scale)
    # the model's face size, and each side faces are fed at their own size (ModelInfo.own_size)
    sizes = sizes or [(side, side) for side in sorted({info.lr_size, *info.own_sides()})]
    output.mkdir(parents=True, exist_ok=True)
    manifest: dict = {"format": BUNDLE_FORMAT, "name": info.name, "scale": info.scale,
                      "lr_size": info.lr_size, "template": info.template,
                      "identity_encoder": info.identity_encoder, "fidelity": info.fidelity,
                      "face_sizes": list(info.face_sizes) if info.face_sizes else None,
                      "grey_face_sizes": list(info.grey_face_sizes) if info.grey_face_sizes else None,
                      "own_size": list(info.own_size) if info.own_size else None,
                      "models": [], "detector": {},
                      "parameters": int(generator.count_params())}
    failures = []
    for h, w in sizes:
        fixed = fixed_size(generator, h, w)
        faces = real_face_crops(min(h, w), representative_data)
        if (h, w) != faces.shape[1:3]:
            import cv2

            faces = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in faces])
        reference = np.clip(np.asarray(fixed.predict(faces, batch_size=1, verbose=0)), 0, 1)
        with tempfile.TemporaryDirectory() as tmp:
            saved = Path(tmp) / "saved_model"
            with contextlib.redirect_stdout(io.StringIO()):
                fixed.export(str(saved), format="tf_saved_model",
                             input_signature=[tf.TensorSpec((1, h, w, 3), tf.float32)])
            if saved_model:
                target = output / f"saved_model_{h}x{w}"
                staged = output / f".saved_model_{h}x{w}.tmp"
                shutil.rmtree(staged, ignore_errors=True)
                shutil.copytree(saved, staged)
                shutil.rmtree(target, ignore_errors=True)
                os.replace(staged, target)
                echo(f"SavedModel {h}x{w}: {target}")
            if not tflite:
                continue
            for quantize in quantizations:
                data = to_tflite(saved, quantize, faces)
                name = f"generator_{h}x{w}_{quantize}.tflite"
                report, compatible = gpu_report(data)
                summary = gpu_summary(report, compatible)
                write_bytes_atomic(output / (name + ".gpu.txt"), report.encode())
                got = np.clip(run_tflite(data, faces), 0, 1)
                psnr = psnr_db(got, reference)
                floor = PARITY_FLOOR_DB[quantize]
                line = (f"{name}: {len(data) / 1024:.0f} KB; parity vs Keras on {len(faces)} real "
                        f"faces: PSNR {psnr:.1f} dB (floor {floor:.0f}); {summary}")
                echo(line)
                problem = None
                if psnr < floor:
                    problem = f"{name}: parity PSNR {psnr:.1f} dB is below the {floor:.0f} dB floor"
                elif require_gpu_compatible and not compatible:
                    problem = f"{name}: {summary} (--require-gpu-compatible; report: {name}.gpu.txt)"
                if problem:
                    failures.append(problem)
                    (output / name).unlink(missing_ok=True)
                    continue
                write_bytes_atomic(output / name, data)
                manifest["models"].append({
                    "file": name, "input_size": [h, w], "quantize": quantize, "scale": info.scale,
                    "bytes": len(data), "parity_psnr_db": round(psnr, 2), "gpu_compatible": compatible,
                    "gpu_summary": summary,
                })
    return _finish(output, manifest, failures, tflite and include_mtcnn, echo)


def _finish(output: Path, manifest: dict, failures: list[str], mtcnn: bool,
            echo: Callable[[str], None]) -> dict:
    """MTCNN's files (if ``mtcnn``), then the manifest last; ExportError if a check failed."""
    if mtcnn:
        echo("MTCNN P/R/O-Nets:")
        manifest["detector"] = export_mtcnn(output, echo)
    write_bytes_atomic(output / "manifest.json", json.dumps(manifest, indent=2).encode())
    if failures:
        raise ExportError("; ".join(failures))
    return manifest


def export_many(
    model_paths: list[Path],
    output: Path,
    quantizations: tuple[str, ...] = ("fp32",),
    saved_model: bool = True,
    tflite: bool = True,
    representative_data: Path | None = None,
    require_gpu_compatible: bool = False,
    echo: Callable[[str], None] = print,
) -> dict:
    """Several generators in one bundle: each exported (as :func:`export`, at its own face size)
    into a sub-folder named after it, MTCNN once beside them, and a manifest listing them; the
    on-device runtime routes each face to a generator by size exactly as ``enhance`` does."""
    from keras_facesr.models.info import read_model_info

    output.mkdir(parents=True, exist_ok=True)
    names, failures = [], []
    for path in model_paths:
        info = read_model_info(path) if Path(path).is_file() else None
        name = info.name if info else Path(path).stem
        if name in names:
            raise ExportError(f"{path}: a second generator named {name!r} in one bundle")
        names.append(name)
        echo(f"{name}:")
        try:
            export(path, output / name, None, quantizations, saved_model, tflite, representative_data,
                   require_gpu_compatible, include_mtcnn=False, echo=echo)
        except ExportError as e:
            failures.append(str(e))
    manifest = {"format": MULTI_BUNDLE_FORMAT, "generators": names, "detector": {}}
    return _finish(output, manifest, failures, tflite, echo)
