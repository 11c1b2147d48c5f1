"""Classical restorers: the baselines every learned model of chapters 04-06 must beat.

Every function takes a batch float ``[N, H, W, C]`` and returns float32 ``[N, H, W, C]``
clipped to ``[0, 1]`` (``bicubic_upsample`` returns ``[N, H * factor, W * factor, C]``).
Inputs are in [0, 1], except the noisy inputs of the denoisers, which may leave [0, 1] by
the noise (unclipped Gaussian noise is the DnCNN protocol). Masks follow
``imgutils.corrupt``: float ``[N, H, W, 1]``, **1 = observed, 0 = missing**. ``sigma`` is
always on the [0, 1] intensity scale (``25 / 255``, not ``25``). The methods run image by
image on the CPU (scikit-image); ``progress=True`` shows a text progress bar (tqdm if it is
installed, else one printed line per tenth of the batch).

The settings are fixed and listed in ``SETTINGS``. They were chosen on *validation* data,
the first 20 images of the Fashion-MNIST **training** set, and never on the test set, so
that test numbers stay honest: denoisers at sigma = 25/255 (unclipped noise), deblurring at
blur sigma 1 and 1.5 px with added noise of sigma 0 to 0.02 (the Wiener balance and the
Richardson-Lucy iteration count are the values that hold up over that whole range; with
noise-free blur smaller balances and more iterations do better). NLM uses the usual
``h = 0.8 sigma``; TV's weight ``factor * sigma`` is best near ``factor = 0.5`` on
Fashion-MNIST and near ``factor = 1`` on photographs.

Optional packages: ``telea_inpaint`` needs OpenCV (``pip install opencv-python-headless``);
``bm3d_denoise`` needs ``bm3d``, whose licence forbids commercial use and redistribution, so
it is never a dependency of this book: install it yourself if that licence suits you.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

import numpy as np

from .validation import as_images, flag, noisy_images, positive_int, real_number

__all__ = [
    "SETTINGS", "adaptive_median", "available_denoisers", "bicubic_upsample", "bilateral",
    "biharmonic_inpaint", "bm3d_denoise", "median", "nlm", "richardson_lucy_deblur",
    "telea_inpaint", "tv", "wavelet", "wiener_deblur",
]

#: The fixed settings of every method (chosen on Fashion-MNIST *training* images).
SETTINGS: dict[str, dict[str, object]] = {
    "nlm": {"function": "skimage.restoration.denoise_nl_means", "patch_size": 5,
            "patch_distance": 6, "h": "0.8 * sigma", "sigma": "sigma", "fast_mode": True},
    "tv": {"function": "skimage.restoration.denoise_tv_chambolle",
           "weight": "factor * sigma", "factor": 0.5,
           "note": "factor 0.5 for Fashion-MNIST, about 1.0 for photographs"},
    "wavelet": {"function": "skimage.restoration.denoise_wavelet", "method": "BayesShrink",
                "mode": "soft", "wavelet": "db2", "wavelet_levels": 2,
                "sigma": "sigma (passed: estimate_sigma underestimates it)"},
    "bilateral": {"function": "skimage.restoration.denoise_bilateral",
                  "sigma_color": "sigma", "sigma_spatial": 2.0},
    "median": {"function": "scipy.ndimage.median_filter", "size": 3, "mode": "reflect",
               "note": "for impulse (salt-and-pepper) noise; on Gaussian noise it does not "
                       "beat the clipped noisy input on Fashion-MNIST"},
    "bm3d": {"function": "bm3d.bm3d / bm3d.bm3d_rgb (optional)", "sigma_psd": "sigma"},
    "biharmonic": {"function": "skimage.restoration.inpaint_biharmonic"},
    "telea": {"function": "cv2.inpaint (INPAINT_TELEA, optional)", "radius": 3},
    "bicubic": {"function": "tf.image.resize", "method": "bicubic (Keys, a = -0.5)",
                "antialias": False},
    "wiener": {"function": "skimage.restoration.wiener", "balance": 0.001, "pad": 16,
               "pad_mode": "symmetric (mirror, as the blur)"},
    "richardson_lucy": {"function": "skimage.restoration.richardson_lucy", "iterations": 50,
                        "pad": 16, "pad_mode": "symmetric (mirror, as the blur)"},
}
DEFAULT_TV_FACTOR = 0.5
PAD = 16
#: Richardson-Lucy iterations beyond this only amplify noise (and take minutes per image).
MAX_RL_ITERATIONS = 10_000


# --------------------------------------------------------------------------- helpers
def _sigma(sigma, name: str = "sigma") -> float:
    return real_number(sigma, name, low=0.0, high=1.0, low_open=True,
                       hint=" (noise sigma is on the [0, 1] scale: use 25/255, not 25)")


def _noisy(noisy, sigma: float) -> np.ndarray:
    """Noisy images may leave [0, 1] by the noise, but not by much more than ~10 sigma."""
    return noisy_images(noisy, "noisy", sigma=sigma)


def _mask(mask, images: np.ndarray) -> np.ndarray:
    """0/1 mask [N, H, W, 1] matching ``images``; returns bool ``missing`` [N, H, W]."""
    if isinstance(mask, np.ndarray) and mask.dtype == bool:
        mask = mask.astype(np.float32)
    m = as_images(mask, "mask", channels=(1,), value_range=None)
    if m.shape[:3] != images.shape[:3]:
        raise ValueError(f"mask must have shape [N, H, W, 1] = {images.shape[:3] + (1,)} "
                         f"(1 = observed, 0 = missing), got {m.shape}")
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("mask must contain only 0 (missing) and 1 (observed)")
    missing = m[..., 0] == 0
    full = np.flatnonzero(missing.all(axis=(1, 2)))
    if len(full):
        raise ValueError(f"mask marks every pixel of image {int(full[0])} as missing "
                         "(1 = observed, 0 = missing); is it inverted?")
    return missing


class _Printer:
    """The fallback progress bar: one printed line per tenth of the batch."""

    def __init__(self, n: int, label: str):
        self.n, self.label, self.every = n, label, max(1, n // 10)

    def __iter__(self):
        for i in range(self.n):
            yield i
            if (i + 1) % self.every == 0 or i + 1 == self.n:
                print(f"{self.label}: {i + 1}/{self.n} images", flush=True)


def _steps(n: int, label: str, progress: bool) -> Iterable[int]:
    if not flag(progress, "progress"):
        return range(n)
    try:
        from tqdm import tqdm
    except ImportError:
        return _Printer(n, label)
    return tqdm(range(n), desc=label, unit="img", mininterval=1.0)


def _per_image(images: np.ndarray, fn: Callable[[np.ndarray, int | None], np.ndarray],
               label: str, progress: bool) -> np.ndarray:
    """Apply ``fn(image, channel_axis)`` to each image: 2-D for C = 1, else ``[H, W, C]``."""
    out = np.empty(images.shape, np.float32)
    gray = images.shape[-1] == 1
    for i in _steps(len(images), label, progress):
        image = images[i].astype(np.float64)
        out[i] = fn(image[..., 0], None)[..., None] if gray else fn(image, -1)
    return np.clip(out, 0.0, 1.0)


def _per_plane(images: np.ndarray, fn: Callable[[np.ndarray, int], np.ndarray],
               label: str, progress: bool) -> np.ndarray:
    """Apply ``fn(plane, i)`` to every 2-D channel plane of image ``i``."""
    out = np.empty(images.shape, np.float32)
    for i in _steps(len(images), label, progress):
        for c in range(images.shape[-1]):
            out[i, ..., c] = fn(images[i, ..., c].astype(np.float64), i)
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------- denoising
def nlm(noisy, sigma: float, *, progress: bool = False) -> np.ndarray:
    """Non-local means (Buades et al. 2005), scikit-image's fast variant.

    noisy: float ``[N, H, W, C]`` on the [0, 1] scale (may leave it by the noise); sigma:
    the noise standard deviation. Settings ``SETTINGS["nlm"]``: 5x5 patches, search distance
    6, ``h = 0.8 * sigma``, ``sigma`` passed so the expected noise distance is subtracted.
    Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    from skimage.restoration import denoise_nl_means

    sigma = _sigma(sigma)
    images = _noisy(noisy, sigma)

    def run(image, channel_axis):
        return denoise_nl_means(image, patch_size=5, patch_distance=6, h=0.8 * sigma,
                                fast_mode=True, sigma=sigma, channel_axis=channel_axis)

    return _per_image(images, run, "nlm", progress)


