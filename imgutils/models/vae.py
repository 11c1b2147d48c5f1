"""Variational autoencoders: conv encoder/decoder builders, the source text's 32x32x3 pair
(corrected), a ``VAE`` model with ``train_step``, and likelihood bounds (ELBO, IWAE).

Image convention: public inputs and outputs are float32 ``[N, H, W, C]`` in ``[0, 1]``.
Encoders take such images and output ``[z_mean, z_logvar]`` (the parameters of the diagonal
Gaussian ``q(z|x)``); decoders take ``z`` ``[N, latent_dim]`` and output **logits**
``[N, H, W, C]`` (what the loss needs); ``VAE.decode`` applies the sigmoid, so what the user
sees is in [0, 1]. A decoder to hand out on its own (the shipped ``fashion_vae_decoder``) is
built with ``conv_decoder(..., output="mean")`` (or converted by ``mean_output_decoder``): the
same weights with a last sigmoid layer, so it maps z to the Bernoulli mean in [0, 1]; ``VAE``
accepts either kind and trains on the logits underneath.

The objective (Kingma & Welling 2014) is *maximised*::

    ELBO(x) = E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x),   p(z) = N(0, I),

with z drawn from the encoder's ``q(z|x)`` (not from the prior). Training minimises
``-E_q[log p(x|z)] + beta * KL`` (beta = 1: the ELBO; beta > 1: beta-VAE, Higgins et al.
2017). The KL term is the divergence of the approximate posterior from the prior, in closed
form for Gaussians (``kl_divergence``). A frequent misstatement writes this as a
*minimisation* of ``E[log p(x|z)] - beta KL``, or as "maximise the probability of generated
images while minimising that of real data": both are wrong.

Likelihoods ``p(x|z)``: ``"bernoulli"`` (sigmoid cross-entropy with the logits, summed over
pixels) and ``"gaussian"`` (mean ``sigmoid(logits)``, fixed ``gaussian_sigma``). Caveat: on
grey-level pixels in [0, 1] the Bernoulli "likelihood" is not a normalised density (the
continuous Bernoulli needs a normalising constant: Loaiza-Ganem & Cunningham 2019), so the
nats reported by ``elbo`` / ``iwae_bound`` with it compare models that use the same
likelihood on the same data only; they are not comparable with published log-likelihoods
on binarised MNIST.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from ..validation import as_images, finite_array, positive_int, real_number
from .fit_checks import CheckedFit
from .registry import build, builder, recipe
from .replicas import batch_norm, gather_global_batch, global_normal, scale_for_replicas

__all__ = [
    "DECODER_OUTPUTS", "LIKELIHOODS", "LOGVAR_MAX", "LOGVAR_MIN", "MEAN_OUTPUT_LAYER", "VAE",
    "Sampling", "active_units", "conv_decoder", "conv_encoder", "elbo", "iwae_bound",
    "kl_divergence", "kl_weight", "logits_decoder", "mean_output_decoder", "reconstruction_nll",
    "source_decoder", "source_encoder",
]

#: Bounds of the encoders' log-variance: exp(10) = 2.2e4 and exp(-10) = 4.5e-5 are far
#: outside what a trained encoder uses, and keep exp(logvar) finite for any input.
LOGVAR_MIN, LOGVAR_MAX = -10.0, 10.0
LIKELIHOODS = ("bernoulli", "gaussian")
DECODER_OUTPUTS = ("logits", "mean")
MEAN_OUTPUT_LAYER = "bernoulli_mean"  # name of the last layer of a decoder built with output="mean"
_SHAPES = {(28, 28, 1), (28, 28, 3), (32, 32, 1), (32, 32, 3)}
_LOG_2PI = math.log(2.0 * math.pi)


# =========================================================================== pieces
@keras.saving.register_keras_serializable(package="imgutils")
class Sampling(layers.Layer):
    """Reparameterisation trick: ``(mean, logvar) -> mean + exp(logvar / 2) * eps``.

    ``eps ~ N(0, I)`` comes from a seeded ``keras.random.SeedGenerator``, so a layer built
    with the same ``seed`` gives the same draws. Why not sample ``z ~ N(mean, exp(logvar))``
    directly: sampling is not differentiable with respect to the distribution's parameters;
    written as a deterministic function of ``(mean, logvar)`` plus independent noise, ``z``
    has gradients ``dz/dmean = 1`` and ``dz/dlogvar = exp(logvar / 2) * eps / 2``, so the
    reconstruction loss trains the encoder through ``z``. Under a multi-replica strategy each
    replica uses its rows of the noise drawn for the global batch (``replicas.global_normal``).
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, logvar = inputs
        eps = global_normal(ops.shape(mean), self.seed_generator, dtype=mean.dtype)
        return mean + ops.exp(0.5 * logvar) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def kl_divergence(mean, logvar):
    """Closed-form ``KL(N(mean, diag(exp(logvar))) || N(0, I))`` per example: ``[N]``.

    ``0.5 * sum_j (exp(logvar_j) + mean_j^2 - 1 - logvar_j)`` (>= 0, zero iff q is the prior).
    """
    mean = ops.convert_to_tensor(mean, "float32")
    logvar = ops.convert_to_tensor(logvar, "float32")
    return 0.5 * ops.sum(ops.exp(logvar) + ops.square(mean) - 1.0 - logvar, axis=-1)


