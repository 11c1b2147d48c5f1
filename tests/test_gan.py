import keras
import numpy as np
import pytest
import tensorflow as tf

from imgutils.models import gan
from tests.test_train import Interrupt


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_dcgan_shapes_and_output_range(shape):
    g = gan.dcgan_generator(16, shape, width=8)
    d = gan.dcgan_discriminator(shape, width=8)
    images = g.predict(np.random.default_rng(0).normal(size=(5, 16)), verbose=0)
    assert images.shape == (5, *shape) and images.min() >= 0 and images.max() <= 1
    assert d.predict(images, verbose=0).shape == (5, 1)


def test_source_text_models_have_its_shapes():
    g, d = gan.source_generator(), gan.source_discriminator()
    assert g.output_shape == (None, 16, 16, 3) and d.output_shape == (None, 1)
    kinds = [type(layer).__name__ for layer in g.layers]
    assert kinds.count("Conv2DTranspose") == 3 and kinds.count("BatchNormalization") == 3
    assert d.layers[-1].get_config()["activation"] == "linear"  # a logit, as in the source


def test_losses_match_their_formulas():
    real = tf.constant([[2.0], [-1.0], [0.5]])
    fake = tf.constant([[-3.0], [0.0], [1.0]])
    sig = lambda t: 1 / (1 + np.exp(-t.numpy()))  # noqa: E731
    d_expected = -np.mean(np.log(sig(real))) - np.mean(np.log(1 - sig(fake)))
    assert np.isclose(float(gan.discriminator_loss(real, fake)), d_expected, rtol=1e-6)
    assert np.isclose(float(gan.generator_loss(fake, "minimax")),
                      np.mean(np.log(1 - sig(fake))), rtol=1e-6)
    assert np.isclose(float(gan.generator_loss(fake, "non_saturating")),
                      -np.mean(np.log(sig(fake))), rtol=1e-6)
    with pytest.raises(ValueError, match="kind"):
        gan.generator_loss(fake, "wasserstein")


def test_minimax_gradient_saturates_when_d_rejects_samples():
    """The reason for the non-saturating loss: gradients at a confident D(G(z)) ~ 0."""
    logits = tf.Variable([[-8.0]])
    grads = {}
    for kind in gan.GENERATOR_LOSSES:
        with tf.GradientTape() as tape:
            loss = gan.generator_loss(logits, kind)
        grads[kind] = abs(float(tape.gradient(loss, logits)[0, 0]))
    assert grads["minimax"] < 1e-3 < 0.9 < grads["non_saturating"]


def test_gan_train_step_updates_both_players_and_tracks_metrics(rng):
    keras.utils.set_random_seed(0)
    g = gan.dcgan_generator(8, width=4)
    d = gan.dcgan_discriminator(width=4)
    model = gan.GAN(g, d, seed=1)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    real = rng.random((64, 28, 28, 1)).astype(np.float32)
    g_before = [w.numpy().copy() for w in g.trainable_weights]
    d_before = [w.numpy().copy() for w in d.trainable_weights]
    history = model.fit(real, batch_size=32, epochs=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(0 <= v <= 1 for v in history.history["d_real"] + history.history["d_fake"])
    for before, player in ((g_before, g), (d_before, d)):
        changed = [not np.allclose(a, b.numpy())
                   for a, b in zip(before, player.trainable_weights, strict=True)]
        assert any(changed), f"{player.name} was not updated"
    assert model.sample(3).shape == (3, 28, 28, 1)


def test_mismatched_players_and_bad_loss():
    with pytest.raises(ValueError, match="does not match"):
        gan.GAN(gan.dcgan_generator(8, (32, 32, 3), width=4), gan.dcgan_discriminator(width=4))
    model = gan.GAN(gan.dcgan_generator(8, width=4), gan.dcgan_discriminator(width=4))
    with pytest.raises(ValueError, match="loss"):
        model.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), loss="hinge")
    with pytest.raises(ValueError, match="image_shape"):
        gan.dcgan_generator(8, (64, 64, 3))