def tv(noisy, sigma: float, *, factor: float = DEFAULT_TV_FACTOR,
       progress: bool = False) -> np.ndarray:
    """Total-variation denoising (Rudin-Osher-Fatemi, Chambolle's algorithm).

    noisy: float ``[N, H, W, C]`` on the [0, 1] scale. The weight is ``factor * sigma``:
    ``factor = 0.5`` (default) suits Fashion-MNIST, about ``1.0`` suits photographs
    (larger weight = smoother). Channels are denoised independently.
    Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    from skimage.restoration import denoise_tv_chambolle

    sigma = _sigma(sigma)
    factor = real_number(factor, "factor", low=0.0, low_open=True)
    images = _noisy(noisy, sigma)

    def run(image, channel_axis):
        return denoise_tv_chambolle(image, weight=factor * sigma, channel_axis=channel_axis)

    return _per_image(images, run, "tv", progress)


def wavelet(noisy, sigma: float, *, progress: bool = False) -> np.ndarray:
    """Wavelet shrinkage with BayesShrink soft thresholds (Chang et al. 2000).

    noisy: float ``[N, H, W, C]`` on the [0, 1] scale. ``sigma`` is passed explicitly,
    because ``skimage.restoration.estimate_sigma`` underestimates it by 30-35 % on noisy
    Fashion-MNIST. Settings ``SETTINGS["wavelet"]`` (Daubechies-2, 2 levels).
    Needs PyWavelets. Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    from skimage.restoration import denoise_wavelet

    sigma = _sigma(sigma)
    images = _noisy(noisy, sigma)

    def run(image, channel_axis):
        return denoise_wavelet(image, sigma=sigma, wavelet="db2", wavelet_levels=2,
                               mode="soft", method="BayesShrink", rescale_sigma=True,
                               channel_axis=channel_axis)

    return _per_image(images, run, "wavelet", progress)


