import sys
import types

import numpy as np
import pytest

from imgutils import baselines, corrupt, data, metrics

SIGMA = 25 / 255


@pytest.fixture(scope="module")
def clean():
    # validation images: the first Fashion-MNIST *training* images, never the test set
    return data.fashion_mnist(n_train=8).train.images


@pytest.fixture(scope="module")
def noisy(clean):
    return corrupt.gaussian_noise(clean, SIGMA, seed=0).corrupted  # unclipped (DnCNN)


@pytest.fixture(scope="module")
def noisy_psnr(clean, noisy):
    return metrics.psnr(clean, np.clip(noisy, 0, 1), reduce="mean")


@pytest.fixture(scope="module")
def photos():
    return data.photo_patches(32, 2, split="train", sources=("coffee", "immunohistochemistry"))


def _check_output(out, like):
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == like.shape
    assert out.min() >= 0 and out.max() <= 1


# --------------------------------------------------------------------------- denoising
@pytest.mark.parametrize("name,gain", [("nlm", 3.0), ("tv", 2.0), ("wavelet", 1.0),
                                       ("bilateral", 1.0)])
def test_denoiser_beats_noisy_input(name, gain, clean, noisy, noisy_psnr):
    out = getattr(baselines, name)(noisy, SIGMA)
    _check_output(out, clean)
    assert metrics.psnr(clean, out, reduce="mean") >= noisy_psnr + gain


@pytest.mark.parametrize("name", ["nlm", "tv", "wavelet", "bilateral"])
def test_denoisers_on_colour(name, photos):
    noisy = corrupt.gaussian_noise(photos, SIGMA, seed=1).corrupted
    out = getattr(baselines, name)(noisy, SIGMA)
    _check_output(out, photos)
    assert metrics.psnr(photos, out, reduce="mean") > metrics.psnr(
        photos, np.clip(noisy, 0, 1), reduce="mean") + 1


def test_tv_factor_controls_smoothing(noisy):
    weak = baselines.tv(noisy[:2], SIGMA, factor=0.1)
    strong = baselines.tv(noisy[:2], SIGMA, factor=2.0)
    assert np.abs(np.diff(strong, axis=2)).mean() < np.abs(np.diff(weak, axis=2)).mean()


def test_median_removes_salt_and_pepper(clean):
    impulses = corrupt.salt_and_pepper(clean, 0.1, seed=2).corrupted
    out = baselines.median(impulses)
    _check_output(out, clean)
    before = metrics.psnr(clean, impulses, reduce="mean")
    assert metrics.psnr(clean, out, reduce="mean") > before + 5
    assert baselines.median(impulses, size=5).shape == clean.shape


def test_available_denoisers(capsys, monkeypatch, noisy):
    monkeypatch.setitem(sys.modules, "bm3d", None)  # as on a machine without bm3d
    found = baselines.available_denoisers()
    assert {"nlm", "tv", "wavelet", "bilateral", "median"} <= set(found)
    assert "bm3d" not in found
    printed = capsys.readouterr().out
    assert "BM3D" in printed and printed.count("\n") == 1
    baselines.available_denoisers(verbose=False)
    assert capsys.readouterr().out == ""
    for fn in found.values():  # one calling convention for all
        _check_output(fn(noisy[:1], SIGMA), noisy[:1])


def test_bm3d_missing_is_a_clear_import_error(monkeypatch, noisy):
    monkeypatch.setitem(sys.modules, "bm3d", None)
    with pytest.raises(ImportError, match="pip install bm3d") as info:
        baselines.bm3d_denoise(noisy, SIGMA)
    assert "non-commercial" in str(info.value)


def test_bm3d_wiring_with_a_stand_in(monkeypatch, noisy, photos):
    calls = []
    fake = types.ModuleType("bm3d")

    def fake_gray(z, sigma_psd):
        calls.append(("gray", z.shape, sigma_psd))
        return np.clip(z, 0, 1)[..., None]  # the real package may add a channel axis

    def fake_rgb(z, sigma_psd):
        calls.append(("rgb", z.shape, sigma_psd))
        return np.clip(z, 0, 1)

    fake.bm3d, fake.bm3d_rgb = fake_gray, fake_rgb
    monkeypatch.setitem(sys.modules, "bm3d", fake)
    assert "bm3d" in baselines.available_denoisers(verbose=False)
    _check_output(baselines.bm3d_denoise(noisy[:2], SIGMA), noisy[:2])
    _check_output(baselines.bm3d_denoise(photos, SIGMA), photos)
    assert calls == [("gray", (28, 28), SIGMA)] * 2 + [("rgb", (32, 32, 3), SIGMA)] * 2


