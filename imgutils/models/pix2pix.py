"""Conditional GAN restoration (chapter 05): a PatchGAN critic and a ``Pix2Pix`` model.

The conditional game (Isola et al. 2017, "pix2pix"): y is the damaged image, x the clean one,
z the generator's noise. The discriminator sees the *pair* (y, candidate) and

    min_G max_D  E_{x,y}[log D(y, x)] + E_{y,z}[log(1 - D(y, G(y, z)))]

(D maximises; the source text writes ``max_G min_D`` and has D favour generated images: both
backwards, ERRATA 1-2). The generator minimises the non-saturating ``-log D(y, G(y, z))``
plus a content term, ``g_loss = content_weight * content + adversarial_weight * adversarial``.
``adversarial_weight`` is the chapter's lambda; with lambda = 0 and an L2 content term the
generator is trained by MSE alone and converges to the posterior mean ``E[x | y]``.

``samples_per_input = K > 1`` draws K restorations of every input per step and puts the
content loss on their *mean* (Ohayon et al. 2021): the mean is pulled towards ``E[x | y]``
while the single samples stay free to differ, which is what a posterior sampler must do.

**BatchNorm at test time.** The TF pix2pix tutorial calls its generator with
``training=True`` at inference (tensorflow/tensorflow#29478), so BatchNorm normalises with the
statistics of the *test batch*: the restoration of an image depends on which other images
share its batch (with a batch of one it is instance normalisation) and the dropout that
supplies its randomness stays on. Here the generator runs with ``training=False`` at test
time (BatchNorm uses its moving averages, momentum 0.9) and its randomness comes from
explicit noise channels (``restoration.NoiseChannels``), drawn in training and inference
alike: a restoration never depends on its batch.

Images: float32 ``[N, H, W, C]`` in [0, 1] everywhere; the discriminator outputs a grid of
**logits** ``[N, H/4, W/4, 1]``, one per overlapping patch.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from ..validation import positive_int, real_number
from .fit_checks import CheckedFit
from .gan import discriminator_loss, generator_loss
from .registry import builder
from .replicas import scale_for_replicas
from .restoration import NoiseChannels, _checked_inputs, _run_in_chunks

CONTENT_LOSSES = ("l1", "l2")


def _shape(value, name: str) -> tuple[int, int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"{name} must be (H, W, C) with positive ints, got {value!r}")
    return tuple(value)


@builder
def patchgan_discriminator(image_shape=(28, 28, 1), condition_shapes=((7, 7, 1),),
                           width: int = 32, name: str = "patchgan") -> keras.Model:
    """Conditional PatchGAN: ``[*conditions, candidate]`` -> logits ``[N, H/4, W/4, 1]``.

    conditions: the generator's inputs (e.g. the 7x7 low-resolution image, or the corrupted
    image and its mask), each ``[N, h, w, c]`` with ``H / h`` an integer: smaller ones are
    upsampled (nearest) to ``H x W`` and concatenated with the candidate ``[N, H, W, C]``.
    Layers: conv 4x4 stride 2 (``width``) -> LeakyReLU(0.2) -> conv 4x4 stride 2
    (``2 width``) -> LeakyReLU(0.2) -> conv 3x3 (1 logit). No normalisation layers, so a
    logit never depends on the other images of the batch. Receptive field of one logit:
    ``1 + 3 + 3 * 2 + 2 * 4 = 18`` pixels square (``receptive_field`` computes it), so on
    28x28 images a 7x7 grid of overlapping 18x18 patches is judged.
    """
    h, w, c = _shape(image_shape, "image_shape")
    if (not isinstance(condition_shapes, (tuple, list)) or not condition_shapes):
        raise ValueError("condition_shapes must be a non-empty tuple of (h, w, c) shapes, "
                         f"got {condition_shapes!r}")
    conditions = [_shape(s, "condition_shapes[i]") for s in condition_shapes]
    width = positive_int(width, "width")
    if h % 4 or w % 4:
        raise ValueError(f"image_shape must have H and W divisible by 4, got {image_shape!r}")
    inputs, parts = [], []
    for i, (ch, cw, cc) in enumerate(conditions):
        if h % ch or w % cw or h // ch != w // cw:
            raise ValueError(f"condition_shapes[{i}] = {(ch, cw, cc)} must divide the image "
                             f"size {h}x{w} by one integer factor")
        cond = keras.Input((ch, cw, cc), name=f"condition{i}")
        inputs.append(cond)
        parts.append(cond if ch == h else layers.UpSampling2D(h // ch, name=f"up{i}")(cond))
    candidate = keras.Input((h, w, c), name="candidate")
    inputs.append(candidate)
    parts.append(candidate)
    x = layers.Concatenate(name="pair")(parts) if len(parts) > 1 else parts[0]
    x = layers.Rescaling(2.0, offset=-1.0, name="to_tanh_range")(x)
    x = layers.Conv2D(width, 4, strides=2, padding="same", name="down0")(x)
    x = layers.LeakyReLU(0.2, name="down0_lrelu")(x)
    x = layers.Conv2D(2 * width, 4, strides=2, padding="same", name="down1")(x)
    x = layers.LeakyReLU(0.2, name="down1_lrelu")(x)
    logits = layers.Conv2D(1, 3, padding="same", name="patch_logits")(x)
    return keras.Model(inputs, logits, name=name)


def receptive_field(model: keras.Model) -> int:
    """Side of the input square one output unit sees, from the Conv2D chain of ``model``.

    ``r = 1 + sum_l (k_l - 1) * prod_{m < l} s_m`` over the convolutions in order (nearest
    upsampling of conditions and elementwise layers do not widen it).
    """
    r, jump = 1, 1
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            k, s = layer.kernel_size[0], layer.strides[0]
            r += (k - 1) * jump
            jump *= s
    return r


class Pix2Pix(CheckedFit, keras.Model):
    """A conditional GAN restorer trained with ``fit`` (keras.io style).

    Data: ``(condition, clean)`` batches, condition a tensor (e.g. low-resolution images) or a
    tuple ``(corrupted, mask)`` -- what ``imgutils.corrupt.training_pairs`` yields. Per batch:
    one discriminator step on (condition, clean) against (condition, G(condition)) with G
    fixed, then one generator step through the fixed D. With ``adversarial_weight = 0`` the
    discriminator is not trained (the generator learns from the content loss alone).

    Tracked (``keras.metrics.Mean``): ``g_loss``, ``content`` (the L1/L2 term), ``adversarial``
    (the generator's non-saturating loss), ``d_loss``, ``d_real`` / ``d_fake`` (mean patch
    probabilities on real and generated pairs, before the G step).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, **kwargs):
        super().__init__(**kwargs)
        out, candidate = generator.output_shape[1:], discriminator.input_shape[-1][1:]
        if any(a is not None and a != b for a, b in zip(out, candidate, strict=True)):
            raise ValueError(f"generator output {out} does not match the discriminator's "
                             f"candidate input {candidate}")
        n_conditions = len(generator.inputs)
        if len(discriminator.inputs) != n_conditions + 1:
            raise ValueError(f"the discriminator must take the generator's {n_conditions} "
                             f"input(s) plus the candidate, got {len(discriminator.inputs)} "
                             "inputs")
        self.generator = generator
        self.discriminator = discriminator
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("g_loss", "content", "adversarial", "d_loss", "d_real", "d_fake")}
        self.built = True

    def compile(self, d_optimizer, g_optimizer, *, adversarial_weight: float = 0.01,
                content_weight: float = 1.0, content: str = "l2",
                samples_per_input: int = 1, **kwargs):
        """``adversarial_weight`` (lambda) >= 0, ``content_weight`` >= 0, ``content`` "l1" or
        "l2", ``samples_per_input`` K >= 1 (content loss on the mean of K draws)."""
        if content not in CONTENT_LOSSES:
            raise ValueError(f"content must be one of {CONTENT_LOSSES}, got {content!r}")
        super().compile(**kwargs)
        self.adversarial_weight = real_number(adversarial_weight, "adversarial_weight", low=0.0)
        self.content_weight = real_number(content_weight, "content_weight", low=0.0)
        if self.adversarial_weight == 0 and self.content_weight == 0:
            raise ValueError("adversarial_weight and content_weight cannot both be 0")
        self.content = content
        self.samples_per_input = positive_int(samples_per_input, "samples_per_input")
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # optimizer slots now, so that BackupAndRestore can restore into them before step 1
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, condition, training=False):
        return self.generator(condition, training=training)

    def _content(self, target, restored):
        error = target - restored
        return tf.reduce_mean(tf.abs(error) if self.content == "l1" else tf.square(error))

    def train_step(self, data):
        condition, target = data[0], data[1]
        conditions = list(condition) if isinstance(condition, (tuple, list)) else [condition]
        g_input = conditions if len(conditions) > 1 else conditions[0]
        d_real = d_fake = d_loss = tf.constant(0.0)
        if self.adversarial_weight > 0:
            # 1. discriminator step, generator fixed
            fake = tf.stop_gradient(self.generator(g_input, training=True))
            with tf.GradientTape() as tape:
                real_logits = self.discriminator([*conditions, target], training=True)
                fake_logits = self.discriminator([*conditions, fake], training=True)
                d_loss = discriminator_loss(real_logits, fake_logits)
                scaled = scale_for_replicas(d_loss)
            grads = tape.gradient(scaled, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights,
                                                 strict=True))
            d_real = tf.reduce_mean(tf.sigmoid(real_logits))
            d_fake = tf.reduce_mean(tf.sigmoid(fake_logits))
        # 2. generator step through the fixed discriminator: K draws per input
        k = self.samples_per_input
        repeated = [tf.concat([c] * k, axis=0) for c in conditions] if k > 1 else conditions
        with tf.GradientTape() as tape:
            fakes = self.generator(repeated if len(repeated) > 1 else repeated[0],
                                   training=True)
            mean = tf.reduce_mean(tf.reshape(fakes, tf.concat([[k], tf.shape(target)], 0)),
                                  axis=0) if k > 1 else fakes
            content = self._content(target, mean)
            g_loss = self.content_weight * content
            adversarial = tf.constant(0.0)
            if self.adversarial_weight > 0:
                logits = self.discriminator([*repeated, fakes], training=True)
                adversarial = generator_loss(logits, "non_saturating")
                g_loss = g_loss + self.adversarial_weight * adversarial
            scaled = scale_for_replicas(g_loss)
        grads = tape.gradient(scaled, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights,
                                             strict=True))
        for name, value in (("g_loss", g_loss), ("content", content),
                            ("adversarial", adversarial), ("d_loss", d_loss),
                            ("d_real", d_real), ("d_fake", d_fake)):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def _noise_layers(model: keras.Model) -> list[NoiseChannels]:
    return [layer for layer in model.layers if isinstance(layer, NoiseChannels)]


