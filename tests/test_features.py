import numpy as np
import pytest

from imgutils import corrupt, features


@pytest.mark.slow
def test_generation_report_separates_real_from_damaged(fashion):
    real = fashion.test.images[:2000]
    good = fashion.train.images[:1000]
    blurred = corrupt.gaussian_blur(good, 2.0).corrupted
    report_good = features.generation_report(real, good)
    report_bad = features.generation_report(real, blurred)
    floor = report_good["real floor"]["FID-FM"]
    assert report_good["generated"]["FID-FM"] < 3 * floor + 1.0
    assert report_bad["generated"]["FID-FM"] > 10 * report_good["generated"]["FID-FM"]
    assert abs(report_good["generated"]["KID x1000"]) < 20  # measured: -1.8 (floor -6.4)
    assert report_bad["generated"]["KID x1000"] > 200       # measured: 813
    assert report_good["generated"]["precision"] > 0.6
    assert 8 < report_good["generated"]["classifier score"] <= 10
    assert report_bad["generated"]["classifier score"] < report_good["generated"][
        "classifier score"]


def test_features_shape_and_input_checks(fashion):
    f = features.fashion_features(fashion.test.images[:5])
    assert f.shape == (5, 128) and np.all(f >= 0)  # after ReLU
    with pytest.raises(ValueError, match="28x28"):
        features.fashion_features(np.zeros((2, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match="at least 2 x"):
        features.generation_report(fashion.test.images[:10], fashion.test.images[:10])
