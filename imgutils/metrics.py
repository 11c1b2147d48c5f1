"""Image-quality metrics.

Restoration metrics (this part): ``psnr``, ``ssim``, ``masked_psnr``, ``masked_mae``. They
compare a ``reference`` (the clean images) with ``restored`` images, both float
``[N, H, W, C]`` **in [0, 1]** with the same shape, and return one float64 value per image
(``[N]``), or their mean with ``reduce="mean"``. Computed in NumPy/SciPy float64.

Why the [0, 1] check is strict: the classic bug is ``tf.image.psnr(a, b, max_val=255)`` on
images in [0, 1], which reports ``20 * log10(255) = 48.13`` dB too much. Here both inputs
must lie in [0, 1] (``data_range`` is 1), and a model output that overshoots must be clipped
first (``np.clip(restored, 0, 1)``), as it would be when saved as an image. This holds for
the noisy input too: unclipped Gaussian noise (the DnCNN protocol) is fed to the denoisers
as is, but measured as an image only after clipping, which gives a higher PSNR than the
``-20 * log10(sigma)`` (20.17 dB at sigma = 25/255) quoted for unclipped noise.

Generation metrics (Fréchet distance, FID, KID, precision/recall) follow in a later section.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy import ndimage

from .validation import as_images

__all__ = ["masked_mae", "masked_psnr", "psnr", "ssim", "SSIM_SETTINGS"]

#: SSIM as in Wang et al. (2004) and ``tf.image.ssim``: 11x11 Gaussian window (sigma 1.5),
#: population covariances, K1 = 0.01, K2 = 0.03, mean over the window positions that fit
#: inside the image. Equal to ``skimage.metrics.structural_similarity(..., data_range=1,
#: gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=-1)``.
SSIM_SETTINGS = {"win_size": 11, "sigma": 1.5, "k1": 0.01, "k2": 0.03}
_REDUCTIONS = ("none", "mean")
_CHUNK = 256  # images per SSIM chunk (bounds the float64 temporaries)


# =========================================================================== restoration
def _check_pair(reference, restored, *, data_range: float = 1.0,
                min_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Both images float [N, H, W, C] in [0, data_range], same shape -> float64 arrays."""
    ref = as_images(reference, "reference", min_size=min_size, value_range=None)
    out = as_images(restored, "restored", min_size=min_size, value_range=None)
    if ref.shape != out.shape:
        raise ValueError(f"reference and restored must have the same shape, got {ref.shape} "
                         f"and {out.shape}")
    for name, array in (("reference", ref), ("restored", out)):
        lo, hi = float(array.min()), float(array.max())
        if lo < 0 or hi > data_range:
            hint = (" (clip model outputs first: np.clip(restored, 0, 1))"
                    if name == "restored" else "")
            raise ValueError(f"{name} must have values in [0, {data_range:g}], got min "
                             f"{lo:.4g}, max {hi:.4g}{hint}")
    if data_range != 1.0 and max(float(ref.max()), float(out.max())) <= 1.0:
        raise ValueError(
            f"data_range is {data_range:g} but both images lie in [0, 1]: this is the classic "
            f"max_val=255 bug, which adds {20 * math.log10(data_range):.2f} dB; images here "
            "are on the [0, 1] scale, so leave data_range=1")
    return ref.astype(np.float64), out.astype(np.float64)


def _data_range(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"data_range must be a positive number, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"data_range must be a positive number, got {value!r}")
    return value


def _reduce(values: np.ndarray, reduce: str) -> np.ndarray | float:
    if reduce == "none":
        return values
    return float(np.mean(values))


def _check_reduce(reduce) -> str:
    if reduce not in _REDUCTIONS:
        raise ValueError(f"reduce must be one of {_REDUCTIONS}, got {reduce!r}")
    return reduce


def _psnr_from_mse(mse: np.ndarray, data_range: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / mse)


def psnr(reference, restored, *, data_range: float = 1.0,
         reduce: str = "none") -> np.ndarray | float:
    """Peak signal-to-noise ratio per image, in dB: ``10 log10(data_range^2 / MSE)``.

    reference, restored: float ``[N, H, W, C]`` in [0, 1] (same shape); the MSE of an image
    is taken over all its pixels and channels, as ``skimage.metrics.peak_signal_noise_ratio``.
    Returns float64 ``[N]``; identical images give ``inf``. ``reduce="mean"`` returns the
    mean of the per-image PSNRs (the DnCNN protocol: average PSNR, not PSNR of the average
    MSE), ``inf`` if any image is reproduced exactly. ``data_range`` exists for images on
    another scale ``[0, data_range]``; passing 255 for images in [0, 1] (the classic
    ``max_val=255`` bug, +48.13 dB) is refused.
    """
    data_range = _data_range(data_range)
    reduce = _check_reduce(reduce)
    ref, out = _check_pair(reference, restored, data_range=data_range)
    mse = np.mean((ref - out) ** 2, axis=(1, 2, 3))
    return _reduce(_psnr_from_mse(mse, data_range), reduce)


def ssim(reference, restored, *, data_range: float = 1.0,
         reduce: str = "none") -> np.ndarray | float:
    """Structural similarity (Wang et al. 2004) per image, in [-1, 1] (1 = identical).

    reference, restored: float ``[N, H, W, C]`` in [0, 1], same shape, at least 11x11 pixels
    (the Gaussian window). Settings ``SSIM_SETTINGS``: the same numbers as ``tf.image.ssim``
    and ``skimage.metrics.structural_similarity(ref, out, data_range=1, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, channel_axis=-1)`` (scikit-image's *defaults*
    differ: a 7x7 uniform window and sample covariances). The SSIM map is averaged over the
    window positions inside the image and over channels. Returns float64 ``[N]`` (or the
    mean with ``reduce="mean"``).
    """
    data_range = _data_range(data_range)
    reduce = _check_reduce(reduce)
    win = SSIM_SETTINGS["win_size"]
    try:
        ref, out = _check_pair(reference, restored, data_range=data_range, min_size=win)
    except ValueError as exc:
        if "pixels" in str(exc):
            raise ValueError(f"{exc}: SSIM uses an {win}x{win} window") from None
        raise
    sigma = SSIM_SETTINGS["sigma"]
    c1 = (SSIM_SETTINGS["k1"] * data_range) ** 2
    c2 = (SSIM_SETTINGS["k2"] * data_range) ** 2
    pad = (win - 1) // 2
    truncate = pad / sigma  # radius 5 px, the 11-tap window
    values = np.empty(len(ref))
    for start in range(0, len(ref), _CHUNK):
        x, y = ref[start:start + _CHUNK], out[start:start + _CHUNK]

        def smooth(a):
            return ndimage.gaussian_filter(a, sigma=(0, sigma, sigma, 0), truncate=truncate,
                                           mode="reflect")[:, pad:-pad, pad:-pad, :]

        mx, my = smooth(x), smooth(y)
        vx = smooth(x * x) - mx * mx
        vy = smooth(y * y) - my * my
        cxy = smooth(x * y) - mx * my
        s_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1)
                                                         * (vx + vy + c2))
        values[start:start + len(x)] = s_map.mean(axis=(1, 2, 3))
    return _reduce(values, reduce)


