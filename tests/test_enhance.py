"""The enhance pipeline: geometry of align/paste, real photos, every input kind, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_cli

from keras_facesr.face.align import align_face, crop_bounds, dataset_interpolation, invert
from keras_facesr.face.detect import Face
from keras_facesr.images import read_picture, write_image
from keras_facesr.pipeline.enhance import KEPT, SUPER_RESOLVED, FaceEnhancer
from keras_facesr.pipeline.paste import feather_mask, paste_face
from keras_facesr.templates import CANONICAL_TEMPLATE

SAMPLES = Path(__file__).resolve().parents[1] / "keras_facesr" / "samples"


@pytest.fixture(scope="session")
def bilinear_model(tmp_path_factory) -> Path:
    """An untrained edge x4 generator: exactly bilinear upsampling (its tail starts at zero)."""
    from keras_facesr.models.archs.generator import build_generator
    from keras_facesr.models.info import ModelInfo, write_model_info

    path = tmp_path_factory.mktemp("model") / "edge_x4.keras"
    build_generator("edge", 4).save(path)
    write_model_info(path, ModelInfo("edge-x4-bilinear", 4, 32))
    return path


def _landmarks(cx: float, cy: float, side: float, angle: float = 0.0) -> np.ndarray:
    """Five points of a face whose aligned crop is ``side`` px, centred at (cx, cy), rotated."""
    pts = (CANONICAL_TEMPLATE - 0.5) * side
    c, s = np.cos(angle), np.sin(angle)
    return (pts @ np.array([[c, s], [-s, c]]) + (cx, cy)).astype(np.float32)


def _scene(h=120, w=160, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 10, w // 10, 3), np.uint8)
    small[..., 0] //= 2  # channels differ, so an RGB/BGR swap would show
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_paste_of_the_true_face_restores_the_frame():
    """Aligning at 4x and pasting the crop back reproduces the frame; outside is untouched."""
    frame = _scene()
    marks = _landmarks(70, 60, 40, angle=0.3)
    crop, m = align_face(frame, marks, 160)
    out = frame.copy()
    paste_face(out, crop.astype(np.float32) / 255.0, m)
    x0, y0, x1, y1 = crop_bounds(invert(m), 160, frame.shape)
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    np.testing.assert_array_equal(out[outside], frame[outside])
    inner = out[45:75, 55:85].astype(float) - frame[45:75, 55:85]
    assert np.abs(inner).mean() < 2.0 and np.abs(inner.mean(axis=(0, 1))).max() < 0.5


def test_paste_keeps_layout_depth_and_alpha_and_handles_borders():
    base = _scene()
    marks = _landmarks(5, 110, 50)  # mostly outside the frame
    face = np.full((128, 128, 3), (1.0, 0.0, 0.0), np.float32)
    grey = cv2.cvtColor(base, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([base, np.arange(base.size // 3).reshape(base.shape[:2]) % 256]).astype(np.uint8)
    deep = base.astype(np.uint16) * 257
    for frame in (base.copy(), grey.copy(), rgba.copy(), deep.copy()):
        before = frame.copy()
        paste_face(frame, face, np.asarray(align_face(base, marks, 128)[1]))
        assert frame.dtype == before.dtype and frame.shape == before.shape
        assert (frame != before).any()
        if frame.ndim == 3 and frame.shape[2] == 4:
            np.testing.assert_array_equal(frame[..., 3], before[..., 3])
    red = base.copy()
    paste_face(red, face, np.asarray(align_face(base, _landmarks(80, 60, 40), 128)[1]))
    assert red[60, 80, 0] == 255 and red[60, 80, 1] == 0  # RGB stays RGB


class _FixedDetector:
    def __init__(self, faces):
        self.faces = faces

    def detect(self, rgb):
        return self.faces


def test_threshold_decides_the_path_and_api_mirrors_cli(bilinear_model):
    frame = _scene(200, 300)
    small = Face((40, 40, 25, 25), 0.99, _landmarks(60, 60, 30))
    large = Face((150, 50, 100, 100), 0.99, _landmarks(200, 100, 120))
    enhancer = FaceEnhancer(bilinear_model, detector=_FixedDetector([small, large]), keep_crops=True)
    assert enhancer.threshold == 36  # 1.125 x the model's 32 px input
    result = enhancer.enhance(frame)
    paths = [f.path for f in result.faces]
    assert paths == [SUPER_RESOLVED, KEPT]
    assert result.faces[0].lr.shape == (32, 32, 3) and result.faces[0].sr.shape == (128, 128, 3)
    assert "30 px < threshold 36 px" in result.faces[0].reason
    assert result.image.shape == frame.shape and result.image.dtype == frame.dtype
    x0, y0, x1, y1 = crop_bounds(invert(align_face(frame, large.landmarks, 120)[1]), 120, frame.shape)
    np.testing.assert_array_equal(result.image[y0:y1, x0 + 40 : x1], frame[y0:y1, x0 + 40 : x1])
    assert FaceEnhancer(bilinear_model, threshold=25, detector=_FixedDetector([small])
                        ).enhance(frame).faces[0].path == KEPT


def test_real_photos(bilinear_model):
    """Solvay 1927 (29 faces of 42-57 px, grey): all super-resolved below a 64 px threshold;
    the astronaut's face (~140 px) is kept."""
    enhancer = FaceEnhancer(bilinear_model, threshold=64)
    solvay = read_picture(SAMPLES / "solvay_1927.jpg")
    astronaut = read_picture(SAMPLES / "astronaut.jpg")
    res_solvay, res_astro = enhancer.enhance_batch([solvay, astronaut])
    assert solvay.pixels.ndim == 2 and res_solvay.image.shape == solvay.pixels.shape
    assert res_solvay.image.dtype == np.uint8
    assert len(res_solvay.faces) >= 25
    assert all(f.path == SUPER_RESOLVED and f.size < 64 for f in res_solvay.faces)
    changed = res_solvay.image != solvay.pixels
    inside = np.zeros_like(changed)
    for f in res_solvay.faces:
        m = align_face(solvay.rgb, f.landmarks, 32)[1] * 4
        x0, y0, x1, y1 = crop_bounds(invert(m), 128, solvay.pixels.shape)
        inside[y0:y1, x0:x1] = True
    assert changed.any() and not changed[~inside].any()
    assert [f.path for f in res_astro.faces] == [KEPT] and res_astro.faces[0].size > 64
    np.testing.assert_array_equal(res_astro.image, astronaut.pixels)


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()


