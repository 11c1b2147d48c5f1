import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from imgutils import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_image_grid_layout_and_labels(rng):
    images = rng.random((10, 12, 12, 1)).astype(np.float32)
    fig = viz.image_grid(images, [f"#{i}" for i in range(10)], ncols=4)
    axes = fig.axes
    assert len(axes) == 12  # 3 rows x 4 columns, two left empty
    assert axes[9].get_title() == "#9" and not axes[11].axison
    shown = axes[0].images[0].get_array()
    np.testing.assert_allclose(shown, images[0, ..., 0])
    viz.image_grid(rng.random((3, 12, 12, 3)).astype(np.float32))


def test_image_grid_rejects_bad_input(rng):
    with pytest.raises(ValueError, match="one entry per image"):
        viz.image_grid(rng.random((3, 8, 8, 1)), ["a"])
    with pytest.raises(ValueError, match="channels"):
        viz.image_grid(rng.random((3, 8, 8, 2)))
    with pytest.raises(TypeError, match="uint8"):
        viz.image_grid((rng.random((3, 8, 8, 1)) * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="rank 4"):
        viz.image_grid(rng.random((8, 8)))


def test_plot_history_from_dict_and_history():
    logs = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8]}
    fig = viz.plot_history(logs)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2  # train + validation
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), logs["val_loss"])

    class FakeHistory:
        history = logs

    assert len(viz.plot_history(FakeHistory(), ["accuracy"]).axes) == 1
    with pytest.raises(ValueError, match="not in history"):
        viz.plot_history(logs, ["psnr"])
    with pytest.raises(TypeError):
        viz.plot_history({})


def test_before_after_columns_and_shape_check(rng):
    a = rng.random((3, 16, 16, 1)).astype(np.float32)
    fig = viz.before_after({"noisy": a, "clean": a}, captions={"noisy": ["1", "2", "3"]})
    assert len(fig.axes) == 6 and fig.axes[0].get_title() == "noisy"
    with pytest.raises(ValueError, match="share N, H, W"):
        viz.before_after({"a": a, "b": a[:2]})


def test_confusion_matrix_counts():
    labels = np.array([0, 0, 1, 2, 2, 2])
    preds = np.array([0, 1, 1, 2, 0, 2])
    m = viz.confusion_matrix(labels, preds, 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert m.sum() == len(labels)
    fig = viz.plot_confusion_matrix(m, ["a", "b", "c"])
    assert fig.axes[0].get_xlabel() == "predicted"
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        viz.confusion_matrix(labels, preds + 1, 3)
    with pytest.raises(TypeError, match="integer"):
        viz.confusion_matrix(labels.astype(float), preds, 3)
    with pytest.raises(ValueError, match=r"\[2, 2\]"):
        viz.plot_confusion_matrix(m, ["a", "b"])


def test_feature_maps_rescales_each_channel(rng):
    maps = rng.normal(size=(6, 6, 4)) * 50
    fig = viz.feature_maps(maps, ncols=2)
    arr = fig.axes[0].images[0].get_array()
    assert arr.min() == 0 and arr.max() == 1
    with pytest.raises(ValueError, match=r"\[H, W, C\]"):
        viz.feature_maps(maps[None])


def test_results_table_marks_best_per_column(capsys):
    text = viz.results_table({"noisy": {"PSNR": 21.8, "SSIM": 0.5},
                              "NLM": {"PSNR": 25.9, "SSIM": 0.8},
                              "CNN": {"PSNR": 28.1}})
    lines = text.splitlines()
    assert lines[0].split() == ["PSNR", "SSIM"]
    assert "28.10*" in lines[3] and "-" in lines[3]
    assert "0.80*" in lines[2] and "25.90 " in lines[2]
    assert capsys.readouterr().out == text + "\n"
    with pytest.raises(ValueError, match="best"):
        viz.results_table({"a": {"x": 1.0}}, best="top")


def test_class_histogram_bars_are_frequencies():
    fig = viz.class_histogram({"real": np.array([0, 1, 1, 2]), "fake": np.array([1, 1, 1, 1])},
                              ["a", "b", "c"])
    bars = [patch.get_height() for patch in fig.axes[0].patches]
    np.testing.assert_allclose(bars, [0.25, 0.5, 0.25, 0, 1, 0])
    with pytest.raises(ValueError, match="class names"):
        viz.class_histogram({"x": np.array([5])}, ["a", "b"])
    with pytest.raises(TypeError):
        viz.class_histogram({}, ["a"])


def test_interval_table_marks_the_best_and_its_ties_but_never_the_floor():
    results = {"a": {"FID": (10.0, 8.0, 12.0)}, "b": {"FID": (11.0, 9.0, 13.0)},
               "c": {"FID": (30.0, 25.0, 35.0)}, "real floor": {"FID": (2.0, 1.0, 3.0)}}
    text = viz.interval_table(results, best={"FID": "min"}, fmt="{:.1f}")
    lines = {line.split()[0]: line for line in text.splitlines()[1:5]}
    assert lines["a"].endswith("*") and lines["b"].endswith("=")
    assert not lines["c"].rstrip().endswith(("*", "=")) and not lines["real"].rstrip().endswith(
        ("*", "="))
    assert "10.0 [8.0, 12.0]" in lines["a"]
    with_floor = viz.interval_table(results, best={"FID": "min"}, unranked=())
    assert with_floor.splitlines()[4].endswith("*")          # ranked only when asked to
    with pytest.raises(ValueError, match="max"):
        viz.interval_table(results, best={"FID": "lowest"})
