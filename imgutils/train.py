"""Training helpers: a one-line-per-epoch progress log with throughput.

Keras' own progress bar redraws with carriage returns, which renders as noise in a static
book. ``EpochLogger`` prints one line per epoch (metrics, images/s, wall time) and keeps the
numbers in ``.throughput`` so a chapter can report them.
"""

from __future__ import annotations

import os
import time

import keras

from .validation import positive_int


class EpochLogger(keras.callbacks.Callback):
    """Print ``epoch 3/10  loss 0.31  accuracy 0.89  ...  4,100 img/s  14.6 s`` per epoch.

    images_per_epoch: how many training images one epoch sees (for images/s).
    After training: ``epoch_seconds`` and ``throughput`` (images/s) per epoch, and
    ``total_seconds``.
    """

    def __init__(self, images_per_epoch: int, every: int = 1):
        super().__init__()
        self.images_per_epoch = positive_int(images_per_epoch, "images_per_epoch")
        self.every = positive_int(every, "every")
        self.epoch_seconds: list[float] = []
        self.throughput: list[float] = []
        self.total_seconds = 0.0

    def on_train_begin(self, logs=None):
        self._train_start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._epoch_start
        self.epoch_seconds.append(seconds)
        self.throughput.append(self.images_per_epoch / seconds)
        epochs = self.params.get("epochs", "?") if self.params else "?"
        if (epoch + 1) % self.every == 0 or epoch + 1 == epochs:
            metrics = "  ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items()
                                if isinstance(v, (int, float)))
            print(f"epoch {epoch + 1}/{epochs}  {metrics}  "
                  f"{self.throughput[-1]:,.0f} img/s  {seconds:.1f} s", flush=True)

    def on_train_end(self, logs=None):
        self.total_seconds = time.perf_counter() - self._train_start

    @property
    def median_throughput(self) -> float:
        """Median images/s over the epochs after the first (which includes tracing)."""
        import statistics

        values = self.throughput[1:] or self.throughput
        return statistics.median(values) if values else float("nan")


class ImageSnapshots(keras.callbacks.Callback):
    """Record a grid of generated images from *fixed* inputs at the end of every epoch.

    generate: a function ``inputs -> images [N, H, W, C] in [0, 1]`` (e.g. a generator model
    or ``lambda z: gan.generator(z, training=False)``); inputs: fixed latent vectors or fixed
    damaged images, so that the frames show how the *same* samples evolve. ``frames`` keeps
    one ``[N, H, W, C]`` array per epoch (float16 to save memory); ``animation()`` turns them
    into a matplotlib animation for the book.
    """

    def __init__(self, generate, inputs, every: int = 1):
        super().__init__()
        if not callable(generate):
            raise TypeError("generate must be a callable inputs -> images")
        self.generate = generate
        self.inputs = inputs
        self.every = positive_int(every, "every")
        self.frames: list = []
        self.epochs: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        import numpy as np

        images = keras.ops.convert_to_numpy(self.generate(self.inputs))
        self.frames.append(np.clip(images, 0, 1).astype(np.float16))
        self.epochs.append(epoch + 1)

    def animation(self, ncols: int = 8, interval_ms: int = 400):
        """A ``matplotlib.animation.FuncAnimation`` over the recorded grids
        (``viz.animate_grids``, one frame per recorded epoch)."""
        from . import viz

        if not self.frames:
            raise ValueError("no frames recorded yet: train first")
        return viz.animate_grids(self.frames, [f"epoch {e}" for e in self.epochs], ncols=ncols,
                                 interval_ms=interval_ms)


def resumable_callbacks(backup_dir, *, save_freq="epoch") -> list[keras.callbacks.Callback]:
    """Callbacks that let ``fit`` resume after an interruption (``BackupAndRestore``).

    Call ``fit`` again with the same ``backup_dir`` after a crash or a Colab disconnect: the
    weights, optimizer state and epoch counter come back and training continues from the
    last completed epoch (``save_freq="epoch"``). The folder is deleted when ``fit`` ends
    normally. Keras restarts an interrupted epoch from its first batch, so with an integer
    ``save_freq`` (mid-epoch backups) the batches of the partial epoch are seen twice.
    """
    if isinstance(backup_dir, bool) or not isinstance(backup_dir, (str, os.PathLike)) or not str(
            backup_dir):
        raise TypeError(f"backup_dir must be a folder path (str or pathlib.Path), got "
                        f"{backup_dir!r}")
    if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                 or save_freq <= 0):
        raise ValueError(f"save_freq must be 'epoch' or a number of batches >= 1, got "
                         f"{save_freq!r}")
    return [keras.callbacks.BackupAndRestore(str(backup_dir), save_freq=save_freq)]
