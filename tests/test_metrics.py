import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from imgutils import corrupt, data, metrics

TOL = 1e-4


def _sk_ssim(a, b, data_range=1.0):
    return structural_similarity(a.astype(np.float64), b.astype(np.float64),
                                 data_range=data_range, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, channel_axis=-1)


def _sk_psnr(a, b, data_range=1.0):
    return peak_signal_noise_ratio(a.astype(np.float64), b.astype(np.float64),
                                   data_range=data_range)


def _degrade(images, seed=0, sigma=0.08):
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0, sigma, images.shape), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    random_gray = rng.random((5, 16, 23, 1)).astype(np.float32)
    random_rgb = rng.random((3, 11, 11, 3)).astype(np.float32)
    fashion = data.fashion_mnist(n_test=20).test.images
    photos = data.photo_patches(64, 4, split="test")
    return {
        "random_gray": (random_gray, _degrade(random_gray, 1, 0.2)),
        "random_rgb": (random_rgb, rng.random(random_rgb.shape).astype(np.float32)),
        "fashion_mnist": (fashion, _degrade(fashion, 2)),
        "photos": (photos, _degrade(photos, 3, 0.03)),
    }


KINDS = ["random_gray", "random_rgb", "fashion_mnist", "photos"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ours, reference", [(metrics.psnr, _sk_psnr), (metrics.ssim, _sk_ssim)],
                         ids=["psnr", "ssim"])
