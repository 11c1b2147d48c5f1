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

Generation metrics (second section): Fréchet distance and FID, KID, k-NN precision/recall,
classifier score, each with its real-vs-real floor (``real_floor``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy import ndimage

from .validation import as_images, positive_int, scale_hint

__all__ = [
    "SSIM_SETTINGS", "bootstrap_interval", "classifier_score", "feature_statistics",
    "fid_from_features", "fid_interval", "frechet_distance", "inception_features", "kid",
    "masked_mae", "masked_psnr", "mean_pairwise_distance", "nearest_neighbours",
    "posterior_sampling", "precision_recall", "psnr", "real_floor", "ssim",
]

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
            hint = scale_hint(lo, hi, data_range) or (
                " (clip model outputs first: np.clip(restored, 0, 1))"
                if name == "restored" else "")
            raise ValueError(f"{name} must have values in [0, {data_range:g}], got min "
                             f"{lo:.4g}, max {hi:.4g}{hint}")
    peaks = {"reference": float(ref.max()), "restored": float(out.max())}
    if data_range != 1.0 and min(peaks.values()) <= 1.0 < max(peaks.values()):
        low, high = sorted(peaks, key=peaks.get)
        raise ValueError(
            f"{low} lies in [0, 1] but {high} goes up to {peaks[high]:.4g}: the "
            f"two images are on different scales (data_range={data_range:g}); put both on "
            "[0, 1] (divide by 255) and leave data_range=1")
    if data_range != 1.0 and max(peaks.values()) <= 1.0:
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
    is probably inverted). ``reduce="pooled"`` returns the PSNR of the mean masked MSE over
    the images instead: it stays finite when some holes are restored exactly (a hole on
    Fashion-MNIST's black background filled with black has MSE 0 and PSNR ``inf``, which
    makes the mean of per-image PSNRs ``inf``).
    """
    if reduce == "pooled":
        mse = _masked_errors(reference, restored, mask, region, 2)
        return float(_psnr_from_mse(np.nanmean(mse), 1.0))
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


def _check_bootstrap(level, resamples, minimum: int) -> None:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    if isinstance(resamples, bool) or not isinstance(resamples, numbers.Integral) \
            or resamples < minimum:
        raise ValueError(f"resamples must be an int >= {minimum}, got {resamples!r}")


def bootstrap_interval(values, *, level: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the *mean* of per-image values (e.g. PSNR ``[N]``).

    Resamples the N values with replacement ``resamples`` times (seeded, vectorised) and
    returns the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled means.
    NaN values (images without holes in a masked metric) are dropped first.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if len(x) < 2:
        raise ValueError(f"values must hold at least 2 numbers, got {len(x)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("values contains infinite numbers")
    _check_bootstrap(level, resamples, 100)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 500):           # bounded memory: 500 x N indices
        stop = min(resamples, start + 500)
        means[start:stop] = x[rng.integers(0, len(x), (stop - start, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def posterior_sampling(reference, samples) -> dict[str, float]:
    """How close K restorations per image come to samples of the posterior p(x | y).

    reference: clean images float ``[N, H, W, C]`` in [0, 1]; samples: float
    ``[K, N, H, W, C]`` in [0, 1], K >= 2 restorations of each damaged image. With
    ``m(y)`` the sampler's conditional mean and ``v(y)`` its conditional variance per pixel,

    * ``mse_sample = E|x - x_hat|^2 = E|x - m|^2 + E v`` (one sample, averaged over the K),
    * ``mse_mean = E|x - mean of K samples|^2 = E|x - m|^2 + E v / K``,
    * ``spread``: the unbiased variance across the K samples, averaged over pixels (``E v``),
    * ``mse_mean_inf = mse_mean - spread / K``: the error of the sampler's mean ``m`` (K -> inf).

    For an exact posterior sampler ``m = E[x | y]`` and ``E v = MMSE``, so
    ``ratio_inf = mse_sample / mse_mean_inf = 2`` (Freirich, Michaeli & Meir 2021: perfect
    perceptual quality costs 10 log10 2 = 3.01 dB against the MMSE estimator), while the
    finite-K ``ratio = mse_sample / mse_mean`` of a perfect sampler is ``2K / (K + 1)``
    (``ratio_perfect``, 1.78 for K = 8). A deterministic restorer gives 1. Values are
    pooled over all pixels (MSE on the [0, 1] scale).
    """
    ref = as_images(reference, "reference")
    draws = np.asarray(samples.numpy() if hasattr(samples, "numpy") else samples)
    if draws.ndim != 5 or draws.shape[1:] != ref.shape:
        raise ValueError(f"samples must have shape [K, N, H, W, C] = [K, *{ref.shape}], got "
                         f"{draws.shape}")
    k = draws.shape[0]
    if k < 2:
        raise ValueError(f"samples must hold K >= 2 draws per image, got K = {k}")
    as_images(draws.reshape(-1, *ref.shape[1:]), "samples")       # dtype, finite, [0, 1]
    x = ref.astype(np.float64)
    draws = draws.astype(np.float64)
    mse_sample = float(np.mean((draws - x[None]) ** 2))
    mean = draws.mean(axis=0)
    mse_mean = float(np.mean((mean - x) ** 2))
    spread = float(np.mean(draws.var(axis=0, ddof=1)))
    mse_inf = mse_mean - spread / k
    return {"K": k, "mse_sample": mse_sample, "mse_mean": mse_mean, "spread": spread,
            "mse_mean_inf": mse_inf, "ratio": mse_sample / mse_mean,
            "ratio_inf": mse_sample / mse_inf if mse_inf > 0 else math.inf,
            "ratio_perfect": 2 * k / (k + 1)}


# =========================================================================== generation
# Generation metrics compare two *sets* of images through their features: ``features`` are
# float arrays [N, D] (for Fashion-MNIST the 128-d ``features`` layer of the chapter-01
# classifier: "FID-FM"; Inception-v3 pool features for the classic FID where Keras can
# download the weights). All of them are biased at small N: report them beside the same
# metric between two disjoint halves of real data (``real_floor``).


def _features(features, name: str) -> np.ndarray:
    if hasattr(features, "numpy") and not isinstance(features, np.ndarray):
        features = features.numpy()
    if not isinstance(features, np.ndarray):
        raise TypeError(f"{name} must be an array [N, D] of features, "
                        f"got {type(features).__name__}")
    if not np.issubdtype(features.dtype, np.floating):
        raise TypeError(f"{name} must be a float array [N, D], got dtype {features.dtype}")
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"{name} must have shape [N, D] with N >= 2, got {features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return features.astype(np.float64, copy=False)


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` (``1 / (N - 1)``, as the FID reference code)."""
    f = _features(features, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2})``. The trace of the
    matrix square root is computed as ``sum sqrt(eig(A sigma2 A))`` with ``A = sigma1^{1/2}``
    (a symmetric positive semi-definite matrix with the same eigenvalues as
    ``sigma1 sigma2``): no complex parts to drop, and singular covariances (N < D) are fine.
    """
    mu1, mu2 = (np.asarray(m, np.float64) for m in (mu1, mu2))
    sigma1, sigma2 = (np.asarray(c, np.float64) for c in (sigma1, sigma2))
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) \
            or sigma2.shape != (d, d):
        raise ValueError(f"expected means [D] and covariances [D, D] with one D; got "
                         f"{mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    for name, value in (("mu1", mu1), ("mu2", mu2), ("sigma1", sigma1), ("sigma2", sigma2)):
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or infinite values")
    eigenvalues = {}
    for name, cov in (("sigma1", sigma1), ("sigma2", sigma2)):
        scale = max(float(np.abs(cov).max()), 1e-300)
        if np.abs(cov - cov.T).max() > 1e-6 * scale:
            raise ValueError(f"{name} must be a symmetric covariance matrix")
        eig = np.linalg.eigh((cov + cov.T) / 2)
        if eig[0].min() < -1e-6 * scale:
            raise ValueError(f"{name} must be positive semi-definite (a covariance), but has "
                             f"eigenvalue {eig[0].min():.3g}")
        eigenvalues[name] = eig
    w, v = eigenvalues["sigma1"]
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    middle = root1 @ sigma2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eig, 0, None))))
    value = float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
                  - 2 * trace_sqrt)
    return max(value, 0.0)


def fid_from_features(real_features, fake_features) -> float:
    """Fréchet distance between the Gaussian fits of two feature sets ``[N, D]``."""
    return frechet_distance(*feature_statistics(real_features),
                            *feature_statistics(fake_features))


def fid_interval(real_features, fake_features, *, level: float = 0.95, resamples: int = 200,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the FID between two sets of features ``[N, D]``.

    Each resample draws N indices with replacement; for *paired* sets of equal size (the
    restorations of the test images and the clean test images themselves) the same indices
    select both, otherwise each set is resampled on its own. It describes how much the FID
    moves with the choice of test images at this N; it does not remove FID's small-N bias
    (compare with the real-data floor at the same N).
    """
    real = _features(real_features, "real_features")
    fake = _features(fake_features, "fake_features")
    _check_bootstrap(level, resamples, 20)
    rng = np.random.default_rng(seed)
    paired = len(real) == len(fake)
    values = []
    for _ in range(resamples):
        i = rng.integers(0, len(real), len(real))
        j = i if paired else rng.integers(0, len(fake), len(fake))
        values.append(fid_from_features(real[i], fake[j]))
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def kid(real_features, fake_features, *, subsets: int = 50, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD^2 with the cubic kernel ``(x.y / D + 1)^3``.

    Averaged over ``subsets`` random subsets of ``min(subset_size, N_real, N_fake)`` samples
    of each set; returns ``(mean, standard deviation)``. Unbiased, so it can be slightly
    negative when the two sets come from the same distribution.
    """
    real = _features(real_features, "real_features")
    fake = _features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} and {fake.shape[1]}")
    for value, name in ((subsets, "subsets"), (subset_size, "subset_size")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 2:
            raise ValueError(f"{name} must be an int >= 2, got {value!r}")
    m = min(subset_size, len(real), len(fake))
    d = real.shape[1]
    rng = np.random.default_rng(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        values[i] = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                     + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    return float(values.mean()), float(values.std())


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a_i - b_j|^2`` for the rows of ``a [N, D]`` and ``b [M, D]``."""
    return (a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T


def _kth_neighbour_radii(points: np.ndarray, k: int) -> np.ndarray:
    dist = np.sqrt(np.clip(_squared_distances(points, points), 0, None))
    return np.sort(dist, axis=1)[:, k]  # column 0 is the point itself


def _inside_any(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    dist = np.sqrt(np.clip(_squared_distances(queries, centres), 0, None))
    return (dist <= radii[None, :]).any(axis=1)


def precision_recall(real_features, fake_features, *, k: int = 3) -> tuple[float, float]:
    """k-NN precision and recall of generated samples (Kynkäänniemi et al. 2019).

    Each real sample gets a ball whose radius is the distance to its k-th nearest real
    neighbour; **precision** is the fraction of generated samples inside at least one real
    ball (quality), **recall** the fraction of real samples inside at least one ball of the
    generated set (coverage; mode collapse lowers it). O(N^2) memory: use a few thousand.
    """
    fake_inside, real_covered = precision_recall_indicators(real_features, fake_features, k=k)
    return float(fake_inside.mean()), float(real_covered.mean())


def precision_recall_indicators(real_features, fake_features, *,
                                k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The per-sample terms of ``precision_recall``: bool ``[N_fake]`` (generated sample inside
    some real k-NN ball) and bool ``[N_real]`` (real sample inside some generated ball). Their
    means are precision and recall; bootstrapping them gives intervals over the samples (with
    the balls held fixed)."""
    real = _features(real_features, "real_features")
    fake = _features(fake_features, "fake_features")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k < min(
            len(real), len(fake)):
        raise ValueError(f"k must be an int in [1, N - 1], got {k!r}")
    return (_inside_any(fake, real, _kth_neighbour_radii(real, k)),
            _inside_any(real, fake, _kth_neighbour_radii(fake, k)))


def classifier_score(probabilities) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))``: the Inception Score with another classifier.

    probabilities: ``[N, K]`` rows summing to 1 (softmax outputs). Between 1 (every sample
    looks the same to the classifier) and K (confident, and all classes equally often).
    """
    p = _features(probabilities, "probabilities")
    if p.min() < 0 or not np.allclose(p.sum(1), 1, atol=1e-4):
        raise ValueError("probabilities must be non-negative rows summing to 1 (apply softmax)")
    marginal = p.mean(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * (np.log(p) - np.log(marginal)), 0.0).sum(1)
    return float(np.exp(kl.mean()))


def nearest_neighbours(queries, references, *, chunk: int = 2048) -> tuple[np.ndarray,
                                                                        np.ndarray]:
    """Nearest reference image of every query in pixel space (Euclidean, per-pixel RMS).

    queries ``[N, H, W, C]`` and references ``[M, H, W, C]``, both in [0, 1]. Returns
    ``(indices [N], distances [N])`` with distances as root-mean-square pixel differences
    (0 = identical, comparable across image sizes). A memorisation check for generators:
    if generated images are much closer to their nearest *training* image than held-out
    real images are, the generator is copying its training set.
    """
    q = as_images(queries, "queries")
    r = as_images(references, "references")
    chunk = positive_int(chunk, "chunk")
    if q.shape[1:] != r.shape[1:]:
        raise ValueError(f"queries {q.shape[1:]} and references {r.shape[1:]} must have the "
                         "same image shape")
    q = q.reshape(len(q), -1).astype(np.float64)
    r = r.reshape(len(r), -1).astype(np.float64)
    best = np.zeros(len(q), np.int64)
    best_sq = np.full(len(q), np.inf)
    for start in range(0, len(r), chunk):
        d2 = _squared_distances(q, r[start:start + chunk])
        arg = d2.argmin(1)
        value = d2[np.arange(len(q)), arg]
        better = value < best_sq
        best[better], best_sq[better] = arg[better] + start, value[better]
    return best, np.sqrt(np.clip(best_sq, 0, None) / q.shape[1])


def mean_pairwise_distance(images, *, max_images: int = 1000, seed: int = 0) -> float:
    """Mean RMS pixel distance between distinct images of a set: a simple diversity number.

    A collapsed generator that draws the same few images gets a value near 0; compare with
    the same number for real images. Uses at most ``max_images`` images (chosen at random).
    """
    x = as_images(images, "images")
    max_images = positive_int(max_images, "max_images", minimum=2)  # 1 would leave no pair
    if len(x) < 2:
        raise ValueError(f"images must hold at least 2 images, got {len(x)}")
    if len(x) > max_images:
        x = x[np.random.default_rng(seed).choice(len(x), max_images, replace=False)]
    flat = x.reshape(len(x), -1).astype(np.float64)
    d2 = np.clip(_squared_distances(flat, flat), 0, None) / flat.shape[1]
    n = len(flat)
    return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean())


def real_floor(metric, real_features, *, seed: int = 0, **kwargs):
    """The value of ``metric(a, b, **kwargs)`` between two disjoint random halves of real data.

    The best a generator can hope for at that sample size: FID and KID are biased upward
    at small N, so a number means little without its floor.
    """
    real = _features(real_features, "real_features")
    order = np.random.default_rng(seed).permutation(len(real))
    half = len(real) // 2
    return metric(real[order[:half]], real[order[half:2 * half]], **kwargs)


def inception_features(images, *, batch_size: int = 64) -> np.ndarray:
    """Inception-v3 pool features ``[N, 2048]`` for the classic FID (needs a download once).

    images: float ``[N, H, W, C]`` in [0, 1] with C in (1, 3); resized to 299x299. The
    ImageNet weights come from a Keras download: in Colab this works; offline it raises a
    ``RuntimeError`` saying that Inception FID is unavailable (use FID-FM instead).
    """
    images = as_images(images, "images", channels=(1, 3))
    import keras
    import tensorflow as tf

    try:
        model = keras.applications.InceptionV3(include_top=False, pooling="avg",
                                               weights="imagenet")
    except Exception as exc:  # no network: DNS failure, HTTP error, ...
        raise RuntimeError("Inception FID is unavailable offline: the InceptionV3 ImageNet "
                           "weights could not be downloaded by Keras "
                           f"({type(exc).__name__}). Use FID-FM (the chapter-01 classifier's "
                           "features), or run where Keras can download (e.g. Colab).") from exc
    out = []
    for start in range(0, len(images), batch_size):
        batch = tf.convert_to_tensor(images[start:start + batch_size])
        if batch.shape[-1] == 1:
            batch = tf.image.grayscale_to_rgb(batch)
        batch = tf.image.resize(batch, (299, 299)) * 2.0 - 1.0  # Inception expects [-1, 1]
        out.append(model(batch, training=False).numpy())
    return np.concatenate(out)
