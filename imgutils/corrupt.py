"""The degradation zoo shared by the restoration chapters (04 CNN, 05 GAN, 06 autoencoders).

Every degradation takes clean images float32 ``[N, H, W, C]`` in ``[0, 1]`` and returns a
``Corruption(corrupted, clean, mask)``:

* ``corrupted``: float32 ``[N, H, W, C]`` (``[N, H/f, W/f, C]`` for ``downsample``);
* ``clean``: the input, as float32;
* ``mask``: float32 ``[N, H, W, 1]`` with **1 = pixel observed / valid, 0 = missing or
  corrupted**. Noise and blur touch every pixel without destroying it, so their mask is all
  ones; for salt-and-pepper the mask marks the untouched pixels; for missing pixels and holes
  it marks the pixels that survived. ``imgutils.metrics.masked_psnr`` and the inpainting
  baselines use the same polarity.

Design: one TensorFlow implementation serves both NumPy and TensorFlow callers. NumPy input
gives NumPy output; a tensor gives tensors, so the functions can be used inside
``tf.data.Dataset.map`` (graph mode) as well as eagerly. Randomness comes from TensorFlow's
*stateless* random ops, keyed by ``seed``: the same seed gives the same result every time
(whatever ran before), different seeds give different results. ``seed`` is an int (used as the pair
``(seed, 0)``), a pair of ints, or an int tensor of shape ``[]`` or ``[2]``.

Inside ``Dataset.map`` a fixed seed would corrupt every batch identically; use
``corrupt_dataset(ds, name, seed=s, ...)``, which gives element ``i`` the seed pair
``(s, i)`` (element 0 therefore matches a direct call with ``seed=s``). Put ``repeat()``
*before* it to draw fresh corruptions in every epoch.

Arguments are checked eagerly with ``TypeError`` / ``ValueError`` naming the argument; on
symbolic tensors (inside ``Dataset.map``) shape and dtype are checked while tracing and the
value range by TensorFlow assertions that fail when the dataset is iterated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from .validation import as_images, flag, positive_int, real_number

__all__ = [
    "Corruption", "DEGRADATIONS", "corrupt_dataset", "downsample", "gaussian_blur",
    "training_pairs",
    "gaussian_kernel", "gaussian_noise", "random_gaussian_noise", "block_holes",
    "irregular_holes", "missing_pixels", "mixture", "salt_and_pepper", "upsample_nearest",
]

#: Segments per brush stroke in ``irregular_holes`` and their length range as a fraction of
#: ``min(H, W)``.
STROKE_SEGMENTS = 4
STROKE_LENGTH = (0.1, 0.3)
#: The most strokes ``irregular_holes`` draws per image (its cost grows with strokes x pixels;
#: a few dozen already cover a 28x28 image).
MAX_STROKES = 64
#: Gaussian kernels reach ``truncate * sigma`` pixels, as ``scipy.ndimage.gaussian_filter``.
TRUNCATE = 4.0


class Corruption(NamedTuple):
    """corrupted: float32 [N, H, W, C]; clean: float32 [N, H, W, C] in [0, 1];
    mask: float32 [N, H, W, 1], 1 = observed, 0 = missing/corrupted."""

    corrupted: Any
    clean: Any
    mask: Any


# --------------------------------------------------------------------------- helpers
def _seed_pair(seed) -> tf.Tensor:
    """int -> ``[seed, 0]``; a pair or an int tensor of shape ``[]`` / ``[2]`` -> int64 ``[2]``."""
    if tf.is_tensor(seed):
        if not seed.dtype.is_integer:
            raise TypeError(f"seed must be an integer tensor, got dtype {seed.dtype.name}")
        seed = tf.cast(seed, tf.int64)
        if seed.shape.rank == 0:
            return tf.stack([seed, tf.constant(0, tf.int64)])
        if seed.shape.rank == 1 and seed.shape[0] == 2:
            return seed
        raise ValueError(f"seed must be a scalar or a pair, got shape {seed.shape}")
    if isinstance(seed, (tuple, list, np.ndarray)):
        parts = list(np.asarray(seed).ravel()) if isinstance(seed, np.ndarray) else list(seed)
        if len(parts) != 2:
            raise ValueError(f"seed must be an int or a pair of ints, got {seed!r}")
    else:
        parts = [seed, 0]
    for part in parts:
        if isinstance(part, bool) or not isinstance(part, (int, np.integer)):
            raise TypeError(f"seed must be an int or a pair of ints, got {seed!r}")
        if not -(2 ** 63) <= int(part) < 2 ** 63:
            raise ValueError(f"seed must fit in 64 bits, got {seed!r}")
    return tf.constant([int(p) for p in parts], tf.int64)


def _subseeds(seed, n: int) -> list[tf.Tensor]:
    return tf.unstack(tf.random.experimental.stateless_split(_seed_pair(seed), num=n))


def _prepare(images, name: str = "images") -> tuple[tf.Tensor, bool]:
    """Check an image batch; return it as a float32 tensor and whether it came as NumPy."""
    if isinstance(images, np.ndarray) or not tf.is_tensor(images) or tf.executing_eagerly():
        numpy_in = not tf.is_tensor(images) and tf.executing_eagerly()
        array = as_images(images, name)
        return tf.convert_to_tensor(array.astype(np.float32, copy=False)), numpy_in
    # symbolic tensor (tf.function / Dataset.map): static checks now, value checks at run time
    if not images.dtype.is_floating:
        raise TypeError(f"{name} must have a float dtype with values in [0, 1], "
                        f"got dtype {images.dtype.name}")
    if images.shape.rank != 4:
        raise ValueError(f"{name} must have rank 4 [N, H, W, C], got shape {images.shape}"
                         " (use corrupt_dataset for unbatched datasets)")
    x = tf.cast(images, tf.float32)
    message = f"{name} must have values in [0, 1] (float32 [N, H, W, C])"
    checks = [tf.debugging.assert_greater_equal(x, 0.0, message=message),
              tf.debugging.assert_less_equal(x, 1.0, message=message)]
    with tf.control_dependencies(checks):
        return tf.identity(x), False


def _fits(x: tf.Tensor, size: int, name: str, what: str) -> list:
    """Check ``size <= H`` and ``size <= W`` statically, or return run-time assertions."""
    h, w = x.shape[1], x.shape[2]
    if h is not None and w is not None:
        if size > min(h, w):
            raise ValueError(f"{name} must be at most the image size {h}x{w}, got {size}{what}")
        return []
    shape = tf.shape(x)
    return [tf.debugging.assert_less_equal(size, tf.minimum(shape[1], shape[2]),
                                           message=f"{name} must be at most the image size")]


def _finish(corrupted, clean, mask, numpy_in: bool) -> Corruption:
    if numpy_in:
        return Corruption(corrupted.numpy(), clean.numpy(), mask.numpy())
    return Corruption(corrupted, clean, mask)


def _fill_holes(x: tf.Tensor, hole: tf.Tensor, fill: float) -> tuple[tf.Tensor, tf.Tensor]:
    """hole: bool [N, H, W, 1] -> (corrupted, mask) with holes set to ``fill``."""
    mask = 1.0 - tf.cast(hole, tf.float32)
    return x * mask + fill * (1.0 - mask), mask


def _ones_mask(x: tf.Tensor) -> tf.Tensor:
    return tf.ones_like(x[..., :1])


# --------------------------------------------------------------------------- noise
def gaussian_noise(images, sigma: float, *, clip: bool = False, seed=0) -> Corruption:
    """Additive white Gaussian noise: ``corrupted = clean + sigma * z``, ``z ~ N(0, 1)`` per value.

    images: float32 ``[N, H, W, C]`` in [0, 1]. sigma: noise standard deviation on the
    **[0, 1] scale** (the "σ = 25" of the DnCNN papers is ``25 / 255``).
    ``clip=False`` (default) is the DnCNN protocol: the noise is unclipped and ``corrupted``
    *leaves* [0, 1] (by about ``3 * sigma``); ``clip=True`` clips it back into [0, 1], which
    lowers the effective noise in dark and bright regions.
    mask: all ones (noise corrupts every pixel but destroys none).
    """
    sigma = real_number(sigma, "sigma", low=0.0, high=1.0,
                        hint=" (sigma is on the [0, 1] scale: use 25/255, not 25)")
    clip = flag(clip, "clip")
    x, numpy_in = _prepare(images)
    (s,) = _subseeds(seed, 1)
    y = x + sigma * tf.random.stateless_normal(tf.shape(x), seed=s, dtype=tf.float32)
    if clip:
        y = tf.clip_by_value(y, 0.0, 1.0)
    return _finish(y, x, _ones_mask(x), numpy_in)


def random_gaussian_noise(images, sigma_range: tuple[float, float], *, clip: bool = False,
                          seed=0) -> Corruption:
    """Gaussian noise whose level varies per image: ``sigma_i ~ U(low, high)`` (blind training).

    A denoiser trained on this does not need to be told the noise level ("blind"), unlike
    one trained at a single sigma ("non-blind"). Otherwise as ``gaussian_noise``.
    """
    if not (isinstance(sigma_range, (tuple, list)) and len(sigma_range) == 2):
        raise TypeError(f"sigma_range must be a pair (low, high), got {sigma_range!r}")
    low = real_number(sigma_range[0], "sigma_range[0]", low=0.0, high=1.0)
    high = real_number(sigma_range[1], "sigma_range[1]", low=low, high=1.0,
                       hint=" (high must be >= low)")
    clip = flag(clip, "clip")
    x, numpy_in = _prepare(images)
    s_sigma, s_noise = _subseeds(seed, 2)
    sigmas = tf.random.stateless_uniform(tf.shape(x)[:1], seed=s_sigma, minval=low, maxval=high)
    noise = tf.random.stateless_normal(tf.shape(x), seed=s_noise, dtype=tf.float32)
    y = x + sigmas[:, None, None, None] * noise
    if clip:
        y = tf.clip_by_value(y, 0.0, 1.0)
    return _finish(y, x, _ones_mask(x), numpy_in)


def salt_and_pepper(images, amount: float, *, seed=0) -> Corruption:
    """Impulse noise: a fraction ``amount`` of the pixels becomes exactly 0 or 1 (half each).

    images: float32 ``[N, H, W, C]`` in [0, 1]; amount in [0, 1] is the probability that a
    pixel is hit (all channels of a pixel together, so a hit colour pixel is black or white).
    mask: 1 where the pixel is untouched, 0 where it was hit.
    """
    amount = real_number(amount, "amount", low=0.0, high=1.0)
    x, numpy_in = _prepare(images)
    s_hit, s_salt = _subseeds(seed, 2)
    shape = tf.concat([tf.shape(x)[:3], [1]], axis=0)
    hit = tf.random.stateless_uniform(shape, seed=s_hit) < amount
    salt = tf.cast(tf.random.stateless_uniform(shape, seed=s_salt) < 0.5, tf.float32)
    y = tf.where(hit, salt * tf.ones_like(x), x)
    return _finish(y, x, 1.0 - tf.cast(hit, tf.float32), numpy_in)


# --------------------------------------------------------------------------- missing data
def missing_pixels(images, rate: float, *, fill: float = 0.0, seed=0) -> Corruption:
    """Each pixel is missing independently with probability ``rate`` (all its channels).

    images: float32 ``[N, H, W, C]`` in [0, 1]; rate in [0, 1]; missing pixels are set to
    ``fill`` (in [0, 1]). mask: 1 = observed, 0 = missing.
    """
    rate = real_number(rate, "rate", low=0.0, high=1.0)
    fill = real_number(fill, "fill", low=0.0, high=1.0)
    x, numpy_in = _prepare(images)
    (s,) = _subseeds(seed, 1)
    shape = tf.concat([tf.shape(x)[:3], [1]], axis=0)
    hole = tf.random.stateless_uniform(shape, seed=s) < rate
    y, mask = _fill_holes(x, hole, fill)
    return _finish(y, x, mask, numpy_in)


def block_holes(images, size: int, *, count: int = 1, fill: float = 0.0,
                seed=0) -> Corruption:
    """``count`` square holes of side ``size`` per image at uniformly random positions.

    images: float32 ``[N, H, W, C]`` in [0, 1]; each square lies fully inside the image, so
    with ``count=1`` exactly ``size**2`` pixels are missing (several squares may overlap).
    Holes are set to ``fill``. mask: 1 = observed, 0 = hole.
    """
    size = positive_int(size, "size")
    count = positive_int(count, "count")
    fill = real_number(fill, "fill", low=0.0, high=1.0)
    x, numpy_in = _prepare(images)
    checks = _fits(x, size, "size", " (the side of a square hole)")
    with tf.control_dependencies(checks):
        shape = tf.shape(x)
    n, h, w = shape[0], shape[1], shape[2]
    s_top, s_left = _subseeds(seed, 2)
    top = tf.random.stateless_uniform(tf.stack([n, count]), seed=s_top, minval=0,
                                      maxval=h - size + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform(tf.stack([n, count]), seed=s_left, minval=0,
                                       maxval=w - size + 1, dtype=tf.int32)
    rows, cols = tf.range(h), tf.range(w)
    in_rows = (rows >= top[..., None]) & (rows < top[..., None] + size)  # [N, count, H]
    in_cols = (cols >= left[..., None]) & (cols < left[..., None] + size)  # [N, count, W]
    hole = tf.reduce_any(in_rows[..., :, None] & in_cols[..., None, :], axis=1)
    y, mask = _fill_holes(x, hole[..., None], fill)
    return _finish(y, x, mask, numpy_in)


def centre_hole(images, size: int, *, fill: float = 0.0, seed=0) -> Corruption:
    """One ``size x size`` square hole in the middle of every image (context-encoder style).

    images: float32 ``[N, H, W, C]`` in [0, 1] with ``size <= min(H, W)``; the square starts
    at row ``(H - size) // 2`` and column ``(W - size) // 2``, so ``size=14`` removes the
    central quarter of a 28x28 image. Holes are set to ``fill``; mask: 1 = observed,
    0 = hole. ``seed`` is unused (the hole is the same for every image).
    """
    size = positive_int(size, "size")
    fill = real_number(fill, "fill", low=0.0, high=1.0)
    _seed_pair(seed)
    x, numpy_in = _prepare(images)
    checks = _fits(x, size, "size", " (the side of the centre hole)")
    with tf.control_dependencies(checks):
        shape = tf.shape(x)
    h, w = shape[1], shape[2]
    top, left = (h - size) // 2, (w - size) // 2
    rows, cols = tf.range(h), tf.range(w)
    in_rows = (rows >= top) & (rows < top + size)
    in_cols = (cols >= left) & (cols < left + size)
    hole = in_rows[:, None] & in_cols[None, :]                        # [H, W]
    hole = tf.broadcast_to(hole[None, :, :, None], tf.stack([shape[0], h, w, 1]))
    y, mask = _fill_holes(x, hole, fill)
    return _finish(y, x, mask, numpy_in)


def irregular_holes(images, *, strokes: int = 4, width: int = 3, fill: float = 0.0,
                    seed=0) -> Corruption:
    """Free-form holes: random thick polylines ("brush strokes"), as in free-form inpainting.

    images: float32 ``[N, H, W, C]`` in [0, 1]. Each image gets ``strokes`` polylines; each
    starts at a random pixel centre and has ``STROKE_SEGMENTS`` segments with a random
    direction and a length drawn uniformly from ``STROKE_LENGTH`` times ``min(H, W)``
    (vertices are kept inside the image). A pixel is a hole when its centre lies within
    ``width / 2`` of a stroke, so every stroke covers at least its start pixel and, for
    ``width=3``, the 3x3 block around it (clipped at the border). Holes are set to ``fill``.
    mask: 1 = observed, 0 = hole.
    """
    strokes = positive_int(strokes, "strokes")
    if strokes > MAX_STROKES:
        raise ValueError(f"strokes must be at most {MAX_STROKES} per image (MAX_STROKES), got "
                         f"{strokes}")
    width = positive_int(width, "width")
    fill = real_number(fill, "fill", low=0.0, high=1.0)
    x, numpy_in = _prepare(images)
    shape = tf.shape(x)
    n = shape[0]
    h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    s_start, s_angle, s_length = _subseeds(seed, 3)
    start = tf.floor(tf.random.stateless_uniform(tf.stack([n, strokes, 2]), seed=s_start)
                     * tf.stack([h, w]))
    angle = tf.random.stateless_uniform(tf.stack([n, strokes, STROKE_SEGMENTS]), seed=s_angle,
                                        maxval=2 * math.pi)
    lo, hi = STROKE_LENGTH
    length = tf.random.stateless_uniform(tf.stack([n, strokes, STROKE_SEGMENTS]),
                                         seed=s_length, minval=lo, maxval=hi) * tf.minimum(h, w)
    rows = tf.range(h)[None, :, None]  # [1, H, 1]
    cols = tf.range(w)[None, None, :]  # [1, 1, W]
    radius2 = (width / 2.0) ** 2
    hole = tf.zeros(tf.stack([n, shape[1], shape[2]]), tf.bool)
    for k in range(strokes):
        a = start[:, k]  # [N, 2] (row, col)
        for j in range(STROKE_SEGMENTS):
            step = length[:, k, j, None] * tf.stack(
                [tf.sin(angle[:, k, j]), tf.cos(angle[:, k, j])], axis=-1)
            b = tf.clip_by_value(a + step, 0.0, tf.stack([h - 1, w - 1]))
            d = b - a
            dr, dc = d[:, 0, None, None], d[:, 1, None, None]
            pr, pc = rows - a[:, 0, None, None], cols - a[:, 1, None, None]
            denom = tf.maximum(dr * dr + dc * dc, 1e-12)
            t = tf.clip_by_value((pr * dr + pc * dc) / denom, 0.0, 1.0)
            dist2 = (pr - t * dr) ** 2 + (pc - t * dc) ** 2
            hole = hole | (dist2 <= radius2)
            a = b
    y, mask = _fill_holes(x, hole[..., None], fill)
    return _finish(y, x, mask, numpy_in)


# --------------------------------------------------------------------------- blur
def _kernel_1d(sigma: float, radius: int) -> np.ndarray:
    if sigma == 0:
        k = np.zeros(2 * radius + 1)
        k[radius] = 1.0
        return k
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _default_radius(sigma: float) -> int:
    return int(TRUNCATE * sigma + 0.5)


def gaussian_kernel(sigma: float, radius: int | None = None) -> np.ndarray:
    """The 2-D Gaussian blur kernel (point-spread function) used by ``gaussian_blur``.

    Returns float64 ``[2r + 1, 2r + 1]`` summing to 1, with ``r = radius`` or, by default,
    ``int(4 * sigma + 0.5)`` as in ``scipy.ndimage.gaussian_filter``. ``sigma = 0`` gives the
    identity kernel ``[[1]]`` (or a centred 1 of size ``2r + 1``).
    """
    sigma = real_number(sigma, "sigma", low=0.0, high=math.inf)
    radius = _default_radius(sigma) if radius is None else positive_int(radius, "radius",
                                                                         minimum=0)
    k = _kernel_1d(sigma, radius)
    return np.outer(k, k)


def gaussian_blur(images, sigma: float, *, seed=0) -> Corruption:
    """Gaussian blur with standard deviation ``sigma`` pixels and a reflecting boundary.

    images: float32 ``[N, H, W, C]`` in [0, 1]. Each channel is convolved with
    ``gaussian_kernel(sigma)`` (radius ``int(4 * sigma + 0.5)``); the border is extended by
    mirror reflection (``d c b a | a b c d``, ``scipy.ndimage`` mode ``'reflect'``, NumPy
    ``'symmetric'``), so the result equals ``scipy.ndimage.gaussian_filter(..., mode='reflect')``.
    The radius must not exceed ``H`` or ``W``. ``seed`` is unused (blur is deterministic); it is
    accepted so that every entry of ``DEGRADATIONS`` takes the same keywords.
    mask: all ones (blur degrades every pixel but removes none).
    """
    sigma = real_number(sigma, "sigma", low=0.0, high=math.inf)
    _seed_pair(seed)
    x, numpy_in = _prepare(images)
    radius = _default_radius(sigma)
    if radius == 0:
        return _finish(tf.identity(x), x, _ones_mask(x), numpy_in)
    checks = _fits(x, radius, "sigma",
                   f" pixels of kernel radius (sigma={sigma:g} needs radius {radius})")
    k = tf.constant(_kernel_1d(sigma, radius), tf.float32)
    with tf.control_dependencies(checks):
        shape = tf.shape(x)
    # [N, H, W, C] -> [N*C, H, W, 1]: one single-channel convolution for every channel
    planes = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), tf.stack([-1, shape[1], shape[2], 1]))
    planes = tf.pad(planes, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "SYMMETRIC")
    planes = tf.nn.conv2d(planes, tf.reshape(k, [-1, 1, 1, 1]), 1, "VALID")
    planes = tf.nn.conv2d(planes, tf.reshape(k, [1, -1, 1, 1]), 1, "VALID")
    y = tf.transpose(tf.reshape(planes, tf.stack([shape[0], shape[3], shape[1], shape[2]])),
                     [0, 2, 3, 1])
    y = tf.clip_by_value(y, 0.0, 1.0)  # only float rounding can leave [0, 1]
    return _finish(y, x, _ones_mask(x), numpy_in)


# --------------------------------------------------------------------------- resolution
def _check_factor(x: tf.Tensor, factor: int) -> list:
    h, w = x.shape[1], x.shape[2]
    if h is not None and w is not None:
        if h % factor or w % factor:
            raise ValueError(f"factor must divide the image height and width, got factor "
                             f"{factor} for {h}x{w} images")
        return []
    shape = tf.shape(x)
    message = "factor must divide the image height and width"
    return [tf.debugging.assert_equal(shape[1] % factor, 0, message=message),
            tf.debugging.assert_equal(shape[2] % factor, 0, message=message)]


def downsample(images, factor: int, *, seed=0) -> Corruption:
    """Low resolution by box (area) averaging over ``factor x factor`` blocks.

    images: float32 ``[N, H, W, C]`` in [0, 1] with ``H`` and ``W`` divisible by the integer
    ``factor``. Returns ``corrupted`` of shape ``[N, H / factor, W / factor, C]`` (the
    low-resolution images), ``clean`` the input ``[N, H, W, C]``, and an all-ones ``mask`` of
    shape ``[N, H / factor, W / factor, 1]`` (every low-resolution pixel is valid). Bring the
    low-resolution images back to ``H x W`` with ``upsample_nearest`` or
    ``imgutils.baselines.bicubic_upsample``. ``seed`` is unused (see ``gaussian_blur``).
    """
    factor = positive_int(factor, "factor")
    _seed_pair(seed)
    x, numpy_in = _prepare(images)
    with tf.control_dependencies(_check_factor(x, factor)):
        low = tf.nn.avg_pool2d(x, factor, factor, "VALID")
    low = tf.clip_by_value(low, 0.0, 1.0)
    return _finish(low, x, _ones_mask(low), numpy_in)


def upsample_nearest(low, factor: int):
    """Nearest-neighbour upsampling: every pixel becomes a ``factor x factor`` block.

    low: float32 ``[N, h, w, C]`` in [0, 1] -> float32 ``[N, h * factor, w * factor, C]``;
    NumPy in, NumPy out; tensor in, tensor out. ``upsample_nearest(downsample(x, f).corrupted,
    f)`` is the crudest super-resolution baseline.
    """
    factor = positive_int(factor, "factor")
    x, numpy_in = _prepare(low, "low")
    y = tf.repeat(tf.repeat(x, factor, axis=1), factor, axis=2)
    return y.numpy() if numpy_in else y


# --------------------------------------------------------------------------- registry, tf.data
#: Degradations by name; each is called as ``fn(images, *args, seed=..., **kwargs)``.
DEGRADATIONS: dict[str, Callable[..., Corruption]] = {
    "gaussian_noise": gaussian_noise,
    "random_gaussian_noise": random_gaussian_noise,
    "salt_and_pepper": salt_and_pepper,
    "missing_pixels": missing_pixels,
    "block_holes": block_holes,
    "irregular_holes": irregular_holes,
    "centre_hole": centre_hole,
    "gaussian_blur": gaussian_blur,
    "downsample": downsample,
}


def corrupt_dataset(ds, degradation: str | Callable[..., Corruption], *args, seed=0,
                    pairs: bool = False, num_parallel_calls: int | None = -1, **kwargs):
    """Apply a degradation to every element of a ``tf.data.Dataset`` of images.

    ds yields float32 image tensors, either batches ``[B, H, W, C]`` or single images
    ``[H, W, C]`` (then the outputs have no batch axis either), in [0, 1]. ``degradation`` is
    a name in ``DEGRADATIONS`` or one of its functions; ``args`` / ``kwargs`` are its
    parameters (``corrupt_dataset(ds, "missing_pixels", 0.5, seed=1)``).
    Element ``i`` uses the seed pair ``(seed, i)`` (``seed + (0, i)`` for a pair), so results
    are deterministic, differ between elements, and element 0 equals a direct call with
    ``seed``. Returns a dataset of ``Corruption`` tuples, or of ``(corrupted, clean)`` pairs
    ready for ``keras.Model.fit`` when ``pairs=True``. ``num_parallel_calls`` defaults to
    ``tf.data.AUTOTUNE`` (-1); the output order, and so the result, stays deterministic.
    """
    if not isinstance(ds, tf.data.Dataset):
        raise TypeError(f"ds must be a tf.data.Dataset, got {type(ds).__name__}")
    if isinstance(degradation, str):
        if degradation not in DEGRADATIONS:
            raise ValueError(f"degradation must be one of {', '.join(DEGRADATIONS)}, "
                             f"got {degradation!r}")
        fn = DEGRADATIONS[degradation]
    elif callable(degradation):
        fn = degradation
    else:
        raise TypeError(f"degradation must be a name or a function, got "
                        f"{type(degradation).__name__}")
    spec = ds.element_spec
    if not isinstance(spec, tf.TensorSpec):
        raise TypeError("ds must yield image tensors only, got elements "
                        f"{spec}; drop the labels first, e.g. ds.map(lambda x, y: x)")
    if spec.shape.rank not in (3, 4):
        raise ValueError(f"ds must yield images [H, W, C] or batches [N, H, W, C], got "
                         f"elements of shape {spec.shape}")
    unbatched = spec.shape.rank == 3
    base = _seed_pair(seed)

    def _apply(index, images):
        element_seed = base + tf.stack([tf.constant(0, tf.int64), index])
        batch = images[None] if unbatched else images
        out = fn(batch, *args, seed=element_seed, **kwargs)
        if unbatched:
            out = Corruption(*(t[0] for t in out))
        return (out.corrupted, out.clean) if pairs else out

    return ds.enumerate().map(_apply, num_parallel_calls=num_parallel_calls)


def training_pairs(images, degradations, *, batch_size: int = 64, seed: int = 0,
                   with_mask: bool = False, shuffle: bool = True):
    """An endless ``tf.data`` pipeline of freshly corrupted batches for ``keras.Model.fit``.

    images: clean float32 ``[N, H, W, C]`` in [0, 1]. degradations: one spec
    ``("name", *args)`` or ``("name", *args, {kwargs})``, or a list of specs; with several, each
    batch picks one of them uniformly at random (e.g. missing pixels at 50 %, 70 % and 90 %
    plus holes). Every batch gets new noise / new masks, so a model never sees the same
    corruption twice. Yields ``(corrupted, clean)``, or ``((corrupted, mask), clean)`` with
    ``with_mask=True`` (for mask-aware models such as ``models.restoration.unet``).
    Use with ``steps_per_epoch`` (the dataset repeats forever).
    """
    array = as_images(images, "images").astype(np.float32, copy=False)
    batch_size = positive_int(batch_size, "batch_size")
    with_mask, shuffle = flag(with_mask, "with_mask"), flag(shuffle, "shuffle")
    specs = [degradations] if isinstance(degradations, tuple) else list(degradations)
    if not specs:
        raise ValueError("degradations must name at least one degradation")
    base = tf.data.Dataset.from_tensor_slices(array)
    if shuffle:
        base = base.shuffle(min(len(array), 20_000), seed=seed, reshuffle_each_iteration=True)
    base = base.repeat().batch(batch_size, drop_remainder=True)
    streams = []
    for k, spec in enumerate(specs):
        if not (isinstance(spec, tuple) and spec and isinstance(spec[0], str)):
            raise TypeError(f"each degradation must be a tuple ('name', *args), got {spec!r}")
        name, *args = spec
        kwargs = args.pop() if args and isinstance(args[-1], dict) else {}
        if name not in DEGRADATIONS:
            raise ValueError(f"unknown degradation {name!r}; expected one of "
                             f"{', '.join(DEGRADATIONS)}")
        DEGRADATIONS[name](array[:1], *args, seed=0, **kwargs)  # check the arguments now
        streams.append(corrupt_dataset(base, name, *args, seed=(seed, 1000 * (k + 1)),
                                       **kwargs))
    ds = streams[0] if len(streams) == 1 else tf.data.Dataset.sample_from_datasets(
        streams, seed=seed)

    def to_pair(out):
        inputs = (out.corrupted, out.mask) if with_mask else out.corrupted
        return inputs, out.clean

    return ds.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def mixture(images, degradations, *, seed=0) -> Corruption:
    """Each image gets one degradation, picked uniformly at random from ``degradations``.

    images: float32 ``[N, H, W, C]`` in [0, 1]; degradations: a list of specs
    ``("name", *args)`` or ``("name", *args, {kwargs})`` (as in ``training_pairs``) whose
    outputs keep the image size (not ``downsample``). The picks and every degradation's
    randomness are keyed by ``seed`` (int, pair, or int tensor, so it works inside a
    ``tf.function``: ``seed=tf.stack([s, step])`` gives every training step new damage).
    This is what a *blind* restorer trains on: it is never told which damage it sees.
    """
    specs = _parse_specs(degradations)
    x, numpy_in = _prepare(images)
    subseeds = _subseeds(seed, len(specs) + 1)
    outs = [DEGRADATIONS[name](x, *args, seed=s, **kwargs)
            for (name, args, kwargs), s in zip(specs, subseeds[1:], strict=True)]
    for (name, _, _), out in zip(specs, outs, strict=True):
        if out.corrupted.shape.rank != 4 or (out.corrupted.shape[1:3] != x.shape[1:3]
                                             and None not in x.shape[1:3]):
            raise ValueError(f"degradations must keep the image size; {name!r} does not")
    pick = tf.random.stateless_uniform(tf.shape(x)[:1], seed=subseeds[0], minval=0,
                                       maxval=len(specs), dtype=tf.int32)
    one_hot = tf.one_hot(pick, len(specs), dtype=tf.float32)[:, :, None, None, None]
    corrupted = tf.reduce_sum(one_hot * tf.stack([o.corrupted for o in outs], 1), axis=1)
    mask = tf.reduce_sum(one_hot * tf.stack([o.mask for o in outs], 1), axis=1)
    return _finish(corrupted, x, mask, numpy_in)


def _parse_specs(degradations) -> list[tuple[str, list, dict]]:
    """``("name", *args[, {kwargs}])`` or a list of them -> ``[(name, args, kwargs)]``."""
    specs = [degradations] if isinstance(degradations, tuple) else degradations
    if not isinstance(specs, list) or not specs:
        raise ValueError("degradations must be a spec ('name', *args) or a non-empty list of "
                         f"them, got {degradations!r}")
    parsed = []
    for spec in specs:
        if not (isinstance(spec, tuple) and spec and isinstance(spec[0], str)):
            raise TypeError(f"each degradation must be a tuple ('name', *args), got {spec!r}")
        name, *args = spec
        kwargs = args.pop() if args and isinstance(args[-1], dict) else {}
        if name not in DEGRADATIONS or name == "downsample":
            raise ValueError(f"unknown degradation {name!r}; expected one of "
                             f"{', '.join(n for n in DEGRADATIONS if n != 'downsample')}")
        parsed.append((name, args, kwargs))
    return parsed
