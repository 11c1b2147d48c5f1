"""Diffusion models (chapter 07): noise schedules, a CPU-sized U-Net, ``Diffusion`` with EMA
weights and classifier-free guidance, DDPM and DDIM samplers.

**Forward process** (Ho et al. 2020). With ``beta_1 .. beta_T`` and ``alpha_bar_t =
prod_{s <= t} (1 - beta_s)``, images are noised in closed form:

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I),
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,   eps ~ N(0, I).

The network predicts **eps** (epsilon-prediction). Its loss ``E ||eps_hat(x_t, t) - eps||^2`` is
denoising score matching at every noise level at once: by Tweedie's formula (chapter 06) the
score of the noised density is ``-eps_hat / sqrt(1 - alpha_bar_t)``. The ELBO view: the
negative ELBO of the reverse chain is a weighted sum of these errors, and is *minimised*
(equivalently the ELBO is maximised); Ho et al. drop the weights ("simple" loss).

Schedules: ``"linear"`` (beta from 1e-4 to 0.02, T = 1000, Ho et al.) and ``"cosine"``
(Nichol & Dhariwal 2021: ``alpha_bar(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2)`` normalised,
``s = 0.008``, betas clipped at 0.999).

Samplers: ``ddpm`` (ancestral, the posterior ``q(x_{t-1} | x_t, x_0_hat)`` variance) and
``ddim`` (Song et al. 2021, ``eta = 0``: deterministic) on any sub-sequence of the T steps.
Classifier-free guidance (Ho & Salimans 2022): the model is trained with the class label
dropped (replaced by a "null" class) 10 % of the time; at sampling
``eps = eps_uncond + w (eps_cond - eps_uncond)``.

Images: float32 ``[N, 28, 28, 1]`` in [0, 1] at the public interface; the model works in
[-1, 1] internally.

The shipped model (chapter 07): ``net = pretrained.load("fashion_diffusion")`` holds the EMA
weights; ``sample(net, n, labels=np.arange(n) % 10, guidance=2.0)`` draws class-balanced images
with the recommended guidance, ``sample(net, n)`` unconditional ones (``DEFAULT_STEPS`` = 20
DDIM steps; 10,000 guided images take about 4-5 minutes on 2 CPU cores).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from ..validation import as_images, as_labels, finite_array, positive_int, real_number
from . import registry
from .fit_checks import CheckedFit
from .registry import builder
from .replicas import scale_for_replicas

__all__ = [
    "DEFAULT_STEPS", "SCHEDULES", "Diffusion", "Schedule", "TimeEmbedding", "as_diffusion",
    "diffusion_unet", "inpaint", "make_schedule", "sample",
]

SCHEDULES = ("linear", "cosine")
DEFAULT_STEPS = 20    # DDIM steps of `sample` when none are given (see chapter 07's table)
NUM_CLASSES = 10


# =========================================================================== schedules
class Schedule:
    """A discrete noise schedule: float64 arrays of length ``T`` (index ``t - 1`` for step t).

    ``betas``, ``alphas = 1 - betas``, ``alpha_bars`` (cumulative products). ``q_sample`` draws
    from ``q(x_t | x_0)`` in closed form.
    """

    def __init__(self, betas):
        betas = np.asarray(betas, np.float64)
        if betas.ndim != 1 or len(betas) < 2 or np.any(betas <= 0) or np.any(betas >= 1):
            raise ValueError("betas must be a 1-D array of at least 2 values in (0, 1)")
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alpha_bars = np.cumprod(self.alphas)
        self.steps = len(betas)

    def _t(self, t) -> np.ndarray:
        t = np.asarray(t)
        if not np.issubdtype(t.dtype, np.integer) or np.any(t < 1) or np.any(t > self.steps):
            raise ValueError(f"t must be integers in [1, {self.steps}]")
        return t

    def q_sample(self, x0, t, eps) -> np.ndarray:
        """``sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps`` (x0 in the model's [-1, 1] scale);
        t: int ``[N]`` in [1, T]."""
        x0 = finite_array(x0, "x0")
        eps = finite_array(eps, "eps", like=x0)
        t = self._t(t)
        if len(t) not in (1, len(x0)):
            raise ValueError(f"t must hold one step per row of x0 ({len(x0)}), got {len(t)}")
        ab = self.alpha_bars[t - 1].reshape((-1,) + (1,) * (np.ndim(x0) - 1))
        return np.sqrt(ab) * x0 + np.sqrt(1.0 - ab) * eps


def make_schedule(kind: str = "cosine", steps: int = 1000) -> Schedule:
    """``"linear"``: betas ``linspace(1e-4, 0.02, T) * 1000 / T``; ``"cosine"``: Nichol &
    Dhariwal's ``alpha_bar``, betas ``1 - alpha_bar_t / alpha_bar_{t-1}`` clipped at 0.999."""
    steps = positive_int(steps, "steps", minimum=2)
    if kind == "linear":
        scale = 1000.0 / steps
        return Schedule(np.linspace(1e-4 * scale, min(0.02 * scale, 0.999), steps))
    if kind == "cosine":
        s = 0.008
        f = np.cos((np.arange(steps + 1) / steps + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = f / f[0]
        return Schedule(np.clip(1.0 - alpha_bar[1:] / alpha_bar[:-1], 1e-8, 0.999))
    raise ValueError(f"kind must be one of {SCHEDULES}, got {kind!r}")


# =========================================================================== network
@keras.saving.register_keras_serializable(package="imgutils")
class TimeEmbedding(layers.Layer):
    """Sinusoidal features of ``t / T`` in [0, 1]: ``[N] -> [N, dim]`` (Vaswani et al.)."""

    def __init__(self, dim: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.dim = positive_int(dim, "dim", minimum=2)

    def call(self, t):
        half = self.dim // 2
        freqs = ops.exp(-math.log(1000.0) * ops.arange(half, dtype="float32") / half)
        angles = 1000.0 * ops.cast(ops.reshape(t, (-1, 1)), "float32") * freqs[None]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim // 2 * 2)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


def _norm(x, groups: int, label: str):
    return layers.GroupNormalization(groups, name=label)(x) if groups else x


def _res_block(x, emb, filters: int, label: str, groups: int = 0):
    skip = x if x.shape[-1] == filters else layers.Conv2D(filters, 1, name=f"{label}_skip")(x)
    h = layers.Conv2D(filters, 3, padding="same", name=f"{label}_conv1")(layers.Activation(
        "silu", name=f"{label}_act1")(_norm(x, groups, f"{label}_norm1")))
    shift = layers.Dense(filters, name=f"{label}_emb")(emb)
    h = layers.Add(name=f"{label}_plus_emb")([h, layers.Reshape((1, 1, filters),
                                                                name=f"{label}_emb_map")(shift)])
    h = layers.Conv2D(filters, 3, padding="same", name=f"{label}_conv2")(layers.Activation(
        "silu", name=f"{label}_act2")(_norm(h, groups, f"{label}_norm2")))
    return layers.Add(name=f"{label}_out")([skip, h])


def _attention(x, label: str, heads: int = 4):
    """Self-attention over the positions of a (small) feature map, with a residual."""
    hh, ww, c = x.shape[1:]
    seq = layers.Reshape((hh * ww, c), name=f"{label}_tokens")(x)
    seq = layers.LayerNormalization(name=f"{label}_norm")(seq)
    att = layers.MultiHeadAttention(heads, max(1, c // heads), name=f"{label}_mha")(seq, seq)
    return layers.Add(name=f"{label}_out")([x, layers.Reshape((hh, ww, c),
                                                              name=f"{label}_map")(att)])


@builder
def diffusion_unet(image_shape=(28, 28, 1), widths=(32, 64, 64), embed_dim: int = 128,
                   conditional: bool = True, norm_groups: int = 0, attention: bool = False,
                   name: str = "diffusion_unet") -> keras.Model:
    """``[x_t [N, H, W, C] in the [-1, 1] scale, t/T [N], label [N]] -> eps_hat [N, H, W, C]``.

    A small U-Net: one residual block per level (conv 3x3, SiLU, the noise-level embedding
    added after the first convolution), average pooling down, nearest upsampling and skip
    concatenation up, at ``len(widths)`` resolutions (28, 14, 7 by default). ``t/T`` is
    embedded sinusoidally; ``label`` in [0, 10] (10 = no label, for classifier-free guidance)
    through an embedding added to it (``conditional=False``: the label input is ignored).
    H and W divisible by ``2 ** (len(widths) - 1)``. ``norm_groups`` > 0: GroupNorm with that
    many groups before each convolution of a block; ``attention``: self-attention over the
    positions of the lowest resolution, before and after the middle block (global context:
    7x7 = 49 positions, cheap).
    """
    h, w, c = (int(v) for v in image_shape)
    widths = tuple(positive_int(v, "widths[i]") for v in widths)
    if not widths or h % 2 ** (len(widths) - 1) or w % 2 ** (len(widths) - 1):
        raise ValueError(f"image_shape {image_shape} must be divisible by 2 ** (len(widths) - 1)")
    embed_dim = positive_int(embed_dim, "embed_dim")
    groups = positive_int(norm_groups, "norm_groups", minimum=0)
    if groups and any(v % groups for v in widths):
        raise ValueError(f"every width must be divisible by norm_groups={groups}, got {widths}")
    if not isinstance(attention, bool):
        raise TypeError(f"attention must be True or False, got {attention!r}")
    noisy = keras.Input((h, w, c), name="noisy")
    level = keras.Input((), name="t_over_T")
    label = keras.Input((), dtype="int32", name="label")
    emb = TimeEmbedding(32, name="time_features")(level)
    emb = layers.Dense(embed_dim, activation="silu", name="time_dense1")(emb)
    emb = layers.Dense(embed_dim, name="time_dense2")(emb)
    if conditional:
        emb = layers.Add(name="time_plus_label")([
            emb, layers.Embedding(NUM_CLASSES + 1, embed_dim, name="label_embedding")(label)])
    emb = layers.Activation("silu", name="emb_act")(emb)
    x = layers.Conv2D(widths[0], 3, padding="same", name="stem")(noisy)
    skips = []
    for i, filters in enumerate(widths):
        x = _res_block(x, emb, filters, f"down{i}", groups)
        skips.append(x)
        if i < len(widths) - 1:
            x = layers.AveragePooling2D(2, name=f"pool{i}")(x)
    if attention:
        x = _attention(x, "attention_in")
    x = _res_block(x, emb, widths[-1], "middle", groups)
    if attention:
        x = _attention(x, "attention_out")
    for i in reversed(range(len(widths))):
        if i < len(widths) - 1:
            x = layers.UpSampling2D(name=f"up{i}")(x)
        x = layers.Concatenate(name=f"skip{i}")([x, skips[i]])
        x = _res_block(x, emb, widths[i], f"upblock{i}", groups)
    x = layers.Activation("silu", name="head_act")(_norm(x, groups, "head_norm"))
    eps = layers.Conv2D(c, 3, padding="same", kernel_initializer="zeros", name="eps")(x)
    return keras.Model([noisy, level, label], eps, name=name)


# =========================================================================== model
class Diffusion(CheckedFit, keras.Model):
    """A denoising diffusion model trained with ``fit`` on images (or ``(images, labels)``).

    Per batch: ``t ~ U{1..T}``, ``eps ~ N(0, I)``, ``x_t`` from ``q(x_t | x_0)``, loss
    ``mean (eps_hat(x_t, t, label) - eps)^2`` (epsilon-prediction, Ho et al.'s simple loss).
    With labels, each label is replaced by the null class 10 with probability
    ``label_dropout`` (classifier-free guidance); without labels every example is
    unconditional. ``ema_network``: a second network of the same architecture (default: rebuilt
    by ``network``'s imgutils builder, else a ``keras.models.clone_model``). After every
    step the EMA copy is updated,
    ``ema <- d * ema + (1 - d) * weights`` with ``d = min(ema_decay, (1 + n) / (10 + n))`` at
    step n (a warm-up: with d = 0.999 from the start, the average after 800 steps would still
    hold 45 % of the random initial weights); sampling uses the EMA network.
    Randomness is keyed by ``(seed, optimizer step)``, so a resumed run draws what the
    uninterrupted run would have. Tracked: ``loss``.
    """

    def __init__(self, network: keras.Model, schedule: Schedule, *, ema_decay: float = 0.999,
                 label_dropout: float = 0.1, seed: int = 0,
                 ema_network: keras.Model | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(network, keras.Model) or len(network.inputs) != 3:
            raise TypeError("network must be a keras.Model taking [noisy, t_over_T, label] "
                            "(see diffusion_unet)")
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a diffusion.Schedule, got {type(schedule).__name__}")
        self.network, self.schedule = network, schedule
        self.ema_decay = real_number(ema_decay, "ema_decay", low=0.0, high=1.0)
        self.label_dropout = real_number(label_dropout, "label_dropout", low=0.0, high=1.0)
        self.seed = positive_int(seed, "seed", minimum=0)
        self.image_shape = tuple(network.inputs[0].shape[1:])
        # the EMA twin: a clone (or, for networks keras cannot clone, one built the same way)
        self.ema_network = ema_network or registry.twin(network)
        self.ema_network.set_weights(network.get_weights())
        self.ema_network.trainable = False
        self._alpha_bars = tf.constant(schedule.alpha_bars, tf.float32)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True       # both networks are built functional models

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def _split(self, data):
        if isinstance(data, tuple):
            images = data[0]
            labels = data[1] if len(data) > 1 else None
        else:
            images, labels = data, None
        return images, labels

    def _loss(self, images, labels, step):
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        s_t, s_eps, s_drop = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
        n = tf.shape(images)[0]
        t = tf.random.stateless_uniform([n], seed=s_t, minval=1, maxval=self.schedule.steps + 1,
                                        dtype=tf.int32)
        eps = tf.random.stateless_normal(tf.shape(images), seed=s_eps)
        ab = tf.gather(self._alpha_bars, t - 1)[:, None, None, None]
        x0 = 2.0 * tf.cast(images, tf.float32) - 1.0
        xt = tf.sqrt(ab) * x0 + tf.sqrt(1.0 - ab) * eps
        if labels is None:
            labels = tf.fill([n], NUM_CLASSES)
        else:
            drop = tf.random.stateless_uniform([n], seed=s_drop) < self.label_dropout
            labels = tf.where(drop, NUM_CLASSES, tf.cast(tf.reshape(labels, [-1]), tf.int32))
        level = tf.cast(t, tf.float32) / self.schedule.steps
        eps_hat = self.network([xt, level, labels], training=True)
        return tf.reduce_mean(tf.square(eps_hat - eps))

    def train_step(self, data):
        images, labels = self._split(data)
        with tf.GradientTape() as tape:
            loss = self._loss(images, labels, self.optimizer.iterations)
        grads = tape.gradient(scale_for_replicas(loss), self.network.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.network.trainable_weights, strict=True))
        # EMA with warm-up (as tf.train.ExponentialMovingAverage with num_updates): early on
        # the average must not be dominated by the random initial weights
        n = tf.cast(self.optimizer.iterations, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + n) / (10.0 + n))
        for ema, weight in zip(self.ema_network.weights, self.network.weights, strict=True):
            ema.assign(decay * ema + (1.0 - decay) * weight)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        images, labels = self._split(data)
        self.loss_tracker.update_state(self._loss(images, labels, -1))
        return {"loss": self.loss_tracker.result()}


# =========================================================================== sampling
def _timesteps(total: int, steps: int) -> np.ndarray:
    """``steps`` distinct steps ``T, ..., T/steps``, evenly spaced, from T downwards (the
    uniform sub-sequence of Song et al. 2021)."""
    return np.round(np.arange(steps, 0, -1) * total / steps).astype(int)


class _Denoiser:
    """The network's eps prediction for a whole batch, in chunks, with optional guidance."""

    def __init__(self, model, labels, guidance, batch_size: int, use_ema: bool, n: int):
        if not isinstance(use_ema, bool):
            raise TypeError(f"use_ema must be True or False, got {use_ema!r}")
        net = model.ema_network if use_ema else model.network
        self.predict = tf.function(lambda x, lv, lab: net([x, lv, lab], training=False),
                                   reduce_retracing=True)
        self.total = model.schedule.steps
        self.cond = labels if labels is not None else np.full(n, NUM_CLASSES, np.int32)
        self.null = np.full(n, NUM_CLASSES, np.int32)
        self.guidance = guidance
        self.batch_size = positive_int(batch_size, "batch_size")

    def __call__(self, x: np.ndarray, t: int) -> np.ndarray:
        level = np.full(len(x), t / self.total, np.float32)
        eps = np.empty_like(x)
        guided = self.guidance is not None and self.guidance != 1.0
        for start in range(0, len(x), self.batch_size):
            sl = slice(start, start + self.batch_size)
            e = self.predict(x[sl], level[sl], self.cond[sl]).numpy()
            if guided:
                e_u = self.predict(x[sl], level[sl], self.null[sl]).numpy()
                e = e_u + self.guidance * (e - e_u)
            eps[sl] = e
        return eps


def as_diffusion(model, schedule: Schedule | None = None) -> Diffusion:
    """A ``Diffusion`` to sample from: ``model`` itself, or a bare network taking
    ``[noisy, t_over_T, label]`` (e.g. ``pretrained.load("fashion_diffusion")``, the shipped EMA
    weights) wrapped with ``schedule`` (default: the cosine schedule, T = 1000, that the
    shipped model was trained with) as both its network and its EMA network."""
    if isinstance(model, Diffusion):
        if schedule is not None:
            raise ValueError("schedule is given by the Diffusion model; pass it only with a "
                             "bare network")
        return model
    if isinstance(model, keras.Model) and len(model.inputs) == 3:
        return Diffusion(model, schedule or make_schedule("cosine", 1000), ema_network=model)
    raise TypeError(f"model must be a diffusion.Diffusion or a network taking [noisy, t_over_T, "
                    f"label], got {type(model).__name__}")


def _check_sampling(model, n, steps, method, labels, guidance):
    total = model.schedule.steps
    steps = DEFAULT_STEPS if steps is None else positive_int(steps, "steps")
    if steps > total:
        raise ValueError(f"steps must be at most the schedule's {total}, got {steps}")
    if method not in ("ddim", "ddpm"):
        raise ValueError(f"method must be 'ddim' or 'ddpm', got {method!r}")
    if labels is not None:
        labels = as_labels(labels, "labels", n=n, num_classes=NUM_CLASSES).astype(np.int32)
    if guidance is not None:
        guidance = real_number(guidance, "guidance", low=0.0, high=100.0)
        if labels is None:
            raise ValueError("guidance needs labels (the classes to guide towards)")
    return steps, labels, guidance


def _step(x, eps, a_t, a_prev, noise=None):
    """One reverse step from level t (alpha_bar a_t) to t_prev (a_prev): returns (x_prev, x0_hat).

    x0_hat = (x - sqrt(1 - a_t) eps) / sqrt(a_t), clipped to [-1, 1] (and eps made consistent
    with the clipped x0_hat). ``noise=None``: DDIM with eta = 0; otherwise the ancestral step
    with the posterior variance ``(1 - a_prev) / (1 - a_t) (1 - a_t / a_prev)``.
    """
    x0 = np.clip((x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t), -1.0, 1.0)
    eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
    if noise is None:
        x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
    else:
        var = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
        x = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - var, 0.0)) * eps \
            + math.sqrt(var) * noise
    return x.astype(np.float32), x0


def _to_unit(x: np.ndarray) -> np.ndarray:
    return np.clip((x + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def sample(model, n: int, *, steps: int | None = None, seed: int = 0, labels=None,
           guidance: float | None = None, method: str = "ddim", batch_size: int = 1000,
           use_ema: bool = True, trajectory: bool = False, schedule: Schedule | None = None):
    """Draw ``n`` images: float32 ``[n, H, W, C]`` in [0, 1], deterministic for a seed.

    model: a ``Diffusion``, or a bare network such as ``pretrained.load("fashion_diffusion")``
    (then ``schedule``, default cosine with T = 1000: see ``as_diffusion``). steps: number of
    denoising steps (default ``DEFAULT_STEPS``; at most T). method: ``"ddim"`` (eta = 0,
    deterministic given the starting noise) or ``"ddpm"`` (ancestral: fresh noise at every
    step, the posterior variance; with ``steps = T`` it is Ho et al.'s sampler). labels:
    ``None`` (unconditional) or int ``[n]`` in [0, 10). guidance: classifier-free guidance
    weight w (``eps_u + w (eps_c - eps_u)``; None or 1: no guidance; needs labels).
    trajectory: also return the estimates x0_hat after every step, float32
    ``[steps, n, H, W, C]`` in [0, 1] (for an animation of the reverse process).
    """
    model = as_diffusion(model, schedule)
    n = positive_int(n, "n")
    steps, labels, guidance = _check_sampling(model, n, steps, method, labels, guidance)
    if not isinstance(trajectory, bool):
        raise TypeError(f"trajectory must be True or False, got {trajectory!r}")
    denoise = _Denoiser(model, labels, guidance, batch_size, use_ema, n)
    rng = np.random.default_rng(positive_int(seed, "seed", minimum=0))
    ab, ts = model.schedule.alpha_bars, _timesteps(model.schedule.steps, steps)
    x = rng.standard_normal((n, *model.image_shape)).astype(np.float32)
    frames = []
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else 0
        a_prev = ab[t_prev - 1] if t_prev > 0 else 1.0
        noise = rng.standard_normal(x.shape) if method == "ddpm" and t_prev > 0 else None
        x, x0 = _step(x, denoise(x, t), ab[t - 1], a_prev, noise)
        if trajectory:
            frames.append(_to_unit(x0))
    images = _to_unit(x)
    return (images, np.stack(frames)) if trajectory else images


def inpaint(model, images, mask, *, steps: int | None = None, resample: int = 1, seed: int = 0,
            labels=None, guidance: float | None = None, batch_size: int = 1000,
            use_ema: bool = True, schedule: Schedule | None = None) -> np.ndarray:
    """Fill the missing pixels by generation (RePaint, Lugmayr et al. 2022, jump length 1).

    images: float32 ``[N, H, W, C]`` in [0, 1] (the values under the hole are ignored); mask:
    ``[N, H, W, 1]`` (or C channels), 1 = observed, 0 = missing (``imgutils.corrupt``'s
    convention). Reverse ancestral steps as in ``sample(method="ddpm")``; after every step the
    observed pixels of x_{t_prev} are replaced by a fresh draw of ``q(x_{t_prev} | x_0)`` of
    the observed image, so the model only generates the hole. ``resample`` > 1: the step is
    repeated ``resample`` times, each time after re-noising x_{t_prev} back to level t with
    ``q(x_t | x_{t_prev})``, which lets the generated region agree with its border (cost:
    ``steps * resample`` network evaluations). Returns float32 ``[N, H, W, C]`` in [0, 1] with
    the observed pixels exactly as given.
    """
    model = as_diffusion(model, schedule)
    x_known = as_images(images, "images")
    if tuple(x_known.shape[1:]) != tuple(model.image_shape):
        raise ValueError(f"images must have shape [N, {', '.join(map(str, model.image_shape))}]"
                         f", got {x_known.shape}")
    mask = as_images(mask, "mask")
    if mask.shape[:3] != x_known.shape[:3] or mask.shape[3] not in (1, x_known.shape[3]):
        raise ValueError(f"mask must have shape {x_known.shape[:3] + (1,)}, got {mask.shape}")
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError("mask must hold only 0 (missing) and 1 (observed)")
    resample = positive_int(resample, "resample")
    n = len(x_known)
    steps, labels, guidance = _check_sampling(model, n, steps, "ddpm", labels, guidance)
    denoise = _Denoiser(model, labels, guidance, batch_size, use_ema, n)
    rng = np.random.default_rng(positive_int(seed, "seed", minimum=0))
    ab, ts = model.schedule.alpha_bars, _timesteps(model.schedule.steps, steps)
    keep = np.broadcast_to(mask, x_known.shape).astype(np.float32)
    x0_known = 2.0 * x_known.astype(np.float32) - 1.0
    x = rng.standard_normal(x_known.shape).astype(np.float32)
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else 0
        a_t, a_prev = ab[t - 1], (ab[t_prev - 1] if t_prev > 0 else 1.0)
        for r in range(resample):
            noise = rng.standard_normal(x.shape) if t_prev > 0 else None
            x_prev, _ = _step(x, denoise(x, t), a_t, a_prev, noise)
            known = math.sqrt(a_prev) * x0_known + math.sqrt(1 - a_prev) * rng.standard_normal(
                x.shape)
            x_prev = (keep * known + (1 - keep) * x_prev).astype(np.float32)
            if r + 1 < resample:     # back to level t: q(x_t | x_{t_prev})
                ratio = a_t / a_prev
                x = (math.sqrt(ratio) * x_prev + math.sqrt(1 - ratio)
                     * rng.standard_normal(x.shape)).astype(np.float32)
        x = x_prev
    return (keep * x_known + (1 - keep) * _to_unit(x)).astype(np.float32)
