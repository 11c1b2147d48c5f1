"""A denoiser knows the score (chapter 06, the bridge to chapter 07).

Tweedie's formula (Robbins 1956; Miyasawa 1961; Efron 2011): if ``y = x + sigma * n`` with
``n ~ N(0, I)`` and ``p_sigma`` is the density of y, the minimum-MSE denoiser is

    E[x | y] = y + sigma^2 * grad_y log p_sigma(y),

so a trained denoiser D gives the score ``(D(y) - y) / sigma^2`` of the *noisy* density
(denoising score matching, Vincent 2011). With a denoiser for every sigma, annealed Langevin
dynamics (Song & Ermon 2019) turns it into a sampler.

* ``gaussian_mixture_sample`` / ``gaussian_mixture_score``: isotropic Gaussian mixtures, whose
  noisy density and score are known in closed form (the numerical check of Tweedie).
* ``mlp_denoiser``: a small residual MLP denoiser for 2-D points.
* ``noise_conditional_denoiser``: a small U-Net ``(y, sigma) -> D(y, sigma)`` for images.
* ``NoiseConditionalDAE``: trains it on all noise levels at once (``fit`` on clean images).
* ``annealed_langevin``: draws images with it.

Images: float32 ``[N, H, W, C]``; clean ones in [0, 1], noisy ones unbounded.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from ..validation import finite_array, noisy_images, positive_int, real_number
from .autoencoder import skip_body
from .fit_checks import CheckedFit
from .registry import builder
from .replicas import scale_for_replicas

__all__ = [
    "NoiseConditionalDAE", "annealed_langevin", "gaussian_mixture_sample",
    "gaussian_mixture_score", "geometric_sigmas", "mlp_denoiser", "noise_conditional_denoiser",
    "score_from_denoiser",
]


# =========================================================================== closed forms
def _mixture(means, stds, weights):
    means = np.asarray(means, np.float64)
    if means.ndim != 2 or len(means) == 0:
        raise ValueError(f"means must be [K, D] with K >= 1, got shape {means.shape}")
    k = len(means)
    stds = np.broadcast_to(np.asarray(stds, np.float64), (k,))
    weights = np.broadcast_to(np.asarray(weights, np.float64), (k,))
    if np.any(stds < 0) or not np.all(np.isfinite(stds)):
        raise ValueError(f"stds must be finite and >= 0, got {stds}")
    if np.any(weights <= 0) or not math.isclose(weights.sum(), 1.0, rel_tol=1e-6):
        raise ValueError(f"weights must be positive and sum to 1, got {weights}")
    return means, stds, weights


def gaussian_mixture_sample(n: int, means, stds, weights, *, sigma: float = 0.0,
                            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(clean, noisy)``, each float64 ``[n, D]``: ``x ~ sum_k w_k N(mu_k, s_k^2 I)`` and
    ``y = x + sigma * n``."""
    n = positive_int(n, "n")
    means, stds, weights = _mixture(means, stds, weights)
    sigma = real_number(sigma, "sigma", low=0.0)
    rng = np.random.default_rng(positive_int(seed, "seed", minimum=0))
    comp = rng.choice(len(means), size=n, p=weights / weights.sum())
    x = means[comp] + stds[comp, None] * rng.standard_normal((n, means.shape[1]))
    return x, x + sigma * rng.standard_normal(x.shape)


def gaussian_mixture_score(points, means, stds, weights, *, sigma: float = 0.0) -> np.ndarray:
    """``grad_y log p_sigma(y)`` for the mixture blurred by ``N(0, sigma^2 I)``: float64 ``[N, D]``.

    ``p_sigma = sum_k w_k N(mu_k, (s_k^2 + sigma^2) I)``, so the score is
    ``sum_k r_k(y) (mu_k - y) / (s_k^2 + sigma^2)`` with responsibilities ``r_k(y)``.
    """
    means, stds, weights = _mixture(means, stds, weights)
    sigma = real_number(sigma, "sigma", low=0.0)
    y = np.asarray(points, np.float64)
    if y.ndim != 2 or y.shape[1] != means.shape[1]:
        raise ValueError(f"points must be [N, {means.shape[1]}], got shape {y.shape}")
    var = stds ** 2 + sigma ** 2
    if np.any(var == 0):
        raise ValueError("stds and sigma are both 0: the density has no score")
    d = means.shape[1]
    sq = ((y[:, None, :] - means[None]) ** 2).sum(-1)                      # [N, K]
    log_r = np.log(weights) - 0.5 * d * np.log(2 * np.pi * var) - 0.5 * sq / var
    log_r -= log_r.max(1, keepdims=True)
    r = np.exp(log_r)
    r /= r.sum(1, keepdims=True)
    return np.einsum("nk,nkd->nd", r / var, means[None] - y[:, None, :])


