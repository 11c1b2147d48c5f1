"""Data sets, offline first, and tf.data pipelines.

Every loader returns ``float32`` images ``[N, H, W, C]`` in ``[0, 1]`` and ``int64`` labels.

* ``fashion_mnist()``: searched in ``$IMGUTILS_DATA``, then ``/usr/share/datasets/fashion-mnist``
  (Debian package ``dataset-fashion-mnist``), then the Keras cache, then downloaded by Keras.
  The SHA-256 of each file is verified: a wrong or truncated file is an error naming the file.
* ``mnist()``, ``cifar10()``: the Keras files (``mnist.npz``, ``cifar-10-batches-py``), found in
  ``data_dir`` / ``$IMGUTILS_DATA`` / the Keras cache or downloaded (online, e.g. Colab); a
  local ``mnist.npz`` is hash-checked too. A given ``data_dir`` or ``$IMGUTILS_DATA`` is the
  only place looked at: a missing file there is an error naming it, never a fall-back.
* ``photo_patches(size)``: random crops of the colour photographs shipped inside the
  scikit-image wheel; train and test crops come from *different* photographs.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import pickle
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .validation import as_images, as_labels, flag, optional_count, positive_int

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)

#: SHA-256 of the four gzipped IDX files (as shipped by Zalando, Debian and Keras).
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz":
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz":
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz":
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz":
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_FASHION_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"

#: scikit-image pictures used for colour patches; train and test never share a photograph.
PHOTO_SOURCES = {
    "train": ("astronaut", "coffee", "rocket", "retina", "hubble_deep_field",
              "immunohistochemistry"),
    "test": ("chelsea", "stereo_motorcycle"),
}


class DataError(ValueError):
    """A data file is missing, corrupt or not what it claims to be."""


class Split(NamedTuple):
    """images: float32 [N, H, W, C] in [0, 1]; labels: int64 [N]."""

    images: np.ndarray
    labels: np.ndarray


class Dataset(NamedTuple):
    """``(x_train, y_train), (x_test, y_test) = dataset`` works as with Keras."""

    train: Split
    test: Split
    class_names: tuple[str, ...]
    source: str


# --------------------------------------------------------------------------- helpers
def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def keras_cache_dir() -> Path:
    """The Keras data-set cache: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse a (gzipped) IDX file (the MNIST / Fashion-MNIST format) into a uint8 array.

    Raises ``DataError`` naming the file if it is truncated, not gzip, or has a bad header.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise
    except (OSError, EOFError) as exc:
        raise DataError(f"{path.name}: cannot read ({exc}); the file is corrupt or truncated; "
                        f"delete it and fetch it again") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path.name}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path.name}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path.name}: expected {expected} bytes for shape {shape}, "
                        f"found {len(raw)}; the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _fashion_candidates(data_dir: str | os.PathLike | None) -> list[tuple[str, Path]]:
    """A given ``data_dir`` alone, else a given ``$IMGUTILS_DATA`` alone, else the Debian
    folder and the Keras cache."""
    if data_dir is not None:
        return [("data_dir argument", Path(data_dir))]
    env = os.environ.get("IMGUTILS_DATA")
    if env:
        return [("$IMGUTILS_DATA", Path(env) / "fashion-mnist"), ("$IMGUTILS_DATA", Path(env))]
    return [("Debian package dataset-fashion-mnist", DEBIAN_FASHION_MNIST_DIR),
            ("Keras cache", keras_cache_dir() / "fashion-mnist")]


