import keras
import numpy as np
import pytest

from keras_facesr.models.archs import build_discriminator, build_generator, load_generator

# Layers whose TFLite ops (CONV_2D, PRELU, ADD, MUL/ADD from batch norm, DEPTH_TO_SPACE,
# RESIZE_BILINEAR) the TFLite GPU delegate runs.
GPU_FRIENDLY = {"InputLayer", "Conv2D", "PReLU", "Add", "BatchNormalization", "PixelShuffle",
                "UpSampling2D", "Activation"}


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_generator_is_fully_convolutional(scale):
    g = build_generator("edge", scale)
    for h, w in [(8, 8), (20, 28)]:
        out = g(np.zeros((2, h, w, 3), np.float32))
        assert out.shape == (2, h * scale, w * scale, 3)


def test_edge_generator_is_small_and_srresnet_is_srgan_sized():
    edge = build_generator("edge", 4)
    full = build_generator("srresnet", 4)
    assert edge.count_params() <= 300_000
    assert sum("res" in layer.name and "conv1" in layer.name for layer in full.layers) == 16
    assert full.count_params() > 1_000_000


@pytest.mark.parametrize("kind", ["edge", "srresnet"])
def test_generator_uses_gpu_delegate_friendly_layers_only(kind):
    g = build_generator(kind, 4, blocks=2)
    assert {type(layer).__name__ for layer in g.layers} <= GPU_FRIENDLY


def test_edge_generator_starts_near_bilinear():
    # The edge model learns a residual over bilinear upsampling, starting from exactly bilinear.
    g = build_generator("edge", 4)
    x = np.random.default_rng(0).random((1, 8, 8, 3)).astype(np.float32)
    expected = keras.layers.UpSampling2D(4, interpolation="bilinear")(x)
    np.testing.assert_allclose(g(x), expected, atol=1e-6)


def test_generator_round_trips_through_keras_file_in_safe_mode(tmp_path):
    g = build_generator("edge", 4, blocks=2)
    path = tmp_path / "g.keras"
    g.save(path)
    loaded = load_generator(path)
    x = np.random.default_rng(0).random((1, 12, 12, 3)).astype(np.float32)
    np.testing.assert_allclose(g(x), loaded(x), atol=1e-6)


def test_load_generator_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        load_generator(tmp_path / "nope.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.keras: not a .keras model .*not one"):
        load_generator(bad)
    # Python code inside a model is refused, and said so: not "file not found", no config dump
    import keras

    inp = keras.Input((None, None, 3))
    hostile = tmp_path / "hostile.keras"
    keras.Model(inp, keras.layers.Lambda(lambda t: t * 2.0)(inp)).save(hostile)
    with pytest.raises(ValueError, match="hostile.keras: refused: it holds Python code") as err:
        load_generator(hostile)
    assert "safe_mode=False" not in str(err.value) and len(str(err.value)) < 300


@pytest.mark.parametrize("norm", ["batch", "spectral", "none"])
def test_discriminator_gives_one_logit(norm):
    d = build_discriminator(32, filters=8, norm=norm)
    assert d(np.zeros((3, 32, 32, 3), np.float32), training=True).shape == (3, 1)
    if norm == "spectral":
        assert any(isinstance(layer, keras.layers.SpectralNormalization) for layer in d.layers)


def test_patch_discriminator_is_light_and_judges_patches():
    d = build_discriminator(128, 32, "spectral", kind="patch")
    assert d.count_params() < 1_000_000 < build_discriminator(128, 32, "batch").count_params()
    assert d.output.shape == (None, 16, 16, 1)
    assert any(isinstance(layer, keras.layers.SpectralNormalization) for layer in d.layers)
    with pytest.raises(ValueError, match="unknown discriminator 'vgg'"):
        build_discriminator(128, kind="vgg")


def test_unet_discriminator_is_light_and_judges_every_2x2_block():
    d = build_discriminator(128, 16, "spectral", kind="unet")
    assert d.count_params() < 1_000_000
    assert d.output.shape == (None, 64, 64, 1)
    assert sum(isinstance(layer, keras.layers.SpectralNormalization) for layer in d.layers) == 7
    assert d(np.zeros((2, 128, 128, 3), np.float32), training=True).shape == (2, 64, 64, 1)
    with pytest.raises(ValueError, match="divisible by 16, not 120"):
        build_discriminator(120, kind="unet")