def kl_weight(step, beta: float = 1.0, warmup_steps: int = 0):
    """The KL weight at optimizer step ``step``: ``beta * min(1, step / warmup_steps)``.

    Linear KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): the weight grows from 0 to
    ``beta`` over the first ``warmup_steps`` steps, which keeps the encoder from collapsing
    to the prior before the decoder has learnt to use z. ``warmup_steps=0``: ``beta`` from the
    start. ``step`` may be a tensor (the optimizer's iteration counter); returns float32.
    """
    beta = real_number(beta, "beta", low=0.0)
    warmup_steps = positive_int(warmup_steps, "warmup_steps", minimum=0)
    step = ops.cast(step, "float32")
    if warmup_steps == 0:
        return ops.cast(beta, "float32") + 0.0 * step
    return beta * ops.minimum(1.0, ops.maximum(step, 0.0) / float(warmup_steps))


def reconstruction_nll(images, logits, likelihood: str = "bernoulli",
                       gaussian_sigma: float = 0.1):
    """``-log p(x|z)`` per image (``[N]``, nats) from the decoder's logits.

    ``"bernoulli"``: ``sum_pixels sigmoid_cross_entropy(labels=x, logits)``.
    ``"gaussian"``: ``sum_pixels 0.5 * ((x - mu) / sigma)^2 + 0.5 * log(2 pi sigma^2)`` with
    ``mu = sigmoid(logits)``.
    NumPy ``images`` are checked (float ``[N, H, W, C]`` in [0, 1], ``logits`` of the same
    shape); tensors pass unchecked, as inside ``train_step``, where ``fit`` checked the data.
    """
    if isinstance(images, np.ndarray):
        images = as_images(images, "images")
        finite_array(logits, "logits", like=images)
    images = ops.convert_to_tensor(images, "float32")
    logits = ops.convert_to_tensor(logits, "float32")
    if likelihood == "bernoulli":
        per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
    elif likelihood == "gaussian":
        sigma = float(gaussian_sigma)
        per_pixel = (0.5 * ops.square((images - ops.sigmoid(logits)) / sigma)
                     + 0.5 * math.log(2.0 * math.pi * sigma * sigma))
    else:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    return ops.sum(per_pixel, axis=(1, 2, 3))


def _clamped_logvar(raw):
    """Soft clamp ``raw -> c + h * tanh((raw - c) / h)`` into (LOGVAR_MIN, LOGVAR_MAX).

    Close to the identity in the useful range (|logvar| < 3 changes by < 3 %), smooth (the
    gradient never becomes exactly zero inside the range), and built from stock Keras layers
    so that the encoders save and load without custom objects.
    """
    c, h = (LOGVAR_MAX + LOGVAR_MIN) / 2, (LOGVAR_MAX - LOGVAR_MIN) / 2
    x = layers.Rescaling(1.0 / h, offset=-c / h, name="z_logvar_scale")(raw)
    x = layers.Activation("tanh", name="z_logvar_tanh")(x)
    return layers.Rescaling(h, offset=c, name="z_logvar")(x)


def _check_shape(image_shape) -> tuple[int, int, int]:
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else None
    if shape not in _SHAPES:
        raise ValueError(f"image_shape must be one of {sorted(_SHAPES)}, got {image_shape!r}")
    return shape


def _heads(x, latent_dim: int):
    mean = layers.Dense(latent_dim, name="z_mean")(x)
    return [mean, _clamped_logvar(layers.Dense(latent_dim, name="z_logvar_raw")(x))]


