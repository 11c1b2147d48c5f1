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


def test_generation_intervals_rank_real_above_blurred_and_agree_with_the_report(fashion):
    real = fashion.test.images[:1200]
    good = fashion.train.images[:600]
    blurred = corrupt.gaussian_blur(good, 2.0).corrupted
    table = features.generation_intervals(real, {"train images": good, "blurred": blurred},
                                          resamples=200, fid_resamples=20)
    assert list(table) == ["train images", "blurred", "real floor"]
    for row in table.values():
        assert row["FID-FM"][1] <= row["FID-FM"][2]   # (FID's bootstrap is biased upward:
        for column in ("precision", "recall"):        # its interval may miss the point value)
            value, lo, hi = row[column]
            assert lo <= value <= hi
    good_fid, bad_fid = table["train images"]["FID-FM"], table["blurred"]["FID-FM"]
    assert good_fid[2] < bad_fid[1]               # the intervals separate them
    assert table["train images"]["recall"][0] > table["blurred"]["recall"][0]
    # the same reference half as generation_report: the point values agree with it
    report = features.generation_report(real, good)
    assert np.isclose(table["train images"]["FID-FM"][0], report["generated"]["FID-FM"])
    assert np.isclose(table["train images"]["precision"][0], report["generated"]["precision"])
    assert np.isclose(table["real floor"]["recall"][0], report["real floor"]["recall"])
    with pytest.raises(ValueError, match="same number"):
        features.generation_intervals(real, {"a": good, "b": good[:10]})
    with pytest.raises(ValueError, match="at least 2 x"):
        features.generation_intervals(real[:100], {"a": good})
    with pytest.raises(TypeError, match="non-empty dict"):
        features.generation_intervals(real, good)