def test_gan_training_resumes_after_a_crash(tmp_path):
    """A GAN fit interrupted in epoch 3 of 4 resumes from its epoch-2 backup.

    Not bit-identical to an uninterrupted run: the resumed ``fit`` starts a fresh pass of the
    endless data stream, so epochs 3-4 see other batches (the latent stream's seed state is
    restored). What must survive: the weights of the last completed epoch, both optimizers'
    states, the epoch counter and the epochs already in the History.
    """
    from imgutils.train import resumable_callbacks

    x = np.random.default_rng(0).random((256, 28, 28, 1)).astype(np.float32)

    def make():
        model = gan.GAN(gan.dcgan_generator(8, width=8),
                        gan.dcgan_discriminator(width=8, dropout=0.0), seed=0)
        model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                      keras.optimizers.Adam(2e-4, beta_1=0.5))
        return model

    class Keep(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.weights = [w.copy() for w in self.model.get_weights()]
                self.d_iterations = int(self.model.d_optimizer.iterations)

    keras.utils.set_random_seed(0)
    crashed, keep = make(), Keep()
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(x, epochs=4, batch_size=32, steps_per_epoch=4, verbose=0,
                    callbacks=[keep, *resumable_callbacks(backup), Interrupt(2, 1)])

    class AtStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = [w.copy() for w in self.model.get_weights()]
            self.d_iterations = int(self.model.d_optimizer.iterations)
            self.g_iterations = int(self.model.g_optimizer.iterations)

    keras.utils.set_random_seed(7)
    resumed, start = make(), AtStart()
    history = resumed.fit(x, epochs=4, batch_size=32, steps_per_epoch=4, verbose=0,
                          callbacks=[*resumable_callbacks(backup), start])
    assert len(history.history["d_loss"]) == 4            # 1-2 from the backup, 3-4 trained
    assert start.d_iterations == start.g_iterations == keep.d_iterations == 8
    for a, b in zip(keep.weights, start.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(resumed.g_optimizer.iterations) == 16
    assert not backup.exists()


def test_ema_generator_follows_the_stated_average(rng, tmp_path):
    """ema_n = d_n ema_{n-1} + (1 - d_n) w_n, d_n = min(decay, (1 + n) / (10 + n)), checked
    against the generator's weights after every step; sample() draws from the average."""
    from imgutils import pretrained

    keras.utils.set_random_seed(0)
    model = gan.GAN(gan.dcgan_generator(8, width=4), gan.dcgan_discriminator(width=4), seed=1,
                    ema_decay=0.5)
    model.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    real = tf.constant(rng.random((16, 28, 28, 1)).astype(np.float32))
    expected = [w.numpy().copy() for w in model.generator.weights]
    for n in range(1, 4):
        model.train_step(real)
        d = min(0.5, (1 + n) / (10 + n))
        expected = [d * e + (1 - d) * w.numpy() for e, w in zip(expected,
                                                                 model.generator.weights,
                                                                 strict=True)]
    for e, w in zip(expected, model.ema_generator.weights, strict=True):
        np.testing.assert_allclose(w.numpy(), e, rtol=1e-5, atol=1e-6)
    z = keras.random.normal((4, 8), seed=3)
    np.testing.assert_allclose(model.sample(4, seed=3),
                               model.ema_generator(z, training=False).numpy(), atol=1e-6)
    assert not np.allclose(model.sample(4, seed=3), model.sample(4, seed=3, use_ema=False))
    # the EMA generator is rebuilt by its builder, so it ships like any generator
    entry = pretrained.save(model.ema_generator, "ema", profile="smoke",
                            dataset="fashion_mnist", metrics={}, weights_dir=tmp_path)
    assert entry["builder"].endswith("dcgan_generator")
    with pytest.raises(ValueError, match="ema_decay"):
        gan.GAN(gan.dcgan_generator(8, width=4), gan.dcgan_discriminator(width=4), ema_decay=2)


def test_recalibrated_batchnorm_statistics_match_the_generators_own_activations():
    keras.utils.set_random_seed(0)
    model = gan.GAN(gan.dcgan_generator(8, width=4), gan.dcgan_discriminator(width=4),
                    ema_decay=0.9)
    norm = model.ema_generator.get_layer("project_bn")
    before = norm.moving_mean.numpy().copy()
    model.recalibrate_ema(batches=10, batch_size=200, seed=5)
    projected = keras.Model(model.ema_generator.input,
                            model.ema_generator.get_layer("project").output)
    z = keras.random.normal((4000, 8), seed=11)
    activations = projected(z).numpy()
    np.testing.assert_allclose(norm.moving_mean.numpy(), activations.mean(0), atol=0.02)
    np.testing.assert_allclose(norm.moving_variance.numpy(), activations.var(0), rtol=0.15,
                               atol=1e-3)
    assert not np.allclose(before, norm.moving_mean.numpy())
    assert norm.momentum == gan.dcgan_generator(8, width=4).get_layer("project_bn").momentum
    assert not model.ema_generator.trainable
    with pytest.raises(ValueError, match="no EMA generator"):
        gan.GAN(gan.dcgan_generator(8, width=4), gan.dcgan_discriminator(width=4)).recalibrate_ema()