def score_from_denoiser(denoised, noisy, sigma: float) -> np.ndarray:
    """Tweedie read backwards: the score estimate ``(D(y) - y) / sigma^2``."""
    sigma = real_number(sigma, "sigma", low=0.0, low_open=True)
    noisy = finite_array(noisy, "noisy")
    denoised = finite_array(denoised, "denoised", like=noisy)
    return (denoised - noisy) / sigma ** 2


# =========================================================================== models
@builder
def mlp_denoiser(dim: int = 2, width: int = 128, depth: int = 3,
                 name: str = "mlp_denoiser") -> keras.Model:
    """Points ``[N, dim]`` -> denoised points: ``y + MLP(y)`` (residual: the MLP learns
    ``sigma^2`` times the score)."""
    dim, width, depth = (positive_int(v, n) for v, n in ((dim, "dim"), (width, "width"),
                                                          (depth, "depth")))
    y = keras.Input((dim,), name="noisy")
    h = y
    for i in range(depth):
        h = layers.Dense(width, activation="silu", name=f"dense{i}")(h)
    correction = layers.Dense(dim, name="correction")(h)
    return keras.Model(y, layers.Add(name="denoised")([y, correction]), name=name)


def geometric_sigmas(largest: float, smallest: float, levels: int) -> np.ndarray:
    """``levels`` noise levels from ``largest`` down to ``smallest``, equal ratios (NCSN)."""
    largest = real_number(largest, "largest", low=0.0, low_open=True)
    smallest = real_number(smallest, "smallest", low=0.0, low_open=True)
    levels = positive_int(levels, "levels", minimum=2)
    if smallest >= largest:
        raise ValueError(f"smallest ({smallest}) must be below largest ({largest})")
    return np.geomspace(largest, smallest, levels).astype(np.float32)


@builder
def noise_conditional_denoiser(image_shape=(28, 28, 1), base: int = 32,
                               name: str = "nc_denoiser") -> keras.Model:
    """``[noisy [N, H, W, C], sigma [N, 1]] -> D(y, sigma)`` ``[N, H, W, C]``.

    The network predicts the noise ``eps`` and returns ``y - sigma * eps`` (the
    parameterisation of chapter 07's diffusion models); its input is ``y / sqrt(1 + sigma^2)``
    (unit scale at every level) with ``log sigma`` as an extra constant channel. Two levels of
    a small U-Net (conv + GroupNorm-free ReLU blocks, skip connections). H, W divisible by 4.
    """
    h, w, c = (int(v) for v in image_shape)
    if h % 4 or w % 4:
        raise ValueError(f"image_shape must have H and W divisible by 4, got {image_shape!r}")
    base = positive_int(base, "base")
    noisy = keras.Input((h, w, c), name="noisy")
    sigma = keras.Input((1,), name="sigma")
    scaled = layers.Lambda(lambda t: t[0] / ops.sqrt(1.0 + ops.square(t[1][:, None, None, :])),
                           output_shape=(h, w, c), name="scale_input")([noisy, sigma])
    level_map = layers.Lambda(
        lambda t: ops.ones_like(t[0][..., :1]) * ops.log(t[1][:, None, None, :]),
        output_shape=(h, w, 1), name="log_sigma_map")([noisy, sigma])
    x = layers.Concatenate(name="with_level")([scaled, level_map])

    eps = layers.Conv2D(c, 3, padding="same", name="noise")(skip_body(x, base))
    denoised = layers.Lambda(lambda t: t[0] - t[1][:, None, None, :] * t[2],
                             output_shape=(h, w, c), name="denoised")([noisy, sigma, eps])
    return keras.Model([noisy, sigma], denoised, name=name)


