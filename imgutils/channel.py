"""Classical *separated* transmission of images over a noisy channel (chapter 06's baseline).

Shannon's separation: compress first (source code), then protect the bits (channel code).
Here: PCA to ``components`` numbers, a uniform quantiser of ``bits`` bits per number, a
Hamming(7,4) or repetition code (or none), BPSK symbols ±1 (unit power, one channel use per
coded bit) over additive white Gaussian noise, hard decisions, decoding, dequantising, and the
inverse PCA. With ``k`` channel uses per image it competes with a learned code of ``k``
numbers at the same power and SNR (deep joint source-channel coding, Bourtsoulatze et al. 2019).

Images: float32 ``[N, H, W, C]`` in [0, 1]; bits: uint8 arrays of 0/1.
"""

from __future__ import annotations

import math

import numpy as np

from .validation import as_images, positive_int, real_number

__all__ = [
    "CODES", "PCA", "bpsk_awgn", "channel_uses", "channel_decode", "channel_encode",
    "dequantize", "quantize", "separated_transmit",
]

CODES = ("none", "hamming74", "repetition3")

# Hamming(7,4): codeword = data @ G (mod 2); syndrome = word @ H^T (mod 2).
_G = np.array([[1, 0, 0, 0, 1, 1, 0],
               [0, 1, 0, 0, 1, 0, 1],
               [0, 0, 1, 0, 0, 1, 1],
               [0, 0, 0, 1, 1, 1, 1]], np.uint8)
_H = np.array([[1, 1, 0, 1, 1, 0, 0],
               [1, 0, 1, 1, 0, 1, 0],
               [0, 1, 1, 1, 0, 0, 1]], np.uint8)
# the bit to flip for each syndrome (as the integer s0*4 + s1*2 + s2); -1 = no error
_SYNDROME_TO_BIT = np.full(8, -1)
for _bit in range(7):
    _s = _H[:, _bit]
    _SYNDROME_TO_BIT[_s[0] * 4 + _s[1] * 2 + _s[2]] = _bit


def _bits(bits, name: str = "bits") -> np.ndarray:
    bits = np.asarray(bits)
    if bits.ndim != 2 or not (np.issubdtype(bits.dtype, np.integer)
                              or bits.dtype == np.bool_):
        raise TypeError(f"{name} must be an integer array [N, L] of 0/1, got "
                        f"{bits.dtype} {bits.shape}")
    if bits.size and (bits.min() < 0 or bits.max() > 1):
        raise ValueError(f"{name} must hold only 0 and 1")
    return bits.astype(np.uint8)


def _code(code: str) -> str:
    if code not in CODES:
        raise ValueError(f"code must be one of {CODES}, got {code!r}")
    return code


def channel_encode(bits, code: str) -> np.ndarray:
    """Data bits ``[N, L]`` -> coded bits: ``L`` (none), ``7 L / 4`` (hamming74, L divisible by
    4) or ``3 L`` (repetition3)."""
    bits, code = _bits(bits), _code(code)
    if code == "none":
        return bits
    if code == "repetition3":
        return np.repeat(bits, 3, axis=1)
    if bits.shape[1] % 4:
        raise ValueError(f"hamming74 needs a multiple of 4 data bits, got {bits.shape[1]}")
    blocks = bits.reshape(len(bits), -1, 4)
    return ((blocks @ _G) % 2).astype(np.uint8).reshape(len(bits), -1)


def channel_decode(received, code: str) -> np.ndarray:
    """Hard-decision decoding: Hamming syndromes correct one error per 7-bit block; the
    repetition code takes a majority vote of 3."""
    received, code = _bits(received, "received"), _code(code)
    if code == "none":
        return received
    if code == "repetition3":
        if received.shape[1] % 3:
            raise ValueError(f"repetition3 needs a multiple of 3 bits, got {received.shape[1]}")
        return (received.reshape(len(received), -1, 3).sum(-1) >= 2).astype(np.uint8)
    if received.shape[1] % 7:
        raise ValueError(f"hamming74 needs a multiple of 7 bits, got {received.shape[1]}")
    words = received.reshape(len(received), -1, 7).copy()
    syndrome = (words @ _H.T) % 2
    which = _SYNDROME_TO_BIT[syndrome[..., 0] * 4 + syndrome[..., 1] * 2 + syndrome[..., 2]]
    rows, blocks = np.nonzero(which >= 0)
    words[rows, blocks, which[rows, blocks]] ^= 1
    return words[..., :4].reshape(len(received), -1)


def channel_uses(components: int, bits: int, code: str) -> int:
    """Channel uses (BPSK symbols) per image for ``components * bits`` data bits."""
    data = positive_int(components, "components") * positive_int(bits, "bits")
    code = _code(code)
    if code == "hamming74":
        return 7 * math.ceil(data / 4)
    return 3 * data if code == "repetition3" else data


def bpsk_awgn(bits, snr_db: float, *, seed: int = 0) -> np.ndarray:
    """Send bits as ±1 symbols (power 1) through AWGN of variance ``10^(-snr_db/10)``; return
    the hard decisions. SNR = symbol power / noise variance (the learned code's definition), so
    the bit error rate is ``Q(sqrt(10^(snr_db / 10)))`` (``Q(sqrt(2 Eb/N0))`` with
    ``N0 = 2 sigma^2``)."""
    bits = _bits(bits)
    snr_db = real_number(snr_db, "snr_db", low=-30.0, high=60.0)
    rng = np.random.default_rng(positive_int(seed, "seed", minimum=0))
    symbols = 2.0 * bits - 1.0
    received = symbols + 10.0 ** (-snr_db / 20.0) * rng.standard_normal(bits.shape)
    return (received > 0).astype(np.uint8)


