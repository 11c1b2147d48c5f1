"""CNN restorers for chapter 04 (and the baselines of chapters 05-06).

* ``dncnn``: a DnCNN-style residual denoiser (Zhang et al. 2017): the network predicts the
  *noise* and subtracts it from its input.
* ``unet``: a U-Net for inpainting and missing pixels; the mask (1 = observed, 0 = missing, as
  in ``imgutils.corrupt``) is an extra input channel, and observed pixels are copied through.
  ``skips=False`` gives the same encoder-decoder without skip connections (the ablation).
* ``super_resolution``: upsample (bilinear) then a residual CNN refines the result (VDSR-style).
* ``sr_unet``: bilinear upsampling then the U-Net body (chapter 05's x4 super-resolvers).
  ``unet`` and ``sr_unet`` take ``noise_channels``: with it they become *stochastic*
  generators (``NoiseChannels``) for the conditional GANs of ``imgutils.models.pix2pix``.

Inputs: float32 ``[N, H, W, C]`` (noisy inputs may leave ``[0, 1]``: unclipped noise);
outputs: float32 ``[N, H, W, C]``, not clipped (clip to ``[0, 1]`` before computing metrics,
as ``restore`` does).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from ..validation import as_images, flag, noisy_images, positive_int
from .registry import builder
from .replicas import global_normal


def _conv(x, filters: int, name: str, *, batch_norm: bool = True, kernel_size: int = 3):
    x = layers.Conv2D(filters, kernel_size, padding="same", use_bias=not batch_norm,
                      name=f"{name}_conv")(x)
    if batch_norm:
        # momentum 0.9 (PyTorch's default): moving statistics settle within ~50 steps
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _check_common(channels: int, depth: int | None = None, width: int | None = None):
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if depth is not None:
        positive_int(depth, "depth", minimum=3)
    if width is not None:
        positive_int(width, "width")


@builder
def dncnn(channels: int = 1, depth: int = 8, width: int = 48, *, residual: bool = True,
          name: str = "dncnn") -> keras.Model:
    """DnCNN: conv+ReLU, ``depth - 2`` x (conv+BN+ReLU), conv -> ``channels``.

    ``residual=True`` (residual learning): output = input - predicted noise. With
    ``residual=False`` the same layers predict the clean image directly (for the comparison
    in the chapter). Fully convolutional: any H x W.
    """
    _check_common(channels, depth, width)
    residual = flag(residual, "residual")
    noisy = keras.Input((None, None, channels), name="noisy")
    x = _conv(noisy, width, "layer1", batch_norm=False)
    for i in range(2, depth):
        x = _conv(x, width, f"layer{i}")
    out = layers.Conv2D(channels, 3, padding="same", name="noise" if residual else "clean")(x)
    if residual:
        out = layers.Subtract(name="restored")([noisy, out])
    return keras.Model(noisy, out, name=name)


def _unet_body(x, channels: int, base: int, levels: int, skips: bool, noise_channels: int,
               seed: int):
    """Encoder-decoder with skips; ``noise_channels`` normal channels join the input and the
    bottleneck (a stochastic generator, chapter 05). Returns the sigmoid prediction."""
    if noise_channels:
        x = layers.Concatenate(name="with_noise")(
            [x, NoiseChannels(noise_channels, seed=seed, name="noise_in")(x)])
    features = []
    for level in range(levels):
        width = base * 2 ** level
        x = _conv(x, width, f"enc{level}a")
        x = _conv(x, width, f"enc{level}b")
        features.append(x)
        x = layers.MaxPooling2D(name=f"pool{level}")(x)
    if noise_channels:
        x = layers.Concatenate(name="bottom_with_noise")(
            [x, NoiseChannels(noise_channels, seed=seed + 1, name="noise_bottom")(x)])
    x = _conv(x, base * 2 ** levels, "bottom_a")
    x = _conv(x, base * 2 ** levels, "bottom_b")
    for level in reversed(range(levels)):
        width = base * 2 ** level
        x = layers.UpSampling2D(name=f"up{level}")(x)
        x = _conv(x, width, f"dec{level}_up")
        if skips:
            x = layers.Concatenate(name=f"skip{level}")([x, features[level]])
        x = _conv(x, width, f"dec{level}a")
        x = _conv(x, width, f"dec{level}b")
    return layers.Conv2D(channels, 1, activation="sigmoid", name="prediction")(x)


def _check_noise(noise_channels: int, seed: int) -> tuple[int, int]:
    noise_channels = positive_int(noise_channels, "noise_channels", minimum=0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31 - 1:
        raise TypeError(f"seed must be an int in [0, 2**31 - 1), got {seed!r}")
    return noise_channels, seed


@builder
def unet(channels: int = 1, base: int = 32, levels: int = 2, *, skips: bool = True,
         keep_observed: bool = True, noise_channels: int = 0, seed: int = 0,
         name: str = "unet") -> keras.Model:
    """U-Net taking ``[corrupted, mask]`` and returning the restored image.

    corrupted: ``[N, H, W, channels]``; mask: ``[N, H, W, 1]`` (1 = observed). H and W must be
    divisible by ``2 ** levels``. Each level: two conv+BN+ReLU, then 2x2 max-pooling; the
    decoder upsamples (nearest + conv, no checkerboard) and, with ``skips=True``, concatenates
    the encoder features of the same resolution. ``keep_observed=True`` returns
    ``mask * corrupted + (1 - mask) * prediction`` (observed pixels are kept as they are).
    ``noise_channels > 0`` makes it a *stochastic* generator (chapter 05): that many N(0, 1)
    channels, drawn afresh at every call (``NoiseChannels``, seeded by ``seed``), join the
    input and the bottleneck, so one input gives different restorations.
    """
    _check_common(channels, width=base)
    levels = positive_int(levels, "levels")
    noise_channels, seed = _check_noise(noise_channels, seed)
    skips, keep_observed = flag(skips, "skips"), flag(keep_observed, "keep_observed")
    corrupted = keras.Input((None, None, channels), name="corrupted")
    mask = keras.Input((None, None, 1), name="mask")
    x = layers.Concatenate(name="with_mask")([corrupted, mask])
    prediction = _unet_body(x, channels, base, levels, skips, noise_channels, seed)
    if keep_observed:
        prediction = KeepObserved(name="restored")([corrupted, mask, prediction])
    return keras.Model([corrupted, mask], prediction, name=name)


@builder
def sr_unet(channels: int = 1, factor: int = 4, base: int = 32, levels: int = 2, *,
            noise_channels: int = 0, seed: int = 0, name: str = "sr_unet") -> keras.Model:
    """Super-resolution U-Net: low ``[N, h, w, C]`` -> ``[N, factor h, factor w, C]`` in [0, 1].

    The low-resolution image is upsampled (bilinear) and refined by the U-Net of ``unet``
    (no mask input: every pixel is "damaged"); ``factor * h`` must be divisible by
    ``2 ** levels``. With ``noise_channels > 0`` a stochastic generator (see ``unet``).
    """
    _check_common(channels, width=base)
    levels = positive_int(levels, "levels")
    factor = positive_int(factor, "factor", minimum=2)
    noise_channels, seed = _check_noise(noise_channels, seed)
    low = keras.Input((None, None, channels), name="low_resolution")
    x = layers.UpSampling2D(factor, interpolation="bilinear", name="bilinear")(low)
    prediction = _unet_body(x, channels, base, levels, True, noise_channels, seed)
    return keras.Model(low, prediction, name=name)


@keras.saving.register_keras_serializable(package="imgutils")
class NoiseChannels(layers.Layer):
    """``x [N, H, W, C] -> z [N, H, W, channels]``, z ~ N(0, 1) drawn afresh at every call.

    Training *and* inference draw new noise (a generator that samples); the draws come from a
    seeded ``keras.random.SeedGenerator`` (``reseed`` in ``imgutils.models.pix2pix`` resets it
    for repeatable samples). Under a multi-replica strategy each replica keeps its rows of the
    noise for the global batch (``replicas.global_normal``).
    """

    def __init__(self, channels: int, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.channels = positive_int(channels, "channels")
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, x):
        shape = keras.ops.shape(x)
        return global_normal((shape[0], shape[1], shape[2], self.channels),
                             self.seed_generator, dtype=x.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "seed": self.seed}


@keras.saving.register_keras_serializable(package="imgutils")
class KeepObserved(layers.Layer):
    """``mask * corrupted + (1 - mask) * prediction``: only the missing pixels are predicted."""

    def call(self, inputs):
        corrupted, mask, prediction = inputs
        return mask * corrupted + (1.0 - mask) * prediction


@builder
def super_resolution(channels: int = 1, factor: int = 2, depth: int = 6, width: int = 32, *,
                     name: str = "super_resolution") -> keras.Model:
    """Bilinear upsampling by ``factor``, then ``depth`` convolutions add a residual correction.

    low: ``[N, H, W, channels]`` -> ``[N, factor H, factor W, channels]``.
    """
    _check_common(channels, depth, width)
    factor = positive_int(factor, "factor", minimum=2)
    low = keras.Input((None, None, channels), name="low_resolution")
    upsampled = layers.UpSampling2D(factor, interpolation="bilinear", name="bilinear")(low)
    x = _conv(upsampled, width, "layer1", batch_norm=False)
    for i in range(2, depth):
        x = _conv(x, width, f"layer{i}", batch_norm=False)
    correction = layers.Conv2D(channels, 3, padding="same", name="correction")(x)
    out = layers.Add(name="restored")([upsampled, correction])
    return keras.Model(low, out, name=name)


def _dihedral(images: np.ndarray, k: int, inverse: bool = False) -> np.ndarray:
    """The k-th of the 8 rotations/flips of ``[N, H, W, C]`` arrays (or its inverse)."""
    rotations, flip = k % 4, k >= 4
    if not inverse:
        out = np.rot90(images, rotations, axes=(1, 2))
        return np.ascontiguousarray(out[:, :, ::-1] if flip else out)
    out = images[:, :, ::-1] if flip else images
    return np.ascontiguousarray(np.rot90(out, -rotations, axes=(1, 2)))


def restore(model: keras.Model, inputs, *, batch_size: int = 256,
            self_ensemble: bool = False) -> np.ndarray:
    """Run a restorer and clip to ``[0, 1]``: float32 ``[N, H, W, C]`` ready for the metrics.

    ``self_ensemble=True``: geometric self-ensemble (Timofte et al. 2016, the "+" variants
    of restoration papers): the inputs are rotated by 0/90/180/270 degrees, with and without
    a mirror flip, restored, transformed back, and the 8 results averaged. Costs 8 passes;
    works for square images (and any H, W for fully convolutional models).

    inputs: the degraded images float ``[N, H, W, C]`` on the [0, 1] scale (unclipped noise
    may overshoot it: ``validation.NOISY_RANGE``), or a list ``[images, mask, ...]`` for
    models with several inputs (masks and other extra inputs in [0, 1], same N).
    """
    self_ensemble = flag(self_ensemble, "self_ensemble")
    inputs = _checked_inputs(inputs)
    if self_ensemble:
        parts = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        total = None
        for k in range(8):
            moved = [_dihedral(np.asarray(p, np.float32), k) for p in parts]
            out = _dihedral(_run_in_chunks(model, moved, batch_size), k, inverse=True)
            total = out if total is None else total + out
        return np.clip(total / 8, 0.0, 1.0).astype(np.float32)
    return np.clip(_run_in_chunks(model, inputs, batch_size), 0.0, 1.0).astype(np.float32)


def _checked_inputs(inputs) -> np.ndarray | list[np.ndarray]:
    if isinstance(inputs, (list, tuple)):
        if not inputs:
            raise ValueError("inputs must be an image batch or a non-empty list of them")
        parts = [noisy_images(inputs[0], "inputs[0]")]
        parts += [as_images(p, f"inputs[{i}]") for i, p in enumerate(inputs[1:], 1)]
        if len({len(p) for p in parts}) > 1:
            raise ValueError("inputs must all hold the same number of images, got "
                             f"{[len(p) for p in parts]}")
        return [p.astype(np.float32, copy=False) for p in parts]
    return noisy_images(inputs, "inputs").astype(np.float32, copy=False)


def _run_in_chunks(model: keras.Model, inputs, batch_size: int) -> np.ndarray:
    # Eager calls in chunks: no tf.function retracing for every new input size.
    batch_size = positive_int(batch_size, "batch_size")
    parts = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    n = len(parts[0])
    chunks = []
    for start in range(0, n, batch_size):
        chunk = [np.asarray(p[start:start + batch_size], np.float32) for p in parts]
        out = model(chunk if len(chunk) > 1 else chunk[0], training=False)
        chunks.append(np.asarray(out))
    return np.concatenate(chunks)
