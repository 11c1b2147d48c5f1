"""The feature space of the generation metrics: the chapter-01 Fashion-MNIST classifier.

``FID-FM`` is the Fréchet distance between the Gaussian fits of the 128-d ``features`` layer
of that classifier (shipped in ``weights/``), for real and generated 28x28 grey images. It is
cheap and works offline, but it is *not* comparable with Inception FID numbers from papers.
"""

from __future__ import annotations

import functools

import numpy as np

from . import metrics
from .validation import as_images


@functools.lru_cache(maxsize=1)
def _classifier():
    from . import pretrained

    return pretrained.load("fashion_classifier")


@functools.lru_cache(maxsize=1)
def _extractor():
    from .models.classifier import feature_extractor

    return feature_extractor(_classifier())


def fashion_features(images, *, batch_size: int = 500) -> np.ndarray:
    """images: float32 ``[N, 28, 28, 1]`` in [0, 1] -> features float32 ``[N, 128]``."""
    images = as_images(images, "images", channels=(1,))
    if images.shape[1:3] != (28, 28):
        raise ValueError(f"images must be 28x28 (Fashion-MNIST), got shape {images.shape}")
    return _extractor().predict(images, batch_size=batch_size, verbose=0)


def fashion_probabilities(images, *, batch_size: int = 500) -> np.ndarray:
    """Softmax class probabilities ``[N, 10]`` of the chapter-01 classifier."""
    import keras

    images = as_images(images, "images", channels=(1,))
    logits = _classifier().predict(images, batch_size=batch_size, verbose=0)
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1)).astype(np.float64)


def generation_report(real_images, fake_images, *, kid_subset: int = 1000, k: int = 3,
                      seed: int = 0) -> dict[str, dict[str, float]]:
    """FID-FM, KID, precision, recall and classifier score, each beside its real-data floor.

    real_images: Fashion-MNIST images ``[N, 28, 28, 1]`` in [0, 1], at least twice as many
    as ``fake_images`` so that the floor compares two disjoint real halves of the same size.
    Returns ``{"generated": {...}, "real floor": {...}}``.
    """
    real = as_images(real_images, "real_images", channels=(1,))
    fake = as_images(fake_images, "fake_images", channels=(1,))
    if len(real) < 2 * len(fake):
        raise ValueError(f"real_images must hold at least 2 x {len(fake)} images for the "
                         f"floor (two disjoint halves), got {len(real)}")
    order = np.random.default_rng(seed).permutation(len(real))
    half_a, half_b = real[order[:len(fake)]], real[order[len(fake):2 * len(fake)]]
    feats = {name: fashion_features(x) for name, x in
             (("a", half_a), ("b", half_b), ("fake", fake))}
    subset = min(kid_subset, len(fake))

    # The cubic KID kernel (x.y / D + 1)^3 assumes features of order 1 (Inception's pool
    # features); the classifier's ReLU features are ~10x larger, which makes the estimate
    # noisy. Rescale every set by the RMS feature value of the real reference half.
    scale = float(np.sqrt(np.mean(feats["a"].astype(np.float64) ** 2)))

    def row(other_images, other_feats):
        kid_mean, _ = metrics.kid(feats["a"] / scale, other_feats / scale, subset_size=subset,
                                  seed=seed)
        precision, recall = metrics.precision_recall(feats["a"], other_feats, k=k)
        return {"FID-FM": metrics.fid_from_features(feats["a"], other_feats),
                "KID x1000": 1000 * kid_mean, "precision": precision, "recall": recall,
                "classifier score": metrics.classifier_score(
                    fashion_probabilities(other_images))}

    return {"generated": row(fake, feats["fake"]), "real floor": row(half_b, feats["b"])}


def generation_intervals(real_images, generated, *, k: int = 3, seed: int = 0,
                         resamples: int = 1000, fid_resamples: int = 200
                         ) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Several generators against the *same* real images, with 95 % bootstrap intervals.

    real_images: Fashion-MNIST ``[M, 28, 28, 1]`` in [0, 1]; generated: ``{name: images}``, every
    set of the same size N with ``M >= 2 N``. One real half (N images) is the reference of
    every row; the other half is the "real floor" row. Returns ``{row: {"FID-FM": (value, lo,
    hi), "KID x1000": ..., "precision": ..., "recall": ...}}`` for ``viz.interval_table``:
    FID-FM by bootstrap over both sets (``metrics.fid_interval``); KID (features rescaled as in
    ``generation_report``) as the mean over random subsets of ``min(1000, N)`` +- 1.96 times
    their standard deviation; precision and recall by bootstrap over their per-sample
    indicators (the k-NN balls held fixed).
    """
    if not isinstance(generated, dict) or not generated:
        raise TypeError("generated must be a non-empty dict {name: images [N, 28, 28, 1]}")
    fakes = {name: as_images(x, f"generated[{name!r}]", channels=(1,))
             for name, x in generated.items()}
    sizes = {len(x) for x in fakes.values()}
    if len(sizes) != 1:
        raise ValueError(f"every generated set must hold the same number of images, got sizes "
                         f"{sorted(sizes)}")
    n = sizes.pop()
    real = as_images(real_images, "real_images", channels=(1,))
    if len(real) < 2 * n:
        raise ValueError(f"real_images must hold at least 2 x {n} images, got {len(real)}")
    order = np.random.default_rng(seed).permutation(len(real))
    reference = real[order[:n]]
    rows = {**fakes, "real floor": real[order[n:2 * n]]}
    ref_feats = fashion_features(reference)
    scale = float(np.sqrt(np.mean(ref_feats.astype(np.float64) ** 2)))

    def mean_interval(values):
        lo, hi = metrics.bootstrap_interval(values.astype(np.float64), seed=seed,
                                            resamples=resamples)
        return float(values.mean()), lo, hi

    table = {}
    for name, images in rows.items():
        feats = fashion_features(images)
        inside, covered = metrics.precision_recall_indicators(ref_feats, feats, k=k)
        kid_mean, kid_sd = metrics.kid(ref_feats / scale, feats / scale,
                                       subset_size=min(1000, n), seed=seed)
        table[name] = {
            "FID-FM": (metrics.fid_from_features(ref_feats, feats),
                       *metrics.fid_interval(ref_feats, feats, seed=seed,
                                             resamples=fid_resamples)),
            "KID x1000": tuple(1000 * v for v in (kid_mean, kid_mean - 1.96 * kid_sd,
                                                  kid_mean + 1.96 * kid_sd)),
            "precision": mean_interval(inside), "recall": mean_interval(covered)}
    return table
