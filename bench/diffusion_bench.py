"""Benchmark (not a test): our diffusion training loop vs the keras.io DDIM example's.

    python bench/diffusion_bench.py [--windows 5] [--window-seconds 10] [--fid-minutes 10]

(a) a faithful re-implementation of the keras.io example "Denoising Diffusion Implicit Models"
(A. Béres, 2022): its residual U-Net (widths 32/64/96/128, block depth 2, BatchNorm without
scale and centre, Swish, the sinusoidal embedding of the noise variance upsampled and
concatenated with the image), the offset-cosine schedule in continuous time (signal rate
from 0.95 down to 0.02), the mean absolute error on the predicted noise, AdamW(1e-3, weight
decay 1e-4), EMA 0.999, batch 64, on Fashion-MNIST padded to 32x32 (its U-Net halves the
size three times) and normalised by a ``Normalization`` layer, as the example does;
(b) ours: ``imgutils.models.diffusion.Diffusion`` with chapter 07's settings (``OUR_*``).

Throughput: interleaved windows after a warm-up, median images/s and the ratio
(``bench/_common.py``). With ``--fid-minutes M`` each loop then trains from scratch for M
wall-clock minutes, draws 2,000 images with the same sampler (deterministic DDIM, eta = 0)
and the same number of steps (``--sample-steps``, default 20) from its EMA weights, and FID-FM
(chapter-01 classifier features against 2,000 test images, with the real-vs-real floor) is
reported. The reference's 32x32 samples are cropped back to the 28x28 centre.
"""

from __future__ import annotations

import math
import time

import _common  # bench/_common.py: on sys.path when run as python bench/gan_bench.py
import keras
import numpy as np
import tensorflow as tf
from keras import layers

from imgutils import data, features, metrics
from imgutils.models import diffusion

# ----------------------------------------------------------------- (a) the keras.io example
REF_WIDTHS, REF_DEPTH, REF_BATCH, REF_SIZE = (32, 64, 96, 128), 2, 64, 32
MIN_SIGNAL, MAX_SIGNAL, EMBED_DIMS, EMBED_MAX_FREQ = 0.02, 0.95, 32, 1000.0


def _sinusoidal_embedding(x):
    freqs = tf.exp(tf.linspace(tf.math.log(1.0), tf.math.log(EMBED_MAX_FREQ), EMBED_DIMS // 2))
    angular = 2.0 * math.pi * freqs
    return tf.concat([tf.sin(angular * x), tf.cos(angular * x)], axis=3)


@keras.saving.register_keras_serializable(package="bench")
class SinusoidalEmbedding(layers.Layer):
    """The example's ``Lambda(sinusoidal_embedding)``, as a layer (no Lambda: clonable)."""

    def call(self, x):
        return _sinusoidal_embedding(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], EMBED_DIMS)


def _residual_block(x, width):
    residual = x if x.shape[3] == width else layers.Conv2D(width, 1)(x)
    x = layers.BatchNormalization(center=False, scale=False)(x)
    x = layers.Conv2D(width, 3, padding="same", activation="swish")(x)
    x = layers.Conv2D(width, 3, padding="same")(x)
    return layers.Add()([x, residual])


def reference_network():
    noisy = keras.Input((REF_SIZE, REF_SIZE, 1))
    variance = keras.Input((1, 1, 1))
    e = SinusoidalEmbedding()(variance)
    e = layers.UpSampling2D(size=REF_SIZE, interpolation="nearest")(e)
    x = layers.Concatenate()([layers.Conv2D(REF_WIDTHS[0], 1)(noisy), e])
    skips = []
    for width in REF_WIDTHS[:-1]:
        for _ in range(REF_DEPTH):
            x = _residual_block(x, width)
            skips.append(x)
        x = layers.AveragePooling2D(2)(x)
    for _ in range(REF_DEPTH):
        x = _residual_block(x, REF_WIDTHS[-1])
    for width in reversed(REF_WIDTHS[:-1]):
        x = layers.UpSampling2D(2, interpolation="bilinear")(x)
        for _ in range(REF_DEPTH):
            x = layers.Concatenate()([x, skips.pop()])
            x = _residual_block(x, width)
    x = layers.Conv2D(1, 1, kernel_initializer="zeros")(x)
    return keras.Model([noisy, variance], x)


def offset_cosine(times):
    start, end = math.acos(MAX_SIGNAL), math.acos(MIN_SIGNAL)
    angles = start + times * (end - start)
    return tf.sin(angles), tf.cos(angles)          # noise rates, signal rates


class ReferenceLoop:
    """The example's ``DiffusionModel.train_step`` and ``reverse_diffusion``."""

    batch = REF_BATCH

    def __init__(self, images):
        padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
        self.normalizer = layers.Normalization()
        self.normalizer.adapt(padded[:10_000])
        self.network, self.ema_network = reference_network(), reference_network()
        self.ema_network.set_weights(self.network.get_weights())
        self.optimizer = keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=1e-4)
        ds = tf.data.Dataset.from_tensor_slices(padded).shuffle(10_000).batch(
            REF_BATCH, drop_remainder=True).repeat()
        self.iterator = iter(ds.prefetch(tf.data.AUTOTUNE))
        self.params = self.network.count_params()

        @tf.function
        def train_step(images):
            images = self.normalizer(images, training=True)
            noises = tf.random.normal(tf.shape(images))
            times = tf.random.uniform((REF_BATCH, 1, 1, 1))
            noise_rates, signal_rates = offset_cosine(times)
            noisy = signal_rates * images + noise_rates * noises
            with tf.GradientTape() as tape:
                pred_noises = self.network([noisy, noise_rates ** 2], training=True)
                loss = tf.reduce_mean(tf.abs(noises - pred_noises))
            grads = tape.gradient(loss, self.network.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.network.trainable_weights,
                                               strict=True))
            for ema, weight in zip(self.ema_network.weights, self.network.weights, strict=True):
                ema.assign(0.999 * ema + 0.001 * weight)

        self.step = train_step

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step(next(self.iterator))

    def sample(self, n: int, steps: int, chunk: int = 500) -> np.ndarray:
        predict = tf.function(lambda x, v: self.ema_network([x, v], training=False))
        return np.concatenate([self._reverse(min(chunk, n - i), steps, predict)
                               for i in range(0, n, chunk)])

    def _reverse(self, n: int, steps: int, predict) -> np.ndarray:
        noisy = tf.random.normal((n, REF_SIZE, REF_SIZE, 1))
        step_size = 1.0 / steps
        for step in range(steps):
            times = tf.ones((n, 1, 1, 1)) - step * step_size
            noise_rates, signal_rates = offset_cosine(times)
            pred_noises = predict(noisy, noise_rates ** 2)
            pred_images = (noisy - noise_rates * pred_noises) / signal_rates
            next_noise, next_signal = offset_cosine(times - step_size)
            noisy = next_signal * pred_images + next_noise * pred_noises
        images = self.normalizer.mean + pred_images * self.normalizer.variance ** 0.5
        return np.clip(images.numpy()[:, 2:30, 2:30], 0.0, 1.0)


