"""scripts/average_generators.py: a weight average of generators of one architecture."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from average_generators import average_generators  # noqa: E402

from keras_facesr.models.archs import build_generator, load_generator  # noqa: E402
from keras_facesr.models.info import ModelFileError, ModelInfo, read_model_info, write_model_info  # noqa: E402


def _saved(path: Path, blocks: int = 1, seed: int = 0) -> Path:
    g = build_generator("edge", 4, blocks=blocks)
    rng = np.random.default_rng(seed)
    g.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in g.get_weights()])
    g.save(path)
    return path


def test_the_average_holds_the_mean_weights_and_the_first_sidecar(tmp_path):
    a, b = _saved(tmp_path / "a.keras", seed=1), _saved(tmp_path / "b.keras", seed=2)
    write_model_info(a, ModelInfo("x4-a", 4, 32, fidelity=0.5, face_sizes=(12.5, 35.5)))
    out = tmp_path / "soups" / "soup.keras"  # a folder not made yet
    average_generators([a, b], out)
    mean = [(x + y) / 2 for x, y in zip(load_generator(a).get_weights(), load_generator(b).get_weights(),
                                        strict=True)]
    for got, want in zip(load_generator(out).get_weights(), mean, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    info = read_model_info(out)
    assert info is not None and info.fidelity == 0.5 and info.face_sizes == (12.5, 35.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.keras", "a.keras.json", "b.keras", "soups"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["soup.keras", "soup.keras.json"]


def test_generators_of_different_architectures_are_refused_naming_the_file(tmp_path):
    a, b = _saved(tmp_path / "a.keras", blocks=1), _saved(tmp_path / "b.keras", blocks=2)
    with pytest.raises(ModelFileError, match="b.keras: its architecture differs"):
        average_generators([a, b], tmp_path / "soup.keras")
    assert not (tmp_path / "soup.keras").exists()
