"""Chapter 05: PatchGAN, Pix2Pix, stochastic U-Nets, posterior-sampling statistics."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from imgutils import corrupt, metrics, pretrained
from imgutils.models import pix2pix, registry, restoration
from tests.test_train import Interrupt


def _images(n=16, size=28, seed=0):
    return np.random.default_rng(seed).random((n, size, size, 1)).astype(np.float32)


def test_patchgan_shapes_and_receptive_field():
    d = pix2pix.patchgan_discriminator((28, 28, 1), ((7, 7, 1),), width=8)
    assert d.output_shape == (None, 7, 7, 1)
    assert pix2pix.receptive_field(d) == 18
    inpaint = pix2pix.patchgan_discriminator((28, 28, 1), ((28, 28, 1), (28, 28, 1)), width=8)
    logits = inpaint([_images(2), _images(2, seed=1)[..., :1], _images(2, seed=2)])
    assert logits.shape == (2, 7, 7, 1)


def test_patch_logit_sees_exactly_its_receptive_field():
    """The gradient of one logit reaches an 18x18 square of the candidate, nothing outside."""
    d = pix2pix.patchgan_discriminator((28, 28, 1), ((7, 7, 1),), width=8)
    low = tf.constant(_images(1, 7))
    candidate = tf.Variable(_images(1, 28, seed=3))
    with tf.GradientTape() as tape:
        logit = d([low, candidate])[0, 3, 3, 0]
    grad = np.abs(tape.gradient(logit, candidate).numpy()[0, ..., 0])
    rows, cols = np.nonzero(grad.sum(axis=1))[0], np.nonzero(grad.sum(axis=0))[0]
    assert rows.max() - rows.min() + 1 == 18 and cols.max() - cols.min() + 1 == 18
    # a corner logit sees the image border (zero padding cuts its field)
    with tf.GradientTape() as tape:
        corner = d([low, candidate])[0, 0, 0, 0]
    g = np.abs(tape.gradient(corner, candidate).numpy()[0, ..., 0])
    assert g[:, 18:].sum() == 0 and g[18:, :].sum() == 0


def test_sr_unet_and_stochastic_unet():
    sr = restoration.sr_unet(factor=4, base=8)
    low = _images(3, 7)
    out = restoration.restore(sr, low)
    assert out.shape == (3, 28, 28, 1) and 0 <= out.min() and out.max() <= 1
    assert not pix2pix.is_stochastic(sr)
    noisy_sr = restoration.sr_unet(factor=4, base=8, noise_channels=2)
    assert pix2pix.is_stochastic(noisy_sr)
    a, b = noisy_sr(low), noisy_sr(low)
    assert not np.allclose(a, b)                       # fresh noise at every call
    gen = restoration.unet(base=8, noise_channels=2)
    damaged = corrupt.centre_hole(_images(2), 14)
    s1, s2 = gen([damaged.corrupted, damaged.mask]), gen([damaged.corrupted, damaged.mask])
    hole = damaged.mask == 0
    assert not np.allclose(s1.numpy()[hole], s2.numpy()[hole])
    np.testing.assert_allclose(s1.numpy()[~hole], damaged.corrupted[~hole])  # observed kept


def test_draw_samples_repeatable_for_a_seed_and_batch_independent_in_inference():
    gen = restoration.sr_unet(factor=4, base=8, noise_channels=2)
    low = _images(5, 7)
    a = pix2pix.draw_samples(gen, low, 3, seed=1)
    b = pix2pix.draw_samples(gen, low, 3, seed=1)
    c = pix2pix.draw_samples(gen, low, 3, seed=2)
    assert a.shape == (3, 5, 28, 28, 1)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a[0], a[1])
    det = pix2pix.draw_samples(restoration.sr_unet(factor=4, base=8), low, 2)
    np.testing.assert_array_equal(det[0], det[1])
    # The BatchNorm trap (tensorflow/tensorflow#29478): in training mode an image's output
    # depends on the rest of its batch; in inference mode it does not.
    mse = restoration.sr_unet(factor=4, base=8)
    batch = _images(16, 7, seed=4)
    alone, together = mse(batch[:1], training=False), mse(batch, training=False)[:1]
    np.testing.assert_allclose(alone, together, atol=1e-5)
    alone_t, together_t = mse(batch[:1], training=True), mse(batch, training=True)[:1]
    assert np.abs(alone_t - together_t).max() > 1e-3


def _pix2pix(weight=0.05, k=1, noise=2):
    gen = restoration.sr_unet(factor=4, base=8, noise_channels=noise)
    disc = pix2pix.patchgan_discriminator((28, 28, 1), ((7, 7, 1),), width=8)
    model = pix2pix.Pix2Pix(gen, disc)
    model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(1e-3),
                  adversarial_weight=weight, samples_per_input=k)
    return model


def _one_step(weight, **kwargs):
    """(model, low, x, generator weights before, discriminator weights before, logs)."""
    keras.utils.set_random_seed(0)
    model = _pix2pix(weight, **kwargs)
    x = _images(8)
    low = corrupt.downsample(x, 4).corrupted
    g0 = [w.numpy().copy() for w in model.generator.trainable_weights]
    d0 = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    expected_mse = float(np.mean((model.generator(low, training=True).numpy() - x) ** 2))
    logs = model.train_step((tf.constant(low), tf.constant(x)))
    return model, g0, d0, expected_mse, logs


def test_train_step_updates_both_players_and_tracks_every_term():
    model, g0, d0, _, logs = _one_step(0.05, k=2)
    assert set(logs) == {"g_loss", "content", "adversarial", "d_loss", "d_real", "d_fake"}
    np.testing.assert_allclose(float(logs["g_loss"]),
                               float(logs["content"]) + 0.05 * float(logs["adversarial"]),
                               rtol=1e-5)
    assert 0 < float(logs["d_real"]) < 1 and float(logs["d_loss"]) > 0
    assert any(not np.allclose(a, b.numpy()) for a, b in
               zip(g0, model.generator.trainable_weights, strict=True))
    assert any(not np.allclose(a, b.numpy()) for a, b in
               zip(d0, model.discriminator.trainable_weights, strict=True))


def test_zero_adversarial_weight_is_plain_mse_training():
    model, _, d0, expected, logs = _one_step(0.0, noise=0)
    for a, b in zip(d0, model.discriminator.trainable_weights, strict=True):
        np.testing.assert_array_equal(a, b.numpy())          # D untouched
    assert float(logs["adversarial"]) == 0.0 and float(logs["d_loss"]) == 0.0
    np.testing.assert_allclose(float(logs["content"]), expected, rtol=1e-4)


def test_inpainting_pairs_with_masks_train():
    keras.utils.set_random_seed(0)
    gen = restoration.unet(base=8, noise_channels=1)
    disc = pix2pix.patchgan_discriminator((28, 28, 1), ((28, 28, 1), (28, 28, 1)), width=8)
    model = pix2pix.Pix2Pix(gen, disc)
    model.compile(keras.optimizers.Adam(2e-4), keras.optimizers.Adam(1e-3),
                  adversarial_weight=0.01, content="l1")
    data = corrupt.training_pairs(_images(64), ("centre_hole", 14), batch_size=16,
                                  with_mask=True)
    history = model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])


def test_bad_arguments_are_clear_errors():
    gen = restoration.sr_unet(factor=4, base=8)
    disc = pix2pix.patchgan_discriminator((28, 28, 1), ((7, 7, 1),), width=8)
    model = pix2pix.Pix2Pix(gen, disc)
    opt = keras.optimizers.Adam
    with pytest.raises(ValueError, match="content"):
        model.compile(opt(), opt(), content="l3")
    with pytest.raises(ValueError, match="both be 0"):
        model.compile(opt(), opt(), adversarial_weight=0.0, content_weight=0.0)
    with pytest.raises(ValueError, match="adversarial_weight"):
        model.compile(opt(), opt(), adversarial_weight=-1.0)
    with pytest.raises(ValueError, match="samples_per_input"):
        model.compile(opt(), opt(), samples_per_input=0)
    with pytest.raises(ValueError, match="does not match"):
        pix2pix.Pix2Pix(restoration.sr_unet(channels=3, factor=4, base=8), disc)
    with pytest.raises(ValueError, match="input"):
        pix2pix.Pix2Pix(gen, pix2pix.patchgan_discriminator(
            (28, 28, 1), ((7, 7, 1), (7, 7, 1)), width=8))
    with pytest.raises(ValueError, match="condition_shapes"):
        pix2pix.patchgan_discriminator((28, 28, 1), ((5, 5, 1),))
    with pytest.raises(ValueError, match="noise_channels"):
        restoration.sr_unet(noise_channels=-1)
    with pytest.raises(ValueError, match="k must"):
        pix2pix.draw_samples(gen, _images(1, 7), 0)
    with pytest.raises(ValueError, match="size"):
        corrupt.centre_hole(_images(1), 30)


def test_stochastic_generator_ships_and_reloads(tmp_path):
    gen = restoration.sr_unet(factor=4, base=8, noise_channels=2, name="sr_gan")
    pretrained.save(gen, "tiny_sr_gan", profile="smoke", dataset="random", metrics={},
                    weights_dir=tmp_path)
    back = pretrained.load("tiny_sr_gan", weights_dir=tmp_path)
    low = _images(4, 7)
    np.testing.assert_array_equal(pix2pix.draw_samples(gen, low, 2, seed=3),
                                  pix2pix.draw_samples(back, low, 2, seed=3))
    assert registry.recipe(back)["kwargs"]["noise_channels"] == 2


def test_pix2pix_training_resumes_after_a_crash(tmp_path):
    from imgutils.train import resumable_callbacks

    x = _images(64)
    data = corrupt.training_pairs(x, ("downsample", 4), batch_size=16)

    class Keep(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.weights = [w.copy() for w in self.model.get_weights()]

    keras.utils.set_random_seed(0)
    crashed, keep = _pix2pix(), Keep()
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(data, epochs=4, steps_per_epoch=2, verbose=0,
                    callbacks=[keep, *resumable_callbacks(backup), Interrupt(2, 1)])

    class AtStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = [w.copy() for w in self.model.get_weights()]
            self.iterations = (int(self.model.d_optimizer.iterations),
                               int(self.model.g_optimizer.iterations))

    keras.utils.set_random_seed(7)
    resumed, start = _pix2pix(), AtStart()
    history = resumed.fit(data, epochs=4, steps_per_epoch=2, verbose=0,
                          callbacks=[*resumable_callbacks(backup), start])
    assert len(history.history["g_loss"]) == 4            # 1-2 from the backup, 3-4 trained
    assert start.iterations == (4, 4)
    for a, b in zip(keep.weights, start.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not backup.exists()


# --------------------------------------------------------------------------- the 3.01 dB bound
def _gaussian_toy(n=20_000, prior_sd=0.05, noise_sd=0.05, seed=0):
    """x ~ N(0.5, s^2) per pixel, y = x + n: posterior N(0.5 + g (y - 0.5), g n^2)."""
    rng = np.random.default_rng(seed)
    x = 0.5 + prior_sd * rng.standard_normal((n, 4, 4, 1))
    y = x + noise_sd * rng.standard_normal(x.shape)
    gain = prior_sd**2 / (prior_sd**2 + noise_sd**2)
    post_mean, post_var = 0.5 + gain * (y - 0.5), gain * noise_sd**2
    return x, post_mean, post_var, rng


def test_posterior_sampler_pays_exactly_twice_the_mmse():
    x, post_mean, post_var, rng = _gaussian_toy()
    k = 8
    samples = post_mean[None] + np.sqrt(post_var) * rng.standard_normal((k, *x.shape))
    stats = metrics.posterior_sampling(x, samples)
    mmse = post_var
    assert stats["mse_mean_inf"] == pytest.approx(mmse, rel=0.02)
    assert stats["mse_sample"] == pytest.approx(2 * mmse, rel=0.02)
    assert stats["ratio_inf"] == pytest.approx(2.0, rel=0.03)
    assert stats["ratio"] == pytest.approx(2 * k / (k + 1), rel=0.03)
    assert stats["ratio_perfect"] == pytest.approx(16 / 9)
    # 10 log10(2) dB: the PSNR a perfect sampler loses against the MMSE estimator
    loss_db = 10 * np.log10(stats["mse_sample"] / stats["mse_mean_inf"])
    assert loss_db == pytest.approx(3.01, abs=0.1)
    # the MMSE estimator itself, repeated: no spread, ratio 1
    still = metrics.posterior_sampling(x, np.repeat(post_mean[None], 2, axis=0))
    assert still["ratio"] == pytest.approx(1.0) and still["spread"] == 0.0
    with pytest.raises(ValueError, match="K >= 2"):
        metrics.posterior_sampling(x, samples[:1])
    with pytest.raises(ValueError, match="shape"):
        metrics.posterior_sampling(x, samples[:, :10])


@pytest.mark.slow
def test_a_few_cgan_steps_on_real_data_lower_fid_fm():
    """Learning: 150 steps of a tiny cGAN x4 super-resolver on Fashion-MNIST move the FID-FM
    of its test restorations well below the untrained generator's."""
    from imgutils import data, features

    fm = data.fashion_mnist(n_train=6000, n_test=500)
    keras.utils.set_random_seed(0)
    model = _pix2pix(0.01)
    low_test = corrupt.downsample(fm.test.images, 4).corrupted
    real = features.fashion_features(fm.test.images)

    def fid():
        out = pix2pix.draw_samples(model.generator, low_test, 1)[0]
        return metrics.fid_from_features(real, features.fashion_features(out))

    before = fid()
    pairs = corrupt.training_pairs(fm.train.images, ("downsample", 4), batch_size=32)
    model.fit(pairs, steps_per_epoch=150, epochs=1, verbose=0)
    after = fid()
    assert after < 0.75 * before, (before, after)