# ----------------------------------------------------------------- (b) ours
OUR_WIDTHS, OUR_BATCH, OUR_LR = (16, 32, 64), 64, 1e-3


class OurLoop:
    batch = OUR_BATCH

    def __init__(self, images, labels):
        self.model = diffusion.Diffusion(diffusion.diffusion_unet(widths=OUR_WIDTHS),
                                         diffusion.make_schedule("cosine"), seed=0)
        self.model.compile(optimizer=keras.optimizers.Adam(OUR_LR))
        ds = data.make_dataset(images, labels, batch_size=self.batch, repeat=True,
                               drop_remainder=True)
        # the step fit() compiles, driven by one persistent iterator (as the reference is)
        self.iterator = iter(ds)
        self.step = tf.function(self.model.train_step)
        self.params = self.model.network.count_params()

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step(next(self.iterator))

    def sample(self, n: int, steps: int) -> np.ndarray:
        return diffusion.sample(self.model, n, steps=steps, seed=0)


def main() -> None:
    parser = _common.parser(__doc__.splitlines()[0])
    parser.add_argument("--fid-minutes", type=float, default=0.0)
    parser.add_argument("--sample-steps", type=int, default=20)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    fmnist = data.fashion_mnist()
    images, labels = fmnist.train.images, fmnist.train.labels
    makers = {"keras.io DDIM example": lambda: ReferenceLoop(images),
              "imgutils Diffusion": lambda: OurLoop(images, labels)}
    loops = {name: make() for name, make in makers.items()}
    (ref_name, our_name) = loops
    rates = _common.interleaved_rates(loops, args.windows, args.window_seconds)
    _common.print_table(loops, rates, ours=our_name)

    if args.fid_minutes > 0:
        real = fmnist.test.images[:4000]
        floor = metrics.real_floor(metrics.fid_from_features, features.fashion_features(real))
        print(f"\nFID-FM after {args.fid_minutes:g} wall-clock minutes of training each, "
              f"{args.sample_steps} DDIM steps (2,000 samples; real-vs-real floor "
              f"{floor:.2f}):", flush=True)
        real_features = features.fashion_features(real[:2000])
        for name, make in makers.items():
            keras.utils.set_random_seed(1)
            loop, start, seen = make(), time.perf_counter(), 0
            while time.perf_counter() - start < 60 * args.fid_minutes:
                loop.run(20)
                seen += 20 * loop.batch
            fid = metrics.fid_from_features(
                real_features, features.fashion_features(loop.sample(2000, args.sample_steps)))
            print(f"{name:<24} FID-FM {fid:8.2f}   ({seen:,} images seen)", flush=True)


if __name__ == "__main__":
    main()
