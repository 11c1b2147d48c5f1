"""Argument checks shared by the public functions of ``imgutils``.

Every check raises ``TypeError`` (wrong type / dtype) or ``ValueError`` (wrong shape, range or
value) with a message naming the argument and saying what was expected.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

UNIT_RANGE = (0.0, 1.0)
"""Clean images, targets, masks and model outputs: the [0, 1] scale of the whole package."""
NOISY_RANGE = (-4.0, 5.0)
"""Degraded inputs on the [0, 1] scale whose unclipped noise may overshoot it (Gaussian noise
of sigma 0.2 leaves [0, 1] on most images; chapter 4's sweep reaches sigma 0.4, whose tails
pass -1 and 2) but never by several units: a 0-255 image is refused."""


def scale_hint(vmin: float, vmax: float, hi: float = 1.0) -> str:
    """A hint for the two classic scale mistakes, to append to a range error: 0-255 pixels
    (with or without noise on top), and [-1, 1] normalisation."""
    if vmax > max(2.0, 2.0 * hi) and vmax <= 1000.0:
        return " (values on the 0-255 scale? divide by 255)"
    if hi <= 1.0 and -1.0 - 1e-6 <= vmin <= -0.5 and vmax <= 1.0 + 1e-6:
        return " (values in [-1, 1]: map them with (images + 1) / 2)"
    return ""


def as_images(
    images,
    name: str = "images",
    *,
    channels: Sequence[int] | None = None,
    min_size: int = 1,
    value_range: tuple[float, float] | None = UNIT_RANGE,
    shape: Sequence[int] | None = None,
) -> np.ndarray:
    """Check an image batch and return it as a NumPy array.

    images: float array ``[N, H, W, C]`` (``float16/32/64``), values in ``value_range``
    (``None`` skips the range check; ``NOISY_RANGE`` for degraded inputs). ``channels``
    restricts ``C``; ``min_size`` bounds H and W; ``shape`` (H, W, C) fixes all three (a
    model's input). Bool and object arrays are refused like integers.
    Accepts NumPy arrays and TensorFlow tensors; integer images are refused with a hint,
    because ``uint8`` in [0, 255] is the classic source of wrong PSNRs.
    """
    if hasattr(images, "numpy") and not isinstance(images, np.ndarray):
        images = images.numpy()
    if not isinstance(images, np.ndarray):
        raise TypeError(
            f"{name} must be a NumPy array or tensor of shape [N, H, W, C], "
            f"got {type(images).__name__}"
        )
    if not np.issubdtype(images.dtype, np.floating):
        hint = " (convert uint8 images with images.astype('float32') / 255)" if np.issubdtype(
            images.dtype, np.integer) else ""
        raise TypeError(f"{name} must have a float dtype with values in [0, 1], "
                        f"got dtype {images.dtype}{hint}")
    if images.ndim != 4:
        raise ValueError(f"{name} must have rank 4 [N, H, W, C], got shape {images.shape}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} must contain at least one image, got shape {images.shape}")
    if shape is not None and tuple(images.shape[1:]) != tuple(shape):
        raise ValueError(f"{name} must have shape [N, {', '.join(map(str, shape))}] "
                         f"(the model's input), got {images.shape}")
    if channels is not None and images.shape[-1] not in channels:
        raise ValueError(f"{name} must have C in {tuple(channels)} channels, "
                         f"got shape {images.shape}")
    if min(images.shape[1:3]) < min_size:
        raise ValueError(f"{name} must be at least {min_size}x{min_size} pixels, "
                         f"got shape {images.shape}")
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if value_range is not None:
        lo, hi = value_range
        vmin, vmax = float(images.min()), float(images.max())
        if vmin < lo or vmax > hi:
            raise ValueError(
                f"{name} must have values in [{lo:g}, {hi:g}], got min {vmin:.4g}, "
                f"max {vmax:.4g}{scale_hint(vmin, vmax, hi)}"
            )
    return images


def noisy_images(images, name: str = "noisy", *, sigma: float | None = None,
                 **kwargs) -> np.ndarray:
    """``as_images`` for degraded inputs on the [0, 1] scale whose unclipped noise may
    overshoot it: values in ``NOISY_RANGE``, or, for Gaussian noise of a known ``sigma``,
    within ``max(1, 10 sigma)`` of [0, 1]. A 0-255 image is still refused, with the hint."""
    if sigma is None:
        return as_images(images, name, value_range=NOISY_RANGE, **kwargs)
    margin = max(1.0, 10.0 * float(sigma))
    return as_images(images, name, value_range=(-margin, 1.0 + margin), **kwargs)


def finite_array(values, name: str, *, like: np.ndarray | None = None) -> np.ndarray:
    """A non-empty float array of finite values (any shape; ``like``: the shape it must have),
    returned as float64: for the functions that take points or tensors rather than images."""
    if hasattr(values, "numpy") and not isinstance(values, np.ndarray):
        values = values.numpy()
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        raise TypeError(f"{name} must be a float array, got dtype {values.dtype}")
    if values.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {values.shape}")
    if like is not None and values.shape != np.shape(like):
        raise ValueError(f"{name} must have shape {np.shape(like)}, got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return values.astype(np.float64)


def as_labels(labels, name: str = "labels", *, n: int | None = None,
              num_classes: int | None = None) -> np.ndarray:
    """Check integer class labels ``[N]`` (a trailing axis of size 1 is squeezed)."""
    if hasattr(labels, "numpy") and not isinstance(labels, np.ndarray):
        labels = labels.numpy()
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{name} must be integer class indices, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"{name} must have shape [N], got {labels.shape}")
    if n is not None and len(labels) != n:
        raise ValueError(f"{name} must have {n} entries (one per image), got {len(labels)}")
    if num_classes is not None and len(labels) and (labels.min() < 0
                                                    or labels.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes - 1}], "
                         f"got min {labels.min()}, max {labels.max()}")
    return labels


def positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Check that ``value`` is an int >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def optional_count(value, name: str) -> int | None:
    """``None`` or a positive int (a subset size)."""
    return None if value is None else positive_int(value, name)


def real_number(value, name: str, *, low: float, high: float = math.inf,
                low_open: bool = False, hint: str = "") -> float:
    """A finite real number in ``[low, high]`` (``(low, high]`` if ``low_open``); no bools."""
    bound = f"{'(' if low_open else '['}{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in {bound}, got {type(value).__name__}")
    value = float(value)
    ok = math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
    if not ok:
        raise ValueError(f"{name} must be a number in {bound}, got {value!r}{hint}")
    return value


def flag(value, name: str) -> bool:
    """A boolean switch: only ``True`` / ``False`` (and NumPy bools); ``"no"``, 0 or None are
    refused, because ``bool("no")`` is True and would silently flip the switch."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def training_data(x, y=None, name: str = "x") -> None:
    """The cheap first-batch check behind the models' ``fit``: NaN, 0-255 or uint8 images
    would otherwise train for minutes into garbage.

    ``x`` (and ``y``) as ``keras.Model.fit`` takes them: arrays, tuples of arrays, or a
    ``tf.data.Dataset`` (its first element is drawn and checked). Every 4-D part is an image
    batch: when there are several, the last is the target (``[0, 1]``) and the others are
    inputs (``NOISY_RANGE``: a degraded input may overshoot); a lone image batch is the
    training images (``[0, 1]``). Other parts (labels) are left to the model.
    """
    import tensorflow as tf

    where = name
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise ValueError(f"y must be None when {name} is a tf.data.Dataset (its elements "
                             "carry the targets)")
        try:
            first = next(iter(x.take(1)))
        except StopIteration:
            raise ValueError(f"{name} is an empty dataset: nothing to train on") from None
        parts, where = tf.nest.flatten(first), f"{name} (its first batch)"
    else:
        parts = tf.nest.flatten((x, y) if y is not None else x)
    parts = [p.numpy() if hasattr(p, "numpy") and not isinstance(p, np.ndarray) else p
             for p in parts]
    images = [np.asarray(p) for p in parts if np.ndim(p) >= 3]    # labels are [N] or [N, 1]
    for i, batch in enumerate(images):
        label = where if len(images) == 1 else f"{where}, image part {i + 1} of {len(images)}"
        is_input = len(images) > 1 and i < len(images) - 1
        as_images(batch, label, value_range=NOISY_RANGE if is_input else UNIT_RANGE)
