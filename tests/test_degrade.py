import numpy as np
import pytest
import tensorflow as tf

from keras_facesr.data import degrade


def test_area_downscale_is_block_mean():
    x = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    out = degrade.downscale(tf.constant(x), 4, "area").numpy()
    expected = x.reshape(2, 4, 2, 4, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_bilinear_x4_samples_the_two_central_pixels():
    # Half-pixel centres: output i sits at input 4i + 1.5, between pixels 4i+1 and 4i+2.
    x = np.random.default_rng(1).random((8, 8, 1)).astype(np.float32)
    out = degrade.downscale(tf.constant(x), 4, "bilinear").numpy()
    expected = x[1::4][:, 1::4] / 4 + x[2::4][:, 1::4] / 4 + x[1::4][:, 2::4] / 4 + x[2::4][:, 2::4] / 4
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_bicubic_downscale_keeps_constant_image():
    out = degrade.downscale(tf.fill((16, 16, 3), 0.25), 8, "bicubic").numpy()
    assert out.shape == (2, 2, 3)
    np.testing.assert_allclose(out, 0.25, atol=1e-6)


def test_box_blur_of_impulse_is_uniform_window():
    x = np.zeros((9, 9, 1), np.float32)
    x[4, 4] = 1.0
    out = degrade.blur(tf.constant(x), degrade.box_kernel(1)).numpy()[..., 0]
    np.testing.assert_allclose(out[3:6, 3:6], 1 / 9, atol=1e-6)
    assert out.sum() == pytest.approx(1.0, abs=1e-6)
    assert out[0, 0] == 0


def test_stack_kernel_is_triangular():
    np.testing.assert_allclose(degrade.stack_kernel(2), np.array([1, 2, 3, 2, 1]) / 9, atol=1e-7)


def test_gaussian_kernel_follows_renderscript():
    k = degrade.gaussian_kernel(5.0)
    assert len(k) == 11 and k.sum() == pytest.approx(1.0, abs=1e-6)
    sigma = 0.4 * 5 + 0.6
    np.testing.assert_allclose(k[5 + 1] / k[5], np.exp(-1 / (2 * sigma**2)), rtol=1e-5)
    np.testing.assert_allclose(k, k[::-1])


def test_blur_preserves_constant_image_at_borders():
    x = tf.fill((10, 12, 3), 0.7)
    for kind in ("box", "stack", "gaussian"):
        out = degrade.blur(x, degrade.KERNELS[kind](3)).numpy()
        np.testing.assert_allclose(out, 0.7, atol=1e-5)


def test_degradation_is_seeded_and_reproducible():
    hr = tf.random.stateless_uniform((64, 64, 3), (1, 2))
    d = degrade.Degradation(4, ["bilinear", "bicubic", "area"], blur=["box", "gaussian"],
                            noise=0.05, jpeg_quality=[30, 90])
    a = d(hr, tf.constant([3, 4])).numpy()
    b = d(hr, tf.constant([3, 4])).numpy()
    c = d(hr, tf.constant([5, 6])).numpy()
    assert a.shape == (16, 16, 3)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    assert a.min() >= 0 and a.max() <= 1


def test_default_degradation_is_plain_bilinear_x4():
    hr = tf.random.stateless_uniform((32, 32, 3), (0, 1))
    lr = degrade.Degradation()(hr, tf.constant([0, 0])).numpy()
    np.testing.assert_allclose(lr, degrade.downscale(hr, 4, "bilinear").numpy(), atol=1e-7)


def test_jpeg_changes_pixels_and_noise_has_requested_std():
    x = tf.random.stateless_uniform((32, 32, 3), (0, 1)) * 0.5 + 0.25
    assert np.abs(degrade.jpeg(x, 10).numpy() - x.numpy()).mean() > 0.01
    noisy = degrade.add_noise(x, 0.02, tf.constant([1, 1])).numpy()
    assert np.std(noisy - x.numpy()) == pytest.approx(0.02, rel=0.1)


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="nearest"):
        degrade.Degradation(resize=["nearest"])


def test_native_size_records_the_face_smaller_then_resamples_it_as_alignment_does():
    rng = np.random.default_rng(4)
    hr = tf.constant(rng.random((128, 128, 3)).astype(np.float32))
    # recorded at the model's input size: exactly the plain downscale
    same = degrade.resample_via(hr, tf.constant(32), 32, "area").numpy()
    np.testing.assert_allclose(same, degrade.downscale(hr, 4, "area").numpy(), atol=1e-6)
    # a 16 px face enlarged to the 32 px input holds less detail than a 32 px one
    small = degrade.resample_via(hr, tf.constant(16), 32, "area").numpy()
    assert small.shape == (32, 32, 3)
    assert np.abs(np.diff(small, axis=1)).mean() < 0.6 * np.abs(np.diff(same, axis=1)).mean()
    d = degrade.Degradation(4, resize=["area", "bilinear"], native_size=[18, 35])
    draws = [d(hr, tf.constant([0, k], tf.int64)).numpy() for k in range(6)]
    assert all(x.shape == (32, 32, 3) for x in draws)
    assert len({round(float(np.abs(np.diff(x, axis=0)).mean()), 5) for x in draws}) > 3  # sizes vary
    np.testing.assert_array_equal(draws[2], d(hr, tf.constant([0, 2], tf.int64)).numpy())  # seeded
    assert degrade.Degradation.from_dict(d.to_config(), 4).to_config() == d.to_config()


def test_a_degradation_round_trips_through_a_model_description():
    from keras_facesr.models.info import DEGRADATION_KEYS, info_from_dict

    d = degrade.Degradation(4, resize=["area"], noise=0.01, native_size=[18, 35])
    assert set(d.to_config()) == DEGRADATION_KEYS
    info = info_from_dict({"name": "m", "scale": 4, "lr_size": 32, "degradation": d.to_config()})
    assert degrade.Degradation.from_dict(info.degradation, 4).describe() == d.describe()
    with pytest.raises(ValueError, match="degradation must be"):
        info_from_dict({"name": "m", "scale": 4, "lr_size": 32, "degradation": {"sharpen": 1}})
