import keras
import numpy as np
import pytest

from imgutils import corrupt, metrics
from imgutils.models import restoration


def test_dncnn_shapes_and_residual_identity(rng):
    model = restoration.dncnn(channels=3, depth=4, width=8)
    x = rng.random((2, 20, 24, 3)).astype(np.float32)
    assert model.predict(x, verbose=0).shape == x.shape
    # zero the noise branch: a residual DnCNN is then the identity
    last = model.get_layer("noise")
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-6)
    direct = restoration.dncnn(depth=3, width=4, residual=False)
    assert direct.get_layer("clean") is not None


def test_unet_keeps_observed_pixels(rng):
    model = restoration.unet(channels=1, base=4, levels=2)
    x = rng.random((3, 28, 28, 1)).astype(np.float32)
    out = corrupt.missing_pixels(x, 0.6, seed=1)
    restored = model.predict([out.corrupted, out.mask], verbose=0)
    observed = out.mask[..., 0] == 1
    np.testing.assert_allclose(restored[..., 0][observed], x[..., 0][observed], atol=1e-6)
    assert restored.min() >= 0 and restored.max() <= 1
    plain = restoration.unet(base=4, skips=False, keep_observed=False)
    assert not any("skip" in layer.name for layer in plain.layers)


def test_super_resolution_shape(rng):
    model = restoration.super_resolution(channels=1, factor=2, depth=3, width=4)
    low = rng.random((2, 14, 14, 1)).astype(np.float32)
    assert model.predict(low, verbose=0).shape == (2, 28, 28, 1)


def test_models_save_and_load_in_safe_mode(tmp_path):
    model = restoration.unet(base=4, levels=1)
    model.save(tmp_path / "u.keras")
    loaded = keras.models.load_model(tmp_path / "u.keras", safe_mode=True, compile=False)
    assert loaded.get_layer("restored").__class__.__name__ == "KeepObserved"


@pytest.mark.parametrize("call, match", [
    (lambda: restoration.dncnn(channels=2), "channels must be 1"),
    (lambda: restoration.dncnn(depth=2), "depth"),
    (lambda: restoration.unet(levels=0), "levels"),
    (lambda: restoration.super_resolution(factor=1), "factor"),
])
def test_bad_arguments(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.slow
def test_tiny_denoiser_beats_noisy_input_on_held_out_images(fashion):
    """Learning test: a few hundred steps on real training images, evaluated on test images."""
    keras.utils.set_random_seed(0)
    sigma = 25 / 255
    train = corrupt.gaussian_noise(fashion.train.images[:4096], sigma, seed=1)
    test = corrupt.gaussian_noise(fashion.test.images[:200], sigma, seed=2)
    model = restoration.dncnn(depth=5, width=16)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="mse")
    model.fit(train.corrupted, train.clean, batch_size=64, epochs=4, verbose=0)  # 256 steps
    restored = restoration.restore(model, test.corrupted)
    noisy_psnr = metrics.psnr(test.clean, np.clip(test.corrupted, 0, 1), reduce="mean")
    restored_psnr = metrics.psnr(test.clean, restored, reduce="mean")
    assert restored_psnr > noisy_psnr + 2.0  # measured: 21.8 -> 24.2 dB


def test_dihedral_transforms_invert_and_are_distinct(rng):
    x = rng.random((2, 5, 5, 1)).astype(np.float32)
    seen = []
    for k in range(8):
        moved = restoration._dihedral(x, k)
        np.testing.assert_array_equal(restoration._dihedral(moved, k, inverse=True), x)
        assert not any(np.array_equal(moved, other) for other in seen)
        seen.append(moved)


def test_self_ensemble_averages_the_eight_transformed_passes(rng):
    x = rng.random((3, 8, 8, 1)).astype(np.float32)
    # an asymmetric 3x3 filter: each transform gives a different result
    model = keras.Sequential([keras.Input((None, None, 1)),
                              keras.layers.Conv2D(1, 3, padding="same", use_bias=False)])
    model.layers[0].set_weights([rng.normal(0, 0.2, (3, 3, 1, 1)).astype(np.float32)])
    expected = np.mean([restoration._dihedral(
        np.asarray(model(restoration._dihedral(x, k))), k, inverse=True) for k in range(8)],
        axis=0)
    got = restoration.restore(model, x, self_ensemble=True)
    np.testing.assert_allclose(got, np.clip(expected, 0, 1), atol=1e-6)
    assert not np.allclose(got, restoration.restore(model, x))
    # a 1x1 filter commutes with rotations and flips: the ensemble changes nothing
    pointwise = keras.Sequential([keras.Input((None, None, 1)), keras.layers.Conv2D(1, 1)])
    np.testing.assert_allclose(restoration.restore(pointwise, x, self_ensemble=True),
                               restoration.restore(pointwise, x), atol=1e-6)
    with pytest.raises(TypeError):
        restoration.restore(model, x, self_ensemble="yes")