def test_real_bm3d_if_installed(clean, noisy, noisy_psnr):
    pytest.importorskip("bm3d")
    out = baselines.bm3d_denoise(noisy[:2], SIGMA)
    assert metrics.psnr(clean[:2], out, reduce="mean") > noisy_psnr + 3


def test_progress_bar(capsys, monkeypatch, noisy):
    baselines.nlm(noisy, SIGMA, progress=True)
    assert "nlm" in capsys.readouterr().err  # tqdm writes to stderr
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the fallback: printed lines
    baselines.median(noisy, progress=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "median: 8/8 images" and len(lines) <= 10
    baselines.median(noisy)
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- inpainting
def test_biharmonic_beats_zero_fill(clean):
    c = corrupt.missing_pixels(clean, 0.5, seed=3)
    out = baselines.biharmonic_inpaint(c.corrupted, c.mask)
    _check_output(out, clean)
    zero = metrics.masked_psnr(clean, c.corrupted, c.mask, reduce="mean")
    filled = metrics.masked_psnr(clean, out, c.mask, reduce="mean")
    assert filled > zero + 5
    seen = c.mask[..., 0] == 1
    np.testing.assert_array_equal(out[seen], c.corrupted[seen])


def test_biharmonic_colour_holes_and_no_holes(photos):
    c = corrupt.block_holes(photos, 8, seed=4)
    out = baselines.biharmonic_inpaint(c.corrupted, c.mask)
    _check_output(out, photos)
    assert np.all(metrics.masked_mae(photos, out, c.mask) < metrics.masked_mae(
        photos, c.corrupted, c.mask))
    full = np.ones_like(c.mask)
    np.testing.assert_array_equal(baselines.biharmonic_inpaint(photos, full), photos)


def test_telea_missing_opencv_is_a_clear_import_error(monkeypatch, clean):
    monkeypatch.setitem(sys.modules, "cv2", None)
    c = corrupt.missing_pixels(clean, 0.5)
    with pytest.raises(ImportError, match="pip install opencv-python-headless"):
        baselines.telea_inpaint(c.corrupted, c.mask)


def test_telea_wiring_with_a_stand_in(monkeypatch, photos):
    calls = []
    fake = types.ModuleType("cv2")
    fake.INPAINT_TELEA = 1

    def inpaint(src, mask, radius, flags):
        calls.append((src.dtype, src.shape, mask.dtype, radius, flags))
        assert set(np.unique(mask)) <= {0, 255}
        assert src.max() > 1  # OpenCV's float path wants the 0-255 scale
        return np.full_like(src, 127.5)

    fake.inpaint = inpaint
    monkeypatch.setitem(sys.modules, "cv2", fake)
    c = corrupt.block_holes(photos, 8, seed=5)
    out = baselines.telea_inpaint(c.corrupted, c.mask, radius=4)
    _check_output(out, photos)
    holes = c.mask[..., 0] == 0
    assert np.all(out[holes] == 0.5)
    np.testing.assert_array_equal(out[~holes], photos[~holes])
    assert calls == [(np.float32, (32, 32), np.uint8, 4, 1)] * 6


def test_real_telea_if_installed(clean):
    pytest.importorskip("cv2")
    c = corrupt.missing_pixels(clean, 0.5, seed=3)
    out = baselines.telea_inpaint(c.corrupted, c.mask)
    _check_output(out, clean)
    assert metrics.masked_psnr(clean, out, c.mask, reduce="mean") > metrics.masked_psnr(
        clean, c.corrupted, c.mask, reduce="mean") + 5


# --------------------------------------------------------------------------- resolution, blur
def test_bicubic_beats_nearest(clean, photos):
    for images in (clean, photos):
        low = corrupt.downsample(images, 2).corrupted
        up = baselines.bicubic_upsample(low, 2)
        _check_output(up, images)
        nearest = corrupt.upsample_nearest(low, 2)
        assert metrics.psnr(images, up, reduce="mean") > metrics.psnr(images, nearest,
                                                                      reduce="mean")
    const = np.full((1, 5, 7, 1), 0.3, np.float32)
    np.testing.assert_allclose(baselines.bicubic_upsample(const, 3), 0.3, atol=1e-6)
    assert baselines.bicubic_upsample(const, 3).shape == (1, 15, 21, 1)


@pytest.mark.parametrize("name", ["wiener_deblur", "richardson_lucy_deblur"])
def test_deblurring_beats_blurred_input(name, clean):
    blurred = corrupt.gaussian_blur(clean, 1.0).corrupted
    fn = getattr(baselines, name)
    out = fn(blurred, 1.0)
    _check_output(out, clean)
    before = metrics.psnr(clean, blurred, reduce="mean")
    after = metrics.psnr(clean, out, reduce="mean")
    assert after > before + 2
    unpadded = metrics.psnr(clean, fn(blurred, 1.0, pad=0), reduce="mean")
    assert after > unpadded  # the mirror padding matters


def test_deblurring_colour(photos):
    blurred = corrupt.gaussian_blur(photos, 1.0).corrupted
    out = baselines.wiener_deblur(blurred, 1.0)
    _check_output(out, photos)
    assert metrics.psnr(photos, out, reduce="mean") > metrics.psnr(photos, blurred,
                                                                   reduce="mean")


def test_settings_are_documented():
    assert {"nlm", "tv", "wavelet", "bilateral", "median", "bm3d", "biharmonic", "telea",
            "bicubic", "wiener", "richardson_lucy"} <= set(baselines.SETTINGS)
    assert baselines.SETTINGS["nlm"]["patch_size"] == 5
    assert baselines.SETTINGS["nlm"]["patch_distance"] == 6
    assert "training" in baselines.__doc__ and "never on the test set" in baselines.__doc__


# --------------------------------------------------------------------------- bad inputs
MASK = np.ones((8, 28, 28, 1), np.float32)


@pytest.mark.parametrize("call,error,match", [
    (lambda x: baselines.nlm(x, 25), ValueError, "25/255"),
    (lambda x: baselines.tv(x, 0.0), ValueError, "sigma"),
    (lambda x: baselines.tv(x, SIGMA, factor=-1), ValueError, "factor"),
    (lambda x: baselines.wavelet(x, "0.1"), TypeError, "sigma"),
    (lambda x: baselines.bilateral(x * 255, SIGMA), ValueError, "255"),
    (lambda x: baselines.nlm((x * 255).astype(np.uint8), SIGMA), TypeError, "noisy"),
    (lambda x: baselines.nlm(x[0], SIGMA), ValueError, "rank 4"),
    (lambda x: baselines.median(x, size=0), ValueError, "size"),
    (lambda x: baselines.median(x, size=29), ValueError, "size"),
    (lambda x: baselines.bm3d_denoise(np.repeat(x, 2, axis=-1), SIGMA), ValueError, "C in"),
    (lambda x: baselines.biharmonic_inpaint(x, MASK[:, :27]), ValueError, "mask must"),
    (lambda x: baselines.biharmonic_inpaint(x, MASK * 0.5), ValueError, "only 0"),
    (lambda x: baselines.biharmonic_inpaint(x, MASK * 0), ValueError, "inverted"),
    (lambda x: baselines.biharmonic_inpaint(x, np.repeat(MASK, 3, -1)), ValueError, "mask"),
    (lambda x: baselines.biharmonic_inpaint(x + 1, MASK), ValueError, r"values in \[0, 1\]"),
    (lambda x: baselines.telea_inpaint(x, MASK, radius=0), ValueError, "radius"),
    (lambda x: baselines.bicubic_upsample(x, 2.0), TypeError, "factor"),
    (lambda x: baselines.bicubic_upsample(x - 1, 2), ValueError, "low"),
    (lambda x: baselines.wiener_deblur(x, -1.0), ValueError, "sigma_blur"),
    (lambda x: baselines.wiener_deblur(x, 1.0, balance=0), ValueError, "balance"),
    (lambda x: baselines.wiener_deblur(x, 1.0, pad=-1), ValueError, "pad"),
    (lambda x: baselines.richardson_lucy_deblur(x, 1.0, iterations=0), ValueError,
     "iterations"),
    (lambda x: baselines.richardson_lucy_deblur(x * 2, 1.0), ValueError, "blurred"),
])
def test_bad_inputs(call, error, match, clean):
    with pytest.raises(error, match=match):
        call(clean)