_REGIONS = ("missing", "observed", "all")


def _masked_errors(reference, restored, mask, region: str, power: int) -> np.ndarray:
    """Per-image mean of ``|ref - out| ** power`` over the selected pixels (NaN if none)."""
    if region not in _REGIONS:
        raise ValueError(f"region must be one of {_REGIONS}, got {region!r}")
    ref, out = _check_pair(reference, restored)
    if isinstance(mask, np.ndarray) and mask.dtype == bool:
        mask = mask.astype(np.float32)
    m = as_images(mask, "mask", value_range=None)
    if m.shape[:3] != ref.shape[:3] or m.shape[3] not in (1, ref.shape[3]):
        raise ValueError(f"mask must have shape [N, H, W, 1] (or [N, H, W, C]) matching the "
                         f"images {ref.shape}, got {m.shape}")
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("mask must contain only 0 (missing) and 1 (observed), "
                         f"got values in [{float(m.min()):.4g}, {float(m.max()):.4g}]")
    if region == "missing":
        weight = 1.0 - m.astype(np.float64)
    elif region == "observed":
        weight = m.astype(np.float64)
    else:
        weight = np.ones_like(m, dtype=np.float64)
    weight = np.broadcast_to(weight, ref.shape)
    count = weight.sum(axis=(1, 2, 3))
    if not np.any(count):
        raise ValueError(
            f"mask selects no pixel of region {region!r} in any image (mask: 1 = observed, "
            "0 = missing, as returned by imgutils.corrupt); is the mask inverted?")
    total = (weight * np.abs(ref - out) ** power).sum(axis=(1, 2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def masked_psnr(reference, restored, mask, *, region: str = "missing",
                reduce: str = "none") -> np.ndarray | float:
    """PSNR (dB) per image over the hole region only.

    reference, restored: float ``[N, H, W, C]`` in [0, 1]; mask: float ``[N, H, W, 1]`` (or
    ``[N, H, W, C]``) of 0/1 with **1 = observed, 0 = missing**, the polarity of
    ``imgutils.corrupt``. ``region="missing"`` (default) measures the pixels where the mask is
    0, i.e. what the inpainter had to invent; ``"observed"`` the others; ``"all"`` every pixel
    (= ``psnr``). The MSE averages over the selected pixels and all their channels.
    Returns float64 ``[N]``; an image with no pixel in the region gives ``NaN`` and
    ``reduce="mean"`` skips those (``nanmean``); if no image has any, it is an error (the mask
    is probably inverted).
    """
    reduce = _check_reduce(reduce)
    values = _psnr_from_mse(_masked_errors(reference, restored, mask, region, 2), 1.0)
    return values if reduce == "none" else float(np.nanmean(values))


def masked_mae(reference, restored, mask, *, region: str = "missing",
               reduce: str = "none") -> np.ndarray | float:
    """Mean absolute error per image over the hole region only (same rules as ``masked_psnr``).

    reference, restored: float ``[N, H, W, C]`` in [0, 1]; mask ``[N, H, W, 1]``, 1 = observed,
    0 = missing. Returns float64 ``[N]`` in [0, 1] (``NaN`` for images without holes), or the
    ``nanmean`` with ``reduce="mean"``.
    """
    reduce = _check_reduce(reduce)
    values = _masked_errors(reference, restored, mask, region, 1)
    return values if reduce == "none" else float(np.nanmean(values))


# =========================================================================== generation
# Fréchet distance, FID, KID, precision/recall and classifier score are added in a later issue.
