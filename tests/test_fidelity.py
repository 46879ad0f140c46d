"""Fidelity blend, back-projection, and routing faces by the sizes a model was measured to win."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from test_enhance import _FixedDetector, _landmarks, _scene

from keras_facesr.face.detect import Face
from keras_facesr.images import downscale_area, upscale_bicubic
from keras_facesr.models.info import (
    ModelInfo,
    info_from_dict,
    read_model_info,
    winning_range,
    write_model_info,
)
from keras_facesr.pipeline.enhance import KEPT, SUPER_RESOLVED, FaceEnhancer
from keras_facesr.pipeline.fidelity import back_project, blend
from keras_facesr.pipeline.paste import is_grey
from keras_facesr.pipeline.sr import super_resolve


def _faces(seed=0):
    rng = np.random.default_rng(seed)
    lr = rng.random((3, 8, 8, 3)).astype(np.float32)
    sr = rng.random((3, 32, 32, 3)).astype(np.float32)
    return lr, sr


def test_blend_runs_from_bicubic_to_the_model_face():
    lr, sr = _faces()
    np.testing.assert_array_equal(blend(lr, sr, 1.0), sr)
    np.testing.assert_allclose(blend(lr, sr, 0.0), upscale_bicubic(lr, (32, 32)), atol=1e-6)
    half = blend(lr, sr, 0.5)
    expected = np.clip((upscale_bicubic(lr, (32, 32)) + sr) / 2, 0, 1)
    np.testing.assert_allclose(half, expected, atol=1e-6)
    with pytest.raises(ValueError, match="fidelity"):
        blend(lr, sr, 1.5)


def test_back_projection_makes_the_sr_face_consistent_with_the_input():
    lr, sr = _faces(1)
    before = np.abs(downscale_area(sr, (8, 8)) - lr).mean()
    after = np.abs(downscale_area(back_project(lr, sr, 10), (8, 8)) - lr).mean()
    assert after < 0.3 * before
    np.testing.assert_array_equal(back_project(lr, sr, 0), sr)


def test_model_info_carries_measured_defaults(tmp_path):
    path = tmp_path / "g.keras"
    write_model_info(path, ModelInfo("g", 4, 32, fidelity=0.6, face_sizes=(20.0, 36.0)))
    info = read_model_info(path)
    assert info.fidelity == 0.6 and info.face_sizes == (20.0, 36.0)
    for bad in ({"fidelity": 2}, {"face_sizes": [30, 20]}, {"grey_face_sizes": [16]}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            info_from_dict({"name": "g", "scale": 4, "lr_size": 32, **bad})
    path.with_name("g.keras.json").write_text(json.dumps({"name": "g", "scale": 4, "lr_size": 32}))
    assert read_model_info(path).fidelity == 1.0 and read_model_info(path).face_sizes is None
    write_model_info(path, ModelInfo("g", 8, 16, face_sizes=(0.0, 17.0), grey_face_sizes=(16.0, 17.0)))
    info = read_model_info(path)
    assert info.grey_face_sizes == (16.0, 17.0)
    assert info.sizes_for(grey=True) == (16.0, 17.0) and info.sizes_for(grey=False) == (0.0, 17.0)
    assert ModelInfo("g", 8, 16, face_sizes=(0.0, 17.0)).sizes_for(grey=True) == (0.0, 17.0)


def test_grey_means_no_colour_beyond_jpeg_noise():
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (20, 20, 1)), 3, axis=2)
    noisy = np.clip(grey + rng.integers(-1, 2, grey.shape), 0, 255).astype(np.uint8)  # chroma noise
    assert is_grey(noisy) and is_grey(noisy.astype(np.float32) / 255)
    noisy[3, 4, 0] = min(255, int(noisy[3, 4, 1]) + 10)
    assert not is_grey(noisy)


class _Scaled:
    """A fake x4 back-end whose output is the input enlarged (nearest) and brightened."""

    fixed_input = False

    def __init__(self, info):
        self.info = info

    def __call__(self, lr):
        up = np.stack([cv2.resize(f, None, fx=4, fy=4, interpolation=cv2.INTER_NEAREST) for f in lr])
        return np.clip(up + 0.2, 0, 1)


def test_faces_outside_every_measured_range_are_kept_and_fidelity_applies():
    frame = _scene(200, 300)
    tiny = Face((40, 40, 12, 12), 0.99, _landmarks(50, 50, 14))
    mid = Face((150, 50, 20, 20), 0.99, _landmarks(160, 60, 26))
    model = _Scaled(ModelInfo("x4", 4, 32, fidelity=0.5, face_sizes=(20.0, 36.0)))
    enhancer = FaceEnhancer([model], detector=_FixedDetector([tiny, mid]), keep_crops=True)
    result = enhancer.enhance(frame)
    assert [f.path for f in result.faces] == [KEPT, SUPER_RESOLVED]
    assert "no model beats bicubic" in result.faces[0].reason and "x4 20-36 px" in result.faces[0].reason
    assert "fidelity 0.5" in result.faces[1].reason
    # the blend halves the fake model's +0.2 brightening (before colour matching)
    plain = FaceEnhancer([model], detector=_FixedDetector([mid]), keep_crops=True, fidelity=1.0,
                         colour_match=False).enhance(frame).faces[0].sr.astype(float)
    half = FaceEnhancer([model], detector=_FixedDetector([mid]), keep_crops=True,
                        colour_match=False).enhance(frame).faces[0].sr.astype(float)
    lr = result.faces[1].lr.astype(np.float32)[None] / 255
    bicubic = upscale_bicubic(lr, (128, 128))[0] * 255
    assert np.abs(half - bicubic).mean() == pytest.approx(np.abs(plain - bicubic).mean() / 2, rel=0.1)
    crop = np.full((14, 14, 3), 90, np.uint8)
    aligned = enhancer.enhance(crop, aligned=True)
    assert aligned.faces[0].path == KEPT and aligned.image.shape == (56, 56, 3)
    with pytest.raises(ValueError, match="fidelity"):
        FaceEnhancer([model], fidelity=-0.1)


def test_grey_faces_are_routed_by_the_range_measured_on_grey_faces():
    """A model measured apart on grey faces takes a grey face only in its grey range; the
    same face in colour goes by ``face_sizes``; a model with no grey range takes both alike."""
    colour = _scene(200, 300)
    grey = np.repeat(cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    face = Face((150, 50, 20, 20), 0.99, _landmarks(160, 60, 26))
    both = ModelInfo("x4", 4, 32, face_sizes=(10.0, 40.0))
    apart = ModelInfo("x4", 4, 32, face_sizes=(10.0, 40.0), grey_face_sizes=(30.0, 40.0))

    def path(info, frame):
        result = FaceEnhancer([_Scaled(info)], detector=_FixedDetector([face])).enhance(frame)
        return result.faces[0]

    assert path(apart, colour).path == SUPER_RESOLVED
    kept = path(apart, grey)
    assert kept.path == KEPT and "grey" in kept.reason and "for grey faces: x4 30-40 px" in kept.reason
    assert path(both, grey).path == SUPER_RESOLVED and path(both, colour).path == SUPER_RESOLVED
    enhancer = FaceEnhancer([_Scaled(apart)])
    crop = grey[40:60, 150:170]  # an aligned grey crop of 20 px: outside the grey range
    assert enhancer.enhance(crop, aligned=True).faces[0].path == KEPT
    assert enhancer.enhance(colour[40:60, 150:170], aligned=True).faces[0].path == SUPER_RESOLVED


def test_faces_in_the_own_size_band_are_fed_at_their_own_size():
    info = ModelInfo("x4", 4, 32, face_sizes=(10.0, 40.0), own_size=(27.0, 36.0))
    sizes = (20.0, 26.9, 27.0, 29.4, 29.5, 35.9, 36.0)
    assert [info.input_side(s) for s in sizes] == [32, 32, 27, 29, 30, 36, 32]
    assert info.own_sides() == list(range(27, 37))
    assert ModelInfo("x4", 4, 32).own_sides() == [] and ModelInfo("x4", 4, 32).input_side(29) == 32
    frame = _scene(200, 300)
    faces = [Face((40, 40, 20, 20), 0.99, _landmarks(60, 60, 30)),
             Face((150, 50, 20, 20), 0.99, _landmarks(180, 80, 22))]
    result = FaceEnhancer([_Scaled(info)], detector=_FixedDetector(faces), keep_crops=True).enhance(frame)
    near, small = result.faces
    side = info.input_side(near.size)
    assert side != 32 and near.lr.shape[:2] == (side, side) and near.sr.shape[:2] == (4 * side, 4 * side)
    assert f"fed at its own {side} px" in near.reason
    assert small.lr.shape[:2] == (32, 32) and "own" not in small.reason
    # a back-end with static shapes and no file of that side gets the model's input instead
    fixed = _Scaled(info)
    fixed.fixed_input = True
    result = FaceEnhancer([fixed], detector=_FixedDetector(faces[:1]), keep_crops=True).enhance(frame)
    assert result.faces[0].lr.shape[:2] == (32, 32)


def test_the_range_a_sweep_gives_is_the_run_of_wins_around_the_model_input():
    # x4 as measured: loses at 12, wins 13-35 at every whole size, loses from 36 px; each size
    # stands for the faces that round to it
    wins = {12: False, **{s: True for s in range(13, 36)}, 36: False, 40: False}
    assert winning_range(wins, 32) == (12.5, 35.5)
    # x8 as measured: an isolated win at 12 px is not in the run around its 16 px input
    assert winning_range({12: True, 13: False, 15: False, 16: True, 17: False}, 16) == (15.5, 16.5)
    # sizes a step apart: halfway to the sizes measured either side; a win at the last size
    # measured: half a pixel past it
    assert winning_range({12: False, 16: True, 20: True, 24: True, 28: False}, 32) == (14.0, 26.0)
    assert winning_range({28: False, 32: True}, 32) == (30.0, 32.5)
    assert winning_range({20: False, 24: False}, 32) is None


def test_bundle_manifest_carries_the_measured_defaults():
    """`export` writes fidelity and face_sizes into the manifest; `edge` reads them back."""
    manifest = {"format": "keras-facesr-bundle/1", "name": "facesr-edge-x8", "scale": 8, "lr_size": 16,
                "fidelity": 0.25, "face_sizes": [0, 18], "grey_face_sizes": [16, 18], "models": []}
    info = info_from_dict(manifest, name="facesr-edge-x8 (dynamic)")
    assert (info.name, info.fidelity, info.face_sizes) == ("facesr-edge-x8 (dynamic)", 0.25, (0.0, 18.0))
    assert info.grey_face_sizes == (16.0, 18.0)
    manifest["face_sizes"] = None
    assert info_from_dict(manifest).face_sizes is None


class _Lopsided(_Scaled):
    """A fake x4 model that brightens the right of every face more than the left, and records
    how many faces each call gets."""

    def __init__(self, info):
        super().__init__(info)
        self.calls: list[int] = []

    def __call__(self, lr):
        self.calls.append(len(lr))
        ramp = np.linspace(0.0, 0.2, lr.shape[2] * 4, dtype=np.float32)[None, None, :, None]
        return np.clip(super().__call__(lr) - 0.2 + ramp, 0, 1)


def test_mirror_averaging_cancels_what_the_model_adds_to_one_side_only():
    model = _Lopsided(ModelInfo("x4", 4, 32))
    lr = np.full((2, 8, 8, 3), 0.5, np.float32)
    plain, mirrored = super_resolve(model, lr), super_resolve(model, lr, mirror=True)
    assert model.calls == [2, 4]  # both readings in one call
    assert np.ptp(plain[..., 0], axis=2).max() == pytest.approx(0.2, abs=1e-6)
    np.testing.assert_allclose(mirrored, 0.6, atol=1e-6)  # the ramp's mean, on both sides alike


def test_photos_are_mirror_averaged_and_video_frames_are_not(tmp_path):
    from test_enhance import _write_video

    from keras_facesr.pipeline import jobs

    frame = _scene(200, 300)
    face = Face((150, 50, 20, 20), 0.99, _landmarks(160, 60, 26))
    model = _Lopsided(ModelInfo("x4", 4, 32))
    photo = FaceEnhancer([model], detector=_FixedDetector([face]), colour_match=False).enhance(frame)
    assert model.calls == [2] and photo.faces[0].reason.endswith("mirror-averaged")
    model.calls.clear()
    _write_video(tmp_path / "clip.avi", [frame] * 3)
    report = jobs.run(FaceEnhancer([model], detector=_FixedDetector([face])), [tmp_path / "clip.avi"],
                      tmp_path / "out", progress=False, key_interval=1)
    assert report["inputs"][0]["faces_super_resolved"] == 3 and sum(model.calls) == 3
    model.calls.clear()
    FaceEnhancer([model], detector=_FixedDetector([face]), mirror=False).enhance(frame)
    FaceEnhancer([model], detector=_FixedDetector([face]), mirror=True).enhance_batch([frame], video=True)
    FaceEnhancer([model], mirror=True).enhance(frame[40:72, 150:182], aligned=True)
    assert model.calls == [1, 2, 2]