class NoiseConditionalDAE(CheckedFit, keras.Model):
    """One denoiser for every noise level: ``fit`` on clean images ``[N, H, W, C]`` in [0, 1].

    Per image: a level ``sigma`` drawn uniformly from ``sigmas`` (largest first, as
    ``geometric_sigmas`` gives), ``y = x + sigma * n``, loss ``mean ||(D(y, sigma) - x) /
    sigma||^2`` = ``||eps_hat - eps||^2``: denoising score matching with weight ``sigma^2`` at
    every level (Song & Ermon 2019), so every level contributes on the same scale. Tracked:
    ``loss``. The noise is keyed by ``(seed, optimizer step)``: a resumed run sees the same
    noise the uninterrupted one would have.
    """

    def __init__(self, denoiser: keras.Model, sigmas, *, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(denoiser, keras.Model) or len(denoiser.inputs) != 2:
            raise TypeError("denoiser must be a keras.Model taking [noisy, sigma] (see "
                            "noise_conditional_denoiser)")
        sigmas = np.asarray(sigmas, np.float32)
        if sigmas.ndim != 1 or len(sigmas) < 2 or np.any(sigmas <= 0) or np.any(
                np.diff(sigmas) >= 0):
            raise ValueError(f"sigmas must be >= 2 positive levels, strictly decreasing, got "
                             f"{sigmas}")
        self.denoiser, self.sigmas = denoiser, sigmas
        self.seed = positive_int(seed, "seed", minimum=0)
        self.image_shape = tuple(denoiser.inputs[0].shape[1:])
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True       # the denoiser is a built functional model

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, inputs, training=False):
        return self.denoiser(inputs, training=training)

    def _loss(self, clean, step, training):
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        s_level, s_noise = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        n = tf.shape(clean)[0]
        idx = tf.random.stateless_uniform([n], seed=s_level, maxval=len(self.sigmas),
                                          dtype=tf.int32)
        sigma = tf.gather(tf.constant(self.sigmas), idx)[:, None]
        noise = tf.random.stateless_normal(tf.shape(clean), seed=s_noise)
        noisy = clean + sigma[:, None, None, :] * noise
        denoised = self.denoiser([noisy, sigma], training=training)
        return ops.mean(ops.square((denoised - clean) / sigma[:, None, None, :]))

    def train_step(self, data):
        clean = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            loss = self._loss(clean, self.optimizer.iterations, True)
        grads = tape.gradient(scale_for_replicas(loss), self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        clean = data[0] if isinstance(data, tuple) else data
        self.loss_tracker.update_state(self._loss(clean, -1, False))
        return {"loss": self.loss_tracker.result()}

    def denoise(self, noisy, sigma: float, batch_size: int = 500) -> np.ndarray:
        """``D(y, sigma)`` for noisy images ``[N, H, W, C]`` (the [0, 1] scale plus Gaussian
        noise of ``sigma``: within ``max(1, 10 sigma)`` of [0, 1]) at one level."""
        sigma = real_number(sigma, "sigma", low=0.0, low_open=True)
        noisy = noisy_images(noisy, "noisy", sigma=sigma).astype(np.float32)
        out = []
        for i in range(0, len(noisy), positive_int(batch_size, "batch_size")):
            y = noisy[i:i + batch_size]
            s = np.full((len(y), 1), sigma, np.float32)
            out.append(ops.convert_to_numpy(self.denoiser([y, s], training=False)))
        return np.concatenate(out)


def annealed_langevin(model: NoiseConditionalDAE, n: int, *, steps_per_level: int = 20,
                      step_size: float = 2e-5, seed: int = 0, snapshots: bool = False):
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1) with a trained denoiser.

    Start from ``N(0, sigma_1^2 I)`` (the largest level); at level i run ``steps_per_level``
    steps ``y <- y + (a_i / 2) s(y, sigma_i) + sqrt(a_i) z`` with ``a_i = step_size *
    sigma_i^2 / sigma_L^2`` and the score ``s = (D(y, sigma_i) - y) / sigma_i^2``; finish with
    one denoising step ``D(y, sigma_L)`` (Jolicoeur-Martineau et al. 2021). Returns images
    ``[n, H, W, C]`` clipped to [0, 1] (and the state after every level with
    ``snapshots=True``). Deterministic for a seed.
    """
    if not isinstance(model, NoiseConditionalDAE):
        raise TypeError(f"model must be a NoiseConditionalDAE, got {type(model).__name__}")
    n = positive_int(n, "n")
    steps_per_level = positive_int(steps_per_level, "steps_per_level")
    step_size = real_number(step_size, "step_size", low=0.0, low_open=True, high=1.0)
    rng = np.random.default_rng(positive_int(seed, "seed", minimum=0))
    sigmas = model.sigmas
    step = tf.function(lambda y, s: model.denoiser([y, s], training=False))
    y = (sigmas[0] * rng.standard_normal((n, *model.image_shape))).astype(np.float32)
    states = []
    for sigma in sigmas:
        alpha = step_size * (sigma / sigmas[-1]) ** 2
        s = np.full((n, 1), sigma, np.float32)
        for _ in range(steps_per_level):
            score = (step(y, s).numpy() - y) / sigma ** 2
            y = (y + 0.5 * alpha * score
                 + math.sqrt(alpha) * rng.standard_normal(y.shape)).astype(np.float32)
        if snapshots:
            states.append(np.clip(y, 0, 1))
    final = np.clip(step(y, np.full((n, 1), sigmas[-1], np.float32)).numpy(), 0, 1)
    return (final, states) if snapshots else final
