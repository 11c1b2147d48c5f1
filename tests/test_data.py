import gzip
import pickle
import shutil

import numpy as np
import pytest

from imgutils import data
from imgutils.data import DataError

DEBIAN = data.DEBIAN_FASHION_MNIST_DIR


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_fashion_mnist_shapes_ranges_and_source(fashion):
    (x, y), (xt, yt) = fashion.train, fashion.test
    assert x.shape == (60_000, 28, 28, 1) and xt.shape == (10_000, 28, 28, 1)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() == 1.0
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert np.bincount(yt).tolist() == [1000] * 10
    assert len(fashion.class_names) == 10
    assert fashion.source  # where it came from, never a machine path check here


def test_fashion_mnist_subsets():
    ds = data.fashion_mnist(n_train=100, n_test=50)
    assert ds.train.images.shape == (100, 28, 28, 1) and ds.test.labels.shape == (50,)
    with pytest.raises(ValueError, match="n_train"):
        data.fashion_mnist(n_train=0)


def test_search_order_prefers_environment(tmp_path, monkeypatch):
    for name in data.FASHION_MNIST_FILES:
        shutil.copy(DEBIAN / name, tmp_path / name)
    monkeypatch.setenv("IMGUTILS_DATA", str(tmp_path))
    folder, where = data.find_fashion_mnist(download=False)
    assert folder == tmp_path and where == "$IMGUTILS_DATA"
    ds = data.fashion_mnist(n_test=10)
    assert ds.source == "$IMGUTILS_DATA"


def _copy_with(tmp_path, name, content: bytes):
    for other in data.FASHION_MNIST_FILES:
        shutil.copy(DEBIAN / other, tmp_path / other)
    (tmp_path / name).write_bytes(content)


def test_truncated_file_is_named_in_the_error(tmp_path):
    name = "t10k-labels-idx1-ubyte.gz"
    _copy_with(tmp_path, name, (DEBIAN / name).read_bytes()[:2000])
    with pytest.raises(DataError, match=name):
        data.fashion_mnist(data_dir=tmp_path)
    with pytest.raises(DataError, match=f"{name}.*(truncated|corrupt)"):
        data.fashion_mnist(data_dir=tmp_path, verify=False)


def test_wrong_hash_is_named_in_the_error(tmp_path):
    name = "train-labels-idx1-ubyte.gz"
    # a well-formed IDX file with the right shape but different content
    labels = np.zeros(60_000, np.uint8)
    _copy_with(tmp_path, name, gzip.compress(_idx_bytes(labels)))
    with pytest.raises(DataError, match=f"{name}.*SHA-256"):
        data.fashion_mnist(data_dir=tmp_path)


def test_missing_dataset_offline_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "nothing")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("IMGUTILS_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        data.find_fashion_mnist(download=False)
    with pytest.raises(FileNotFoundError, match="missing in data_dir"):
        data.fashion_mnist(data_dir=tmp_path)


def test_read_idx_rejects_bad_magic_and_size(tmp_path):
    good = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "ok.idx").write_bytes(_idx_bytes(good))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "ok.idx"), good)
    (tmp_path / "magic.idx").write_bytes(b"\x01\x02" + _idx_bytes(good)[2:])
    with pytest.raises(DataError, match="magic.idx.*magic"):
        data.read_idx(tmp_path / "magic.idx")
    (tmp_path / "short.idx").write_bytes(_idx_bytes(good)[:-3])
    with pytest.raises(DataError, match="short.idx.*truncated"):
        data.read_idx(tmp_path / "short.idx")


def test_mnist_parses_keras_npz(tmp_path, rng):
    x_train = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y_train, y_test = np.arange(12) % 10, np.arange(5)
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train.astype(np.uint8),
             x_test=x_test, y_test=y_test.astype(np.uint8))
    with pytest.raises(DataError, match="mnist.npz.*SHA-256"):   # not the published file
        data.mnist(data_dir=tmp_path)
    ds = data.mnist(data_dir=tmp_path, verify=False)
    assert ds.train.images.shape == (12, 28, 28, 1) and ds.train.images.dtype == np.float32
    np.testing.assert_allclose(ds.train.images[..., 0] * 255, x_train, atol=1e-4)
    np.testing.assert_array_equal(ds.test.labels, y_test)
    np.savez(tmp_path / "mnist_bad.npz", x_train=x_train)
    with pytest.raises(DataError, match="mnist_bad.npz"):
        data.read_mnist_npz(tmp_path / "mnist_bad.npz")


def _write_cifar_batch(path, images_chw: np.ndarray, labels, protocol=None):
    batch = {b"data": images_chw.reshape(len(images_chw), -1), b"labels": list(labels),
             b"batch_label": b"test", b"filenames": [b"a.png"] * len(labels)}
    with open(path, "wb") as fh:
        pickle.dump(batch, fh, protocol=protocol)


