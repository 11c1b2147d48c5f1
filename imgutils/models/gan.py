"""GANs: DCGAN builders, the source text's 16x16x3 pair, and a ``GAN`` model with ``train_step``.

Image convention: generators *output* float32 ``[N, H, W, C]`` in ``[0, 1]`` (a tanh layer
followed by ``x -> (x + 1) / 2``), discriminators *take* ``[0, 1]`` images (and map them to
``[-1, 1]`` inside) and output one **logit** per image (no sigmoid: the losses below work on
logits, which is numerically safer).

The game (Goodfellow et al. 2014): ``min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]``.
The discriminator *maximises* V: it pushes ``D(x)`` of real images up and ``D(G(z))`` down.
The generator minimises ``log(1 - D(G(z)))`` ("minimax" loss), which saturates when D wins
early; in practice it maximises ``log D(G(z))`` instead ("non-saturating" loss).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from ..validation import positive_int, real_number
from . import registry
from .blocks import project_and_reshape
from .fit_checks import CheckedFit
from .registry import builder
from .replicas import batch_norm, global_normal, scale_for_replicas

GENERATOR_LOSSES = ("non_saturating", "minimax")


def _to_unit_range(name: str) -> layers.Layer:
    return layers.Rescaling(0.5, offset=0.5, name=name)        # [-1, 1] -> [0, 1]


def _from_unit_range(name: str) -> layers.Layer:
    return layers.Rescaling(2.0, offset=-1.0, name=name)       # [0, 1] -> [-1, 1]


def _check_shape(image_shape, allowed) -> tuple[int, int, int]:
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else None
    if shape not in allowed:
        raise ValueError(f"image_shape must be one of {sorted(allowed)}, got {image_shape!r}")
    return shape


@builder
def dcgan_generator(latent_dim: int = 64, image_shape=(28, 28, 1), width: int = 64,
                    name: str = "generator") -> keras.Model:
    """DCGAN generator: z ``[N, latent_dim]`` -> images ``[N, H, W, C]`` in [0, 1].

    Dense -> reshape to (H/4 or H/8) -> stride-2 ``Conv2DTranspose`` with 4x4 kernels (the
    kernel size divisible by the stride: no checkerboard from uneven overlap) with BatchNorm
    and ReLU, tanh output (DCGAN rules: Radford et al. 2016).
    """
    h, w, c = _check_shape(image_shape, {(28, 28, 1), (32, 32, 3)})
    latent_dim = positive_int(latent_dim, "latent_dim")
    width = positive_int(width, "width")
    ups = 2 if h == 28 else 3
    start = h // 2 ** ups
    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense(start * start * width * 2 ** (ups - 1), use_bias=False, name="project")(z)
    x = batch_norm("project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((start, start, width * 2 ** (ups - 1)), name="reshape")(x)
    for i in range(ups - 1):
        x = layers.Conv2DTranspose(width * 2 ** (ups - 2 - i), 4, strides=2, padding="same",
                                   use_bias=False, name=f"up{i}")(x)
        x = batch_norm(f"up{i}_bn")(x)
        x = layers.ReLU(name=f"up{i}_relu")(x)
    x = layers.Conv2DTranspose(c, 4, strides=2, padding="same", activation="tanh",
                               name="to_image")(x)
    return keras.Model(z, _to_unit_range("to_unit_range")(x), name=name)


@builder
def dcgan_discriminator(image_shape=(28, 28, 1), width: int = 64, dropout: float = 0.3,
                        name: str = "discriminator") -> keras.Model:
    """DCGAN discriminator: images ``[N, H, W, C]`` in [0, 1] -> logits ``[N, 1]``.

    Stride-2 4x4 convolutions with LeakyReLU(0.2) (no pooling), dropout, a linear output.
    """
    shape = _check_shape(image_shape, {(28, 28, 1), (32, 32, 3)})
    width = positive_int(width, "width")
    images = keras.Input(shape, name="images")
    x = _from_unit_range("to_tanh_range")(images)
    for i, filters in enumerate((width, 2 * width) if shape[0] == 28
                                else (width, 2 * width, 4 * width)):
        x = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"down{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        x = layers.Dropout(dropout, name=f"down{i}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(images, layers.Dense(1, name="logit")(x), name=name)


@builder
def source_generator(latent_dim: int = 100, name: str = "source_generator") -> keras.Model:
    """The source text's generator (its section 2.1), same layers, output mapped to [0, 1].

    Dense(4*4*512) -> BN -> LeakyReLU -> reshape -> ConvT(128, 5, s1) -> BN -> LeakyReLU ->
    ConvT(64, 5, s2) -> BN -> LeakyReLU -> ConvT(3, 5, s2, tanh): 16x16x3. Note the 5x5
    kernels with stride 2: uneven overlap, prone to checkerboard artefacts (chapter 1).
    """
    latent_dim = positive_int(latent_dim, "latent_dim")
    z = keras.Input((latent_dim,), name="z")
    x = project_and_reshape(z, (4, 4, 512))
    for i, (filters, stride) in enumerate(((128, 1), (64, 2))):
        x = layers.Conv2DTranspose(filters, 5, strides=stride, padding="same", use_bias=False,
                                   name=f"up{i}")(x)
        x = batch_norm(f"up{i}_bn")(x)
        x = layers.LeakyReLU(name=f"up{i}_lrelu")(x)
    x = layers.Conv2DTranspose(3, 5, strides=2, padding="same", use_bias=False,
                               activation="tanh", name="to_image")(x)
    model = keras.Model(z, _to_unit_range("to_unit_range")(x), name=name)
    assert model.output_shape == (None, 16, 16, 3), model.output_shape
    return model


@builder
def source_discriminator(name: str = "source_discriminator") -> keras.Model:
    """The source text's discriminator (section 2.1): 16x16x3 in [0, 1] -> one logit.

    Conv(64, 5, s2) -> LeakyReLU -> Dropout(0.3) -> Conv(128, 5, s2) -> LeakyReLU ->
    Dropout(0.3) -> Flatten -> Dense(1). The text says it ends in a sigmoid; the code ends in
    ``Dense(1)``, a logit. Both are fine when the loss matches: here the losses take logits.
    """
    images = keras.Input((16, 16, 3), name="images")
    x = _from_unit_range("to_tanh_range")(images)
    for i, filters in enumerate((64, 128)):
        x = layers.Conv2D(filters, 5, strides=2, padding="same", name=f"down{i}")(x)
        x = layers.LeakyReLU(name=f"down{i}_lrelu")(x)
        x = layers.Dropout(0.3, name=f"down{i}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(images, layers.Dense(1, name="logit")(x), name=name)


def discriminator_loss(real_logits, fake_logits):
    """``-[log D(x) + log(1 - D(G(z)))]`` averaged: D *maximises* V, so it minimises this.

    With ``D = sigmoid(logit)``: ``-log D = softplus(-logit)``, ``-log(1 - D) = softplus(logit)``.
    """
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(
        tf.nn.softplus(fake_logits))


def generator_loss(fake_logits, kind: str = "non_saturating"):
    """Generator loss on the discriminator's logits for generated images.

    ``"minimax"``: minimise ``log(1 - D(G(z))) = -softplus(logit)`` (the game as written;
    its gradient vanishes when D confidently rejects the samples, early in training).
    ``"non_saturating"``: minimise ``-log D(G(z)) = softplus(-logit)`` (same fixed point,
    strong gradients early).
    """
    if kind == "non_saturating":
        return tf.reduce_mean(tf.nn.softplus(-fake_logits))
    if kind == "minimax":
        return -tf.reduce_mean(tf.nn.softplus(fake_logits))
    raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")


class GAN(CheckedFit, keras.Model):
    """A GAN trained with ``fit`` (keras.io style): one D step, then one G step per batch.

    Real batches: float32 ``[N, H, W, C]`` in [0, 1] (labels, if any, are ignored).
    Tracked: ``d_loss``, ``g_loss``, ``d_real`` (mean D(x)) and ``d_fake`` (mean D(G(z)),
    before the G step), as probabilities.

    Under a multi-replica strategy (``config.distribute``) each replica takes its shard of
    the batch and its rows of the global batch's z, and differentiates its loss divided by
    the number of replicas (the optimizer sums the replicas' gradients): the same step as on
    one device, up to float rounding. With one device nothing of this changes the arithmetic.

    ``ema_decay`` (e.g. 0.999): keep ``ema_generator``, an exponential moving average of the
    generator's weights (Yazici et al. 2019; Karras et al. 2018), updated after every G step
    as ``ema <- d ema + (1 - d) w`` with the warm-up ``d = min(ema_decay, (1 + n) / (10 + n))``
    at step n. Averaging the iterates damps the generator's oscillation around the game's
    equilibrium; ``sample`` draws from the average when there is one. BatchNorm statistics
    are averaged like the weights; ``recalibrate_ema`` re-estimates them instead.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, seed: int = 0,
                 ema_decay: float | None = None, **kwargs):
        super().__init__(**kwargs)
        if generator.output_shape[1:] != discriminator.input_shape[1:]:
            raise ValueError(f"generator output {generator.output_shape[1:]} does not match "
                             f"the discriminator input {discriminator.input_shape[1:]}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.input_shape[-1])
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema_decay = None if ema_decay is None else real_number(ema_decay, "ema_decay",
                                                                    low=0.0, high=1.0)
        self.ema_generator = None
        if self.ema_decay is not None:
            self.ema_generator = registry.twin(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "d_real", "d_fake")}
        self.built = True       # both parts are built functional models

    def compile(self, d_optimizer, g_optimizer, loss: str = "non_saturating", **kwargs):
        if loss not in GENERATOR_LOSSES:
            raise ValueError(f"loss must be one of {GENERATOR_LOSSES}, got {loss!r}")
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.generator_loss_kind = loss
        # Create the optimizer slots now, so that a checkpoint (BackupAndRestore) can be
        # restored into them before the first step.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def sample(self, n: int, seed: int | None = None, *, use_ema: bool = True):
        """``n`` generated images ``[n, H, W, C]`` in [0, 1] (NumPy), from the weight average
        if the GAN keeps one (``use_ema=False``: from the trained generator itself)."""
        if not isinstance(use_ema, bool):
            raise TypeError(f"use_ema must be True or False, got {use_ema!r}")
        z = keras.random.normal((positive_int(n, "n"), self.latent_dim),
                                seed=seed if seed is not None else self.seed_generator)
        net = self.ema_generator if use_ema and self.ema_generator is not None else self.generator
        return np.concatenate([keras.ops.convert_to_numpy(net(z[i:i + 1000], training=False))
                               for i in range(0, n, 1000)])

    def recalibrate_ema(self, batches: int = 20, batch_size: int = 256, seed: int = 0) -> None:
        """Re-estimate the EMA generator's BatchNorm statistics from its own activations:
        ``batches`` forward passes in training mode on fresh z (no weight changes), after
        resetting the moving means to 0 and variances to 1 with momentum raised so the last
        passes dominate."""
        if self.ema_generator is None:
            raise ValueError("this GAN keeps no EMA generator (pass ema_decay)")
        batches = positive_int(batches, "batches")
        batch_size = positive_int(batch_size, "batch_size")
        norms = [layer for layer in self.ema_generator._flatten_layers()
                 if isinstance(layer, keras.layers.BatchNormalization)]
        saved = [layer.momentum for layer in norms]
        for layer in norms:
            layer.moving_mean.assign(keras.ops.zeros_like(layer.moving_mean))
            layer.moving_variance.assign(keras.ops.ones_like(layer.moving_variance))
        generator = keras.random.SeedGenerator(seed)
        self.ema_generator.trainable = True      # frozen BatchNorm would run in inference mode
        try:
            for k in range(batches):
                for layer in norms:
                    layer.momentum = k / (k + 1.0)    # a running mean over the passes so far
                self.ema_generator(keras.random.normal((batch_size, self.latent_dim),
                                                       seed=generator), training=True)
        finally:
            for layer, momentum in zip(norms, saved, strict=True):
                layer.momentum = momentum
            self.ema_generator.trainable = False

    def train_step(self, data):
        real = data[0] if isinstance(data, tuple) else data
        batch = tf.shape(real)[0]
        # 1. discriminator step, generator fixed
        z = global_normal((batch, self.latent_dim), self.seed_generator)
        fake = self.generator(z, training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = discriminator_loss(real_logits, fake_logits)
            scaled = scale_for_replicas(d_loss)         # d_loss itself with one replica
        grads = tape.gradient(scaled, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights,
                                             strict=True))
        # 2. generator step through the (fixed) discriminator
        z = global_normal((batch, self.latent_dim), self.seed_generator)
        with tf.GradientTape() as tape:
            g_logits = self.discriminator(self.generator(z, training=True), training=True)
            g_loss = generator_loss(g_logits, self.generator_loss_kind)
            scaled = scale_for_replicas(g_loss)
        grads = tape.gradient(scaled, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights,
                                             strict=True))
        if self.ema_generator is not None:
            n = tf.cast(self.g_optimizer.iterations, tf.float32)
            decay = tf.minimum(self.ema_decay, (1.0 + n) / (10.0 + n))
            for ema, weight in zip(self.ema_generator.weights, self.generator.weights,
                                   strict=True):
                ema.assign(decay * ema + (1.0 - decay) * weight)
        for name, value in (("d_loss", d_loss), ("g_loss", g_loss),
                            ("d_real", tf.reduce_mean(tf.sigmoid(real_logits))),
                            ("d_fake", tf.reduce_mean(tf.sigmoid(fake_logits)))):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}
