import keras
import numpy as np
import pytest

from imgutils import data, pretrained
from imgutils.models import vae


def _tiny_vae(shape=(28, 28, 1), latent_dim=4, **kwargs):
    return vae.VAE(vae.conv_encoder(shape, latent_dim, width=4),
                   vae.conv_decoder(latent_dim, shape, width=4), **kwargs)


# ----------------------------------------------------------------------------- maths
def test_kl_closed_form_matches_float64_monte_carlo():
    """KL(q || p) = E_q[log q(z) - log p(z)], estimated with 200,000 float64 samples.

    Tolerance: 5 standard errors of the Monte Carlo mean (estimated from the same samples),
    so a correct formula fails with probability < 1e-6 per value.
    """
    rng = np.random.default_rng(0)
    mean = np.array([[0.0, 0.0, 0.0], [0.5, -1.0, 2.0], [0.1, 0.3, -0.2]])
    logvar = np.array([[0.0, 0.0, 0.0], [-1.0, 0.5, 0.0], [1.0, -2.0, 0.3]])
    closed = keras.ops.convert_to_numpy(vae.kl_divergence(mean, logvar))
    assert closed.shape == (3,) and abs(closed[0]) < 1e-6  # q = prior: KL = 0
    for i in (1, 2):
        eps = rng.standard_normal((200_000, 3))
        z = mean[i] + np.exp(logvar[i] / 2) * eps
        log_ratio = np.sum(-0.5 * eps**2 - 0.5 * logvar[i] + 0.5 * z**2, axis=1)
        se = log_ratio.std() / np.sqrt(len(log_ratio))
        assert abs(closed[i] - log_ratio.mean()) < 5 * se + 1e-5, (closed[i], log_ratio.mean())


def test_sampling_moments_and_seeded_reproducibility():
    mean = np.array([0.5, -2.0, 0.0], np.float32)
    logvar = np.array([0.0, -1.0, 1.5], np.float32)
    n = 100_000
    layer = vae.Sampling(seed=3)
    z = keras.ops.convert_to_numpy(layer((np.tile(mean, (n, 1)),
                                          np.tile(logvar, (n, 1))))).astype(np.float64)
    var = np.exp(logvar.astype(np.float64))
    # 5 standard errors: sd/sqrt(n) for the mean, var*sqrt(2/n) for the variance (Gaussian).
    assert np.all(np.abs(z.mean(0) - mean) < 5 * np.sqrt(var / n))
    assert np.all(np.abs(z.var(0) - var) < 5 * var * np.sqrt(2 / n))
    again = [keras.ops.convert_to_numpy(vae.Sampling(seed=7)((mean[None], logvar[None])))
             for _ in range(2)]
    np.testing.assert_array_equal(again[0], again[1])
    other = keras.ops.convert_to_numpy(vae.Sampling(seed=8)((mean[None], logvar[None])))
    assert not np.array_equal(again[0], other)


def test_kl_weight_warms_up_linearly():
    assert [float(vae.kl_weight(s, 2.0, 4)) for s in (0, 1, 2, 4, 10)] == [0, .5, 1, 2, 2]
    assert float(vae.kl_weight(0, 3.0, 0)) == 3.0  # no warm-up
    model = _tiny_vae(kl_warmup_steps=4, beta=2.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batch = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)
    betas = [float(model.train_step(batch)["beta"]) for _ in range(6)]
    np.testing.assert_allclose(betas, [0, 0.5, 1, 1.5, 2, 2])