def bilateral(noisy, sigma: float, *, progress: bool = False) -> np.ndarray:
    """Bilateral filter (Tomasi & Manduchi 1998): Gaussian in space and in intensity.

    noisy: float ``[N, H, W, C]`` on the [0, 1] scale. Settings ``SETTINGS["bilateral"]``:
    intensity sigma ``sigma``, spatial sigma 2 px (colour distances for C = 3). Wider
    intensity windows blur the sharp edges of Fashion-MNIST and lose to the noisy input.
    Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    from skimage.restoration import denoise_bilateral

    sigma = _sigma(sigma)
    images = _noisy(noisy, sigma)

    def run(image, channel_axis):
        return denoise_bilateral(image, sigma_color=sigma, sigma_spatial=2.0,
                                 channel_axis=channel_axis)

    return _per_image(images, run, "bilateral", progress)


def median(noisy, size: int = 3, *, progress: bool = False) -> np.ndarray:
    """Median filter over ``size x size`` neighbourhoods, each channel separately.

    noisy: float ``[N, H, W, C]`` on the [0, 1] scale (the classic remedy for salt-and-pepper
    noise; it needs no sigma). Mirror boundary. Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    from scipy import ndimage

    size = positive_int(size, "size")
    images = noisy_images(noisy, "noisy")
    if size > min(images.shape[1:3]):
        raise ValueError(f"size must be at most the image size {images.shape[1]}x"
                         f"{images.shape[2]}, got {size}")
    out = np.empty(images.shape, np.float32)
    for i in _steps(len(images), "median", progress):
        out[i] = ndimage.median_filter(images[i], size=(size, size, 1), mode="reflect")
    return np.clip(out, 0.0, 1.0)


