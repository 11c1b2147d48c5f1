"""Training helpers: a one-line-per-epoch progress log with throughput.

Keras' own progress bar redraws with carriage returns, which renders as noise in a static
book. ``EpochLogger`` prints one line per epoch (metrics, images/s, wall time) and keeps the
numbers in ``.throughput`` so a chapter can report them.
"""

from __future__ import annotations

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
