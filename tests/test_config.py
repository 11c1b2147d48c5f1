import numpy as np
import pytest

from imgutils import config


def test_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("IMGUTILS_PROFILE", "full")
    profile = config.resolve_profile("smoke")
    assert (profile.name, profile.source) == ("smoke", "argument")


def test_environment_used_when_no_argument(monkeypatch):
    monkeypatch.setenv("IMGUTILS_PROFILE", " CPU ")
    profile = config.resolve_profile()
    assert (profile.name, profile.source) == ("cpu", "environment")


def test_auto_profile_follows_gpu(monkeypatch):
    monkeypatch.delenv("IMGUTILS_PROFILE", raising=False)
    monkeypatch.setattr(config, "gpu_available", lambda: True)
    assert config.resolve_profile().name == "full"
    monkeypatch.setattr(config, "gpu_available", lambda: False)
    profile = config.resolve_profile()
    assert (profile.name, profile.source) == ("cpu", "auto")


def test_unknown_profile_lists_valid_ones(monkeypatch):
    with pytest.raises(ValueError, match="smoke, cpu, full"):
        config.resolve_profile("fast")
    monkeypatch.setenv("IMGUTILS_PROFILE", "gpu")
    with pytest.raises(ValueError, match="IMGUTILS_PROFILE"):
        config.resolve_profile()
    with pytest.raises(TypeError, match="profile"):
        config.resolve_profile(3)


def test_pick_returns_the_profile_value():
    assert config.Profile("cpu", "argument").pick(smoke=1, cpu=2, full=3) == 2


def test_seed_everything_repeats_random_streams():
    import tensorflow as tf

    config.seed_everything(7)
    a = (np.random.rand(3), tf.random.uniform((3,)).numpy())
    config.seed_everything(7)
    b = (np.random.rand(3), tf.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(TypeError, match="seed"):
        config.seed_everything(1.5)
    with pytest.raises(ValueError, match="seed"):
        config.seed_everything(-1)


def test_environment_report_prints_versions_not_paths(capsys):
    import tensorflow as tf

    report = config.environment_report("smoke")
    out = capsys.readouterr().out
    assert report["tensorflow"] == tf.__version__
    assert "smoke (from argument)" in out
    assert "/" not in out.replace("from ", "")  # no machine paths