def quantize(values, bits: int, low, high) -> np.ndarray:
    """Uniform quantiser: values ``[N, K]`` clipped to ``[low, high]`` (per column) -> integers
    in ``[0, 2^bits - 1]``, as bits ``[N, K * bits]`` (most significant first)."""
    bits = positive_int(bits, "bits")
    if bits > 16:
        raise ValueError(f"bits must be at most 16, got {bits}")
    values = np.asarray(values, np.float64)
    low, high = np.broadcast_to(low, values.shape[1:]), np.broadcast_to(high, values.shape[1:])
    if np.any(high <= low):
        raise ValueError("high must exceed low for every column")
    levels = 2 ** bits
    idx = np.clip(np.floor((values - low) / (high - low) * levels), 0, levels - 1).astype(int)
    shifts = np.arange(bits - 1, -1, -1)
    return ((idx[..., None] >> shifts) & 1).astype(np.uint8).reshape(len(values), -1)


def dequantize(bit_array, bits: int, low, high) -> np.ndarray:
    """Inverse of ``quantize``: the centre of each quantisation cell, float64 ``[N, K]``."""
    bits = positive_int(bits, "bits")
    b = _bits(bit_array, "bit_array")
    if b.shape[1] % bits:
        raise ValueError(f"bit_array has {b.shape[1]} bits, not a multiple of bits={bits}")
    idx = (b.reshape(len(b), -1, bits) * (1 << np.arange(bits - 1, -1, -1))).sum(-1)
    low, high = np.broadcast_to(low, idx.shape[1:]), np.broadcast_to(high, idx.shape[1:])
    return low + (idx + 0.5) / 2 ** bits * (high - low)


class PCA:
    """Principal components of flattened images, fitted with an SVD (float64).

    ``PCA(components).fit(images)``; ``encode`` -> ``[N, components]``; ``decode`` -> images
    ``[N, H, W, C]`` clipped to [0, 1]. ``clip_std`` sets the quantiser range used by
    ``separated_transmit``: ``± clip_std`` standard deviations of each component.
    """

    def __init__(self, components: int):
        self.components = positive_int(components, "components")
        self.mean = self.basis = self.std = None

    def fit(self, images) -> PCA:
        images = as_images(images, "images")
        x = images.reshape(len(images), -1).astype(np.float64)
        if self.components > min(x.shape):
            raise ValueError(f"components must be at most {min(x.shape)} for {len(x)} images "
                             f"of {x.shape[1]} pixels, got {self.components}")
        self.shape = images.shape[1:]
        self.mean = x.mean(0)
        _, s, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.basis = vt[:self.components]
        self.std = s[:self.components] / math.sqrt(len(x))
        return self

    def first(self, components: int) -> PCA:
        """A fitted PCA keeping only the first ``components`` of these components."""
        self._fitted()
        components = positive_int(components, "components")
        if components > self.components:
            raise ValueError(f"components must be at most {self.components}, got {components}")
        out = PCA(components)
        out.shape, out.mean = self.shape, self.mean
        out.basis, out.std = self.basis[:components], self.std[:components]
        return out

    def _fitted(self):
        if self.basis is None:
            raise ValueError("this PCA is not fitted yet: call fit(images) first")

    def encode(self, images) -> np.ndarray:
        self._fitted()
        images = as_images(images, "images")
        if images.shape[1:] != self.shape:
            raise ValueError(f"images must have shape [N, {self.shape}], got {images.shape}")
        return (images.reshape(len(images), -1) - self.mean) @ self.basis.T

    def decode(self, coefficients) -> np.ndarray:
        self._fitted()
        c = np.asarray(coefficients, np.float64)
        if c.ndim != 2 or c.shape[1] != self.components:
            raise ValueError(f"coefficients must be [N, {self.components}], got {c.shape}")
        x = c @ self.basis + self.mean
        return np.clip(x, 0, 1).reshape(len(c), *self.shape).astype(np.float32)


def separated_transmit(pca: PCA, images, *, bits: int, code: str, snr_db: float | None,
                       clip_std: float = 3.0, seed: int = 0) -> np.ndarray:
    """PCA -> quantise -> channel code -> BPSK over AWGN (``snr_db=None``: error-free) ->
    decode -> dequantise -> inverse PCA. Returns images ``[N, H, W, C]`` in [0, 1]."""
    if not isinstance(pca, PCA):
        raise TypeError(f"pca must be an imgutils.channel.PCA, got {type(pca).__name__}")
    clip_std = real_number(clip_std, "clip_std", low=0.0, low_open=True)
    coeff = pca.encode(images)
    low, high = -clip_std * pca.std, clip_std * pca.std
    data = quantize(coeff, bits, low, high)
    sent = channel_encode(data, code)
    received = sent if snr_db is None else bpsk_awgn(sent, snr_db, seed=seed)
    decoded = channel_decode(received, code)[:, :data.shape[1]]
    return pca.decode(dequantize(decoded, bits, low, high))
