"""Issue 13 (part of item 3): sizes and arguments that cannot be served are clear errors,
not inf / nan / 0.0 or a path through the origin."""

import numpy as np
import pytest

from imgutils import metrics, widgets
from imgutils.train import resumable_callbacks


@pytest.mark.parametrize("chunk", [0, -1, 2.5, True])
def test_nearest_neighbours_refuses_a_bad_chunk(chunk, rng):
    x = rng.uniform(size=(4, 5, 5, 1)).astype("f4")
    with pytest.raises((TypeError, ValueError), match="chunk"):
        metrics.nearest_neighbours(x, x, chunk=chunk)


@pytest.mark.parametrize("max_images", [1, 0, -3])
def test_mean_pairwise_distance_needs_two_images_to_compare(max_images, rng):
    x = rng.uniform(size=(6, 5, 5, 1)).astype("f4")
    with pytest.raises(ValueError, match="max_images"):
        metrics.mean_pairwise_distance(x, max_images=max_images)
    assert metrics.mean_pairwise_distance(x, max_images=2) > 0


def test_slerp_between_antipodal_vectors_stays_on_the_shell(rng):
    z = rng.normal(size=16)
    path = widgets.interpolate(z, -z, steps=9)
    norms = np.linalg.norm(path, axis=1)
    np.testing.assert_allclose(norms, np.linalg.norm(z), rtol=1e-5)
    np.testing.assert_allclose(path[0], z, rtol=1e-5)
    np.testing.assert_allclose(path[-1], -z, rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(path))


@pytest.mark.parametrize("backup_dir", [None, 5, True, ""])
def test_resumable_callbacks_need_a_folder(backup_dir):
    with pytest.raises(TypeError, match="backup_dir"):
        resumable_callbacks(backup_dir)


@pytest.mark.parametrize("save_freq", [0, -2, "batch", 1.5, True])
def test_resumable_callbacks_refuse_a_bad_save_freq(save_freq, tmp_path):
    with pytest.raises(ValueError, match="save_freq"):
        resumable_callbacks(tmp_path / "b", save_freq=save_freq)
    assert resumable_callbacks(tmp_path / "b", save_freq=3)


def test_sizes_that_cannot_be_served_are_refused_with_the_bound(rng):
    from imgutils import baselines, corrupt

    x = rng.uniform(size=(2, 28, 28, 1)).astype("f4")
    with pytest.raises(ValueError, match=f"at most {corrupt.MAX_STROKES}"):
        corrupt.irregular_holes(x, strokes=10 ** 5)
    assert corrupt.irregular_holes(x, strokes=corrupt.MAX_STROKES).mask.shape == (2, 28, 28, 1)
    with pytest.raises(ValueError, match=f"at most {baselines.MAX_RL_ITERATIONS}"):
        baselines.richardson_lucy_deblur(x, 1.0, iterations=10 ** 9)


def test_frechet_distance_refuses_matrices_that_are_not_covariances(rng):
    mu = np.zeros(3)
    good = np.cov(rng.normal(size=(50, 3)), rowvar=False)
    not_psd = np.diag([1.0, -0.5, 1.0])
    asymmetric = good + np.triu(np.ones((3, 3)), 1)
    with pytest.raises(ValueError, match="sigma2 must be positive semi-definite"):
        metrics.frechet_distance(mu, good, mu, not_psd)
    with pytest.raises(ValueError, match="sigma1 must be a symmetric"):
        metrics.frechet_distance(mu, asymmetric, mu, good)
    with pytest.raises(ValueError, match="mu1 contains NaN"):
        metrics.frechet_distance(mu + np.nan, good, mu, good)
    assert metrics.frechet_distance(mu, good, mu, good) == pytest.approx(0.0, abs=1e-9)