def adaptive_median(noisy, max_size: int = 7, *, progress: bool = False) -> np.ndarray:
    """Adaptive median filter (Hwang & Haddad 1995) for impulse noise, each channel separately.

    For every pixel, windows of side 3, 5, ..., ``max_size``: in the first window whose median
    is not an extreme (``min < median < max``) the pixel is kept if it is not an extreme
    itself (``min < z < max``: probably not an impulse) and replaced by the median otherwise;
    where every window's median is an extreme, the largest window's median is used. Unlike
    ``median`` it leaves most uncorrupted pixels untouched. noisy: float ``[N, H, W, C]`` in
    [0, 1]; mirror boundary; returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    from scipy import ndimage

    max_size = positive_int(max_size, "max_size", minimum=3)
    if max_size % 2 == 0:
        raise ValueError(f"max_size must be odd (3, 5, 7, ...), got {max_size}")
    images = as_images(noisy, "noisy").astype(np.float32)
    if max_size > min(images.shape[1:3]):
        raise ValueError(f"max_size must be at most the image size {images.shape[1]}x"
                         f"{images.shape[2]}, got {max_size}")
    out = np.empty(images.shape, np.float32)
    for i in _steps(len(images), "adaptive median", progress):
        z = images[i]
        result, done = z.copy(), np.zeros(z.shape, bool)
        for size in range(3, max_size + 1, 2):
            window = (size, size, 1)
            low = ndimage.minimum_filter(z, size=window, mode="reflect")
            high = ndimage.maximum_filter(z, size=window, mode="reflect")
            med = ndimage.median_filter(z, size=window, mode="reflect")
            settle = (low < med) & (med < high) & ~done
            keep = (low < z) & (z < high)
            result[settle] = np.where(keep, z, med)[settle]
            done |= settle
        result[~done] = med[~done]
        out[i] = result
    return np.clip(out, 0.0, 1.0)


def _optional(module: str, message: str):
    """Import an optional dependency, or raise ImportError with install advice."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(message) from exc


def _import_bm3d():
    return _optional("bm3d", "bm3d_denoise needs the optional package `bm3d` (pip install "
                     "bm3d). Its licence allows non-commercial use only and forbids "
                     "redistribution, so this book never installs it for you.")