def test_reconstruction_nll_matches_formulas(rng):
    x = rng.random((2, 3, 3, 1)).astype(np.float32)
    logits = rng.normal(size=(2, 3, 3, 1)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bern = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    gauss = np.sum(0.5 * ((x - p) / 0.2) ** 2 + 0.5 * np.log(2 * np.pi * 0.04), axis=(1, 2, 3))
    got = {k: keras.ops.convert_to_numpy(vae.reconstruction_nll(x, logits, k, 0.2))
           for k in vae.LIKELIHOODS}
    np.testing.assert_allclose(got["bernoulli"], bern, rtol=1e-5)
    np.testing.assert_allclose(got["gaussian"], gauss, rtol=1e-5)


def test_evaluate_reports_consistent_terms_for_both_likelihoods(rng):
    images = rng.random((16, 28, 28, 1)).astype(np.float32)
    for likelihood in vae.LIKELIHOODS:
        model = _tiny_vae(likelihood=likelihood, beta=4.0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        logs = model.evaluate(images, batch_size=16, verbose=0, return_dict=True)
        assert np.isclose(logs["elbo"], -(logs["reconstruction"] + logs["kl"]), rtol=1e-5)
        assert np.isclose(logs["loss"], logs["reconstruction"] + 4.0 * logs["kl"], rtol=1e-5)


# ----------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_decoder_inverts_encoder_shape(shape):
    enc, dec = vae.conv_encoder(shape, 8, width=4), vae.conv_decoder(8, shape, width=4)
    assert enc.output_shape == [(None, 8), (None, 8)]
    assert dec.output_shape == (None, *shape)
    assert "Conv2DTranspose" not in [type(layer).__name__ for layer in enc.layers]  # ERRATA 8
    model = vae.VAE(enc, dec)
    images = np.random.default_rng(0).random((3, *shape)).astype(np.float32)
    out = model.reconstruct(images)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert model.sample(2, seed=1).shape == (2, *shape)
    np.testing.assert_array_equal(model.sample(2, seed=1), model.sample(2, seed=1))


def test_source_pair_is_a_working_32x32x3_vae():
    enc, dec = vae.source_encoder(8), vae.source_decoder(8)
    kinds = [type(layer).__name__ for layer in enc.layers]
    assert kinds.count("Conv2D") == 3 and kinds.count("MaxPooling2D") == 2
    assert enc.output_shape == [(None, 8), (None, 8)]
    assert dec.output_shape == (None, 32, 32, 3)  # the source's decoder gave 64x64x3
    for layer in dec.layers:  # no activation inside the transposed convs before BN (ERRATA 7)
        if type(layer).__name__ == "Conv2DTranspose":
            assert layer.get_config()["activation"] == "linear"
    model = vae.VAE(enc, dec)
    assert model.reconstruct(np.full((2, 32, 32, 3), 0.5, np.float32)).shape == (2, 32, 32, 3)


def test_mismatched_encoder_decoder_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(28, 28, 1\).*\(32, 32, 3\)"):
        vae.VAE(vae.conv_encoder((32, 32, 3), 4, width=4), vae.conv_decoder(4, width=4))
    with pytest.raises(ValueError, match="latent sizes"):
        vae.VAE(vae.conv_encoder(latent_dim=4, width=4), vae.conv_decoder(5, width=4))


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="latent_dim"):
        vae.conv_encoder(latent_dim=0)
    with pytest.raises(TypeError, match="width"):
        vae.conv_decoder(width="a")
    with pytest.raises(ValueError, match="image_shape"):
        vae.conv_encoder((64, 64, 3))
    with pytest.raises(ValueError, match="beta"):
        _tiny_vae(beta=-1.0)
    with pytest.raises(ValueError, match="likelihood"):
        _tiny_vae(likelihood="poisson")
    with pytest.raises(ValueError, match="gaussian_sigma"):
        _tiny_vae(gaussian_sigma=0.0)
    model = _tiny_vae()
    with pytest.raises(ValueError, match="shape"):
        model.encode(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(TypeError, match="uint8"):
        model.encode(np.zeros((2, 28, 28, 1), np.uint8))
    with pytest.raises(ValueError, match="z must have shape"):
        model.decode(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="k must"):
        vae.iwae_bound(model, np.zeros((2, 28, 28, 1), np.float32), k=0)


def test_extreme_inputs_give_finite_logvar_and_loss(rng):
    model = _tiny_vae()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    images = rng.random((8, 28, 28, 1)).astype(np.float32)
    for scale in (1e6, -1e6):
        mean, logvar = (keras.ops.convert_to_numpy(t) for t in model.encoder(images * scale))
        assert np.all(np.isfinite(mean)) and np.all(np.isfinite(logvar))
        assert logvar.min() >= vae.LOGVAR_MIN and logvar.max() <= vae.LOGVAR_MAX
    # a tensor, as fit passes it (fit itself refuses such data; the clamp must hold anyway)
    logs = model.train_step(keras.ops.convert_to_tensor(images * 1e6))
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    weights = [w.numpy() for w in model.trainable_weights]
    assert all(np.all(np.isfinite(w)) for w in weights)


def test_active_units_on_a_synthetic_encoder(rng):
    """z_mean_j = scale_j * (mean pixel); images of constant grey u_i ~ U(0, 1)."""
    scales = np.array([1.0, 0.1, 0.0, 3.0])  # variances 1/12, 1/1200, 0, 9/12
    images = np.ones((500, 28, 28, 1), np.float32) * rng.random((500, 1, 1, 1),
                                                                 dtype=np.float32)
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    mean_head = keras.layers.Dense(4, use_bias=False)
    logvar_head = keras.layers.Dense(4, kernel_initializer="zeros")
    encoder = keras.Model(inputs, [mean_head(flat), logvar_head(flat)])
    mean_head.set_weights([np.tile(scales / 784, (784, 1)).astype(np.float32)])
    count, variance = vae.active_units(encoder, images)
    u = images[:, 0, 0, 0].astype(np.float64)
    np.testing.assert_allclose(variance, scales**2 * u.var(), rtol=1e-4, atol=1e-10)
    assert count == 2  # dims 0 and 3; dim 1 is below 0.01, dim 2 is constant
    assert vae.active_units(encoder, images, threshold=0.0)[0] == 3


def test_encoder_and_decoder_save_with_pretrained(tmp_path, rng):
    model = _tiny_vae()
    images = rng.random((3, 28, 28, 1)).astype(np.float32)
    for part in (model.encoder, model.decoder):
        pretrained.save(part, part.name, profile="smoke", dataset="fashion_mnist", metrics={},
                        weights_dir=tmp_path)
    enc = pretrained.load("encoder", weights_dir=tmp_path)
    dec = pretrained.load("decoder", weights_dir=tmp_path)
    mean, logvar = model.encode(images)
    loaded = [keras.ops.convert_to_numpy(t) for t in enc(images)]
    np.testing.assert_allclose(loaded[0], mean, atol=1e-6)
    np.testing.assert_allclose(loaded[1], logvar, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.sigmoid(dec(mean))),
                               model.decode(mean), atol=1e-6)


def test_mean_output_decoder_is_the_sigmoid_of_the_same_weights(rng):
    logits = vae.conv_decoder(4, width=4, name="dec")
    logits.set_weights([rng.standard_normal(w.shape).astype(np.float32)
                        for w in logits.get_weights()])
    mean = vae.mean_output_decoder(logits)
    assert mean.layers[-1].name == vae.MEAN_OUTPUT_LAYER and mean.name == "dec"
    z = rng.standard_normal((5, 4)).astype(np.float32)
    want = 1 / (1 + np.exp(-keras.ops.convert_to_numpy(logits(z)).astype(np.float64)))
    got = keras.ops.convert_to_numpy(mean(z))
    assert got.min() >= 0 and got.max() <= 1 and got.shape == (5, 28, 28, 1)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # built directly: the same layers and weights, plus the sigmoid
    direct = vae.conv_decoder(4, width=4, output="mean")
    assert [w.shape for w in direct.get_weights()] == [w.shape for w in logits.get_weights()]


def test_mean_output_decoder_refuses_what_it_cannot_convert():
    with pytest.raises(ValueError, match="output must be one of"):
        vae.conv_decoder(4, width=4, output="probabilities")
    with pytest.raises(TypeError, match="decoder must be a keras.Model"):
        vae.mean_output_decoder("decoder")
    hand_made = keras.Sequential([keras.Input((4,)), keras.layers.Dense(784),
                                  keras.layers.Reshape((28, 28, 1))])
    with pytest.raises(ValueError, match="no imgutils builder"):
        vae.mean_output_decoder(hand_made)
    with pytest.raises(ValueError, match="conv_decoder, got imgutils.models.vae.conv_encoder"):
        vae.mean_output_decoder(vae.conv_encoder(latent_dim=4, width=4))
    with pytest.raises(ValueError, match="already outputs the mean"):
        vae.mean_output_decoder(vae.conv_decoder(4, width=4, output="mean"))


def test_vae_with_a_mean_decoder_trains_on_its_logits(rng):
    """A VAE given a mean-output decoder equals one given the logits decoder, shares the
    weights with the decoder it was given, and its loss still uses the logits."""
    keras.utils.set_random_seed(0)
    encoder = vae.conv_encoder(latent_dim=4, width=4)
    logits = vae.conv_decoder(4, width=4)
    mean = vae.mean_output_decoder(logits)
    plain = vae.VAE(encoder, logits, seed=1)
    wrapped = vae.VAE(encoder, mean, seed=1)
    assert wrapped.decoder.layers[-1].name == "logits"
    images = rng.random((8, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(wrapped.reconstruct(images), plain.reconstruct(images),
                               atol=1e-6)
    np.testing.assert_allclose(vae.elbo(wrapped, images, seed=0), vae.elbo(plain, images, seed=0),
                               rtol=1e-5)
    wrapped.compile(optimizer=keras.optimizers.Adam(1e-2))
    wrapped.fit(images, batch_size=8, epochs=2, verbose=0)
    z = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(mean(z)), wrapped.decode(z),
                               atol=1e-6)   # training moved the given decoder's weights


def test_mean_decoder_saves_and_loads_with_pretrained(tmp_path, rng):
    model = _tiny_vae()
    shipped = vae.mean_output_decoder(model.decoder)
    pretrained.save(shipped, "mean_decoder", profile="smoke", dataset="fashion_mnist",
                    metrics={}, weights_dir=tmp_path)
    loaded = pretrained.load("mean_decoder", weights_dir=tmp_path)
    z = rng.standard_normal((4, 4)).astype(np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(z)), model.decode(z),
                               atol=1e-6)
    again = vae.VAE(model.encoder, loaded)
    np.testing.assert_allclose(again.decode(z), model.decode(z), atol=1e-6)


# ----------------------------------------------------------------------------- learning
@pytest.fixture(scope="module")
def trained():
    """A small VAE trained for 320 steps (10 epochs of 2,000 images) on Fashion-MNIST."""
    keras.utils.set_random_seed(0)
    fmnist = data.fashion_mnist(n_train=2000, n_test=500)
    model = vae.VAE(vae.conv_encoder(latent_dim=8, width=16), vae.conv_decoder(8, width=16),
                    kl_warmup_steps=50, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    before = vae.elbo(model, fmnist.test.images)
    history = model.fit(fmnist.train.images, batch_size=64, epochs=10, verbose=0)
    return model, fmnist.test.images, before, history.history


@pytest.mark.slow
def test_training_improves_held_out_elbo(trained):
    model, test_images, before, history = trained
    after = vae.elbo(model, test_images)
    assert set(history) == {"loss", "reconstruction", "kl", "elbo", "active_units", "beta"}
    assert history["beta"][-1] == 1.0
    # An untrained decoder gives p = 0.5 per pixel: about -784 log 2 = -543 nats per image.
    assert before.mean() < -450
    assert after.mean() > before.mean() + 100, (before.mean(), after.mean())
    assert history["elbo"][-1] > history["elbo"][0]
    assert vae.active_units(model, test_images)[0] >= 2


@pytest.mark.slow
def test_iwae_bound_k1_is_the_elbo_and_grows_with_k(trained):
    model, test_images, _, _ = trained
    x = test_images[:200]
    one = vae.iwae_bound(model, x, k=1, seed=1)
    ref = vae.elbo(model, x, seed=2)
    # Both are unbiased estimates of the same per-image ELBO (Monte Carlo vs closed-form
    # KL, independent samples): their mean difference is within 5 standard errors.
    diff = one - ref
    assert abs(diff.mean()) < 5 * diff.std() / np.sqrt(len(diff)) + 0.1, diff.mean()
    many = vae.iwae_bound(model, x, k=64, seed=1)
    assert many.mean() > one.mean() and many.mean() > ref.mean()
    np.testing.assert_array_equal(many, vae.iwae_bound(model, x, k=64, seed=1))  # seeded
    assert np.all(np.isfinite(many))