def find_fashion_mnist(data_dir: str | os.PathLike | None = None,
                       download: bool = True) -> tuple[Path, str]:
    """Return ``(folder, where)`` of the first folder holding the four Fashion-MNIST files.

    Search order: ``data_dir``, ``$IMGUTILS_DATA`` (``/fashion-mnist`` or itself), the Debian
    folder, the Keras cache, and finally a Keras download (``download=True``). A ``data_dir``
    or ``$IMGUTILS_DATA`` that is given is the only place looked at: if it lacks a file, the
    error names the file (no silent fall-back to another copy).
    """
    for where, folder in _fashion_candidates(data_dir):
        if all((folder / name).is_file() for name in FASHION_MNIST_FILES):
            return folder, where
    if data_dir is not None:
        missing = [n for n in FASHION_MNIST_FILES if not (Path(data_dir) / n).is_file()]
        raise FileNotFoundError(f"Fashion-MNIST files missing in data_dir {data_dir}: "
                                f"{', '.join(missing)}")
        # (a given place is the only place: never a silent fall-back to another copy)
    env = os.environ.get("IMGUTILS_DATA")
    if env:
        folder = Path(env) / "fashion-mnist" if (Path(env) / "fashion-mnist").is_dir() else Path(
            env)
        missing = [n for n in FASHION_MNIST_FILES if not (folder / n).is_file()]
        raise FileNotFoundError(f"$IMGUTILS_DATA is set to {env}, but {folder} lacks the "
                                f"Fashion-MNIST files {', '.join(missing)}; add them there, or "
                                "unset IMGUTILS_DATA to use the Debian package or Keras cache")
    if download:
        try:
            import keras

            for name in FASHION_MNIST_FILES:
                keras.utils.get_file(name, origin=KERAS_FASHION_MNIST_URL + name,
                                     cache_subdir="datasets/fashion-mnist")
            folder = keras_cache_dir() / "fashion-mnist"
            if all((folder / name).is_file() for name in FASHION_MNIST_FILES):
                return folder, "Keras download"
        except Exception as exc:  # offline: no network, DNS failure, HTTP error ...
            reason = f" (download failed: {type(exc).__name__}: {exc})"
        else:
            reason = ""
    else:
        reason = " (download disabled)"
    raise FileNotFoundError(
        "Fashion-MNIST not found" + reason + ". Offline, install it with "
        "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put the four files "
        f"{', '.join(FASHION_MNIST_FILES)} in a folder and set IMGUTILS_DATA to it."
    )


def _file_stamps(folder: Path, names) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime_ns) of each file: the in-process caches key on it, so a file that
    changed on disk (replaced, truncated, re-downloaded) is read and verified again."""
    stamps = []
    for name in names:
        stat = (folder / name).stat()
        stamps.append((name, stat.st_size, stat.st_mtime_ns))
    return tuple(stamps)


def _load_fashion_arrays(folder: str, verify: bool) -> dict[str, np.ndarray]:
    return _load_fashion_cached(folder, verify, _file_stamps(Path(folder), FASHION_MNIST_FILES))


@functools.lru_cache(maxsize=4)
def _load_fashion_cached(folder: str, verify: bool, stamps) -> dict[str, np.ndarray]:
    del stamps                                         # part of the cache key only
    arrays = {}
    for name, expected in FASHION_MNIST_FILES.items():
        path = Path(folder) / name
        if verify:
            actual = sha256_file(path)
            if actual != expected:
                raise DataError(
                    f"{name} in {folder} has SHA-256 {actual[:12]}..., expected "
                    f"{expected[:12]}...: the file is corrupt, truncated or not Fashion-MNIST; "
                    "delete it and fetch it again"
                )
        arrays[name] = read_idx(path)
    for kind in ("train", "t10k"):
        n_images = arrays[f"{kind}-images-idx3-ubyte.gz"].shape[0]
        n_labels = arrays[f"{kind}-labels-idx1-ubyte.gz"].shape[0]
        if n_images != n_labels:
            raise DataError(f"{kind}: {n_images} images but {n_labels} labels in {folder}")
    return arrays


def _to_unit_float(images_uint8: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W(, C)] -> float32 [N, H, W, C] in [0, 1]."""
    images = images_uint8.astype(np.float32) / np.float32(255.0)
    return images[..., None] if images.ndim == 3 else images


def _subset(images: np.ndarray, labels: np.ndarray, n: int | None) -> Split:
    if n is not None:
        images, labels = images[:n], labels[:n]
    return Split(images, labels.astype(np.int64))


def fashion_mnist(n_train: int | None = None, n_test: int | None = None, *,
                  data_dir: str | os.PathLike | None = None, verify: bool = True,
                  download: bool = True) -> Dataset:
    """Fashion-MNIST (Xiao et al. 2017): 60,000 train and 10,000 test images, 10 classes.

    Returns a ``Dataset`` with images float32 ``[N, 28, 28, 1]`` in ``[0, 1]`` and labels
    int64 ``[N]``; ``n_train`` / ``n_test`` keep the first images (for quick runs).
    """
    n_train = optional_count(n_train, "n_train")
    n_test = optional_count(n_test, "n_test")
    verify, download = flag(verify, "verify"), flag(download, "download")
    folder, where = find_fashion_mnist(data_dir, download=download)
    arrays = _load_fashion_arrays(str(folder), verify)
    train = _subset(_to_unit_float(arrays["train-images-idx3-ubyte.gz"]),
                    arrays["train-labels-idx1-ubyte.gz"], n_train)
    test = _subset(_to_unit_float(arrays["t10k-images-idx3-ubyte.gz"]),
                   arrays["t10k-labels-idx1-ubyte.gz"], n_test)
    return Dataset(train, test, FASHION_MNIST_CLASSES, where)