def is_stochastic(model: keras.Model) -> bool:
    """True when ``model`` draws noise at every call (it has ``NoiseChannels`` layers)."""
    return bool(_noise_layers(model))


def draw_samples(generator: keras.Model, inputs, k: int, *, seed: int = 0,
                 batch_size: int = 256) -> np.ndarray:
    """``k`` restorations of every input: float32 ``[k, N, H, W, C]`` in [0, 1].

    inputs: what the generator takes (an array, or ``[corrupted, mask]``). The generator's
    noise layers are reseeded from ``seed`` first (and put back afterwards), so the draws are
    the same for the same seed. A deterministic generator returns ``k`` identical copies.
    """
    k = positive_int(k, "k")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be an int >= 0, got {seed!r}")
    inputs = _checked_inputs(inputs)
    noise = _noise_layers(generator)
    saved = [layer.seed_generator.state.numpy() for layer in noise]
    try:
        for i, (layer, old) in enumerate(zip(noise, saved, strict=True)):
            layer.seed_generator.state.assign(np.array([int(seed) * 1009 + i, 0], old.dtype))
        draws = [np.clip(_run_in_chunks(generator, inputs, batch_size), 0.0, 1.0)
                 for _ in range(k)]
    finally:
        for layer, state in zip(noise, saved, strict=True):
            layer.seed_generator.state.assign(state)
    return np.stack(draws).astype(np.float32)


