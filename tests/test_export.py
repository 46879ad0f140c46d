"""Export to SavedModel/TFLite, the GPU-delegate check, parity, and the TensorFlow-free runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import REPO, run_cli, smooth_face_like

from keras_facesr.export import bundle as ex
from keras_facesr.images import read_picture

SAMPLES = REPO / "keras_facesr" / "samples"


def _trained_generator(kind: str, path: Path) -> Path:
    """A generator fitted briefly (pixel loss) so its weights are not the initial ones."""
    import tensorflow as tf

    from keras_facesr.models.archs.generator import build_generator
    from keras_facesr.models.info import ModelInfo, write_model_info

    keras.utils.set_random_seed(0)
    g = build_generator(kind, 4, blocks=2, filters=16) if kind == "srresnet" else build_generator(kind, 4)
    rng = np.random.default_rng(0)
    hr = np.stack([smooth_face_like(rng, 64) for _ in range(16)]).astype(np.float32) / 255.0
    lr = tf.image.resize(hr, (16, 16), "bilinear").numpy()
    g.compile(keras.optimizers.Adam(1e-3), "mae")
    g.fit(lr, hr, batch_size=8, epochs=6, verbose=0)
    g.save(path)
    write_model_info(path, ModelInfo(f"{kind}-test", 4, 32))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return _trained_generator("edge", tmp_path_factory.mktemp("model") / "edge.keras")


@pytest.fixture(scope="module")
def bundle(trained, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    proc = run_cli("export", str(trained), "--output", str(out), "--quantize", "all")
    assert proc.returncode == 0, proc.stderr
    return out


def test_every_quantisation_loads_in_litert_holds_parity_and_is_gpu_compatible(bundle):
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {m["quantize"] for m in manifest["models"]} == set(ex.QUANTIZATIONS)
    for entry in manifest["models"]:
        interp = Interpreter(model_path=str(bundle / entry["file"]))
        interp.allocate_tensors()
        assert list(interp.get_input_details()[0]["shape"]) == [1, 32, 32, 3]  # static
        assert list(interp.get_output_details()[0]["shape"]) == [1, 128, 128, 3]
        assert entry["parity_psnr_db"] >= ex.PARITY_FLOOR_DB[entry["quantize"]], entry
        report = (bundle / (entry["file"] + ".gpu.txt")).read_text()
        assert "every op and shape is GPU-delegate compatible" in report
        assert entry["gpu_compatible"] and "DEPTH_TO_SPACE" in report
    sizes = {m["quantize"]: m["bytes"] for m in manifest["models"]}
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"]
    for name in ("pnet", "rnet", "onet"):
        assert (bundle / manifest["detector"][name]).is_file()
    assert (bundle / "saved_model_32x32" / "saved_model.pb").is_file()


def test_faces_fed_at_their_own_size_get_a_generator_of_that_side(trained, tmp_path):
    """A model whose ``own_size`` band is measured is exported at every side that band feeds;
    the on-device runtime feeds such a face at its own side, as the Keras pipeline does."""
    import shutil

    from keras_facesr.edge.bundle import _generator
    from keras_facesr.models.info import ModelInfo, write_model_info
    from keras_facesr.pipeline.enhance import FaceEnhancer
    from keras_facesr.pipeline.sr import KerasSR

    model = tmp_path / "own.keras"
    shutil.copy(trained, model)
    write_model_info(model, ModelInfo("own-test", 4, 32, own_size=(29.6, 33.0)))
    manifest = ex.export(model, tmp_path / "b", saved_model=False, include_mtcnn=False,
                         echo=lambda m: None)
    assert sorted(m["input_size"][0] for m in manifest["models"]) == [30, 31, 32, 33]
    assert manifest["own_size"] == [29.6, 33.0]
    edge = _generator(tmp_path / "b", manifest, None, 1, None)
    assert edge.input_sides == {30, 31, 32, 33} and edge.info.own_size == (29.6, 33.0)
    rng = np.random.default_rng(3)
    crop = smooth_face_like(rng, 31)
    keras_model = KerasSR(model)
    assert len(keras_model(np.zeros((0, 31, 31, 3), np.float32))) == 0 == len(keras_model([]))
    keras_sr = FaceEnhancer([keras_model], fidelity=1.0).enhance(crop, aligned=True)
    edge_sr = FaceEnhancer([edge], fidelity=1.0).enhance(crop, aligned=True)
    assert edge_sr.image.shape == keras_sr.image.shape == (124, 124, 3)
    assert ex.psnr_db(edge_sr.image / 255.0, keras_sr.image / 255.0) > 40
    # outside the band, or at a side it was not exported at: the model's input, as before
    assert FaceEnhancer.input_side(edge, 28.0) == 32
    edge.models.pop(31)
    assert FaceEnhancer.input_side(edge, 31.0) == 32


def test_srresnet_exports_gpu_compatible(tmp_path):
    model = _trained_generator("srresnet", tmp_path / "srresnet.keras")
    manifest = ex.export(model, tmp_path / "b", saved_model=False, include_mtcnn=False, echo=lambda m: None)
    assert manifest["models"][0]["gpu_compatible"]
    assert manifest["models"][0]["parity_psnr_db"] >= 45


def test_require_gpu_compatible_fails_on_an_unsupported_op(tmp_path):
    inp = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(12, 3, padding="same")(inp)
    x = keras.layers.Lambda(lambda t: keras.ops.cumsum(t, axis=1) * 0.01)(x)  # no GPU kernel
    x = keras.layers.Conv2D(48, 3, padding="same")(x)
    model = keras.Model(inp, keras.layers.Lambda(lambda t: keras.ops.depth_to_space(t, 4))(x))
    with pytest.raises(ex.ExportError, match="NOT compatible.*CUMSUM.*--require-gpu-compatible"):
        ex.export(None, tmp_path / "strict", [(16, 16)], require_gpu_compatible=True, saved_model=False,
                  include_mtcnn=False, generator=model, echo=lambda m: None)
    assert not list((tmp_path / "strict").glob("*.tflite"))  # a failing model is not left behind
    manifest = ex.export(None, tmp_path / "lenient", [(16, 16)], saved_model=False, include_mtcnn=False,
                         generator=model, echo=lambda m: None)
    assert manifest["models"][0]["gpu_compatible"] is False
    assert "CUMSUM" in manifest["models"][0]["gpu_summary"]


BLOCK_TF = """
import sys
class _NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'mtcnn', 'tf_keras'):
            raise ImportError(f'{name} is blocked in this test')
