"""Chapter 06: channel layer, denoising criterion, denoising VAE objective, Tweedie, the
separated (PCA + quantiser + Hamming + BPSK) baseline, the adaptive median filter."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage
from scipy.stats import norm

from imgutils import baselines, channel, corrupt, metrics
from imgutils.models import autoencoder as ae
from imgutils.models import score
from imgutils.models.vae import conv_decoder as vae_decoder
from imgutils.models.vae import conv_encoder as vae_encoder
from imgutils.train import resumable_callbacks

SPECS = [("salt_and_pepper", 0.3), ("missing_pixels", 0.5)]


# --------------------------------------------------------------------------- channel layer
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_channel_normalises_power_and_hits_the_snr(snr_db, rng):
    layer = ae.Channel("awgn", snr_db=snr_db, seed=3)
    codes = (rng.normal(size=(400, 64)) * rng.uniform(0.1, 30, size=(400, 1))).astype("f4")
    clean = np.asarray(layer(codes, training=False))
    np.testing.assert_allclose((clean ** 2).mean(axis=1), 1.0, rtol=1e-5)
    noisy = np.asarray(layer(codes, training=True))
    assert abs(ae.measured_snr_db(clean, noisy) - snr_db) < 0.1


def test_channel_is_off_at_test_time_unless_switched_on(rng):
    layer = ae.Channel("awgn", snr_db=5.0)
    codes = rng.normal(size=(8, 16)).astype("f4")
    a, b = np.asarray(layer(codes)), np.asarray(layer(codes))
    np.testing.assert_array_equal(a, b)
    layer.set_condition(snr_db=5.0, test_noise=True)
    assert not np.array_equal(np.asarray(layer(codes)), a)
    layer.set_condition(snr_db=None, test_noise=True)      # noiseless channel
    np.testing.assert_allclose(np.asarray(layer(codes)), a, rtol=1e-6)


def test_erasure_channel_erases_at_the_rate(rng):
    layer = ae.Channel("erasure", snr_db=None, erasure_rate=0.25, seed=1)
    codes = rng.normal(size=(500, 40)).astype("f4")
    out = np.asarray(layer(codes, training=True))
    assert abs((out == 0).mean() - 0.25) < 0.01


def test_channel_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        ae.Channel("bsc")
    with pytest.raises(TypeError, match="snr_db"):
        ae.Channel(snr_db="10")
    with pytest.raises(ValueError, match="erasure_rate"):
        ae.Channel("erasure", erasure_rate=1.5)
    with pytest.raises(TypeError, match="test_noise"):
        ae.Channel().set_condition(snr_db=1.0, test_noise="yes")


def _tiny_ae(code_size=8, channel_layer=None):
    enc = ae.conv_encoder(code_size=code_size, width=8)
    dec = ae.conv_decoder(code_size=code_size, width=8)
    return ae.Autoencoder(enc, dec, channel=channel_layer)


def test_transmit_sends_at_the_stated_snr(rng):
    model = _tiny_ae(16, ae.Channel(snr_db=None))
    images = rng.uniform(size=(50, 28, 28, 1)).astype("f4")
    a = model.transmit(images, snr_db=3.0, seed=5)
    np.testing.assert_array_equal(a, model.transmit(images, snr_db=3.0, seed=5))
    assert a.shape == images.shape and a.min() >= 0 and a.max() <= 1
    with pytest.raises(ValueError, match="images"):
        model.transmit(images * 255, snr_db=3.0)


def test_autoencoder_rejects_mismatched_parts():
    with pytest.raises(ValueError, match="code sizes"):
        ae.Autoencoder(ae.conv_encoder(code_size=8, width=8), ae.conv_decoder(code_size=9,
                                                                              width=8))
    with pytest.raises(TypeError, match="channel"):
        ae.Autoencoder(ae.conv_encoder(width=8), ae.conv_decoder(width=8), channel="awgn")
    with pytest.raises(ValueError, match="code_size"):
        ae.conv_encoder(code_size=0)


# --------------------------------------------------------------------------- corruption mix
def test_mixture_gives_each_image_one_of_the_corruptions(rng):
    images = rng.uniform(0.2, 0.8, size=(64, 12, 12, 1)).astype("f4")
    out = corrupt.mixture(images, SPECS, seed=7)
    extremes = np.isin(out.corrupted, (0.0, 1.0)).mean(axis=(1, 2, 3))
    zeros = (out.corrupted == 0).mean(axis=(1, 2, 3))
    salt_and_pepper = np.isclose(extremes, 0.3, atol=0.15) & (zeros < extremes)
    masked = np.isclose(zeros, 0.5, atol=0.2) & np.isclose(extremes, zeros)
    assert np.all(salt_and_pepper | masked) and salt_and_pepper.any() and masked.any()
    again = corrupt.mixture(images, SPECS, seed=7)
    np.testing.assert_array_equal(out.corrupted, again.corrupted)
    graph = tf.function(lambda x, s: corrupt.mixture(x, SPECS, seed=s).corrupted)
    np.testing.assert_array_equal(graph(tf.constant(images), tf.constant([7, 0], tf.int64)),
                                  out.corrupted)
    with pytest.raises(ValueError, match="downsample"):
        corrupt.mixture(images, [("downsample", 2)])
    with pytest.raises(ValueError, match="non-empty"):
        corrupt.mixture(images, [])


# --------------------------------------------------------------------------- learning
def test_tiny_dae_beats_its_noisy_input_on_held_out_images(fashion):
    keras.utils.set_random_seed(0)
    train, test = fashion.train.images[:2048], fashion.test.images[:200]
    model = ae.DenoisingAutoencoder(ae.conv_encoder(code_size=32, width=16),
                                    ae.conv_decoder(code_size=32, width=16),
                                    [("salt_and_pepper", 0.3)], seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(train, batch_size=64, epochs=2, verbose=0, shuffle=False)
    noisy = corrupt.salt_and_pepper(test, 0.3, seed=11).corrupted
    restored = model.restore(noisy)
    gain = metrics.psnr(test, restored, reduce="mean") - metrics.psnr(test, noisy,
                                                                      reduce="mean")
    assert gain > 3.0


def test_dae_resumes_with_the_same_damage(tmp_path, fashion):
    """The corruption is keyed by (seed, optimizer step): an interrupted, resumed run ends
    with the weights of the uninterrupted one."""
    images = fashion.train.images[:96]

    def build():
        keras.utils.set_random_seed(4)
        m = ae.DenoisingAutoencoder(ae.conv_encoder(code_size=4, width=4),
                                    ae.conv_decoder(code_size=4, width=4), SPECS, seed=2)
        m.compile(optimizer=keras.optimizers.Adam(1e-3))
        return m

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    reference = build()
    reference.fit(images, batch_size=32, epochs=3, verbose=0, shuffle=False)
    first = build()
    with pytest.raises(KeyboardInterrupt):
        first.fit(images, batch_size=32, epochs=3, verbose=0, shuffle=False,
                  callbacks=resumable_callbacks(tmp_path / "b", save_freq="epoch") + [Stop()])
    resumed = build()
    resumed.fit(images, batch_size=32, epochs=3, verbose=0, shuffle=False,
                callbacks=resumable_callbacks(tmp_path / "b"))
    for a, b in zip(reference.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- denoising VAE
def test_denoising_elbo_matches_a_hand_computation(rng):
    clean = rng.uniform(size=(3, 4, 4, 1))
    logits = rng.normal(size=(3, 4, 4, 1))
    mean, logvar = rng.normal(size=(3, 5)), rng.normal(size=(3, 5)) * 0.5
    p = 1 / (1 + np.exp(-logits))
    log_lik = (clean * np.log(p) + (1 - clean) * np.log(1 - p)).sum(axis=(1, 2, 3))
    kl = 0.5 * (np.exp(logvar) + mean ** 2 - 1 - logvar).sum(axis=1)
    got = np.asarray(ae.denoising_elbo(clean.astype("f4"), logits.astype("f4"),
                                       mean.astype("f4"), logvar.astype("f4")))
    np.testing.assert_allclose(got, log_lik - kl, rtol=1e-4)
    assert np.all(got <= 0) or np.all(np.isfinite(got))


def test_denoising_vae_encodes_the_corrupted_and_scores_the_clean_image(rng):
    """With the encoder's input recorded, the training loss equals -denoising_elbo computed by
    hand from the corrupted input of that step and the clean target."""
    keras.utils.set_random_seed(0)
    seen = []
    enc = vae_encoder(latent_dim=4, width=8)
    dec = vae_decoder(latent_dim=4, width=8)

    class Spy(keras.Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def call(self, x, training=False):
            seen.append(x)
            return self.inner(x, training=training)

    model = ae.DenoisingVAE(enc, dec, [("missing_pixels", 0.5)], seed=1)
    model.encoder = Spy(enc)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    clean = rng.uniform(0.3, 0.7, size=(8, 28, 28, 1)).astype("f4")
    mean, recon, kl = model._terms(tf.constant(clean), training=False)
    corrupted = np.asarray(seen[-1])
    expected = corrupt.missing_pixels(clean, 0.5, seed=[1, -1]).corrupted
    np.testing.assert_array_equal(corrupted, model.corrupt_batch(clean, -1))
    assert (corrupted == 0).mean() > 0.3 and np.allclose(np.asarray(corrupted)[corrupted > 0],
                                                         clean[corrupted > 0])
    assert expected.shape == corrupted.shape
    assert recon.shape == (8,) and np.all(np.asarray(kl) >= 0)


# --------------------------------------------------------------------------- Tweedie
def test_tweedie_on_a_1d_gaussian_is_the_posterior_mean():
    m, s, sigma = 0.3, 0.7, 0.5
    y = np.linspace(-2, 2, 41)[:, None]
    s_y = score.gaussian_mixture_score(y, [[m]], [s], [1.0], sigma=sigma)
    tweedie = y + sigma ** 2 * s_y
    posterior_mean = m + s ** 2 / (s ** 2 + sigma ** 2) * (y - m)
    np.testing.assert_allclose(tweedie, posterior_mean, rtol=1e-10, atol=1e-12)
    # and E[x | y] measured by Monte Carlo in a bin around y = 1
    x, noisy = score.gaussian_mixture_sample(400_000, [[m]], [s], [1.0], sigma=sigma, seed=0)
    near = np.abs(noisy[:, 0] - 1.0) < 0.02
    expected = m + s ** 2 / (s ** 2 + sigma ** 2) * (1.0 - m)
    assert abs(x[near, 0].mean() - expected) < 0.02


def test_mixture_score_matches_finite_differences(rng):
    means, stds, weights = [[-1.0, 0.0], [1.5, 1.0], [0, 2]], [0.3, 0.5, 0.2], [0.5, 0.3, 0.2]
    sigma = 0.4
    points = rng.normal(size=(20, 2))

    def log_p(y):
        var = np.asarray(stds) ** 2 + sigma ** 2
        sq = ((y[:, None] - np.asarray(means)[None]) ** 2).sum(-1)
        return np.log((np.asarray(weights) / (2 * np.pi * var) * np.exp(-0.5 * sq / var)).sum(1))

    h = 1e-5
    fd = np.stack([(log_p(points + h * e) - log_p(points - h * e)) / (2 * h)
                   for e in np.eye(2)], axis=1)
    got = score.gaussian_mixture_score(points, means, stds, weights, sigma=sigma)
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="weights"):
        score.gaussian_mixture_score(points, means, stds, [0.5, 0.5, 0.5])


def test_noise_conditional_dae_learns_and_langevin_is_seeded(fashion):
    keras.utils.set_random_seed(0)
    sigmas = score.geometric_sigmas(1.0, 0.05, 4)
    model = score.NoiseConditionalDAE(score.noise_conditional_denoiser(base=8), sigmas)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    images = fashion.train.images[:1024]
    held_out = fashion.test.images[:256]
    before = model.evaluate(held_out, batch_size=128, verbose=0)
    model.fit(images, batch_size=64, epochs=2, verbose=0, shuffle=False)
    after = model.evaluate(held_out, batch_size=128, verbose=0)
    assert after < 0.7 * before
    a = score.annealed_langevin(model, 3, steps_per_level=2, seed=4)
    b = score.annealed_langevin(model, 3, steps_per_level=2, seed=4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 28, 28, 1) and a.min() >= 0 and a.max() <= 1
    with pytest.raises(ValueError, match="sigmas"):
        score.NoiseConditionalDAE(score.noise_conditional_denoiser(base=4), [0.1, 0.5])


# --------------------------------------------------------------------------- separated scheme
def test_hamming_corrects_every_single_error_and_not_every_double(rng):
    data = rng.integers(0, 2, size=(16, 4), dtype=np.uint8)
    words = channel.channel_encode(data, "hamming74")
    for bit in range(7):
        flipped = words.copy()
        flipped[:, bit] ^= 1
        np.testing.assert_array_equal(channel.channel_decode(flipped, "hamming74"), data)
    double = words.copy()
    double[:, :2] ^= 1
    assert not np.array_equal(channel.channel_decode(double, "hamming74"), data)


def test_repetition_majority_and_channel_uses(rng):
    data = rng.integers(0, 2, size=(5, 6), dtype=np.uint8)
    sent = channel.channel_encode(data, "repetition3")
    sent[:, ::3] ^= 1                               # one error per triple
    np.testing.assert_array_equal(channel.channel_decode(sent, "repetition3"), data)
    assert channel.channel_uses(8, 4, "hamming74") == 56
    assert channel.channel_uses(8, 4, "repetition3") == 96
    with pytest.raises(ValueError, match="code"):
        channel.channel_encode(data, "turbo")


def test_bpsk_bit_error_rate_matches_theory():
    bits = np.zeros((200, 1000), np.uint8)
    for snr_db in (0.0, 4.0):
        ber = channel.bpsk_awgn(bits, snr_db, seed=1).mean()
        theory = norm.sf(math.sqrt(10 ** (snr_db / 10)))   # Q(sqrt(SNR)), SNR = P / N
        assert abs(ber - theory) < 0.1 * theory


def test_quantiser_round_trip_is_within_half_a_cell(rng):
    values = rng.uniform(-1, 1, size=(50, 3))
    for bits in (1, 3, 8):
        back = channel.dequantize(channel.quantize(values, bits, -1, 1), bits, -1, 1)
        assert np.abs(back - values).max() <= 1 / 2 ** bits + 1e-12


def test_pca_with_all_components_reconstructs_and_error_free_transmission(rng):
    images = rng.uniform(size=(40, 4, 4, 1)).astype("f4")
    pca = channel.PCA(16).fit(images)
    np.testing.assert_allclose(pca.decode(pca.encode(images)), images, atol=1e-5)
    small = channel.PCA(4).fit(images)
    clean = channel.separated_transmit(small, images, bits=8, code="hamming74", snr_db=None)
    direct = small.decode(small.encode(images))
    assert np.abs(clean - direct).max() < 0.05
    noisy = channel.separated_transmit(small, images, bits=8, code="none", snr_db=-5.0)
    assert metrics.psnr(images, noisy, reduce="mean") < metrics.psnr(images, clean,
                                                                    reduce="mean")
    with pytest.raises(ValueError, match="fitted"):
        channel.PCA(3).encode(images)


# --------------------------------------------------------------------------- adaptive median
def _adaptive_median_reference(z, max_size):
    h, w = z.shape
    out = z.copy()
    for i in range(h):
        for j in range(w):
            for size in range(3, max_size + 1, 2):
                r = size // 2
                padded = np.pad(z, r, mode="symmetric")
                win = padded[i:i + size, j:j + size]
                lo, hi, med = win.min(), win.max(), np.median(win)
                if lo < med < hi:
                    out[i, j] = z[i, j] if lo < z[i, j] < hi else med
                    break
            else:
                out[i, j] = med
    return out


def test_adaptive_median_matches_a_loop_reference(rng):
    clean = rng.uniform(0.2, 0.8, size=(2, 10, 9, 1)).astype("f4")
    noisy = corrupt.salt_and_pepper(clean, 0.3, seed=2).corrupted
    got = baselines.adaptive_median(noisy, 5)
    for k in range(2):
        np.testing.assert_allclose(got[k, ..., 0],
                                   _adaptive_median_reference(noisy[k, ..., 0], 5), atol=1e-7)
    assert (metrics.psnr(clean, got, reduce="mean")
            > metrics.psnr(clean, ndimage.median_filter(noisy, size=(1, 3, 3, 1)),
                           reduce="mean"))
    with pytest.raises(ValueError, match="odd"):
        baselines.adaptive_median(noisy, 4)
    with pytest.raises(ValueError, match="noisy"):
        baselines.adaptive_median(noisy * 255)


# --------------------------------------------------------------------------- linear probe
def test_linear_probe_separates_separable_features_and_not_random_labels(rng):
    from imgutils import evaluation

    labels = rng.integers(0, 10, size=3000)
    centres = rng.normal(size=(10, 8)) * 4
    feats = (centres[labels] + rng.normal(size=(3000, 8))).astype("f4")
    good = evaluation.linear_probe(feats[:2000], labels[:2000], feats[2000:], labels[2000:],
                                   epochs=100, resamples=200)
    value, lo, hi = good["test accuracy %"]
    assert value > 90 and lo <= value <= hi
    shuffled = rng.permutation(labels)
    chance = evaluation.linear_probe(feats[:2000], shuffled[:2000], feats[2000:],
                                     shuffled[2000:], epochs=100, resamples=200)
    assert chance["test accuracy %"][0] < 20
    with pytest.raises(ValueError, match="same width"):
        evaluation.linear_probe(feats, labels, feats[:, :3], labels)
    with pytest.raises(TypeError, match="test_labels"):
        evaluation.linear_probe(feats, labels, feats, labels.astype("f4"))


def test_wide_and_skip_autoencoders_shapes_and_code_access(rng):
    images = rng.uniform(size=(3, 28, 28, 1)).astype("f4")
    wide = ae.Autoencoder(ae.dense_encoder(hidden=40), ae.dense_decoder(hidden=40))
    codes = wide.encode(images)
    assert codes.shape == (3, 40) and codes.min() > 0 and codes.max() < 1
    assert wide.reconstruct(images).shape == images.shape
    skip = ae.DenoisingAutoencoder(ae.skip_autoencoder(base=4), None, SPECS)
    out = skip.restore(images)
    assert out.shape == images.shape and 0 <= out.min() and out.max() <= 1
    assert skip.network is skip.encoder
    with pytest.raises(ValueError, match="no single code"):
        skip.encode(images)
    with pytest.raises(ValueError, match="encoder and a decoder"):
        _ = wide.network
    with pytest.raises(ValueError, match="needs a code"):
        ae.Autoencoder(ae.skip_autoencoder(base=4), None, channel=ae.Channel())