def test_cifar10_parses_python_batches(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    chunks = []
    for i in range(1, 6):
        imgs = rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
        chunks.append(imgs)
        _write_cifar_batch(folder / f"data_batch_{i}", imgs, [i, i, i])
    test_imgs = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    _write_cifar_batch(folder / "test_batch", test_imgs, [7, 8])
    ds = data.cifar10(data_dir=tmp_path)
    assert ds.train.images.shape == (15, 32, 32, 3)
    # channel-first rows become channel-last pixels
    np.testing.assert_allclose(ds.train.images[0] * 255, chunks[0][0].transpose(1, 2, 0),
                               atol=1e-4)
    assert ds.test.labels.tolist() == [7, 8] and ds.class_names[0] == "airplane"


def test_a_given_data_folder_is_the_only_place_looked_at(tmp_path, monkeypatch):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(DEBIAN / "t10k-labels-idx1-ubyte.gz", partial)
    monkeypatch.setenv("IMGUTILS_DATA", str(partial))
    # the Debian copy exists, but $IMGUTILS_DATA was given: name what it lacks, no fall-back
    with pytest.raises(FileNotFoundError, match="IMGUTILS_DATA.*train-images-idx3-ubyte.gz"):
        data.fashion_mnist(n_test=1)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    np.savez(tmp_path / "keras" / "datasets" / "mnist.npz", x_train=np.zeros((1, 28, 28),
                                                                             np.uint8))
    with pytest.raises(FileNotFoundError, match=r"IMGUTILS_DATA.*mnist.npz is not there"):
        data.mnist()
    with pytest.raises(FileNotFoundError, match=r"IMGUTILS_DATA.*cifar-10-batches-py"):
        data.cifar10()
    folder = partial / "cifar-10-batches-py"
    folder.mkdir()
    _write_cifar_batch(folder / "test_batch", np.zeros((1, 3, 32, 32), np.uint8), [0])
    with pytest.raises(FileNotFoundError, match="data_batch_1, data_batch_2"):
        data.cifar10()


def test_the_in_process_cache_notices_a_file_that_changed(tmp_path):
    for name in data.FASHION_MNIST_FILES:
        shutil.copy(DEBIAN / name, tmp_path / name)
    assert data.fashion_mnist(n_test=3, data_dir=tmp_path).test.images.shape[0] == 3
    name = "t10k-labels-idx1-ubyte.gz"
    (tmp_path / name).write_bytes((DEBIAN / name).read_bytes()[:2000])   # changed on disk
    with pytest.raises(DataError, match=name):
        data.fashion_mnist(n_test=3, data_dir=tmp_path)


def test_cifar10_refuses_malicious_pickle(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump({"data": shutil.rmtree}, fh)
    with pytest.raises(DataError, match="refusing to unpickle"):
        data.read_cifar_batch(folder / "test_batch")


def test_photo_patches_split_by_source_image():
    assert not set(data.PHOTO_SOURCES["train"]) & set(data.PHOTO_SOURCES["test"])
    train = data.photo_patches(32, 60, split="train", seed=1)
    test = data.photo_patches(32, 20, split="test", seed=1)
    assert train.shape == (60, 32, 32, 3) and test.shape == (20, 32, 32, 3)
    assert train.dtype == np.float32 and train.min() >= 0 and train.max() <= 1
    np.testing.assert_array_equal(train, data.photo_patches(32, 60, split="train", seed=1))
    assert not np.array_equal(train, data.photo_patches(32, 60, split="train", seed=2))
    # no test patch appears among the training patches
    flat_train = train.reshape(len(train), -1)
    for patch in test.reshape(len(test), -1):
        assert np.abs(flat_train - patch).sum(axis=1).min() > 1.0


def test_photo_patches_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        data.photo_patches(16, 4, split="validation")
    with pytest.raises(ValueError, match="smaller than the patch size"):
        data.photo_patches(2000, 1)
    with pytest.raises(TypeError, match="size"):
        data.photo_patches(16.0, 4)
    with pytest.raises(ValueError, match="unknown photo"):
        data.photo_patches(16, 4, sources=("no_such_picture",))


def test_make_dataset_batches_and_validates(rng):
    images = rng.random((10, 8, 8, 1)).astype(np.float32)
    labels = np.arange(10)
    batches = list(data.make_dataset(images, labels, batch_size=4, shuffle=False))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[0][1].numpy(), [0, 1, 2, 3])
    shuffled = np.concatenate([b[1].numpy() for b in data.make_dataset(images, labels,
                                                                       batch_size=4)])
    assert sorted(shuffled.tolist()) == list(range(10))
    endless = data.make_dataset(images, batch_size=4, repeat=True, drop_remainder=True)
    assert len(list(endless.take(7))) == 7
    with pytest.raises(TypeError, match="uint8"):
        data.make_dataset((images * 255).astype(np.uint8))
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        data.make_dataset(images * 2)
    with pytest.raises(ValueError, match="labels must have 10"):
        data.make_dataset(images, labels[:5])


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_batch_of_any_protocol_parses(tmp_path, rng, protocol):
    imgs = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    _write_cifar_batch(tmp_path / "b", imgs, [1, 2], protocol=protocol)
    images, labels = data.read_cifar_batch(tmp_path / "b")
    np.testing.assert_array_equal(images[1], imgs[1].transpose(1, 2, 0))
    assert labels.tolist() == [1, 2]


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_batch_that_would_run_code_is_refused_before_running(tmp_path, protocol):
    """The attack of issue 13: a batch whose unpickling calls a numpy helper that execs code."""
    marker = tmp_path / "pwned"

    class Attack:
        def __reduce__(self):
            from numpy.testing._private.utils import runstring
            return runstring, (f"open({str(marker)!r}, 'w').write('x')", {})

    with open(tmp_path / "evil", "wb") as fh:
        pickle.dump({b"data": Attack(), b"labels": [0]}, fh, protocol=protocol)
    with pytest.raises(DataError, match="evil: refusing to unpickle numpy.testing"):
        data.read_cifar_batch(tmp_path / "evil")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["download_all", "lbp_frontal_face", "../astronaut", 3])
def test_load_photo_accepts_only_the_listed_photographs(name, monkeypatch):
    import skimage.data

    def forbidden(*args, **kwargs):
        raise AssertionError("skimage.data was called for a name that is not a listed photo")

    monkeypatch.setattr(skimage.data, "download_all", forbidden)
    with pytest.raises(ValueError, match="unknown photo"):
        data.load_photo(name)
