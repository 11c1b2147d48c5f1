"""The chapter-01 Fashion-MNIST classifier, also the feature network of the generation metrics.

A small VGG-style CNN: three (conv 3x3 -> BatchNorm -> ReLU) blocks with 32, 64 and 128
filters, the first two followed by 2x2 max-pooling (28 -> 14 -> 7), then a 128-unit dense
layer named ``"features"`` (the embedding used by FID-FM / KID / precision-recall in later
chapters), dropout and a 10-way linear layer that outputs *logits*.

Input: float32 ``[N, 28, 28, 1]`` in ``[0, 1]``. Output: logits ``[N, num_classes]``.
"""

from __future__ import annotations

import keras
from keras import layers

from ..validation import positive_int
from .registry import builder

FEATURE_LAYER = "features"


def conv_bn_relu(x, filters: int, name: str):
    """3x3 'same' convolution (no bias: BatchNorm has one) -> BatchNorm -> ReLU."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


@builder
def build_classifier(input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10,
                     width: int = 32, feature_dim: int = 128, dropout: float = 0.3,
                     name: str = "fashion_classifier") -> keras.Model:
    """Build the classifier (uncompiled). ``width``, ``2 width``, ``4 width`` filters in blocks 1-3.

    The penultimate layer ``"features"`` has ``feature_dim`` units (after ReLU).
    """
    if not (isinstance(input_shape, (tuple, list)) and len(input_shape) == 3):
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape!r}")
    h, w, c = (positive_int(v, "input_shape entries") for v in input_shape)
    if h % 4 or w % 4:
        raise ValueError(f"input height and width must be multiples of 4 (two 2x2 poolings), "
                         f"got {h}x{w}")
    num_classes = positive_int(num_classes, "num_classes", minimum=2)
    width = positive_int(width, "width")
    feature_dim = positive_int(feature_dim, "feature_dim")
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")

    inputs = keras.Input((h, w, c), name="images")
    x = conv_bn_relu(inputs, width, "block1")
    x = layers.MaxPooling2D(name="block1_pool")(x)
    x = conv_bn_relu(x, 2 * width, "block2")
    x = layers.MaxPooling2D(name="block2_pool")(x)
    x = conv_bn_relu(x, 4 * width, "block3")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(feature_dim, activation="relu", name=FEATURE_LAYER)(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def compile_classifier(model: keras.Model, learning_rate: float = 1e-3) -> keras.Model:
    """Adam + sparse categorical cross-entropy on logits, with accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def feature_extractor(model: keras.Model) -> keras.Model:
    """The sub-model ``images [N, 28, 28, 1] in [0, 1] -> features [N, feature_dim]``."""
    try:
        features = model.get_layer(FEATURE_LAYER).output
    except ValueError as exc:
        raise ValueError(f"model {model.name!r} has no layer named {FEATURE_LAYER!r}") from exc
    return keras.Model(model.input, features, name=f"{model.name}_features")