# =========================================================================== builders
@builder
def conv_encoder(image_shape=(28, 28, 1), latent_dim: int = 16, width: int = 32,
                 name: str = "encoder") -> keras.Model:
    """Conv encoder: images ``[N, H, W, C]`` in [0, 1] -> ``[z_mean, z_logvar]`` ``[N, latent]``.

    Stride-2 4x4 convolutions with ReLU halve the size (28 -> 14 -> 7, or 32 -> 16 -> 8 -> 4;
    ``width``, ``2 * width``, ``4 * width`` channels), then Flatten and two linear heads: the
    mean and the log-variance of ``q(z|x)``, the latter soft-clamped to
    ``(LOGVAR_MIN, LOGVAR_MAX)`` so that no input gives ``exp(logvar) = inf``. An encoder
    *downsamples*: no transposed convolutions here (they belong to decoders).
    ``image_shape``: (28, 28, C) or (32, 32, C) with C in (1, 3).
    """
    shape = _check_shape(image_shape)
    latent_dim = positive_int(latent_dim, "latent_dim")
    width = positive_int(width, "width")
    images = keras.Input(shape, name="images")
    x = images
    for i in range(2 if shape[0] == 28 else 3):
        x = layers.Conv2D(width * 2 ** i, 4, strides=2, padding="same", activation="relu",
                          name=f"down{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(images, _heads(x, latent_dim), name=name)


@builder
def conv_decoder(latent_dim: int = 16, image_shape=(28, 28, 1), width: int = 32,
                 name: str = "decoder", output: str = "logits") -> keras.Model:
    """Conv decoder mirroring ``conv_encoder``: z ``[N, latent_dim]`` -> ``[N, H, W, C]``.

    Dense + ReLU -> reshape to 7x7 (or 4x4) -> stride-2 4x4 ``Conv2DTranspose`` + ReLU ... ->
    a last stride-2 ``Conv2DTranspose`` to C channels with no activation (logits; kernel size
    divisible by the stride: no checkerboard from uneven overlap). ``output="logits"`` (the
    default, what ``VAE`` trains on) stops there; ``output="mean"`` adds a sigmoid layer
    (``MEAN_OUTPUT_LAYER``, no weights), so the model outputs the Bernoulli mean, images in
    [0, 1]. Raises ``ValueError`` if the output shape is not ``image_shape`` or ``output`` is
    neither.
    """
    if output not in DECODER_OUTPUTS:
        raise ValueError(f"output must be one of {DECODER_OUTPUTS}, got {output!r}")
    h, w, c = _check_shape(image_shape)
    latent_dim = positive_int(latent_dim, "latent_dim")
    width = positive_int(width, "width")
    ups = 2 if h == 28 else 3
    start, top = h // 2 ** ups, width * 2 ** (ups - 1)
    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense(start * start * top, activation="relu", name="project")(z)
    x = layers.Reshape((start, start, top), name="reshape")(x)
    for i in range(ups - 1):
        x = layers.Conv2DTranspose(width * 2 ** (ups - 2 - i), 4, strides=2, padding="same",
                                   activation="relu", name=f"up{i}")(x)
    x = layers.Conv2DTranspose(c, 4, strides=2, padding="same", name="logits")(x)
    if output == "mean":
        x = layers.Activation("sigmoid", name=MEAN_OUTPUT_LAYER)(x)
    model = keras.Model(z, x, name=name)
    if tuple(model.output_shape[1:]) != (h, w, c):
        raise ValueError(f"decoder output shape {model.output_shape[1:]} != image_shape "
                         f"{(h, w, c)}")
    return model


def mean_output_decoder(decoder: keras.Model) -> keras.Model:
    """A new ``conv_decoder(..., output="mean")`` holding a copy of ``decoder``'s weights.

    ``decoder``: a logits decoder made by ``conv_decoder`` (for example a trained
    ``VAE.decoder``). The result maps z ``[N, latent_dim]`` to the mean of p(x|z), images
    float32 ``[N, H, W, C]`` in [0, 1], and can be saved with ``pretrained.save``. Raises
    ``TypeError``/``ValueError`` for a model that ``conv_decoder`` did not build, or one that
    already outputs the mean.
    """
    if not isinstance(decoder, keras.Model):
        raise TypeError(f"decoder must be a keras.Model, got {type(decoder).__name__}")
    made_by = recipe(decoder)
    name = f"{__name__}.conv_decoder"
    if made_by is None or made_by["builder"] != name:
        made = "a model of no imgutils builder" if made_by is None else made_by["builder"]
        raise ValueError(f"decoder must be built by {name}, got {made}")
    if made_by["kwargs"].get("output", "logits") != "logits":
        raise ValueError("decoder already outputs the mean of p(x|z) (output='mean')")
    model = build(name, made_by["kwargs"] | {"output": "mean"})
    model.set_weights(decoder.get_weights())
    return model


def logits_decoder(decoder: keras.Model) -> keras.Model:
    """The logits part of a decoder: a mean-output decoder (last layer ``MEAN_OUTPUT_LAYER``)
    without its sigmoid, sharing its weights; any other decoder is returned as it is."""
    if decoder.layers and decoder.layers[-1].name == MEAN_OUTPUT_LAYER:
        inputs = decoder.inputs[0] if len(decoder.inputs) == 1 else decoder.inputs
        return keras.Model(inputs, decoder.layers[-1].input, name=decoder.name)
    return decoder


@builder
def source_encoder(latent_dim: int = 32, name: str = "source_encoder") -> keras.Model:
    """The source text's encoder (its section 2.2), completed: 32x32x3 -> ``[z_mean, z_logvar]``.

    Same layers as the source: Conv(32, 3, ReLU, valid) -> MaxPool(2) -> Conv(64, 3, ReLU) ->
    MaxPool(2) -> Conv(128, 3, ReLU) -> Flatten (32 -> 30 -> 15 -> 13 -> 6 -> 4: 4*4*128 =
    2048 features). What was wrong: the source stops at Flatten, so its "encoder" outputs a
    feature vector, not a distribution; a VAE encoder must output the mean and the
    log-variance of ``q(z|x)``. Added: two linear heads (``z_mean``, ``z_logvar``, the latter
    soft-clamped), as in ``conv_encoder``.
    """
    latent_dim = positive_int(latent_dim, "latent_dim")
    images = keras.Input((32, 32, 3), name="images")
    x = layers.Conv2D(32, 3, activation="relu", name="conv0")(images)
    x = layers.MaxPooling2D(2, name="pool0")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(128, 3, activation="relu", name="conv2")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(images, _heads(x, latent_dim), name=name)


@builder
def source_decoder(latent_dim: int = 32, name: str = "source_decoder") -> keras.Model:
    """A decoder for ``source_encoder``: z -> logits ``[N, 32, 32, 3]``.

    The source's decoder: Dense(8*8*64) -> BN -> LeakyReLU -> reshape 8x8x64 -> three
    stride-2 ``Conv2DTranspose(5x5)`` (128, 64, 3 channels, tanh). What was wrong:
    (1) three stride-2 upsamplings from 8x8 give 64x64x3, while the code asserts 16x16x3
    (the assert fails) and the encoder takes 32x32x3: a decoder must invert the encoder's
    shape; (2) ``activation='relu'`` inside each ``Conv2DTranspose``, then BatchNorm and
    LeakyReLU: two activations in a row; (3) a tanh output in [-1, 1] for images in [0, 1].
    Changed: the last transposed convolution has stride 1 (8 -> 16 -> 32 -> 32), the
    transposed convolutions before BatchNorm are linear and bias-free (BN's shift replaces
    the bias), and the output is logits (``sigmoid`` gives the [0, 1] image). The 5x5 kernels
    with stride 2 are kept (uneven overlap: prone to checkerboard artefacts, chapter 01).
    """
    latent_dim = positive_int(latent_dim, "latent_dim")
    z = keras.Input((latent_dim,), name="z")
    x = layers.Dense(8 * 8 * 64, use_bias=False, name="project")(z)
    x = batch_norm("project_bn")(x)
    x = layers.LeakyReLU(name="project_lrelu")(x)
    x = layers.Reshape((8, 8, 64), name="reshape")(x)
    for i, filters in enumerate((128, 64)):
        x = layers.Conv2DTranspose(filters, 5, strides=2, padding="same", use_bias=False,
                                   name=f"up{i}")(x)
        x = batch_norm(f"up{i}_bn")(x)
        x = layers.LeakyReLU(name=f"up{i}_lrelu")(x)
    x = layers.Conv2DTranspose(3, 5, strides=1, padding="same", name="logits")(x)
    model = keras.Model(z, x, name=name)
    if tuple(model.output_shape[1:]) != (32, 32, 3):  # the check the source's assert meant
        raise ValueError(f"decoder output shape {model.output_shape[1:]} != (32, 32, 3)")
    return model


# =========================================================================== model
class VAE(CheckedFit, keras.Model):
    """A VAE trained with ``fit`` (keras.io style).

    encoder: images -> ``[z_mean, z_logvar]``; decoder: z -> logits with the encoder's input
    shape (a decoder built with ``output="mean"``, such as the shipped one, is accepted too:
    ``self.decoder`` is then its logits part, ``logits_decoder``, with the same weights).
    Per batch: ``z = mean + exp(logvar / 2) * eps`` (``Sampling``), reconstruction
    term ``-log p(x|z)`` summed over pixels (``reconstruction_nll``), closed-form KL, and
    ``loss = mean_batch(recon + beta_eff * KL)`` with
    ``beta_eff = kl_weight(optimizer.iterations, beta, kl_warmup_steps)``.

    Tracked (``keras.metrics.Mean`` over the epoch): ``loss``, ``reconstruction``, ``kl``,
    ``elbo`` (``-(recon + KL)``, always with weight 1: the actual ELBO estimate, in nats per
    image), ``active_units`` (latent dims whose batch variance of ``z_mean`` exceeds 0.01);
    ``beta`` is the current KL weight. Real batches: float32 ``[N, H, W, C]`` in [0, 1]
    (labels, if any, are ignored).

    Under a multi-replica strategy (``config.distribute``) the step is that of one device, up
    to float rounding: the reparameterisation noise is the global batch's (``Sampling``), the
    loss is divided by the number of replicas before the gradients (which the optimizer
    sums), and ``active_units`` is computed over the gathered global batch.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, *, beta: float = 1.0,
                 likelihood: str = "bernoulli", gaussian_sigma: float = 0.1,
                 kl_warmup_steps: int = 0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        for label, model in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(model, keras.Model):
                raise TypeError(f"{label} must be a keras.Model, got {type(model).__name__}")
        decoder = logits_decoder(decoder)
        if len(encoder.outputs) != 2:
            raise ValueError("encoder must output [z_mean, z_logvar], got "
                             f"{len(encoder.outputs)} output(s)")
        image_shape = tuple(encoder.inputs[0].shape[1:])
        out_shape = tuple(decoder.outputs[0].shape[1:])
        if out_shape != image_shape:
            raise ValueError(f"decoder output shape {out_shape} does not match the encoder "
                             f"input shape {image_shape}")
        mean_dim, logvar_dim = (int(t.shape[-1]) for t in encoder.outputs)
        z_dim = int(decoder.inputs[0].shape[-1])
        if not mean_dim == logvar_dim == z_dim:
            raise ValueError(f"latent sizes disagree: encoder mean {mean_dim}, log-variance "
                             f"{logvar_dim}, decoder input {z_dim}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.encoder, self.decoder = encoder, decoder
        self.image_shape, self.latent_dim = image_shape, z_dim
        self.beta = real_number(beta, "beta", low=0.0)
        self.likelihood = likelihood
        self.gaussian_sigma = real_number(gaussian_sigma, "gaussian_sigma", low=0.0,
                                          low_open=True)
        self.kl_warmup_steps = positive_int(kl_warmup_steps, "kl_warmup_steps", minimum=0)
        self.seed = positive_int(seed, "seed", minimum=0)
        self.sampling = Sampling(seed, name="sampling")
        self.prior_seed = keras.random.SeedGenerator(seed + 1)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("loss", "reconstruction", "kl", "elbo", "active_units")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, images, training=False):
        """Reconstructions in [0, 1]: decode ``z = mean`` (or a sample when training)."""
        mean, logvar = self.encoder(images, training=training)
        z = self.sampling((mean, logvar)) if training else mean
        return ops.sigmoid(self.decoder(z, training=training))

    def current_kl_weight(self):
        """``beta_eff`` at the optimizer's current step (``beta`` if not compiled)."""
        optimizer = getattr(self, "optimizer", None)
        step = optimizer.iterations if optimizer is not None else 0
        return kl_weight(step, self.beta, self.kl_warmup_steps)

    def _terms(self, images, training):
        mean, logvar = self.encoder(images, training=training)
        z = self.sampling((mean, logvar))
        logits = self.decoder(z, training=training)
        recon = reconstruction_nll(images, logits, self.likelihood, self.gaussian_sigma)
        return mean, recon, kl_divergence(mean, logvar)

    def _record(self, loss, recon, kl, mean, beta):
        active = ops.sum(ops.cast(ops.var(gather_global_batch(mean), axis=0) > 0.01, "float32"))
        for name, value in (("loss", loss), ("reconstruction", ops.mean(recon)),
                            ("kl", ops.mean(kl)), ("elbo", -ops.mean(recon + kl)),
                            ("active_units", active)):
            self.trackers[name].update_state(value)
        return {**{name: t.result() for name, t in self.trackers.items()}, "beta": beta}

    def train_step(self, data):
        images = data[0] if isinstance(data, tuple) else data
        beta = self.current_kl_weight()
        with tf.GradientTape() as tape:
            mean, recon, kl = self._terms(images, True)
            loss = ops.mean(recon + beta * kl)
            scaled = scale_for_replicas(loss)           # loss itself with one replica
        grads = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return self._record(loss, recon, kl, mean, beta)

    def test_step(self, data):
        images = data[0] if isinstance(data, tuple) else data
        beta = self.current_kl_weight()
        mean, recon, kl = self._terms(images, False)
        return self._record(ops.mean(recon + beta * kl), recon, kl, mean, beta)

    # ------------------------------------------------------------------ NumPy interface
    def _latents(self, z) -> np.ndarray:
        if hasattr(z, "numpy") and not isinstance(z, np.ndarray):
            z = z.numpy()
        z = np.asarray(z)
        if not np.issubdtype(z.dtype, np.floating):
            raise TypeError(f"z must be a float array [N, {self.latent_dim}], got dtype {z.dtype}")
        if z.ndim != 2 or z.shape[1] != self.latent_dim or len(z) == 0:
            raise ValueError(f"z must have shape [N, {self.latent_dim}] with N >= 1, "
                             f"got {z.shape}")
        if not np.all(np.isfinite(z)):
            raise ValueError("z contains NaN or infinite values")
        return z.astype(np.float32, copy=False)

    def encode(self, images, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, logvar)`` of ``q(z|x)``, each float32 ``[N, latent_dim]``."""
        images = as_images(images, "images", shape=self.image_shape).astype(np.float32)
        batch_size = positive_int(batch_size, "batch_size")
        parts = [self.encoder(images[i:i + batch_size], training=False)
                 for i in range(0, len(images), batch_size)]
        return tuple(np.concatenate([ops.convert_to_numpy(p[j]) for p in parts])
                     for j in (0, 1))

    def decode(self, z, batch_size: int = 256) -> np.ndarray:
        """Images ``[N, H, W, C]`` in [0, 1]: ``sigmoid(decoder(z))`` (the mean of p(x|z))."""
        z = self._latents(z)
        batch_size = positive_int(batch_size, "batch_size")
        return np.concatenate([
            ops.convert_to_numpy(ops.sigmoid(self.decoder(z[i:i + batch_size], training=False)))
            for i in range(0, len(z), batch_size)])

    def reconstruct(self, images, batch_size: int = 256) -> np.ndarray:
        """``decode(mean of q(z|x))``: deterministic reconstructions in [0, 1]."""
        return self.decode(self.encode(images, batch_size)[0], batch_size)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` images from the model: ``z ~ N(0, I)`` (the prior), then ``decode``."""
        n = positive_int(n, "n")
        if seed is None:
            z = ops.convert_to_numpy(keras.random.normal((n, self.latent_dim),
                                                         seed=self.prior_seed))
        else:
            z = np.random.default_rng(positive_int(seed, "seed", minimum=0)).standard_normal(
                (n, self.latent_dim)).astype(np.float32)
        return self.decode(z)


# =========================================================================== evaluation
def active_units(encoder, images, threshold: float = 0.01,
                 batch_size: int = 256) -> tuple[int, np.ndarray]:
    """Active latent units (Burda et al. 2016): dims u with ``Var_x(E_q[z_u | x]) > threshold``.

    encoder: an encoder model (``[z_mean, z_logvar]``) or a ``VAE``; images: the data set,
    ``[N, H, W, C]`` in [0, 1] (N >= 2). Returns ``(count, per_dim_variance)``, the variance
    of ``z_mean`` over all images (float64 ``[latent_dim]``). Inactive units carry no
    information about x: the KL term pushed their posterior onto the prior.
    """
    encoder = encoder.encoder if isinstance(encoder, VAE) else encoder
    images = as_images(images, "images")
    if len(images) < 2:
        raise ValueError(f"images must hold at least 2 images for a variance, got {len(images)}")
    threshold = real_number(threshold, "threshold", low=0.0)
    batch_size = positive_int(batch_size, "batch_size")
    means = np.concatenate([
        ops.convert_to_numpy(encoder(images[i:i + batch_size].astype(np.float32),
                                     training=False)[0])
        for i in range(0, len(images), batch_size)]).astype(np.float64)
    variance = means.var(axis=0)
    return int(np.sum(variance > threshold)), variance


def _check_vae(vae) -> VAE:
    if not isinstance(vae, VAE):
        raise TypeError(f"vae must be an imgutils.models.vae.VAE, got {type(vae).__name__}")
    return vae


def elbo(vae: VAE, images, batch_size: int = 256, seed: int = 0) -> np.ndarray:
    """Per-image ELBO in nats (float64 ``[N]``): ``log p(x|z) - KL(q(z|x) || p(z))``.

    One sample ``z ~ q(z|x)`` for the reconstruction term, the KL in closed form (beta = 1
    whatever the model was trained with: this is the bound on ``log p(x)``). See the module
    docstring for what the Bernoulli nats mean on grey-level images.
    """
    vae = _check_vae(vae)
    images = as_images(images, "images", shape=vae.image_shape).astype(np.float32)
    batch_size = positive_int(batch_size, "batch_size")
    rng = np.random.default_rng(positive_int(seed, "seed", minimum=0))
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        mean, logvar = vae.encoder(x, training=False)
        eps = rng.standard_normal(tuple(mean.shape)).astype(np.float32)
        z = mean + ops.exp(0.5 * logvar) * eps
        recon = reconstruction_nll(x, vae.decoder(z, training=False), vae.likelihood,
                                   vae.gaussian_sigma)
        out.append(-ops.convert_to_numpy(recon + kl_divergence(mean, logvar)))
    return np.concatenate(out).astype(np.float64)


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def iwae_bound(vae: VAE, images, k: int = 64, batch_size: int = 64, seed: int = 0,
               max_rows: int = 8192) -> np.ndarray:
    """Importance-weighted bound (Burda et al. 2016) per image, nats (float64 ``[N]``).

    ``log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)`` with ``z_i ~ q(z|x)``, computed with
    logsumexp (log-densities in float32, the reduction in float64). ``k = 1``: an unbiased
    single-sample estimate of the ELBO (with a Monte Carlo KL); the bound increases with k
    towards ``log p(x)``. The test negative log-likelihood is ``-mean(iwae_bound(...))``.
    With the Bernoulli likelihood on grey-level pixels this is not a proper density (see the
    module docstring): compare models with the same likelihood only. ``max_rows`` bounds the
    decoder batch (samples x images).
    """
    vae = _check_vae(vae)
    images = as_images(images, "images", shape=vae.image_shape).astype(np.float32)
    k = positive_int(k, "k")
    batch_size = positive_int(batch_size, "batch_size")
    max_rows = positive_int(max_rows, "max_rows")
    rng = np.random.default_rng(positive_int(seed, "seed", minimum=0))
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size]
        b = len(x)
        mean, logvar = (ops.convert_to_numpy(t) for t in vae.encoder(x, training=False))
        log_w = np.empty((k, b), np.float64)
        chunk = max(1, max_rows // b)
        for s in range(0, k, chunk):
            m = min(chunk, k - s)
            eps = rng.standard_normal((m, b, vae.latent_dim)).astype(np.float32)
            z = mean + np.exp(0.5 * logvar) * eps                          # [m, b, D]
            log_q = -0.5 * np.sum(eps ** 2 + logvar + _LOG_2PI, axis=-1)
            log_p = -0.5 * np.sum(z ** 2 + _LOG_2PI, axis=-1)
            logits = vae.decoder(z.reshape(m * b, -1), training=False)
            nll = reconstruction_nll(np.broadcast_to(x, (m, *x.shape)).reshape(
                m * b, *x.shape[1:]), logits, vae.likelihood, vae.gaussian_sigma)
            log_w[s:s + m] = -ops.convert_to_numpy(nll).reshape(m, b) + log_p - log_q
        out.append(_logsumexp(log_w, axis=0) - math.log(k))
    return np.concatenate(out)
