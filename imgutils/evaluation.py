"""Restoration scores with 95 % bootstrap intervals (chapters 05-08).

``restoration_scores`` measures restored Fashion-MNIST test images against the clean ones:
PSNR and SSIM per image (and PSNR on the damaged region only, for holes), FID-FM of the
restored *set* against the clean set (a perceptual-quality proxy: how far the restorations
are, as a distribution, from real images), and classifier agreement (how often the
chapter-01 classifier gives a restoration the clean image's true class). Every number comes
with a percentile-bootstrap interval over the test images, so two methods whose intervals
overlap can be called tied.
"""

from __future__ import annotations

import numpy as np

from . import features, metrics
from .validation import as_images, as_labels

Score = tuple[float, float, float]          # value, low, high


def _mean_with_interval(values: np.ndarray, seed: int, resamples: int) -> Score:
    lo, hi = metrics.bootstrap_interval(values, seed=seed, resamples=resamples)
    return float(np.nanmean(values)), lo, hi


def restoration_scores(clean, restored, *, labels=None, mask=None, seed: int = 0,
                       fid: bool = True, resamples: int = 2000,
                       fid_resamples: int = 200) -> dict[str, Score]:
    """``{"PSNR": (value, lo, hi), "SSIM": ..., ["masked PSNR"], ["FID-FM"], ["agreement %"]}``.

    clean, restored: float32 ``[N, 28, 28, 1]`` in [0, 1] (restored clipped already), N >= 2.
    mask (optional): ``[N, 28, 28, 1]``, 1 = observed, 0 = damaged: adds PSNR over the damaged
    pixels. labels (optional): int ``[N]`` true classes: adds classifier agreement in %.
    ``fid=False`` skips FID-FM (e.g. for images that are not 28x28 grey). ``resamples``
    (>= 100) bootstrap resamples for the per-image means, ``fid_resamples`` (>= 20) for FID-FM.
    """
    clean = as_images(clean, "clean")
    restored = as_images(restored, "restored")
    if clean.shape != restored.shape:
        raise ValueError(f"clean and restored must have the same shape, got {clean.shape} "
                         f"and {restored.shape}")
    scores = {"PSNR": _mean_with_interval(metrics.psnr(clean, restored), seed, resamples),
              "SSIM": _mean_with_interval(metrics.ssim(clean, restored), seed, resamples)}
    if mask is not None:
        scores["masked PSNR"] = _mean_with_interval(
            metrics.masked_psnr(clean, restored, mask), seed, resamples)
    if fid:
        real, fake = features.fashion_features(clean), features.fashion_features(restored)
        scores["FID-FM"] = (metrics.fid_from_features(real, fake),
                            *metrics.fid_interval(real, fake, seed=seed,
                                                  resamples=fid_resamples))
    if labels is not None:
        labels = as_labels(labels, "labels", n=len(clean), num_classes=10)
        agree = 100.0 * (features.fashion_probabilities(restored).argmax(axis=1) == labels)
        scores["agreement %"] = _mean_with_interval(agree, seed, resamples)
    return scores