def bm3d_denoise(noisy, sigma: float, *, progress: bool = False) -> np.ndarray:
    """BM3D (Dabov et al. 2007) through the ``bm3d`` package, *if you installed it*.

    noisy: float ``[N, H, W, C]`` on the [0, 1] scale with C = 1 or 3 (``bm3d_rgb``);
    ``sigma_psd = sigma``. Raises ``ImportError`` explaining how to install ``bm3d`` (and its
    non-commercial licence) when it is missing. Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    sigma = _sigma(sigma)
    images = as_images(noisy, "noisy", channels=(1, 3), value_range=None)
    images = _noisy(images, sigma)
    bm3d = _import_bm3d()

    def run(image, channel_axis):
        if channel_axis is None:
            return np.reshape(bm3d.bm3d(image, sigma_psd=sigma), image.shape)
        return np.reshape(bm3d.bm3d_rgb(image, sigma_psd=sigma), image.shape)

    return _per_image(images, run, "bm3d", progress)


def _median_denoiser(noisy, sigma: float, *, progress: bool = False) -> np.ndarray:
    _sigma(sigma)
    return median(noisy, progress=progress)


def available_denoisers(*, verbose: bool = True) -> dict[str, Callable[..., np.ndarray]]:
    """The denoisers usable here, by name, each callable as ``fn(noisy, sigma, progress=...)``.

    Always ``nlm``, ``tv``, ``bilateral``, ``median`` (which ignores sigma); ``wavelet`` when
    PyWavelets is installed and ``bm3d`` when the reader installed the ``bm3d`` package. With
    ``verbose=True`` a one-line message says which ones are skipped and why.
    """
    verbose = flag(verbose, "verbose")
    denoisers: dict[str, Callable[..., np.ndarray]] = {
        "nlm": nlm, "tv": tv, "bilateral": bilateral, "median": _median_denoiser,
    }
    skipped = []
    try:
        import pywt  # noqa: F401
    except ImportError:
        skipped.append("wavelet (needs PyWavelets: pip install PyWavelets)")
    else:
        denoisers["wavelet"] = wavelet
    try:
        _import_bm3d()
    except ImportError:
        skipped.append("BM3D (optional `bm3d` package not installed; non-commercial licence)")
    else:
        denoisers["bm3d"] = bm3d_denoise
    if verbose and skipped:
        print("Skipping " + "; ".join(skipped))
    return denoisers


# --------------------------------------------------------------------------- inpainting
def biharmonic_inpaint(images, mask, *, progress: bool = False) -> np.ndarray:
    """Fill the holes by solving the biharmonic equation (smooth continuation of the border).

    images: float ``[N, H, W, C]`` in [0, 1] (values under the holes are ignored); mask:
    float ``[N, H, W, 1]``, 1 = observed, 0 = missing (``imgutils.corrupt`` polarity).
    Observed pixels are returned unchanged. Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    from skimage.restoration import inpaint_biharmonic

    images = as_images(images, "images")
    missing = _mask(mask, images)
    out = images.astype(np.float32, copy=True)
    for i in _steps(len(images), "biharmonic", progress):
        if not missing[i].any():
            continue
        image = images[i].astype(np.float64)
        if images.shape[-1] == 1:
            filled = inpaint_biharmonic(image[..., 0], missing[i])[..., None]
        else:
            filled = inpaint_biharmonic(image, missing[i], channel_axis=-1)
        out[i][missing[i]] = filled[missing[i]]
    return np.clip(out, 0.0, 1.0)


def _import_cv2():
    return _optional("cv2", "telea_inpaint needs OpenCV, which is optional here: "
                     "pip install opencv-python-headless")


