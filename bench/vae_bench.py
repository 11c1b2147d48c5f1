"""Benchmark (not a test): our VAE training loop vs the keras.io and TensorFlow VAE examples'.

    python bench/vae_bench.py [--windows 5] [--window-seconds 10]

All three train on the 60,000 Fashion-MNIST training images, batch 128, on the same machine:

(a) a faithful re-implementation of the keras.io "Variational AutoEncoder" example:
    Conv2D(32, 3, s2, relu, same) -> Conv2D(64, 3, s2, relu, same) -> Flatten ->
    Dense(16, relu) -> z_mean, z_log_var = Dense(2); its ``Sampling`` layer; decoder
    Dense(7*7*64, relu) -> Reshape -> Conv2DTranspose(64, 3, s2, relu, same) ->
    Conv2DTranspose(32, 3, s2, relu, same) -> Conv2DTranspose(1, 3, sigmoid, same); its
    ``VAE.train_step`` (batch mean of the per-image sum of ``binary_crossentropy`` over
    (H, W), plus the batch mean of the closed-form KL), ``Adam()``.
(b) a faithful re-implementation of the TensorFlow "Convolutional Variational Autoencoder"
    tutorial (CVAE): binarised images; encoder Conv2D(32, 3, s2, relu) -> Conv2D(64, 3, s2,
    relu) -> Flatten -> Dense(2 * latent); decoder Dense(7*7*32, relu) -> Reshape ->
    Conv2DTranspose(64, 3, s2, same, relu) -> Conv2DTranspose(32, 3, s2, same, relu) ->
    Conv2DTranspose(1, 3, s1, same) (logits); its ``compute_loss`` (``log_normal_pdf``,
    single-sample Monte Carlo estimate of the ELBO) and ``@tf.function train_step``;
    ``Adam(1e-4)``, latent 2 (its batch 32 is raised to 128 here).
(c) ours: ``imgutils.models.vae.VAE(conv_encoder(), conv_decoder())`` at their defaults
    (latent 16, width 32, 4x4 stride-2 kernels), Adam(1e-3).

Every loop is one ``tf.function`` train step driven by one persistent iterator over a
shuffled, repeated ``tf.data`` pipeline (for (a), the step that ``fit`` compiles on a CPU:
no XLA there; for (c), ``imgutils.data.make_dataset``). Throughput is measured in interleaved
windows and the medians are compared (``bench/_common.py``).
"""

from __future__ import annotations

import _common  # bench/_common.py: on sys.path when run as python bench/vae_bench.py
import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from imgutils import data
from imgutils.models import vae

BATCH = 128


def _reference_dataset(images):
    ds = tf.data.Dataset.from_tensor_slices(images).shuffle(60_000).batch(
        BATCH, drop_remainder=True).repeat()
    return iter(ds.prefetch(tf.data.AUTOTUNE))


class _Loop:
    batch = BATCH

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step(next(self.iterator))


# ----------------------------------------------------------------- (a) keras.io VAE
class KerasSampling(layers.Layer):
    """keras.io: uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def keras_io_encoder(latent_dim: int = 2):
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = KerasSampling()([z_mean, z_log_var])
    return keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def keras_io_decoder(latent_dim: int = 2):
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, decoder_outputs, name="decoder")


class KerasIoVAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker,
                self.kl_loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(ops.sum(
                keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {"loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result()}


class KerasIoLoop(_Loop):
    def __init__(self, images):
        self.model = KerasIoVAE(keras_io_encoder(), keras_io_decoder())
        self.model.compile(optimizer=keras.optimizers.Adam())
        self.iterator = _reference_dataset(images)
        self.step = tf.function(self.model.train_step)
        self.params = self.model.encoder.count_params() + self.model.decoder.count_params()


# ----------------------------------------------------------------- (b) TF CVAE tutorial
class CVAE(keras.Model):
    """Convolutional variational autoencoder (the TensorFlow tutorial's)."""

    def __init__(self, latent_dim):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = keras.Sequential([
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(filters=32, kernel_size=3, strides=(2, 2), activation="relu"),
            layers.Conv2D(filters=64, kernel_size=3, strides=(2, 2), activation="relu"),
            layers.Flatten(),
            layers.Dense(latent_dim + latent_dim),  # no activation
        ])
        self.decoder = keras.Sequential([
            keras.Input(shape=(latent_dim,)),
            layers.Dense(units=7 * 7 * 32, activation=tf.nn.relu),
            layers.Reshape(target_shape=(7, 7, 32)),
            layers.Conv2DTranspose(filters=64, kernel_size=3, strides=2, padding="same",
                                   activation="relu"),
            layers.Conv2DTranspose(filters=32, kernel_size=3, strides=2, padding="same",
                                   activation="relu"),
            layers.Conv2DTranspose(filters=1, kernel_size=3, strides=1, padding="same"),
        ])

    def encode(self, x):
        mean, logvar = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)
        return mean, logvar

    def reparameterize(self, mean, logvar):
        eps = tf.random.normal(shape=mean.shape)
        return eps * tf.exp(logvar * .5) + mean

    def decode(self, z, apply_sigmoid=False):
        logits = self.decoder(z)
        if apply_sigmoid:
            return tf.sigmoid(logits)
        return logits


def log_normal_pdf(sample, mean, logvar, raxis=1):
    log2pi = tf.math.log(2. * np.pi)
    return tf.reduce_sum(-.5 * ((sample - mean) ** 2. * tf.exp(-logvar) + logvar + log2pi),
                         axis=raxis)


def compute_loss(model, x):
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar)
    x_logit = model.decode(z)
    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
    logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
    logpz = log_normal_pdf(z, 0., 0.)
    logqz_x = log_normal_pdf(z, mean, logvar)
    return -tf.reduce_mean(logpx_z + logpz - logqz_x)


class CVAELoop(_Loop):
    def __init__(self, images):
        self.model = CVAE(latent_dim=2)
        optimizer = keras.optimizers.Adam(1e-4)
        model = self.model

        @tf.function
        def train_step(x):
            with tf.GradientTape() as tape:
                loss = compute_loss(model, x)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))

        binarised = np.where(images > .5, 1.0, 0.0).astype("float32")  # preprocess_images
        self.iterator = _reference_dataset(binarised)
        self.step = train_step
        self.params = model.encoder.count_params() + model.decoder.count_params()


# ----------------------------------------------------------------- (c) ours
class OurLoop(_Loop):
    def __init__(self, images):
        self.model = vae.VAE(vae.conv_encoder(), vae.conv_decoder(), seed=0)
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3))
        ds = data.make_dataset(images, batch_size=BATCH, repeat=True, drop_remainder=True)
        # The step that fit() compiles, driven by one persistent iterator (as the reference
        # loops are): calling fit() repeatedly would rebuild the iterator every call.
        self.iterator = iter(ds)
        self.step = tf.function(self.model.train_step)
        self.params = self.model.encoder.count_params() + self.model.decoder.count_params()


def main() -> None:
    args = _common.parser(__doc__.splitlines()[0]).parse_args()
    keras.utils.set_random_seed(0)
    images = data.fashion_mnist().train.images
    loops = {"keras.io VAE": KerasIoLoop(images), "TF tutorial CVAE": CVAELoop(images),
             "imgutils VAE": OurLoop(images)}
    rates = _common.interleaved_rates(loops, args.windows, args.window_seconds)
    _common.print_table(loops, rates, ours="imgutils VAE")


if __name__ == "__main__":
    main()
