"""Argument checks shared by the public functions of ``imgutils``.

Every check raises ``TypeError`` (wrong type / dtype) or ``ValueError`` (wrong shape, range or
value) with a message naming the argument and saying what was expected.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np


def as_images(
    images,
    name: str = "images",
    *,
    channels: Sequence[int] | None = None,
    min_size: int = 1,
    value_range: tuple[float, float] | None = (0.0, 1.0),
) -> np.ndarray:
    """Check an image batch and return it as a NumPy array.

    images: float array ``[N, H, W, C]`` (``float16/32/64``), values in ``value_range``
    (``None`` skips the range check). ``channels`` restricts ``C``; ``min_size`` bounds H and W.
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
                f"{name} must have values in [{lo:g}, {hi:g}], got min {vmin:.4g}, max {vmax:.4g}"
            )
    return images


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