def telea_inpaint(images, mask, *, radius: int = 3, progress: bool = False) -> np.ndarray:
    """Fast-marching inpainting (Telea 2004) with OpenCV's ``cv2.inpaint``.

    images: float ``[N, H, W, C]`` in [0, 1]; mask: float ``[N, H, W, 1]``, 1 = observed,
    0 = missing. Each channel is inpainted as a 32-bit float plane (Telea's weights depend on
    geometry only, so this equals colour inpainting without 8-bit rounding), on the 0-255
    scale: OpenCV's float path returns garbage for values in [0, 1] (seen with OpenCV 5.0).
    ``radius`` is the neighbourhood in pixels. Raises ``ImportError`` with install
    instructions when OpenCV (``opencv-python-headless``) is missing.
    Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    images = as_images(images, "images")
    radius = positive_int(radius, "radius")
    missing = _mask(mask, images)
    cv2 = _import_cv2()
    holes = missing.astype(np.uint8) * 255

    def run(plane, i):
        scaled = (plane * 255.0).astype(np.float32)
        filled = cv2.inpaint(scaled, holes[i], radius, cv2.INPAINT_TELEA) / 255.0
        return np.where(missing[i], filled, plane)

    return _per_plane(images, run, "telea", progress)


# --------------------------------------------------------------------------- super-resolution
def bicubic_upsample(low, factor: int) -> np.ndarray:
    """Bicubic interpolation by an integer ``factor``: the standard super-resolution baseline.

    low: float ``[N, h, w, C]`` in [0, 1] -> float32 ``[N, h * factor, w * factor, C]`` in
    [0, 1]. Keys' cubic convolution (a = -0.5, as MATLAB ``imresize`` and PIL) with
    half-pixel centres (``tf.image.resize(method="bicubic")``), which lines up with the box
    averaging of ``imgutils.corrupt.downsample``; the overshoot is clipped.
    """
    import tensorflow as tf

    low = as_images(low, "low")
    factor = positive_int(factor, "factor")
    size = (low.shape[1] * factor, low.shape[2] * factor)
    up = tf.image.resize(low.astype(np.float32), size, method="bicubic", antialias=False)
    return np.clip(up.numpy(), 0.0, 1.0)


# --------------------------------------------------------------------------- deblurring
def _psf(sigma_blur) -> np.ndarray:
    from .corrupt import gaussian_kernel

    sigma_blur = real_number(sigma_blur, "sigma_blur", low=0.0, low_open=True, high=8.0,
                             hint=" (the blur's standard deviation in pixels)")
    return gaussian_kernel(sigma_blur)


def _padded(plane: np.ndarray, pad: int) -> np.ndarray:
    return np.pad(plane, pad, mode="symmetric")


def wiener_deblur(blurred, sigma_blur: float, balance: float = 0.001, *, pad: int = PAD,
                  progress: bool = False) -> np.ndarray:
    """Wiener-Hunt deconvolution of a known Gaussian blur (``skimage.restoration.wiener``).

    blurred: float ``[N, H, W, C]`` in [0, 1], e.g. ``imgutils.corrupt.gaussian_blur(x,
    sigma_blur).corrupted``; the point-spread function is ``corrupt.gaussian_kernel(
    sigma_blur)``. ``balance`` trades sharpness for noise amplification (raise it for noisy
    images). The FFT assumes a periodic image, so each plane is mirror-padded by ``pad``
    pixels first and cropped after; without that padding the ringing from the borders costs
    1-2 dB on Fashion-MNIST and, with stronger blur or more Richardson-Lucy iterations, can
    make the result worse than the blurred input. Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    from skimage.restoration import wiener

    images = as_images(blurred, "blurred")
    psf = _psf(sigma_blur)
    balance = real_number(balance, "balance", low=0.0, low_open=True)
    pad = positive_int(pad, "pad", minimum=0)
    h, w = images.shape[1:3]

    def run(plane, i):
        return wiener(_padded(plane, pad), psf, balance, clip=False)[pad:pad + h, pad:pad + w]

    return _per_plane(images, run, "wiener", progress)


def richardson_lucy_deblur(blurred, sigma_blur: float, iterations: int = 50, *,
                           pad: int = PAD, progress: bool = False) -> np.ndarray:
    """Richardson-Lucy deconvolution of a known Gaussian blur (``skimage.restoration``).

    blurred: float ``[N, H, W, C]`` in [0, 1]; the point-spread function is
    ``corrupt.gaussian_kernel(sigma_blur)``. More ``iterations`` sharpen more and amplify
    noise more. Each plane is mirror-padded by ``pad`` pixels and cropped after (see
    ``wiener_deblur``). Returns float32 ``[N, H, W, C]`` in [0, 1].
    """
    from skimage.restoration import richardson_lucy

    images = as_images(blurred, "blurred")
    psf = _psf(sigma_blur)
    iterations = positive_int(iterations, "iterations")
    if iterations > MAX_RL_ITERATIONS:
        raise ValueError(f"iterations must be at most {MAX_RL_ITERATIONS} "
                         f"(MAX_RL_ITERATIONS), got {iterations}")
    pad = positive_int(pad, "pad", minimum=0)
    h, w = images.shape[1:3]

    def run(plane, i):
        out = richardson_lucy(_padded(plane, pad), psf, num_iter=iterations, clip=False)
        return out[pad:pad + h, pad:pad + w]

    return _per_plane(images, run, "richardson_lucy", progress)