def test_matches_skimage(kind, ours, reference, pairs):
    ref, out = pairs[kind]
    got = ours(ref, out)
    assert got.dtype == np.float64 and got.shape == (len(ref),)
    expected = [reference(a, b) for a, b in zip(ref, out, strict=True)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    assert ours(ref, out, reduce="mean") == pytest.approx(np.mean(expected), abs=TOL)


def test_ssim_matches_tensorflow(pairs):
    import tensorflow as tf

    ref, out = pairs["photos"]
    expected = tf.image.ssim(tf.constant(ref), tf.constant(out), max_val=1.0).numpy()
    np.testing.assert_allclose(metrics.ssim(ref, out), expected, atol=TOL)


def test_ssim_chunks_agree(pairs, monkeypatch):
    ref, out = pairs["fashion_mnist"]
    whole = metrics.ssim(ref, out)
    monkeypatch.setattr(metrics, "_CHUNK", 3)
    np.testing.assert_allclose(metrics.ssim(ref, out), whole, atol=1e-12)


def test_identical_images(pairs):
    ref, _ = pairs["photos"]
    with np.errstate(all="raise"):  # no divide-by-zero warning
        values = metrics.psnr(ref, ref)
    assert np.all(np.isinf(values)) and np.all(values > 0)
    assert metrics.psnr(ref, ref, reduce="mean") == math.inf
    np.testing.assert_allclose(metrics.ssim(ref, ref), 1.0, atol=1e-12)


def test_psnr_known_value_and_symmetry(pairs):
    ref = np.full((2, 12, 12, 1), 0.5, np.float32)
    out = ref + np.float32(0.1)  # MSE = 0.01 -> 20 dB
    np.testing.assert_allclose(metrics.psnr(ref, out), 20.0, atol=1e-5)
    a, b = pairs["fashion_mnist"]
    np.testing.assert_allclose(metrics.psnr(a, b), metrics.psnr(b, a))
    np.testing.assert_allclose(metrics.ssim(a, b), metrics.ssim(b, a), atol=1e-12)


def test_psnr_of_worse_restoration_is_lower(pairs):
    ref, _ = pairs["fashion_mnist"]
    mild, strong = _degrade(ref, 4, 0.02), _degrade(ref, 4, 0.2)
    assert np.all(metrics.psnr(ref, mild) > metrics.psnr(ref, strong))
    assert np.all(metrics.ssim(ref, mild) > metrics.ssim(ref, strong))


def test_data_range_other_scale(pairs):
    ref, out = pairs["random_rgb"]
    got = metrics.psnr(ref * 255, out * 255, data_range=255)
    np.testing.assert_allclose(got, metrics.psnr(ref, out), atol=1e-4)
    got = metrics.ssim(ref * 255, out * 255, data_range=255)
    np.testing.assert_allclose(got, [_sk_ssim(a * 255, b * 255, 255) for a, b in
                                     zip(ref, out, strict=True)], atol=TOL)


def test_accepts_tensors(pairs):
    import tensorflow as tf

    ref, out = pairs["random_gray"]
    np.testing.assert_allclose(metrics.psnr(tf.constant(ref), tf.constant(out)),
                               metrics.psnr(ref, out))


# --------------------------------------------------------------------------- masked metrics
@pytest.mark.parametrize("channels", [1, 3])
def test_masked_psnr_and_mae_by_hand(channels):
    rng = np.random.default_rng(5)
    ref = rng.random((6, 20, 20, channels)).astype(np.float32)
    c = corrupt.missing_pixels(ref, 0.3, seed=1)
    restored = _degrade(c.corrupted, 6, 0.05)
    got_psnr = metrics.masked_psnr(ref, restored, c.mask)
    got_mae = metrics.masked_mae(ref, restored, c.mask)
    for i in range(len(ref)):
        hole = c.mask[i, ..., 0] == 0
        diff = ref[i][hole].astype(np.float64) - restored[i][hole]  # [K, C]
        assert got_psnr[i] == pytest.approx(10 * np.log10(1 / np.mean(diff ** 2)), abs=1e-9)
        assert got_mae[i] == pytest.approx(np.mean(np.abs(diff)), abs=1e-12)
        seen = ~hole
        diff = ref[i][seen].astype(np.float64) - restored[i][seen]
        observed = metrics.masked_psnr(ref, restored, c.mask, region="observed")[i]
        assert observed == pytest.approx(10 * np.log10(1 / np.mean(diff ** 2)), abs=1e-9)
    np.testing.assert_allclose(metrics.masked_psnr(ref, restored, c.mask, region="all"),
                               metrics.psnr(ref, restored), atol=1e-9)
    assert metrics.masked_psnr(ref, restored, c.mask, reduce="mean") == pytest.approx(
        got_psnr.mean())
    # a per-channel mask [N, H, W, C] gives the same numbers
    full = np.repeat(c.mask, channels, axis=-1)
    np.testing.assert_allclose(metrics.masked_psnr(ref, restored, full), got_psnr)


def test_masked_metrics_ignore_observed_pixels():
    rng = np.random.default_rng(0)
    ref = rng.random((2, 16, 16, 1)).astype(np.float32)
    mask = corrupt.block_holes(ref, 6, seed=2).mask
    restored = np.where(mask == 1, 1 - ref, ref)  # wrong only where observed
    assert np.all(np.isinf(metrics.masked_psnr(ref, restored, mask)))
    np.testing.assert_array_equal(metrics.masked_mae(ref, restored, mask), 0.0)
    assert np.all(metrics.masked_mae(ref, restored, mask, region="observed") > 0.1)


def test_masked_metrics_without_holes():
    rng = np.random.default_rng(0)
    ref = rng.random((3, 12, 12, 1)).astype(np.float32)
    out = _degrade(ref, 1, 0.1)
    mask = np.ones((3, 12, 12, 1), np.float32)
    mask[1, 3:6, 3:6] = 0
    values = metrics.masked_psnr(ref, out, mask)
    assert np.isnan(values[0]) and np.isnan(values[2]) and np.isfinite(values[1])
    assert metrics.masked_psnr(ref, out, mask, reduce="mean") == pytest.approx(values[1])
    assert np.isnan(metrics.masked_mae(ref, out, mask)[0])
    with pytest.raises(ValueError, match="inverted"):
        metrics.masked_psnr(ref, out, np.ones_like(mask))
    with pytest.raises(ValueError, match="inverted"):
        metrics.masked_mae(ref, out, np.zeros_like(mask), region="observed")
    bool_mask = mask.astype(bool)
    np.testing.assert_array_equal(metrics.masked_psnr(ref, out, bool_mask), values)


# --------------------------------------------------------------------------- bad inputs
GOOD = np.full((2, 12, 12, 1), 0.5, np.float32)


@pytest.mark.parametrize("call,error,match", [
    (lambda: metrics.psnr(GOOD, GOOD[:1]), ValueError, "same shape"),
    (lambda: metrics.psnr(GOOD, GOOD[..., 0]), ValueError, "rank 4"),
    (lambda: metrics.psnr((GOOD * 255).astype(np.uint8), GOOD), TypeError, "reference"),
    (lambda: metrics.psnr(GOOD, GOOD.astype(int)), TypeError, "restored"),
    (lambda: metrics.psnr(GOOD, GOOD + 0.6), ValueError, "clip"),
    (lambda: metrics.psnr(GOOD, GOOD - 0.6), ValueError, r"restored must have values in \[0"),
    (lambda: metrics.psnr(GOOD * 3, GOOD), ValueError, r"reference must have values in \[0"),
    (lambda: metrics.psnr(GOOD, GOOD * np.nan), ValueError, "NaN"),
    (lambda: metrics.psnr(GOOD, GOOD, data_range=255), ValueError, "max_val=255"),
    (lambda: metrics.psnr(GOOD, GOOD, data_range=0), ValueError, "data_range"),
    (lambda: metrics.psnr(GOOD, GOOD, data_range="1"), TypeError, "data_range"),
    (lambda: metrics.psnr(GOOD, GOOD, reduce="sum"), ValueError, "reduce"),
    (lambda: metrics.ssim(GOOD, GOOD, data_range=255), ValueError, "max_val=255"),
    (lambda: metrics.ssim(GOOD[:, :10, :10], GOOD[:, :10, :10]), ValueError, "11x11"),
    (lambda: metrics.ssim(GOOD[:, :, :10], GOOD[:, :, :10]), ValueError, "window"),
    (lambda: metrics.ssim(GOOD, GOOD + 0.6), ValueError, "clip"),
    (lambda: metrics.ssim([[0.5]], GOOD), TypeError, "reference"),
    (lambda: metrics.masked_psnr(GOOD, GOOD, GOOD), ValueError, "only 0"),
    (lambda: metrics.masked_psnr(GOOD, GOOD, np.ones((2, 12, 11, 1), np.float32)),
     ValueError, "mask must have shape"),
    (lambda: metrics.masked_psnr(GOOD, GOOD, np.ones((2, 12, 12, 2), np.float32)),
     ValueError, "mask must have shape"),
    (lambda: metrics.masked_psnr(GOOD, GOOD, np.ones((2, 12, 12, 1), np.uint8)),
     TypeError, "mask"),
    (lambda: metrics.masked_psnr(GOOD, GOOD, np.ones_like(GOOD), region="holes"),
     ValueError, "region"),
    (lambda: metrics.masked_mae(GOOD, GOOD + 0.6, np.zeros_like(GOOD)), ValueError, "clip"),
    (lambda: metrics.masked_mae(GOOD, GOOD, np.zeros_like(GOOD), reduce="max"),
     ValueError, "reduce"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_masked_psnr_pooled_stays_finite_for_exact_holes():
    ref = np.zeros((2, 12, 12, 1), np.float32)
    ref[1] = 0.5
    out = ref.copy()
    out[1, :6] = 0.4  # image 0 restored exactly (MSE 0), image 1 with error 0.1 on its hole
    mask = np.ones_like(ref)
    mask[:, :6] = 0
    assert np.isinf(metrics.masked_psnr(ref, out, mask, reduce="mean"))
    pooled = metrics.masked_psnr(ref, out, mask, reduce="pooled")
    assert np.isclose(pooled, 10 * np.log10(1 / (0.01 / 2)))


def test_bootstrap_interval_covers_the_true_mean_at_about_the_nominal_rate():
    rng = np.random.default_rng(0)
    hits = 0
    for rep in range(200):
        values = rng.exponential(2.0, 60)                  # skewed, true mean 2
        lo, hi = metrics.bootstrap_interval(values, resamples=500, seed=rep)
        hits += lo <= 2.0 <= hi
    assert 0.88 <= hits / 200 <= 0.99
    v = rng.random(30)
    assert metrics.bootstrap_interval(v, seed=1) == metrics.bootstrap_interval(v, seed=1)
    with_nan = np.append(v, np.nan)
    assert metrics.bootstrap_interval(with_nan, seed=1) == metrics.bootstrap_interval(v, seed=1)
    for bad, match in ((dict(level=1.5), "level"), (dict(resamples=10), "resamples")):
        with pytest.raises(ValueError, match=match):
            metrics.bootstrap_interval(v, **bad)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.bootstrap_interval([1.0])


def test_fid_interval_brackets_the_fid_and_is_seeded():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 4))
    fake = rng.normal(0.5, 1.0, size=(300, 4))
    fid = metrics.fid_from_features(real, fake)
    lo, hi = metrics.fid_interval(real, fake, resamples=100)
    assert lo < fid < hi
    assert (lo, hi) == metrics.fid_interval(real, fake, resamples=100)
    with pytest.raises(ValueError, match="resamples"):
        metrics.fid_interval(real, fake, resamples=5)
