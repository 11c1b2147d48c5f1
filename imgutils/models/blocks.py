"""Small layer stacks shared by the model builders."""

from __future__ import annotations

from keras import layers

from .replicas import batch_norm


def project_and_reshape(z, shape: tuple[int, int, int]):
    """``Dense(H*W*C, no bias) -> BatchNorm -> LeakyReLU -> Reshape(H, W, C)``.

    The stem of the source text's generator and decoder: a latent vector ``[N, D]`` becomes a
    small feature map ``[N, H, W, C]`` for the transposed convolutions that follow (the bias
    is left out because BatchNorm's shift replaces it).
    """
    h, w, c = shape
    x = layers.Dense(h * w * c, use_bias=False, name="project")(z)
    x = batch_norm("project_bn")(x)
    x = layers.LeakyReLU(name="project_lrelu")(x)
    return layers.Reshape((h, w, c), name="reshape")(x)