def test_cli_bad_input_corpus_in_one_batch(tmp_path, bilinear_model):
    """Every kind of bad input: one error line each, the good ones done, exit status 1."""
    from test_images import _png_with_size

    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    solvay = read_picture(SAMPLES / "solvay_1927.jpg").pixels
    write_image(src / "sub" / "solvay.png", solvay)
    write_image(src / "plain.jpg", _scene())  # no faces: not an error
    scene = cv2.cvtColor(solvay[250:430, 300:620], cv2.COLOR_GRAY2RGB)
    _write_video(src / "clip.avi", [scene] * 4)
    ok, jpg = cv2.imencode(".jpg", _scene())
    bad = {
        "empty.jpg": b"",
        "truncated.jpg": jpg.tobytes()[: len(jpg) // 2],
        "notes.png": b"not an image at all\n",
        "bomb.png": _png_with_size(40000, 40000),
    }
    for name, data in bad.items():
        (src / name).write_bytes(data)
    _write_video(tmp_path / "long.avi", [scene] * 30)
    data = (tmp_path / "long.avi").read_bytes()
    (src / "broken.avi").write_bytes(data[: len(data) // 2])
    (tmp_path / "clip.gif").write_bytes(b"GIF89a")
    out = tmp_path / "out"
    proc = run_cli("enhance", str(src), str(tmp_path / "clip.gif"), str(tmp_path / "nowhere.jpg"),
                   "--output", str(out), "--model", str(bilinear_model), "--threshold", "64",
                   "--report", str(tmp_path / "report.json"), "--save-crops", "--quiet")
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    named = ["empty.jpg", "truncated.jpg", "notes.png", "bomb.png", "broken.avi", "clip.gif",
             "nowhere.jpg"]
    for name in named:
        assert sum(name in line for line in errors) == 1, (name, errors)
    assert len(errors) == len(named)
    report = json.loads((tmp_path / "report.json").read_text())
    status = {Path(e["input"]).name: e["status"] for e in report["inputs"]}
    assert status["solvay.png"] == status["plain.jpg"] == status["clip.avi"] == "ok"
    # several inputs: the folder's layout is kept under a sub-folder of its name
    solvay_out = read_picture(out / "in" / "sub" / "solvay.png").pixels
    assert solvay_out.shape == solvay.shape and (solvay_out != solvay).any()
    assert (out / "in" / "plain.jpg").is_file() and (out / "in" / "clip.avi").is_file()
    assert (out / "in" / "broken.avi").is_file()  # the frames before the break are kept
    crops = list((out / "crops" / "in" / "sub").glob("solvay.face*.sr.png"))
    assert len(crops) >= 25
    entry = next(e for e in report["inputs"] if e["input"].endswith("solvay.png"))
    face = entry["faces"][0]
    assert set(face) >= {"box", "landmarks", "confidence", "size", "path", "reason"}
    assert set(entry["timings_ms"]) == {"detect", "align", "sr", "paste"}
    assert not list(out.rglob(".*"))  # no temporary files left behind


def test_cli_video_keeps_fps_size_and_frames(tmp_path, bilinear_model):
    scene = cv2.cvtColor(read_picture(SAMPLES / "solvay_1927.jpg").pixels[250:430, 300:620],
                         cv2.COLOR_GRAY2RGB)
    _write_video(tmp_path / "clip.avi", [np.roll(scene, k, axis=1) for k in range(5)], fps=12.5)
    proc = run_cli("enhance", str(tmp_path / "clip.avi"), "--output", str(tmp_path / "out"),
                   "--model", str(bilinear_model), "--threshold", "64", "--report",
                   str(tmp_path / "r.json"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    cap = cv2.VideoCapture(str(tmp_path / "out" / "clip.avi"))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12.5)
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (320, 180)
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    entry = json.loads((tmp_path / "r.json").read_text())["inputs"][0]
    assert entry["faces_super_resolved"] >= 5 and len(entry["frames_with_faces"]) == 5
    proc = run_cli("enhance", str(tmp_path / "clip.avi"), "--output", str(tmp_path / "up"),
                   "--model", str(bilinear_model), "--upscale", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    cap = cv2.VideoCapture(str(tmp_path / "up" / "clip.avi"))
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 360)
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5


def test_cli_aligned_crops_keep_relative_paths(tmp_path, bilinear_model):
    src = tmp_path / "crops"
    rng = np.random.default_rng(5)
    write_image(src / "a" / "one.png", rng.integers(0, 256, (32, 32, 3), np.uint8))
    write_image(src / "b" / "two.jpg", rng.integers(0, 256, (24, 20), np.uint8))
    rgba = rng.integers(0, 256, (16, 16, 4), np.uint8)
    rgba[..., 3] = np.linspace(0, 255, 16).astype(np.uint8)[None, :]  # a smooth alpha ramp
    write_image(src / "b" / "three.png", rgba)
    proc = run_cli("enhance", str(src), "--aligned", "--output", str(tmp_path / "out"),
                   "--model", str(bilinear_model), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert read_picture(tmp_path / "out" / "a" / "one.png").pixels.shape == (128, 128, 3)
    assert read_picture(tmp_path / "out" / "b" / "two.jpg").pixels.shape == (96, 80)
    three = read_picture(tmp_path / "out" / "b" / "three.png").pixels
    assert three.shape == (64, 64, 4)
    alpha_back = cv2.resize(three[..., 3], (16, 16), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(alpha_back, rgba[..., 3], atol=3)  # alpha carried over, scaled


def test_cli_never_overwrites_inputs(tmp_path, bilinear_model):
    src = tmp_path / "in"
    write_image(src / "x.png", _scene())
    before = (src / "x.png").read_bytes()
    proc = run_cli("enhance", str(src), "--output", str(src), "--model", str(bilinear_model), "--quiet")
    assert proc.returncode == 1 and "would overwrite an input" in proc.stderr
    assert (src / "x.png").read_bytes() == before
    proc = run_cli("enhance", str(src), "--output", str(tmp_path / "o"), "--model",
                   str(tmp_path / "missing.keras"))
    assert proc.returncode == 1
    missing = tmp_path / "missing.keras"
    assert proc.stderr.strip().splitlines()[-1] == f"error: {missing}: generator file not found"


def test_upscale_pastes_faces_into_a_larger_frame_in_register(bilinear_model):
    """--upscale 2: the frame is twice as large and the pasted face lines up with it (the
    untrained generator is plain bilinear upsampling, so a misplaced paste would show)."""
    frame = _scene(200, 300, seed=3)
    face = Face((120, 70, 40, 40), 0.99, _landmarks(150, 100, 40, angle=0.2))
    enhancer = FaceEnhancer(bilinear_model, detector=_FixedDetector([face]), colour_match=False,
                            upscale=2)
    out = enhancer.enhance(frame).image
    assert out.shape == (400, 600, 3) and out.dtype == np.uint8
    reference = cv2.resize(frame, (600, 400), interpolation=cv2.INTER_CUBIC)
    inner = (slice(180, 220), slice(280, 320))  # the face's centre, well inside the paste
    error = np.abs(out[inner].astype(float) - reference[inner]).mean()
    assert error < 2.0, error  # measured 1.2; a half-pixel misplacement gives 3.0
    outside = np.ones(out.shape[:2], bool)
    outside[100:300, 200:400] = False
    np.testing.assert_array_equal(out[outside], reference[outside])
    with pytest.raises(ValueError, match="upscale"):
        FaceEnhancer(bilinear_model, upscale=0.5)


def test_a_successful_run_prints_no_native_log_noise(tmp_path):
    """TensorFlow's C++ logging (absl, CUDA probing) is hidden unless --verbose."""
    proc = run_cli("enhance", str(SAMPLES / "astronaut.jpg"), "--output", str(tmp_path / "o"), "--quiet",
                   env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    assert proc.stdout.strip().startswith("1 of 1 inputs done")


def test_a_face_warped_at_about_its_own_size_is_warped_bicubic():
    """A face fed at its own size is aligned at scale 0.8-1 as above 1: bicubic, not the softer
    bilinear (a 30.4 px face cropped at 30 px); far smaller crops are area-shrunk first."""
    frame = _scene(seed=3)
    for side, scale in ((30, 0.987), (128, 1.6), (100, 0.82)):
        marks = _landmarks(80, 60, side / scale, angle=0.1)
        crop, m = align_face(frame, marks, side)
        cubic = cv2.warpAffine(frame, m, (side, side), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT101)
        np.testing.assert_array_equal(crop, cubic)
    crop, m = align_face(frame, _landmarks(80, 60, 60), 32)  # scale 0.53: area first, then bilinear
    assert not np.array_equal(crop, cv2.warpAffine(frame, m, (32, 32), flags=cv2.INTER_CUBIC,
                                                   borderMode=cv2.BORDER_REFLECT101))
    # the fetched data sets keep the rule they were cropped with: bilinear up to scale 1
    for side, scale, flag in ((30, 0.987, cv2.INTER_LINEAR), (128, 1.6, cv2.INTER_CUBIC)):
        crop, m = align_face(frame, _landmarks(80, 60, side / scale, angle=0.1), side,
                             interpolation=dataset_interpolation)
        np.testing.assert_array_equal(crop, cv2.warpAffine(frame, m, (side, side), flags=flag,
                                                           borderMode=cv2.BORDER_REFLECT101))


def test_a_face_pasted_at_about_its_own_scale_is_warped_bicubic():
    """An SR face pasted into a frame enlarged as much (``--upscale`` 4) keeps its detail: the
    face is warped bicubic where the mask is full, not softened by bilinear."""
    rng = np.random.default_rng(5)
    face = rng.random((48, 48, 3)).astype(np.float32)
    image_to_crop = cv2.getRotationMatrix2D((60.3, 50.7), 7.0, 1.02)
    image_to_crop[:, 2] -= (36.0, 26.0)
    frame = np.zeros((110, 130, 3), np.uint8)
    paste_face(frame, face, image_to_crop)
    full = cv2.warpAffine(feather_mask(48), image_to_crop, (130, 110), flags=cv2.WARP_INVERSE_MAP) > 0.999
    cubic = cv2.warpAffine(face, image_to_crop, (130, 110), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    want = np.rint(np.clip(cubic, 0, 1) * 255)
    assert full.sum() > 500
    np.testing.assert_allclose(frame[full].astype(float), want[full], atol=1)


def test_each_crop_side_compiles_once_without_a_retracing_warning(caplog):
    """The bundled x4 is compiled for its 32 px input and each own-size side (27-35 px): nine
    graphs, each traced once, which TensorFlow used to report as one function retraced."""
    import logging

    from keras_facesr.models.info import WEIGHTS_DIR
    from keras_facesr.pipeline.sr import KerasSR

    model = KerasSR(WEIGHTS_DIR / "facesr_edge_x4.keras")
    sides = list(range(27, 36))
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for side in sides + sides:
            out = model(np.full((2, side, side, 3), 0.5, np.float32))
            assert out.shape == (2, 4 * side, 4 * side, 3)
    assert sorted(model._compiled) == sides
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


class _OneFace:
    """A detector that finds one face of a given aligned-crop side at the image's centre, by
    its full pass and by its last stage alone (``refine``, whatever the box; ``refine_fraction``
    where that stage reads the face otherwise), counting the full passes."""

    min_confidence, min_face = 0.9, 12

    def __init__(self, side_fraction: float, refine_fraction: float | None = None):
        self.side_fraction = side_fraction
        self.refine_fraction = side_fraction if refine_fraction is None else refine_fraction
        self.full_passes = 0

    def _face(self, rgb: np.ndarray, fraction: float) -> Face:
        h, w = rgb.shape[:2]
        side = fraction * min(h, w)
        return Face((int(w / 2 - side / 2), int(h / 2 - side / 2), int(side), int(side)), 0.99,
                    _landmarks(w / 2 - 0.5, h / 2 - 0.5, side))

    def detect(self, rgb: np.ndarray) -> list[Face]:
        self.full_passes += 1
        return [self._face(rgb, self.side_fraction)]

    def refine(self, rgb: np.ndarray, boxes: np.ndarray) -> list[Face]:
        return [self._face(rgb, self.refine_fraction) for _ in boxes]

    def refine_each(self, images: list[np.ndarray], boxes: np.ndarray) -> list[Face]:
        return [self._face(rgb, self.refine_fraction) for rgb in images]


@pytest.mark.parametrize("fraction, reframed", [(1.0, False), (1.1, False), (0.7, True)])
def test_aligned_crop_framed_off_the_template_is_reframed(bilinear_model, fraction, reframed):
    """A crop whose face (by the landmarks found on its enlargement) is the crop's size stays
    as it is; one whose face is 0.7 of the crop (a loose box) has its face re-aligned, fed at
    its own size and pasted over the crop super-resolved whole; --no-reframe never does."""
    crop = _scene(32, 32, seed=3)
    outs = {}
    for reframe in (True, False):
        enhancer = FaceEnhancer([bilinear_model], detector=_OneFace(fraction), reframe=reframe)
        res = enhancer.enhance(crop, aligned=True)
        assert res.image.shape == (128, 128, 3)
        outs[reframe] = res
    plain = outs[False].faces[0]
    assert plain.reason.startswith("aligned input:")
    face = outs[True].faces[0]
    if reframed:
        assert "framed off the template" in face.reason and face.path == SUPER_RESOLVED
        assert face.size == pytest.approx(0.7 * 32, abs=0.5)
        assert np.abs(outs[True].image.astype(int) - outs[False].image).max() > 0
    else:
        assert face.reason == plain.reason
        np.testing.assert_array_equal(outs[True].image, outs[False].image)


@pytest.mark.parametrize("refine_fraction, full_pass", [(1.0, False), (1.05, False), (1.1, True),
                                                        (0.7, True)])
def test_crop_the_last_stage_finds_framed_as_the_template_skips_the_full_detection(
        bilinear_model, refine_fraction, full_pass):
    """O-Net alone deciding a crop is framed as the template (its face within half of
    REFRAME_BEYOND of the crop's side) leaves it as it is without the full MTCNN pass; any
    doubt goes to the full pass, which decides (here: the face is 0.7 of the crop, reframed)."""
    detector = _OneFace(0.7, refine_fraction=refine_fraction)
    enhancer = FaceEnhancer([bilinear_model], detector=detector)
    face = enhancer.enhance(_scene(32, 32, seed=3), aligned=True).faces[0]
    assert detector.full_passes == int(full_pass)
    assert ("framed off the template" in face.reason) == full_pass
