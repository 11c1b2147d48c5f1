"""Reference implementations of CNN arithmetic in plain NumPy (chapter 01).

These are the slow, readable versions that the chapter checks against Keras: a 2-D
convolution (as deep-learning libraries define it: cross-correlation), its adjoint (the
transposed convolution), the output-size formula and the receptive-field recursion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .validation import positive_int

PADDINGS = ("valid", "same")


def _check_padding(padding) -> str | int:
    if isinstance(padding, str):
        if padding not in PADDINGS:
            raise ValueError(f"padding must be 'valid', 'same' or an int >= 0, got {padding!r}")
        return padding
    return positive_int(padding, "padding", minimum=0)


def same_padding(n: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) zero padding of TensorFlow's ``padding='same'`` along one axis.

    The output has ``ceil(n / stride)`` positions; any odd padding goes *after* the input.
    """
    n, kernel, stride = (positive_int(v, k) for v, k in
                         ((n, "n"), (kernel, "kernel"), (stride, "stride")))
    total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


def conv_output_size(n: int, kernel: int, stride: int = 1, padding: str | int = 0,
                     dilation: int = 1) -> int:
    """Output length of a convolution along one axis.

    ``floor((n + 2p - d(k - 1) - 1) / s) + 1`` for an integer padding ``p`` (with dilation
    ``d = 1`` this is the familiar ``floor((n + 2p - k) / s) + 1``); ``'valid'`` means ``p = 0``
    and ``'same'`` gives ``ceil(n / s)``.
    """
    n = positive_int(n, "n")
    kernel = positive_int(kernel, "kernel")
    stride = positive_int(stride, "stride")
    dilation = positive_int(dilation, "dilation")
    padding = _check_padding(padding)
    if padding == "same":
        return math.ceil(n / stride)
    p = 0 if padding == "valid" else padding
    effective = dilation * (kernel - 1) + 1
    if n + 2 * p < effective:
        raise ValueError(f"kernel of effective size {effective} does not fit an input of "
                         f"length {n} with padding {p}")
    return (n + 2 * p - effective) // stride + 1


def conv2d_numpy(images: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None = None,
                 stride: int = 1, padding: str | int = "valid") -> np.ndarray:
    """2-D convolution exactly as ``keras.layers.Conv2D`` computes it (cross-correlation).

    images: float ``[N, H, W, C_in]``; kernel: ``[k_h, k_w, C_in, C_out]``; bias ``[C_out]``.
    Returns float64 ``[N, H_out, W_out, C_out]`` with
    ``out[n, i, j, o] = sum_{u, v, c} x[n, s*i + u, s*j + v, c] * w[u, v, c, o] + b[o]``
    (on the zero-padded input).
    """
    x = np.asarray(images, dtype=np.float64)
    w = np.asarray(kernel, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError(f"images must have shape [N, H, W, C_in], got {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"kernel must have shape [k_h, k_w, C_in, C_out], got {w.shape}")
    if w.shape[2] != x.shape[3]:
        raise ValueError(f"kernel expects C_in = {w.shape[2]} channels, images have "
                         f"{x.shape[3]}")
    stride = positive_int(stride, "stride")
    padding = _check_padding(padding)
    kh, kw = w.shape[:2]
    if padding == "same":
        (top, bottom), (left, right) = (same_padding(x.shape[1], kh, stride),
                                        same_padding(x.shape[2], kw, stride))
    else:
        p = 0 if padding == "valid" else padding
        top = bottom = left = right = p
    x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    h_out = (x.shape[1] - kh) // stride + 1
    w_out = (x.shape[2] - kw) // stride + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(f"kernel {kh}x{kw} does not fit the (padded) input {x.shape[1:3]}")
    out = np.zeros((x.shape[0], h_out, w_out, w.shape[3]))
    for u in range(kh):  # loop over kernel taps; each tap is one matrix product
        for v in range(kw):
            patch = x[:, u:u + stride * h_out:stride, v:v + stride * w_out:stride, :]
            out += patch @ w[u, v]
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)
    return out


def conv2d_transpose_numpy(grad: np.ndarray, kernel: np.ndarray, input_hw: tuple[int, int],
                           stride: int = 1) -> np.ndarray:
    """The adjoint of the valid, strided ``conv2d_numpy``: scatter each output back.

    grad: ``[N, H_out, W_out, C_out]``; kernel ``[k_h, k_w, C_in, C_out]`` (the *same* kernel
    as the forward convolution); returns ``[N, H, W, C_in]`` with
    ``<conv(x), y> == <x, conv_transpose(y)>`` for every x, y.
    """
    y = np.asarray(grad, dtype=np.float64)
    w = np.asarray(kernel, dtype=np.float64)
    stride = positive_int(stride, "stride")
    if y.ndim != 4 or w.ndim != 4 or y.shape[3] != w.shape[3]:
        raise ValueError(f"grad [N, H_out, W_out, C_out] and kernel [k_h, k_w, C_in, C_out] "
                         f"must agree on C_out; got {y.shape} and {w.shape}")
    kh, kw = w.shape[:2]
    h, wd = input_hw
    out = np.zeros((y.shape[0], h, wd, w.shape[2]))
    h_out, w_out = y.shape[1:3]
    for u in range(kh):
        for v in range(kw):
            out[:, u:u + stride * h_out:stride, v:v + stride * w_out:stride, :] += (
                y @ w[u, v].T)
    return out


def receptive_field(layers: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Receptive field ``r`` and jump ``j`` after each layer of a stack of (kernel, stride).

    ``r_l = r_{l-1} + (k_l - 1) * j_{l-1}`` and ``j_l = j_{l-1} * s_l`` with ``r_0 = j_0 = 1``.
    Pooling layers count as (pool size, stride). Dilation ``d`` enters as a kernel of size
    ``d (k - 1) + 1``.
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError("layers must be a sequence of (kernel, stride) pairs")
    r, j = 1, 1
    out = []
    for i, layer in enumerate(layers):
        if not (isinstance(layer, (tuple, list)) and len(layer) == 2):
            raise ValueError(f"layers[{i}] must be a (kernel, stride) pair, got {layer!r}")
        k = positive_int(layer[0], f"layers[{i}] kernel")
        s = positive_int(layer[1], f"layers[{i}] stride")
        r, j = r + (k - 1) * j, j * s
        out.append((r, j))
    return out
