"""benchmarks/bands.py: the fidelity blend split by frequency band."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from keras_facesr.models.info import ModelInfo  # noqa: E402
from keras_facesr.pipeline.fidelity import blend  # noqa: E402
from keras_facesr.pipeline.sr import super_resolve  # noqa: E402

from bands import BandBlended  # noqa: E402


class _Model:
    """x4 'generator': bicubic plus a fixed smooth shading and a fine checkerboard."""

    fixed_input = False
    info = ModelInfo("fake-x4", 4, 8, fidelity=0.5)
    input_sides = (8,)

    def __call__(self, lr):
        from keras_facesr.images import upscale_bicubic

        base = upscale_bicubic(lr, (32, 32))
        y, x = np.mgrid[:32, :32]
        smooth = 0.1 * np.sin(x / 32 * np.pi)[..., None]
        fine = 0.05 * ((x + y) % 2 * 2 - 1)[..., None]
        return np.clip(base + smooth + fine, 0, 1).astype(np.float32)


def _lr():
    return np.random.default_rng(0).uniform(0.3, 0.7, (2, 8, 8, 3)).astype(np.float32)


def test_equal_weights_are_the_fidelity_blend_and_the_bands_split_the_change():
    model, lr = _Model(), _lr()
    sr = model(lr)
    np.testing.assert_allclose(BandBlended(model, 0.5, 0.5)(lr), blend(lr, sr, 0.5), atol=1e-5)
    np.testing.assert_allclose(BandBlended(model, 1, 1)(lr), sr, atol=1e-5)
    base = blend(lr, sr, 0.0)
    low = BandBlended(model, 1, 0)(lr) - base  # the smooth shading, without the checkerboard
    high = BandBlended(model, 0, 1)(lr) - base
    assert np.abs(low).max() > 0.05 and np.abs(np.diff(low, axis=2)).max() < 0.02
    assert np.abs(np.diff(high, axis=2)).max() > 0.05
    np.testing.assert_allclose(low + high, sr - base, atol=1e-5)


def test_a_wrapped_model_runs_in_the_pipeline_as_it_is():
    model = _Model()
    wrapped = BandBlended(model, 0.25, 0.5)
    assert wrapped.info.fidelity == 1.0 and wrapped.info.name == "fake-x4 bands 0.25/0.5"
    assert wrapped.input_sides == (8,) and wrapped.fixed_input is False
    assert super_resolve(wrapped, _lr(), mirror=True).shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match="band weight high must be between 0 and 1"):
        BandBlended(model, 0.5, 1.5)