def warm_start(target: keras.Model, source: keras.Model) -> list[str]:
    """Copy ``source``'s weights into the layers of ``target`` with the same names.

    The SRGAN recipe (Ledig et al. 2017): start the adversarial training from the trained MSE
    model. Where ``target`` has *more input channels* (the noise channels a stochastic
    generator adds to a convolution's input), the source kernel fills the first input
    channels and the extra ones keep their initial values. Returns the names of the layers
    copied; raises ``ValueError`` when no layer matches or a shape cannot be matched.
    """
    copied = []
    sources = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        other = sources.get(layer.name)
        if other is None or not other.weights:
            continue
        new = []
        for mine, theirs in zip(layer.get_weights(), other.get_weights(), strict=True):
            if mine.shape == theirs.shape:
                new.append(theirs)
            elif (mine.ndim == 4 and mine.shape[:2] == theirs.shape[:2]
                  and mine.shape[3] == theirs.shape[3] and mine.shape[2] > theirs.shape[2]):
                merged = mine.copy()
                merged[:, :, :theirs.shape[2]] = theirs
                new.append(merged)
            else:
                raise ValueError(f"layer {layer.name!r}: cannot copy a weight of shape "
                                 f"{theirs.shape} into {mine.shape}")
        layer.set_weights(new)
        copied.append(layer.name)
    if not copied:
        raise ValueError(f"no layer of {source.name!r} matches a layer of {target.name!r}")
    return copied
