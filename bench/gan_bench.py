"""Benchmark (not a test): our DCGAN training loop vs the TensorFlow DCGAN tutorial's.

    python bench/gan_bench.py [--windows 5] [--window-seconds 10] [--fid-minutes 10]

(a) a faithful re-implementation of the TensorFlow DCGAN tutorial: its generator and
discriminator, batch 256, Adam(1e-4) for both, binary cross-entropy on logits, its
``tf.function`` train step; (b) ours: ``imgutils.models.gan.GAN`` with the DCGAN builders
(4x4 stride-2 kernels, fewer FLOPs per image), batch 128, Adam(2e-4, beta_1=0.5), and, as in
chapter 2, an exponential moving average of the generator's weights (decay 0.999; its FID-FM
is reported beside the final weights').

Throughput: the two loops run in interleaved windows of ``--window-seconds`` after a warm-up,
and the median images/s of each is reported with their ratio (``bench/_common.py``: this
machine stalls now and then; medians of interleaved windows are robust to that). With
``--fid-minutes M`` each loop then trains from scratch for M wall-clock minutes and FID-FM
(chapter-01 classifier features, 2,000 samples vs 2,000 test images, with the real-vs-real
floor) is reported.
"""

from __future__ import annotations

import time

import _common  # bench/_common.py: on sys.path when run as python bench/gan_bench.py
import keras
import numpy as np
import tensorflow as tf
from keras import layers

from imgutils import data, features, metrics
from imgutils.models import gan

# ----------------------------------------------------------------- (a) the reference loop
REF_BATCH, REF_NOISE = 256, 100


def reference_generator():
    return keras.Sequential([
        keras.Input((REF_NOISE,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False,
                               activation="tanh"),
    ])


def reference_discriminator():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(),
        layers.Dropout(0.3), layers.Flatten(), layers.Dense(1),
    ])


class ReferenceLoop:
    """The tutorial's loop: images scaled to [-1, 1], one tf.function step per batch."""

    batch = REF_BATCH

    def __init__(self, images):
        self.g, self.d = reference_generator(), reference_discriminator()
        self.g_opt, self.d_opt = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)
        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        ds = tf.data.Dataset.from_tensor_slices(images * 2 - 1).shuffle(60_000).batch(
            REF_BATCH, drop_remainder=True).repeat()
        self.iterator = iter(ds.prefetch(tf.data.AUTOTUNE))

        @tf.function
        def train_step(real):
            noise = tf.random.normal([REF_BATCH, REF_NOISE])
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                fake = self.g(noise, training=True)
                real_out = self.d(real, training=True)
                fake_out = self.d(fake, training=True)
                gen_loss = bce(tf.ones_like(fake_out), fake_out)
                disc_loss = bce(tf.ones_like(real_out), real_out) + bce(
                    tf.zeros_like(fake_out), fake_out)
            self.g_opt.apply_gradients(zip(gen_tape.gradient(gen_loss, self.g.trainable_variables),
                                           self.g.trainable_variables, strict=True))
            self.d_opt.apply_gradients(zip(disc_tape.gradient(disc_loss,
                                                              self.d.trainable_variables),
                                           self.d.trainable_variables, strict=True))

        self.step = train_step
        self.params = self.g.count_params() + self.d.count_params()

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step(next(self.iterator))

    def sample(self, n: int) -> np.ndarray:
        out = self.g(tf.random.normal([n, REF_NOISE]), training=False).numpy()
        return np.clip((out + 1) / 2, 0, 1)


# ----------------------------------------------------------------- (b) ours
class OurLoop:
    batch = 128

    def __init__(self, images):
        self.model = gan.GAN(gan.dcgan_generator(64), gan.dcgan_discriminator(), seed=0,
                             ema_decay=0.999)
        self.model.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                           keras.optimizers.Adam(2e-4, beta_1=0.5))
        ds = data.make_dataset(images, batch_size=self.batch, repeat=True,
                               drop_remainder=True)
        # The step that fit() compiles, driven by one persistent iterator (as the reference
        # loop is): calling fit() repeatedly would rebuild the iterator every call.
        self.iterator = iter(ds)
        self.step = tf.function(self.model.train_step)
        self.params = self.model.generator.count_params() + \
            self.model.discriminator.count_params()

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step(next(self.iterator))

    def sample(self, n: int, use_ema: bool = True) -> np.ndarray:
        return self.model.sample(n, use_ema=use_ema)


def main() -> None:
    parser = _common.parser(__doc__.splitlines()[0])
    parser.add_argument("--fid-minutes", type=float, default=0.0)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    fmnist = data.fashion_mnist()
    images = fmnist.train.images
    loops = {"TF tutorial DCGAN": ReferenceLoop(images), "imgutils DCGAN": OurLoop(images)}
    (ref_name, our_name) = loops
    rates = _common.interleaved_rates(loops, args.windows, args.window_seconds)
    _common.print_table(loops, rates, ours=our_name)

    if args.fid_minutes > 0:
        real = fmnist.test.images[:4000]
        floor = metrics.real_floor(metrics.fid_from_features, features.fashion_features(real))
        print(f"\nFID-FM after {args.fid_minutes:g} wall-clock minutes of training each "
              f"(2,000 samples; real-vs-real floor {floor:.2f}):")
        for name, cls in ((ref_name, ReferenceLoop), (our_name, OurLoop)):
            keras.utils.set_random_seed(1)
            loop, start, seen = cls(images), time.perf_counter(), 0
            while time.perf_counter() - start < 60 * args.fid_minutes:
                loop.run(20)
                seen += 20 * loop.batch
            reference = features.fashion_features(real[:2000])
            fid = metrics.fid_from_features(reference, features.fashion_features(loop.sample(2000)))
            print(f"{name:<32} FID-FM {fid:8.2f}   ({seen:,} images seen)")
            if isinstance(loop, OurLoop):
                last = metrics.fid_from_features(reference, features.fashion_features(
                    loop.sample(2000, use_ema=False)))
                print(f"{'  (final weights, no EMA)':<32} FID-FM {last:8.2f}")


if __name__ == "__main__":
    main()
