"""Restoration scores with 95 % bootstrap intervals (chapters 05-08).

``restoration_scores`` measures restored Fashion-MNIST test images against the clean ones:
PSNR and SSIM per image (and PSNR on the damaged region only, for holes), FID-FM of the
restored *set* against the clean set (a perceptual-quality proxy: how far the restorations
are, as a distribution, from real images), and classifier agreement (how often the
chapter-01 classifier gives a restoration the clean image's true class). Every number comes
with a percentile-bootstrap interval over the test images, so two methods whose intervals
overlap can be called tied.
"""

from __future__ import annotations

import numpy as np

from . import features, metrics
from .validation import as_images, as_labels

Score = tuple[float, float, float]          # value, low, high


def _mean_with_interval(values: np.ndarray, seed: int, resamples: int,
                        name: str = "the metric") -> Score:
    exact = np.isinf(values)
    if exact.any():
        raise ValueError(f"{name} is infinite for {int(exact.sum())} of {len(values)} images "
                         "(restored identical to clean): a mean PSNR does not exist there; "
                         "leave the untouched images out of the evaluation")
    lo, hi = metrics.bootstrap_interval(values, seed=seed, resamples=resamples)
    return float(np.nanmean(values)), lo, hi


def restoration_scores(clean, restored, *, labels=None, mask=None, seed: int = 0,
                       fid: bool = True, resamples: int = 2000,
                       fid_resamples: int = 200) -> dict[str, Score]:
    """``{"PSNR": (value, lo, hi), "SSIM": ..., ["masked PSNR"], ["FID-FM"], ["agreement %"]}``.

    clean, restored: float32 ``[N, 28, 28, 1]`` in [0, 1] (restored clipped already), N >= 2.
    mask (optional): ``[N, 28, 28, 1]``, 1 = observed, 0 = damaged: adds PSNR over the damaged
    pixels. labels (optional): int ``[N]`` true classes: adds classifier agreement in %.
    ``fid=False`` skips FID-FM (e.g. for images that are not 28x28 grey). ``resamples``
    (>= 100) bootstrap resamples for the per-image means, ``fid_resamples`` (>= 20) for FID-FM.
    """
    clean = as_images(clean, "clean")
    restored = as_images(restored, "restored")
    if clean.shape != restored.shape:
        raise ValueError(f"clean and restored must have the same shape, got {clean.shape} "
                         f"and {restored.shape}")
    scores = {"PSNR": _mean_with_interval(metrics.psnr(clean, restored), seed, resamples, "PSNR"),
              "SSIM": _mean_with_interval(metrics.ssim(clean, restored), seed, resamples)}
    if mask is not None:
        scores["masked PSNR"] = _mean_with_interval(
            metrics.masked_psnr(clean, restored, mask), seed, resamples, "masked PSNR")
    if fid:
        real, fake = features.fashion_features(clean), features.fashion_features(restored)
        scores["FID-FM"] = (metrics.fid_from_features(real, fake),
                            *metrics.fid_interval(real, fake, seed=seed,
                                                  resamples=fid_resamples))
    if labels is not None:
        labels = as_labels(labels, "labels", n=len(clean), num_classes=10)
        agree = 100.0 * (features.fashion_probabilities(restored).argmax(axis=1) == labels)
        scores["agreement %"] = _mean_with_interval(agree, seed, resamples)
    return scores


def linear_probe(train_features, train_labels, test_features, test_labels, *,
                 epochs: int = 20, batch_size: int = 256, l2: float = 1e-4, seed: int = 0,
                 resamples: int = 2000) -> dict[str, Score | float | np.ndarray]:
    """Multinomial logistic regression on frozen features: how linearly separable they are.

    features: float ``[N, D]`` (codes, or flattened pixels); labels: int ``[N]`` in [0, 10).
    Features are standardised with the training mean and standard deviation; one Dense
    softmax layer is trained with Adam (learning rate 1e-3, L2 weight ``l2``) for ``epochs``
    passes. Returns ``{"test accuracy %": (value, lo, hi), "train accuracy %": value,
    "correct": bool [N_test]}``, the test interval a bootstrap over the test images;
    ``correct`` allows *paired* comparisons of two probes on the same test images
    (``metrics.bootstrap_interval(100 * (a["correct"] - b["correct"]))``). Deterministic for a
    seed on one machine.
    """
    import keras

    from .validation import positive_int, real_number

    def matrix(values, name):
        values = np.asarray(values.numpy() if hasattr(values, "numpy") else values)
        if not np.issubdtype(values.dtype, np.floating) or values.ndim != 2 or not len(values):
            raise ValueError(f"{name} must be a float array [N, D] with N >= 1, got "
                             f"{values.dtype} {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} contains NaN or infinite values")
        return values.astype(np.float32)

    x_train, x_test = matrix(train_features, "train_features"), matrix(test_features,
                                                                        "test_features")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"train_features and test_features must have the same width, got "
                         f"{x_train.shape[1]} and {x_test.shape[1]}")
    y_train = as_labels(train_labels, "train_labels", n=len(x_train), num_classes=10)
    y_test = as_labels(test_labels, "test_labels", n=len(x_test), num_classes=10)
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    l2 = real_number(l2, "l2", low=0.0)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    keras.utils.set_random_seed(seed)
    probe = keras.Sequential([keras.Input((x_train.shape[1],)),
                              keras.layers.Dense(10, kernel_regularizer=keras.regularizers.L2(l2))])
    probe.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    probe.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
    right_train = probe.predict(x_train, batch_size=2048, verbose=0).argmax(1) == y_train
    correct = probe.predict(x_test, batch_size=2048, verbose=0).argmax(1) == y_test
    return {"test accuracy %": _mean_with_interval(100.0 * correct, seed, resamples),
            "train accuracy %": 100.0 * float(right_train.mean()), "correct": correct}