sys.meta_path.insert(0, _NoTensorFlow())
from keras_facesr.cli import main
main(sys.argv[1:], prog_name='keras-facesr')
"""


def test_edge_pipeline_without_tensorflow_matches_the_tensorflow_pipeline(bundle, trained, tmp_path):
    from keras_facesr.pipeline.enhance import FaceEnhancer

    src = tmp_path / "in"
    src.mkdir()
    (src / "solvay.jpg").write_bytes((SAMPLES / "solvay_1927.jpg").read_bytes())
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_TF, "edge", "run", str(bundle), str(src / "solvay.jpg"),
         "--output", str(tmp_path / "out"), "--report", str(tmp_path / "r.json"), "--quiet", "--cpu",
         "--threshold", "64"],
        capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "blocked" not in proc.stderr
    edge_faces = json.loads((tmp_path / "r.json").read_text())["inputs"][0]["faces"]
    edge_image = read_picture(tmp_path / "out" / "solvay.jpg").pixels

    reference = FaceEnhancer(trained, threshold=64).enhance(read_picture(src / "solvay.jpg"))
    assert len(edge_faces) == len(reference.faces) >= 25
    assert all(f["path"] == "super_resolved" for f in edge_faces)  # the pixels below mean something

    def iou(a, b):
        w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
        h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
        return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)

    for face in edge_faces:
        assert max(iou(face["box"], f.box) for f in reference.faces) >= 0.9
    # the JPEG round trip of the output costs a little: compare both after the same encoding
    from keras_facesr.images import encode_image

    ref_jpeg = read_picture_bytes(encode_image("x.jpg", reference.image))
    for f in reference.faces:
        x, y, w, h = f.box
        a = edge_image[y : y + h, x : x + w].astype(float)
        b = ref_jpeg[y : y + h, x : x + w].astype(float)
        mse = np.mean((a - b) ** 2)
        assert mse == 0 or 10 * np.log10(255**2 / mse) >= 40


def read_picture_bytes(data: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def test_cli_starts_without_tensorflow_and_bad_bundles_are_named(tmp_path):
    proc = subprocess.run([sys.executable, "-c", BLOCK_TF, "--help"], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0 and "edge" in proc.stdout and "enhance" in proc.stdout
    proc = subprocess.run([sys.executable, "-c", BLOCK_TF, "edge", "run", str(tmp_path), "x.jpg",
                           "--output", str(tmp_path / "o")], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path}: not a keras-facesr bundle")


def test_benchmark_reports_every_variant(trained, bundle):
    proc = run_cli("benchmark", str(trained), "--bundle", str(bundle), "--repeats", "3")
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 1 + 2 * len(ex.QUANTIZATIONS)
    assert "196,259 parameters" in proc.stdout
    own = run_cli("benchmark", str(trained), "--repeats", "2")  # exports its own, generator-only
    assert own.returncode == 0, own.stderr
    assert len([line for line in own.stdout.splitlines() if line.startswith("| ")]) == len(rows) + 1


@pytest.mark.slow
def test_one_bundle_holds_both_bundled_models_and_routes_faces_like_enhance(tmp_path):
    """`export` with no MODEL bundles x4 and x8 together; `edge run` sends each face to the
    same model as `enhance` does (by measured face size), in photos and aligned crops."""
    import cv2

    from keras_facesr.face.align import align_face
    from keras_facesr.images import write_image
    from keras_facesr.pipeline.enhance import FaceEnhancer

    out = tmp_path / "bundle"
    proc = run_cli("export", "--output", str(out), "--no-saved-model", "--quantize", "dynamic")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == ex.MULTI_BUNDLE_FORMAT
    assert sorted(manifest["generators"]) == ["facesr-edge-x4", "facesr-edge-x8"]

    def edge_run(*args: str) -> list[dict]:
        proc = subprocess.run(
            [sys.executable, "-c", BLOCK_TF, "edge", "run", str(out), *args, "--output",
             str(tmp_path / "out"), "--report", str(tmp_path / "r.json"), "--quiet", "--cpu"],
            capture_output=True, text=True, cwd=REPO, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return json.loads((tmp_path / "r.json").read_text())["inputs"]

    def base(name: str | None) -> str | None:
        return name.split(" (")[0] if name else None  # "facesr-edge-x4 (dynamic)"

    enhancer = FaceEnhancer()
    # a photo: MTCNN finds faces of 21 px and up (native); x4 takes those below 33 px
    faces = edge_run(str(SAMPLES / "solvay_1927_small.jpg"))[0]["faces"]
    reference = enhancer.enhance(read_picture(SAMPLES / "solvay_1927_small.jpg")).faces
    assert len(faces) == len(reference) >= 25
    for face in faces:
        ref = min(reference, key=lambda f: abs(f.box[0] - face["box"][0]) + abs(f.box[1] - face["box"][1]))
        assert base(face["model"]) == ref.model
    # aligned crops (framed as the template, so none is reframed): 16 px goes to x8, 24 px to
    # x4, in both pipelines
    astronaut = read_picture(SAMPLES / "astronaut.jpg")
    found = enhancer.detector.detect(astronaut.rgb)[0]
    template_crop, _ = align_face(astronaut.pixels, found.landmarks, 128)
    for side in (16, 24):
        write_image(tmp_path / "crops" / f"{side}.png",
                    cv2.resize(template_crop, (side, side), interpolation=cv2.INTER_AREA))
    entries = edge_run(str(tmp_path / "crops"), "--aligned")
    used = set()
    for entry in entries:
        crop = read_picture(entry["input"])
        ref = enhancer.enhance(crop, aligned=True).faces[0]
        assert base(entry["faces"][0]["model"]) == ref.model
        assert "framed off the template" not in ref.reason
        used.add(ref.model)
    assert used == {"facesr-edge-x4", "facesr-edge-x8"}