# --------------------------------------------------------------------------- MNIST
def read_mnist_npz(path: str | os.PathLike) -> tuple[tuple[np.ndarray, np.ndarray],
                                                      tuple[np.ndarray, np.ndarray]]:
    """Parse the Keras ``mnist.npz`` (keys x_train, y_train, x_test, y_test; uint8)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            out = tuple((f[f"x_{s}"], f[f"y_{s}"]) for s in ("train", "test"))
    except FileNotFoundError:
        raise
    except KeyError as exc:
        raise DataError(f"{path.name}: missing array {exc} (expected x_train, y_train, "
                        "x_test, y_test)") from exc
    except Exception as exc:
        raise DataError(f"{path.name}: not a readable .npz file ({exc})") from exc
    for (x, y), split in zip(out, ("train", "test"), strict=True):
        if x.dtype != np.uint8 or x.ndim != 3 or y.shape != (x.shape[0],):
            raise DataError(f"{path.name}: x_{split} must be uint8 [N, 28, 28] with y_{split} "
                            f"[N]; got {x.dtype} {x.shape} and {y.shape}")
    return out  # type: ignore[return-value]


def mnist(n_train: int | None = None, n_test: int | None = None, *,
          data_dir: str | os.PathLike | None = None, verify: bool = True) -> Dataset:
    """MNIST digits as float32 ``[N, 28, 28, 1]`` in ``[0, 1]`` (needs a download once).

    A local ``mnist.npz`` is checked against the published SHA-256 (``verify=False`` skips
    that, e.g. for a small file of your own in the same format)."""
    n_train = optional_count(n_train, "n_train")
    n_test = optional_count(n_test, "n_test")
    path, where = _find_or_download("mnist.npz", data_dir, MNIST_URL,
                                    MNIST_SHA256 if flag(verify, "verify") else None)
    (x_tr, y_tr), (x_te, y_te) = read_mnist_npz(path)
    return Dataset(_subset(_to_unit_float(x_tr), y_tr, n_train),
                   _subset(_to_unit_float(x_te), y_te, n_test), tuple("0123456789"), where)


# --------------------------------------------------------------------------- CIFAR-10
#: The only globals a CIFAR-10 python batch (a pickled dict of bytes, lists and one uint8
#: array; protocol 2 as distributed, or any protocol NumPy 1.x / 2.x writes) may name: array
#: and dtype reconstruction. Anything else, e.g. ``numpy.testing`` helpers that run code,
#: is refused before it is looked up.
_CIFAR_PICKLE_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("builtins", "bytes"),
    ("builtins", "bytearray"),
})


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Parse one CIFAR-10 python batch: ``uint8 [N, 32, 32, 3]`` images and labels ``[N]``.

    The pickle is read with an unpickler that resolves only ``_CIFAR_PICKLE_GLOBALS``, so a
    crafted file cannot run code; anything else is a ``DataError`` naming the file.
    """
    path = Path(path)

    class _Restricted(pickle.Unpickler):
        def find_class(self, module, name):  # exactly what a CIFAR-10 batch needs
            if (module, name) in _CIFAR_PICKLE_GLOBALS:
                return super().find_class(module, name)
            raise DataError(f"{path.name}: refusing to unpickle {module}.{name} (a CIFAR-10 "
                            "batch holds only a dict of bytes, lists and a uint8 array)")

    try:
        with open(path, "rb") as fh:
            batch = _Restricted(fh, encoding="bytes").load()
    except FileNotFoundError:
        raise
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path.name}: not a CIFAR-10 batch ({exc})") from exc
    if not isinstance(batch, dict):
        raise DataError(f"{path.name}: expected a dict, got {type(batch).__name__}")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path.name}: missing 'data' or 'labels'")
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path.name}: 'data' must be uint8 [N, 3072], got {data.dtype} "
                        f"{data.shape}")
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path.name}: {data.shape[0]} images but {labels.shape} labels")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def read_cifar10_dir(folder: str | os.PathLike) -> tuple[tuple[np.ndarray, np.ndarray],
                                                         tuple[np.ndarray, np.ndarray]]:
    """Parse ``cifar-10-batches-py`` (data_batch_1..5 and test_batch)."""
    folder = Path(folder)
    parts = [read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    return (x_train, y_train), read_cifar_batch(folder / "test_batch")


def cifar10(n_train: int | None = None, n_test: int | None = None, *,
            data_dir: str | os.PathLike | None = None) -> Dataset:
    """CIFAR-10 as float32 ``[N, 32, 32, 3]`` in ``[0, 1]`` (needs a download once)."""
    n_train = optional_count(n_train, "n_train")
    n_test = optional_count(n_test, "n_test")
    folder, where = _find_cifar10(data_dir)
    (x_tr, y_tr), (x_te, y_te) = read_cifar10_dir(folder)
    return Dataset(_subset(_to_unit_float(x_tr), y_tr, n_train),
                   _subset(_to_unit_float(x_te), y_te, n_test), CIFAR10_CLASSES, where)


def _search_dirs(data_dir) -> list[tuple[str, Path]]:
    """Where to look: a given ``data_dir`` or ``$IMGUTILS_DATA`` alone, else the Keras cache."""
    if data_dir is not None:
        return [("data_dir argument", Path(data_dir))]
    if os.environ.get("IMGUTILS_DATA"):
        return [("$IMGUTILS_DATA", Path(os.environ["IMGUTILS_DATA"]))]
    return [("Keras cache", keras_cache_dir())]


def _not_in_given_folder(name: str, data_dir) -> None:
    if data_dir is not None:
        raise FileNotFoundError(f"{name} not found in data_dir {data_dir}")
    env = os.environ.get("IMGUTILS_DATA")
    if env:
        raise FileNotFoundError(f"$IMGUTILS_DATA is set to {env}, but {name} is not there; add "
                                "it, or unset IMGUTILS_DATA to use the Keras cache (or a "
                                "download)")


def _verified(path: Path, sha256: str | None) -> Path:
    if sha256 is None:
        return path
    actual = sha256_file(path)
    if actual != sha256:
        raise DataError(f"{path.name} in {path.parent} has SHA-256 {actual[:12]}..., expected "
                        f"{sha256[:12]}...: the file is corrupt, truncated or not the "
                        "published one; delete it and fetch it again")
    return path


def _find_or_download(name: str, data_dir, url: str, sha256: str | None) -> tuple[Path, str]:
    """A local copy (hash-checked like Fashion-MNIST) or a Keras download (hash-checked by
    Keras)."""
    for where, folder in _search_dirs(data_dir):
        if (folder / name).is_file():
            return _verified(folder / name, sha256), where
    _not_in_given_folder(name, data_dir)
    import keras

    try:
        path = keras.utils.get_file(name, origin=url, file_hash=sha256)
    except Exception as exc:
        raise FileNotFoundError(f"{name} is not cached and could not be downloaded from {url} "
                                f"({type(exc).__name__}: {exc}); it needs a network "
                                "connection (e.g. Colab) once") from exc
    return Path(path), "Keras download"


def _find_cifar10(data_dir) -> tuple[Path, str]:
    for where, folder in _search_dirs(data_dir):
        for candidate in (folder / "cifar-10-batches-py",
                          folder / "cifar-10-batches-py-target" / "cifar-10-batches-py"):
            if (candidate / "test_batch").is_file():
                missing = [n for n in CIFAR10_BATCHES if not (candidate / n).is_file()]
                if missing:
                    raise FileNotFoundError(f"{candidate} ({where}) lacks the CIFAR-10 files "
                                            f"{', '.join(missing)}")
                return candidate, where
    _not_in_given_folder("cifar-10-batches-py", data_dir)
    import keras

    try:
        path = keras.utils.get_file("cifar-10-batches-py-target", origin=CIFAR10_URL,
                                    extract=True, file_hash=CIFAR10_SHA256)
    except Exception as exc:
        raise FileNotFoundError(f"CIFAR-10 is not cached and could not be downloaded from "
                                f"{CIFAR10_URL} ({type(exc).__name__}: {exc}); it needs a "
                                "network connection (e.g. Colab) once") from exc
    return Path(path) / "cifar-10-batches-py", "Keras download"


# --------------------------------------------------------------------------- photos
@functools.lru_cache(maxsize=16)
def load_photo(name: str) -> np.ndarray:
    """One colour photograph shipped with scikit-image: float32 ``[H, W, 3]`` in ``[0, 1]``."""
    import skimage.data

    known = PHOTO_SOURCES["train"] + PHOTO_SOURCES["test"]
    if not isinstance(name, str) or name not in known:   # never any other skimage.data call
        raise ValueError(f"unknown photo {name!r}; expected one of {', '.join(known)}")
    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo_motorcycle -> (left, right, disparity)
        image = image[0]
    if image.ndim != 3 or image.shape[-1] < 3:
        raise ValueError(f"photo {name!r} is not a colour image (shape {image.shape})")
    image = image[..., :3]
    return (image.astype(np.float32) / np.float32(255.0)) if image.dtype == np.uint8 else \
        image.astype(np.float32)


def photo_patches(size: int, n: int = 1000, *, split: str = "train", seed: int = 0,
                  sources: tuple[str, ...] | None = None, scale: float = 1.0) -> np.ndarray:
    """Random ``size x size`` crops of colour photographs: float32 ``[n, size, size, 3]`` in [0, 1].

    ``split`` chooses the photographs (``PHOTO_SOURCES``): train and test crops never come
    from the same photograph. ``scale < 1`` downsizes the photos first (more content per
    patch). Crops are spread evenly over the photographs and are seeded.
    """
    size = positive_int(size, "size", minimum=2)
    n = positive_int(n, "n")
    if split not in PHOTO_SOURCES:
        raise ValueError(f"split must be one of {tuple(PHOTO_SOURCES)}, got {split!r}")
    if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
        raise ValueError(f"scale must be a number in (0, 1], got {scale!r}")
    names = PHOTO_SOURCES[split] if sources is None else tuple(sources)
    if not names:
        raise ValueError("sources must name at least one photograph")
    rng = np.random.default_rng(seed)
    photos = []
    for name in names:
        photo = load_photo(name)
        if scale != 1:
            from skimage.transform import rescale

            photo = rescale(photo, scale, channel_axis=-1, anti_aliasing=True).astype(np.float32)
        if min(photo.shape[:2]) < size:
            raise ValueError(f"photo {name!r} ({photo.shape[0]}x{photo.shape[1]}) is smaller "
                             f"than the patch size {size}")
        photos.append(photo)
    owner = np.arange(n) % len(photos)
    out = np.empty((n, size, size, 3), np.float32)
    for i, k in enumerate(owner):
        photo = photos[k]
        top = rng.integers(0, photo.shape[0] - size + 1)
        left = rng.integers(0, photo.shape[1] - size + 1)
        out[i] = photo[top:top + size, left:left + size]
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------- tf.data
def make_dataset(images, labels=None, *, batch_size: int = 128, shuffle: bool = True,
                 seed: int = 0, cache: bool = True, repeat: bool = False,
                 drop_remainder: bool = False, augment=None):
    """A ``tf.data`` pipeline: (cache) -> (shuffle) -> (repeat) -> batch -> (map) -> prefetch.

    images: float32 ``[N, H, W, C]`` in [0, 1]; labels: int ``[N]`` or ``None`` (then the
    dataset yields image batches only). ``augment`` is an optional function applied to each
    batch (``images -> images`` or ``(images, labels) -> (images, labels)``).
    ``repeat=True`` gives one endless iterator (use ``steps_per_epoch``): it avoids the
    epoch-start stalls of tf.data autotuning seen on 2-core machines.
    """
    import tensorflow as tf

    images = as_images(images, "images")
    batch_size = positive_int(batch_size, "batch_size")
    shuffle, cache, repeat = flag(shuffle, "shuffle"), flag(cache, "cache"), flag(repeat, "repeat")
    drop_remainder = flag(drop_remainder, "drop_remainder")
    if images.dtype != np.float32:
        images = images.astype(np.float32)
    if labels is not None:
        labels = as_labels(labels, "labels", n=len(images))
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
    else:
        ds = tf.data.Dataset.from_tensor_slices(images)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(min(len(images), 20_000), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if augment is not None:
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
