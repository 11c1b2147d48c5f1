"""Generation metrics against float64 references and their defining properties."""

import numpy as np
import pytest
import scipy.linalg

from imgutils import metrics


def _reference_fid(a, b):
    """The textbook formula with scipy.linalg.sqrtm (float64), as in the FID reference code."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


@pytest.mark.parametrize("n, d", [(500, 8), (300, 64)])
def test_frechet_distance_matches_scipy_reference(rng, n, d):
    a = rng.normal(size=(n, d))
    b = rng.normal(loc=0.3, scale=1.5, size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    ours = metrics.fid_from_features(a, b)
    assert abs(ours - _reference_fid(a, b)) <= 1e-6 * abs(_reference_fid(a, b))


def test_frechet_distance_of_known_gaussians():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 ; diagonal: sum over dimensions
    mu1, mu2 = np.array([0.0, 1.0]), np.array([2.0, 1.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    expected = 4.0 + (1 - 3) ** 2 + (2 - 1) ** 2
    assert np.isclose(metrics.frechet_distance(mu1, s1, mu2, s2), expected)
    assert metrics.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-9)


def test_frechet_distance_with_fewer_samples_than_dimensions(rng):
    a, b = rng.normal(size=(20, 64)), rng.normal(size=(20, 64)) + 0.5
    value = metrics.fid_from_features(a, b)
    assert np.isfinite(value) and value > 0
    assert abs(value - _reference_fid(a, b)) < 1e-6 * value + 1e-6


def test_kid_is_unbiased_near_zero_for_same_distribution(rng):
    a, b = rng.normal(size=(1000, 16)), rng.normal(size=(1000, 16))
    mean, std = metrics.kid(a, b, subsets=20, subset_size=500)
    assert abs(mean) < 3 * std + 1e-3
    shifted, _ = metrics.kid(a, b + 1.0, subsets=20, subset_size=500)
    assert shifted > 0.1


def test_kid_matches_explicit_formula(rng):
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 5)) + 0.2
    k = lambda u, v: (u @ v.T / 5 + 1) ** 3  # noqa: E731
    m = 30
    expected = ((k(x, x).sum() - np.trace(k(x, x))) / (m * (m - 1))
                + (k(y, y).sum() - np.trace(k(y, y))) / (m * (m - 1)) - 2 * k(x, y).mean())
    mean, std = metrics.kid(x, y, subsets=3, subset_size=30)
    assert np.isclose(mean, expected) and std < 1e-12  # every subset is the whole set


def test_precision_recall_detects_mode_collapse(rng):
    centres = rng.normal(scale=10, size=(10, 8))
    real = np.concatenate([c + rng.normal(size=(100, 8)) for c in centres])
    full = np.concatenate([c + rng.normal(size=(100, 8)) for c in centres])
    collapsed = centres[0] + rng.normal(size=(1000, 8))
    p_full, r_full = metrics.precision_recall(real, full)
    p_col, r_col = metrics.precision_recall(real, collapsed)
    assert p_full > 0.8 and r_full > 0.8
    assert p_col > 0.8 and r_col < 0.2  # good samples, one mode only
    with pytest.raises(ValueError, match="k must be"):
        metrics.precision_recall(real, full, k=0)


def test_classifier_score_bounds():
    confident_uniform = np.eye(10)[np.arange(1000) % 10]
    assert np.isclose(metrics.classifier_score(confident_uniform), 10.0)
    one_class = np.eye(10)[np.zeros(1000, int)]
    assert np.isclose(metrics.classifier_score(one_class), 1.0)
    with pytest.raises(ValueError, match="softmax"):
        metrics.classifier_score(np.full((5, 10), 0.5))


def test_real_floor_uses_disjoint_halves(rng):
    real = rng.normal(size=(400, 4))
    floor = metrics.real_floor(metrics.fid_from_features, real)
    assert 0 < floor < 0.5
    assert metrics.fid_from_features(real, real + 3.0) > 10 * floor


@pytest.mark.parametrize("bad, err", [
    ([[1.0, 2.0]], TypeError), (np.zeros((1, 3)), ValueError),
    (np.zeros((4, 3), np.int64), TypeError), (np.full((4, 3), np.nan), ValueError),
])
def test_bad_features_rejected(bad, err):
    with pytest.raises(err):
        metrics.fid_from_features(bad, np.zeros((4, 3)))


def test_inception_fid_says_it_is_unavailable_offline(monkeypatch, rng):
    import keras

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(RuntimeError, match="unavailable offline"):
        metrics.inception_features(rng.random((2, 28, 28, 1)).astype(np.float32))


def test_nearest_neighbours_matches_brute_force_across_chunks(rng):
    queries = rng.random((7, 5, 5, 1)).astype(np.float32)
    references = rng.random((50, 5, 5, 1)).astype(np.float32)
    references[13] = queries[2]                       # an exact copy is found at distance 0
    idx, dist = metrics.nearest_neighbours(queries, references, chunk=8)
    brute = np.sqrt(((queries.reshape(7, 1, -1).astype(np.float64)
                      - references.reshape(1, 50, -1)) ** 2).mean(-1))
    np.testing.assert_array_equal(idx, brute.argmin(1))
    np.testing.assert_allclose(dist, brute.min(1), atol=1e-6)
    assert idx[2] == 13 and dist[2] < 1e-6
    with pytest.raises(ValueError, match="same image shape"):
        metrics.nearest_neighbours(queries, rng.random((3, 4, 4, 1)))


def test_mean_pairwise_distance_matches_scipy_and_detects_collapse(rng):
    from scipy.spatial.distance import pdist

    images = rng.random((30, 4, 4, 1))
    flat = images.reshape(30, -1)
    expected = pdist(flat).mean() / np.sqrt(flat.shape[1])
    assert metrics.mean_pairwise_distance(images) == pytest.approx(expected, rel=1e-6)
    collapsed = np.repeat(images[:1], 30, axis=0)
    assert metrics.mean_pairwise_distance(collapsed) < 1e-6
    with pytest.raises(ValueError, match="at least 2"):
        metrics.mean_pairwise_distance(images[:1])
