"""Autoencoders of chapter 06: plain, denoising (error-correcting), over a noisy channel, and
the denoising VAE.

* ``conv_encoder`` / ``conv_decoder``: a convolutional autoencoder whose code is a vector of
  ``code_size`` numbers (the bottleneck). Encoders downsample with strided convolutions;
  transposed convolutions are not used at all (the source text's "encoders made of
  convolution and transposed-convolution layers" is ERRATA 8: transposed convolutions, or
  upsampling + convolution as here, belong to decoders).
* ``skip_autoencoder``: an image-to-image autoencoder with symmetric skip connections
  (RED-Net style), the blind restorer of the chapter (shipped as ``fashion_dae``).
* ``Autoencoder``: encoder -> optional ``Channel`` -> decoder, trained with ``fit`` on images
  (target = input) or on ``(inputs, targets)`` pairs; loss: the pixel-wise cross-entropy
  (default) or the mean squared error.
* ``DenoisingAutoencoder``: the denoising criterion of Vincent et al. (2008): every training
  batch of *clean* images is corrupted afresh inside ``train_step`` (``corrupt.mixture``),
  the network sees only the corrupted image and is scored against the clean one. It is never
  told where the damage is (a *blind* restorer).
* ``Channel``: normalises a code to unit average power and sends it through additive white
  Gaussian noise at a given SNR, or erases entries at a given rate (deep joint source-channel
  coding, Bourtsoulatze, Kurka & Gündüz 2019). Active in training; off at test time unless
  ``test_noise`` is switched on (or use ``Autoencoder.transmit`` with an explicit seed).
* ``DenoisingVAE``: the VAE of chapter 03 with a corrupted input and the clean target
  (Im et al. 2017). Its objective is *maximised* (ERRATA 4 and 9 write it as a minimisation):

      L_DVAE(x) = E_{p(x~|x)} [ E_{q(z|x~)}[log p(x|z)] - KL(q(z|x~) || p(z)) ],

  z drawn from the encoder's posterior given the *corrupted* x~, the likelihood of the
  *clean* x. Training minimises ``-L_DVAE`` (``denoising_elbo`` is the per-image value).

Images: float32 ``[N, H, W, C]`` in ``[0, 1]`` at every public interface; decoders end in a
sigmoid (autoencoders) or give logits (the denoising VAE, as chapter 03's decoders).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from .. import corrupt
from ..validation import as_images, positive_int, real_number
from .fit_checks import CheckedFit
from .registry import builder
from .replicas import scale_for_replicas
from .vae import VAE, kl_divergence, reconstruction_nll

__all__ = [
    "CHANNEL_KINDS", "Autoencoder", "Channel", "DenoisingAutoencoder", "DenoisingVAE",
    "LOSSES", "conv_decoder", "conv_encoder", "dense_decoder", "dense_encoder",
    "denoising_elbo", "measured_snr_db",
    "skip_autoencoder",
]

CHANNEL_KINDS = ("awgn", "erasure")
LOSSES = ("bce", "mse")


def _image_shape(value) -> tuple[int, int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"image_shape must be (H, W, C) with positive ints, got {value!r}")
    h, w, c = value
    if h % 4 or w % 4:
        raise ValueError(f"image_shape must have H and W divisible by 4, got {value!r}")
    return h, w, c


# =========================================================================== builders
@builder
def conv_encoder(image_shape=(28, 28, 1), code_size: int = 32, width: int = 32,
                 name: str = "ae_encoder") -> keras.Model:
    """Images ``[N, H, W, C]`` in [0, 1] -> code ``[N, code_size]`` (linear, unbounded).

    conv 3x3 stride 2 (``width``) -> conv 3x3 stride 2 (``2 width``) -> conv 3x3
    (``2 width``), ReLU after each, then Flatten -> Dense(``code_size``). H, W divisible by 4.
    """
    h, w, c = _image_shape(image_shape)
    code_size, width = positive_int(code_size, "code_size"), positive_int(width, "width")
    images = keras.Input((h, w, c), name="images")
    x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name="down0")(images)
    x = layers.Conv2D(2 * width, 3, strides=2, padding="same", activation="relu",
                      name="down1")(x)
    x = layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="mix")(x)
    x = layers.Flatten(name="flatten")(x)
    code = layers.Dense(code_size, name="code")(x)
    return keras.Model(images, code, name=name)


@builder
def conv_decoder(code_size: int = 32, image_shape=(28, 28, 1), width: int = 32, *,
                 output: str = "sigmoid", name: str = "ae_decoder") -> keras.Model:
    """Code ``[N, code_size]`` -> images ``[N, H, W, C]``: in [0, 1] (``output="sigmoid"``) or
    logits (``output="logits"``, for the denoising VAE's Bernoulli likelihood).

    Dense -> ``[H/4, W/4, 2 width]`` -> conv -> (nearest upsampling x2 -> conv) twice -> conv
    3x3 to C channels. Nearest upsampling + convolution has no checkerboard artefacts.
    """
    h, w, c = _image_shape(image_shape)
    code_size, width = positive_int(code_size, "code_size"), positive_int(width, "width")
    if output not in ("sigmoid", "logits"):
        raise ValueError(f"output must be 'sigmoid' or 'logits', got {output!r}")
    code = keras.Input((code_size,), name="code")
    x = layers.Dense(h // 4 * w // 4 * 2 * width, activation="relu", name="expand")(code)
    x = layers.Reshape((h // 4, w // 4, 2 * width), name="to_grid")(x)
    x = layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="mix")(x)
    for i, filters in enumerate((2 * width, width)):
        x = layers.UpSampling2D(name=f"up{i}")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"up{i}_conv")(x)
    x = layers.Conv2D(c, 3, padding="same", activation="sigmoid" if output == "sigmoid" else None,
                      name="images" if output == "sigmoid" else "logits")(x)
    return keras.Model(code, x, name=name)


@builder
def dense_encoder(image_shape=(28, 28, 1), hidden: int = 1024,
                  name: str = "dense_encoder") -> keras.Model:
    """The one-hidden-layer encoder of Vincent et al. (2008): images -> ``sigmoid(W x + b)``,
    ``[N, hidden]`` in (0, 1). ``hidden`` may exceed the number of pixels (overcomplete)."""
    h, w, c = _image_shape(image_shape)
    hidden = positive_int(hidden, "hidden")
    images = keras.Input((h, w, c), name="images")
    code = layers.Dense(hidden, activation="sigmoid", name="code")(
        layers.Flatten(name="flatten")(images))
    return keras.Model(images, code, name=name)


@builder
def dense_decoder(hidden: int = 1024, image_shape=(28, 28, 1),
                  name: str = "dense_decoder") -> keras.Model:
    """``[N, hidden]`` -> images ``sigmoid(W' h + b')`` ``[N, H, W, C]`` in [0, 1]."""
    h, w, c = _image_shape(image_shape)
    hidden = positive_int(hidden, "hidden")
    code = keras.Input((hidden,), name="code")
    x = layers.Dense(h * w * c, activation="sigmoid", name="pixels")(code)
    return keras.Model(code, layers.Reshape((h, w, c), name="images")(x), name=name)


def skip_body(x, base: int):
    """The two-level encoder-decoder with symmetric skips shared by ``skip_autoencoder`` and
    ``score.noise_conditional_denoiser``: two 3x3 conv + ReLU per block (``base`` at full
    size, ``2 base`` below), average pooling down, nearest upsampling + concatenation up.
    Returns the full-resolution features ``[N, H, W, base]`` (H, W divisible by 4)."""

    def block(t, filters, label):
        t = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{label}a")(t)
        return layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{label}b")(t)

    e0 = block(x, base, "enc0")
    e1 = block(layers.AveragePooling2D(2, name="pool0")(e0), 2 * base, "enc1")
    mid = block(layers.AveragePooling2D(2, name="pool1")(e1), 2 * base, "mid")
    d1 = block(layers.Concatenate(name="skip1")([layers.UpSampling2D(name="up1")(mid), e1]),
               2 * base, "dec1")
    return block(layers.Concatenate(name="skip0")([layers.UpSampling2D(name="up0")(d1), e0]),
                 base, "dec0")


@builder
def skip_autoencoder(image_shape=(28, 28, 1), base: int = 16,
                     name: str = "skip_autoencoder") -> keras.Model:
    """An image-to-image convolutional autoencoder with symmetric skip connections (RED-Net,
    Mao et al. 2016): ``[N, H, W, C]`` in [0, 1] -> ``[N, H, W, C]`` in [0, 1].

    Encoder: two 3x3 conv + ReLU (``base``), 2x2 average pooling, two convs (``2 base``),
    pooling, two convs (``2 base``) at ``H/4 x W/4``; decoder: nearest upsampling, concatenate
    the encoder features of the same size, two convs, twice; a 3x3 conv + sigmoid. The skips
    carry detail past the bottleneck, so it can restore fine texture, and trained on clean
    images only it learns the identity (which corrects nothing: hence the denoising
    criterion). H, W divisible by 4.
    """
    h, w, c = _image_shape(image_shape)
    base = positive_int(base, "base")
    images = keras.Input((h, w, c), name="images")

    out = layers.Conv2D(c, 3, padding="same", activation="sigmoid",
                        name="restored")(skip_body(images, base))
    return keras.Model(images, out, name=name)


# =========================================================================== channel
def _unit_power(code):
    """Scale every code ``[N, k]`` to mean square 1: ``z * sqrt(k) / ||z||``."""
    k = ops.cast(ops.shape(code)[-1], code.dtype)
    norm = ops.sqrt(ops.sum(ops.square(code), axis=-1, keepdims=True) + 1e-12)
    return code * ops.sqrt(k) / norm


def measured_snr_db(sent, received) -> float:
    """``10 log10(mean(sent^2) / mean((received - sent)^2))`` over all entries, in dB."""
    sent, received = np.asarray(sent, np.float64), np.asarray(received, np.float64)
    if sent.shape != received.shape or sent.size == 0:
        raise ValueError(f"sent and received must have the same non-empty shape, got "
                         f"{sent.shape} and {received.shape}")
    noise = np.mean((received - sent) ** 2)
    if noise == 0:
        return math.inf
    return float(10 * np.log10(np.mean(sent ** 2) / noise))


@keras.saving.register_keras_serializable(package="imgutils")
class Channel(layers.Layer):
    """A noisy channel for codes ``[N, k]``: power normalisation, then noise.

    Every code is scaled to unit average power (``mean_j z_j^2 = 1`` per image, the power
    constraint of a transmitter). Then, ``kind="awgn"``: ``z + n`` with
    ``n ~ N(0, 10^(-snr_db / 10))`` (so the SNR is ``snr_db`` decibels); ``kind="erasure"``:
    each entry is set to 0 with probability ``erasure_rate``. ``snr_db=None`` (or
    ``erasure_rate=0``): a noiseless channel (normalisation only).

    The noise is drawn in training. At test time it is off unless ``test_noise`` is True; the
    SNR / rate can be changed after training (``set_condition``) without rebuilding the model.
    """

    def __init__(self, kind: str = "awgn", snr_db: float | None = 10.0,
                 erasure_rate: float = 0.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if kind not in CHANNEL_KINDS:
            raise ValueError(f"kind must be one of {CHANNEL_KINDS}, got {kind!r}")
        self.kind = kind
        self.seed = positive_int(seed, "seed", minimum=0)
        self._check(snr_db, erasure_rate)
        self.snr_db, self.erasure_rate = snr_db, float(erasure_rate)
        self.test_noise = False
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    @staticmethod
    def _check(snr_db, erasure_rate):
        if snr_db is not None:
            real_number(snr_db, "snr_db", low=-30.0, high=60.0)
        real_number(erasure_rate, "erasure_rate", low=0.0, high=1.0)

    def set_condition(self, *, snr_db: float | None = None, erasure_rate: float = 0.0,
                      test_noise: bool | None = None) -> None:
        """Change the channel (e.g. to evaluate at another SNR). Retraces compiled calls."""
        self._check(snr_db, erasure_rate)
        self.snr_db, self.erasure_rate = snr_db, float(erasure_rate)
        if test_noise is not None:
            if not isinstance(test_noise, bool):
                raise TypeError(f"test_noise must be True or False, got {test_noise!r}")
            self.test_noise = test_noise

    @property
    def noiseless(self) -> bool:
        return (self.snr_db is None) if self.kind == "awgn" else self.erasure_rate == 0.0

    def normalize(self, code):
        return _unit_power(code)

    def call(self, code, training=False):
        z = _unit_power(code)
        if self.noiseless or not (training or self.test_noise):
            return z
        if self.kind == "awgn":
            std = 10.0 ** (-self.snr_db / 20.0)
            return z + std * keras.random.normal(ops.shape(z), seed=self.seed_generator)
        keep = keras.random.uniform(ops.shape(z), seed=self.seed_generator) >= self.erasure_rate
        return z * ops.cast(keep, z.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "snr_db": self.snr_db,
                "erasure_rate": self.erasure_rate, "seed": self.seed}


# =========================================================================== models
class Autoencoder(CheckedFit, keras.Model):
    """encoder -> (channel) -> decoder, trained with ``fit``.

    Data: clean images ``[N, H, W, C]`` in [0, 1] (target = input: a plain autoencoder), or
    ``(inputs, targets)`` pairs. ``loss="bce"`` (default): the cross-entropy of the targets
    under the decoder's Bernoulli means, per pixel (Vincent et al. 2008's reconstruction
    cross-entropy; its gradient does not vanish where the sigmoid saturates, so it trains
    faster than MSE here); ``loss="mse"``: the mean squared error. Tracked: ``loss`` and
    ``psnr`` (of the batch MSE, dB, on the [0, 1] scale). The decoder must output images in
    [0, 1]. ``decoder=None``: ``encoder`` is one image-to-image network (``skip_autoencoder``),
    with no single code (``encode`` / ``decode`` / ``transmit`` then raise).
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model | None, *,
                 channel: Channel | None = None, loss: str = "bce", **kwargs):
        super().__init__(**kwargs)
        parts = (("encoder", encoder),) + ((("decoder", decoder),) if decoder is not None
                                          else ())
        for label, model in parts:
            if not isinstance(model, keras.Model):
                raise TypeError(f"{label} must be a keras.Model, got {type(model).__name__}")
        if channel is not None and not isinstance(channel, Channel):
            raise TypeError(f"channel must be an autoencoder.Channel or None, got "
                            f"{type(channel).__name__}")
        image_shape = tuple(encoder.inputs[0].shape[1:])
        last = decoder if decoder is not None else encoder
        out_shape = tuple(last.outputs[0].shape[1:])
        if out_shape != image_shape:
            raise ValueError(f"decoder output shape {out_shape} does not match the encoder "
                             f"input shape {image_shape}")
        code = None
        if decoder is not None:
            code, dec_in = int(encoder.outputs[0].shape[-1]), int(decoder.inputs[0].shape[-1])
            if code != dec_in:
                raise ValueError(f"code sizes disagree: encoder gives {code}, decoder takes "
                                 f"{dec_in}")
        elif channel is not None:
            raise ValueError("a channel needs a code: pass an encoder and a decoder")
        self.encoder, self.decoder, self.channel = encoder, decoder, channel
        self.image_shape, self.code_size = image_shape, code
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.loss_kind = loss
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "psnr")}
        if channel is not None:
            channel.build((None, code))
        self.built = True       # the parts are built functional models (BackupAndRestore)

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def network(self) -> keras.Model:
        """The image-to-image network (``decoder=None``); for saving with ``pretrained``."""
        self._needs_no_code()
        return self.encoder

    def _needs_no_code(self):
        if self.decoder is not None:
            raise ValueError("this autoencoder has an encoder and a decoder: save or use them "
                             "separately (model.encoder, model.decoder)")

    def call(self, images, training=False):
        code = self.encoder(images, training=training)
        if self.decoder is None:          # one image-to-image network (skip connections)
            return code
        if self.channel is not None:
            code = self.channel(code, training=training)
        return self.decoder(code, training=training)

    def _pair(self, data):
        """``(inputs, targets)`` of one batch."""
        if isinstance(data, tuple):
            return data[0], data[1] if len(data) > 1 else data[0]
        return data, data

    def _step(self, inputs, targets, training: bool):
        """``(loss, mse)`` of one batch."""
        outputs = self(inputs, training=training)
        mse = ops.mean(ops.square(outputs - targets))
        if self.loss_kind == "mse":
            return mse, mse
        p = ops.clip(outputs, 1e-6, 1.0 - 1e-6)
        bce = -ops.mean(targets * ops.log(p) + (1.0 - targets) * ops.log(1.0 - p))
        return bce, mse

    def _record(self, losses):
        loss, mse = losses
        self.trackers["loss"].update_state(loss)
        self.trackers["psnr"].update_state(-10.0 * ops.log(mse + 1e-12) / math.log(10.0))
        return {name: t.result() for name, t in self.trackers.items()}

    def train_step(self, data):
        inputs, targets = self._pair(data)
        with tf.GradientTape() as tape:
            losses = self._step(inputs, targets, True)
        grads = tape.gradient(scale_for_replicas(losses[0]), self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return self._record(losses)

    def test_step(self, data):
        inputs, targets = self._pair(data)
        return self._record(self._step(inputs, targets, False))

    # ------------------------------------------------------------------ NumPy interface
    def _codes(self, codes) -> np.ndarray:
        codes = np.asarray(codes.numpy() if hasattr(codes, "numpy") else codes)
        if not np.issubdtype(codes.dtype, np.floating):
            raise TypeError(f"codes must be a float array [N, {self.code_size}], got dtype "
                            f"{codes.dtype}")
        if codes.ndim != 2 or codes.shape[1] != self.code_size or len(codes) == 0:
            raise ValueError(f"codes must have shape [N, {self.code_size}], got {codes.shape}")
        if not np.all(np.isfinite(codes)):
            raise ValueError("codes contains NaN or infinite values")
        return codes.astype(np.float32, copy=False)

    def _needs_code(self):
        if self.decoder is None:
            raise ValueError("this autoencoder is one network with skip connections: it has no "
                             "single code to encode to, decode from or transmit")

    def encode(self, images, batch_size: int = 500) -> np.ndarray:
        """Codes float32 ``[N, code_size]`` (before the channel's normalisation)."""
        self._needs_code()
        images = as_images(images, "images", shape=self.image_shape).astype(np.float32)
        batch_size = positive_int(batch_size, "batch_size")
        return np.concatenate([ops.convert_to_numpy(self.encoder(images[i:i + batch_size],
                                                                 training=False))
                               for i in range(0, len(images), batch_size)])

    def decode(self, codes, batch_size: int = 500) -> np.ndarray:
        """Images float32 ``[N, H, W, C]`` in [0, 1] from codes ``[N, code_size]``."""
        self._needs_code()
        codes = self._codes(codes)
        batch_size = positive_int(batch_size, "batch_size")
        out = np.concatenate([ops.convert_to_numpy(self.decoder(codes[i:i + batch_size],
                                                                training=False))
                              for i in range(0, len(codes), batch_size)])
        return np.clip(out, 0.0, 1.0)

    def reconstruct(self, images, batch_size: int = 500) -> np.ndarray:
        """``decode(encode(images))`` through a noiseless channel: ``[N, H, W, C]`` in [0, 1]."""
        if self.decoder is None:
            images = as_images(images, "images", shape=self.image_shape).astype(np.float32)
            batch_size = positive_int(batch_size, "batch_size")
            return np.clip(np.concatenate([
                ops.convert_to_numpy(self.encoder(images[i:i + batch_size], training=False))
                for i in range(0, len(images), batch_size)]), 0.0, 1.0)
        codes = self.encode(images, batch_size)
        if self.channel is not None:
            codes = ops.convert_to_numpy(_unit_power(ops.convert_to_tensor(codes)))
        return self.decode(codes, batch_size)

    def transmit(self, images, *, snr_db: float | None = None, erasure_rate: float = 0.0,
                 seed: int = 0, batch_size: int = 500) -> np.ndarray:
        """Encode, normalise to unit power, send over AWGN at ``snr_db`` (None: no noise) and/or
        erase entries at ``erasure_rate``, decode. Seeded NumPy noise: deterministic."""
        Channel._check(snr_db, erasure_rate)
        rng = np.random.default_rng(positive_int(seed, "seed", minimum=0))
        z = ops.convert_to_numpy(_unit_power(ops.convert_to_tensor(self.encode(images,
                                                                               batch_size))))
        if snr_db is not None:
            z = z + 10.0 ** (-snr_db / 20.0) * rng.standard_normal(z.shape).astype(np.float32)
        if erasure_rate > 0:
            z = z * (rng.random(z.shape) >= erasure_rate)
        return self.decode(z.astype(np.float32), batch_size)


class DenoisingAutoencoder(Autoencoder):
    """An autoencoder trained with the denoising criterion: clean images in, damage drawn inside.

    ``corruptions``: degradation specs for ``imgutils.corrupt.mixture`` (e.g.
    ``[("salt_and_pepper", 0.3), ("missing_pixels", 0.5)]``); every image of every batch gets
    one of them, with randomness keyed by ``(seed, optimizer step)``, so a resumed run draws
    exactly the damage the uninterrupted run would have. ``fit`` on clean images (labels, if
    any, are ignored); ``restore(corrupted)`` applies the trained model.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model | None, corruptions, *,
                 seed: int = 0, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        corrupt._parse_specs(corruptions)  # clear errors now, not inside the traced step
        probe = np.zeros((1, *self.image_shape), np.float32)
        corrupt.mixture(probe, corruptions, seed=0)
        self.corruptions = corruptions
        self.seed = positive_int(seed, "seed", minimum=0)

    def corrupt_batch(self, clean, step):
        """The damaged version of ``clean`` that training step ``step`` sees."""
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        return corrupt.mixture(clean, self.corruptions, seed=seed).corrupted

    def _pair(self, data):
        clean = data[0] if isinstance(data, tuple) else data
        step = self.optimizer.iterations if getattr(self, "optimizer", None) is not None else 0
        return self.corrupt_batch(clean, step), clean

    def test_step(self, data):
        clean = data[0] if isinstance(data, tuple) else data
        return self._record(self._step(self.corrupt_batch(clean, -1), clean, False))

    def restore(self, corrupted, batch_size: int = 500) -> np.ndarray:
        """Restored images ``[N, H, W, C]`` in [0, 1] from damaged ones (blind: no mask)."""
        return self.reconstruct(corrupted, batch_size)


# =========================================================================== denoising VAE
def denoising_elbo(clean, logits, mean, logvar, *, likelihood: str = "bernoulli",
                   gaussian_sigma: float = 0.1):
    """Per-image ``log p(x|z) - KL(q(z|x~) || p(z))`` (nats, ``[N]``): the quantity the
    denoising VAE *maximises* (its expectation over x~ and z).

    clean: the clean images x ``[N, H, W, C]`` in [0, 1]; logits: the decoder's output for
    ``z ~ q(z|x~)``; mean, logvar: ``q(z|x~)``'s parameters ``[N, latent_dim]``, computed
    from the *corrupted* x~.
    """
    if isinstance(clean, np.ndarray):
        clean = as_images(clean, "clean")
    recon = reconstruction_nll(clean, logits, likelihood, gaussian_sigma)
    return -(recon + kl_divergence(mean, logvar))


class DenoisingVAE(VAE):
    """Chapter 03's ``VAE`` with the denoising criterion (Im et al. 2017).

    Per batch of clean images x: ``x~ = corrupt.mixture(x, corruptions)``, ``(mu, logvar) =
    encoder(x~)``, ``z = mu + exp(logvar / 2) eps``, and ``loss = mean(-log p(x|z) + beta KL)``:
    the negative of ``denoising_elbo`` (beta = 1). ``reconstruct(x~)`` restores damaged
    images; ``elbo(vae, x)`` (chapter 03) still evaluates the ordinary bound on clean images.
    The damage is keyed by ``(seed, optimizer step)``, as in ``DenoisingAutoencoder``.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, corruptions, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        corrupt._parse_specs(corruptions)
        corrupt.mixture(np.zeros((1, *self.image_shape), np.float32), corruptions, seed=0)
        self.corruptions = corruptions

    def corrupt_batch(self, clean, step):
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        return corrupt.mixture(clean, self.corruptions, seed=seed).corrupted

    def _terms(self, images, training):
        step = self.optimizer.iterations if training else -1
        mean, logvar = self.encoder(self.corrupt_batch(images, step), training=training)
        z = self.sampling((mean, logvar))
        logits = self.decoder(z, training=training)
        recon = reconstruction_nll(images, logits, self.likelihood, self.gaussian_sigma)
        return mean, recon, kl_divergence(mean, logvar)
