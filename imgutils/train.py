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
    ``total_seconds``: the wall time of the training, including that of the epochs run before
    an interruption when the records come back through ``ResumableBackup(keep=[logger])``
    (``resumed_epochs`` says how many did).
    """

    def __init__(self, images_per_epoch: int, every: int = 1):
        super().__init__()
        self.images_per_epoch = positive_int(images_per_epoch, "images_per_epoch")
        self.every = positive_int(every, "every")
        self.epoch_seconds: list[float] = []
        self.throughput: list[float] = []
        self.total_seconds = 0.0
        self.resumed_epochs = 0
        self._restored_seconds = 0.0

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
        self.total_seconds = time.perf_counter() - self._train_start + self._restored_seconds
        self._restored_seconds = 0.0   # a later fit() without a restore counts its own time

    def backup_state(self) -> tuple[dict, dict]:
        """(JSON-able, arrays) for ``ResumableBackup(keep=[logger])``."""
        return {"epoch_seconds": self.epoch_seconds, "throughput": self.throughput}, {}

    def restore_state(self, plain: dict, arrays: dict, epochs: int) -> None:
        """The records of the ``epochs`` epochs completed before an interruption."""
        self.epoch_seconds = [float(v) for v in plain.get("epoch_seconds", [])][:epochs]
        self.throughput = [float(v) for v in plain.get("throughput", [])][:epochs]
        self.resumed_epochs = len(self.epoch_seconds)
        self._restored_seconds = float(sum(self.epoch_seconds))

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

    def backup_state(self) -> tuple[dict, dict]:
        """(JSON-able, arrays) for ``ResumableBackup(keep=[snapshots])``."""
        import numpy as np

        arrays = {"frames": np.stack(self.frames)} if self.frames else {}
        return {"epochs": self.epochs}, arrays

    def restore_state(self, plain: dict, arrays: dict, epochs: int) -> None:
        """The frames recorded in the ``epochs`` epochs completed before an interruption."""
        kept = [i for i, e in enumerate(plain.get("epochs", [])) if e <= epochs]
        frames = arrays.get("frames")
        self.epochs = [int(plain["epochs"][i]) for i in kept]
        self.frames = [frames[i] for i in kept] if frames is not None else []

    def animation(self, ncols: int = 8, interval_ms: int = 400):
        """A ``matplotlib.animation.FuncAnimation`` over the recorded grids
        (``viz.animate_grids``, one frame per recorded epoch)."""
        from . import viz

        if not self.frames:
            raise ValueError("no frames recorded yet: train first")
        return viz.animate_grids(self.frames, [f"epoch {e}" for e in self.epochs], ncols=ncols,
                                 interval_ms=interval_ms)


class BackupError(RuntimeError):
    """A backup folder that cannot be resumed from (missing, corrupt, or another run's)."""


_WEIGHTS, _METADATA, _RUN = "latest.weights.h5", "training_metadata.json", "imgutils_run.json"
_EXTRA = "imgutils_state.npz"


def _seed_states(model) -> list:
    """The state variables of every ``SeedGenerator`` in ``model`` (the VAE's sampling noise,
    the GAN's latent stream ...): ``save_weights`` leaves them out, a faithful resume cannot."""
    states, seen = [], set()
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for generator in getattr(layer, "_seed_generators", []) or []:
            if id(generator.state) not in seen:
                seen.add(id(generator.state))
                states.append(generator.state)
    return states


def _fingerprint(model) -> dict:
    """What a backup must match: the model's class and weight shapes, its optimizers' classes."""
    optimizers = {name: type(value).__name__ for name, value in sorted(vars(model).items())
                  if isinstance(value, keras.optimizers.Optimizer)}
    if getattr(model, "optimizer", None) is not None:
        optimizers.setdefault("optimizer", type(model.optimizer).__name__)
    return {"model": type(model).__name__,
            "weights": [list(map(int, w.shape)) for w in model.weights],
            "optimizers": optimizers}


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that never lies about what it restored.

    On top of Keras' weights, optimizer state and epoch counter it saves the model's seed
    states, the per-epoch logs (so the ``History`` that ``fit`` returns holds the epochs from
    before the interruption too) and the state of the callbacks passed as ``keep``
    (``EpochLogger``, ``ImageSnapshots``). Before restoring it checks the folder: a missing,
    empty or truncated weights file, malformed metadata, an epoch count beyond this run, or a
    backup of another model or optimizer is a ``BackupError`` naming the folder, never a
    silent fresh start or a zero-epoch run that deletes the backup. To start fresh, delete the
    folder (``shutil.rmtree(backup_dir)``) or pass a new one.
    """

    def __init__(self, backup_dir, save_freq="epoch", keep=()):
        super().__init__(str(backup_dir), save_freq=save_freq)
        self.keep = list(keep)
        for callback in self.keep:
            if not (hasattr(callback, "backup_state") and hasattr(callback, "restore_state")):
                raise TypeError(f"keep must hold callbacks with backup_state/restore_state "
                                f"(EpochLogger, ImageSnapshots), got {type(callback).__name__}")
        self._epoch_logs: list[dict] = []
        self._run: dict = {}

    # ------------------------------------------------------------------ checks
    def _fail(self, problem: str):
        raise BackupError(f"cannot resume from the backup folder {self.backup_dir}: {problem}. "
                          f"To start fresh, delete it (shutil.rmtree({str(self.backup_dir)!r})) "
                          "or pass another backup_dir")

    def _read_json(self, name: str) -> dict:
        import json

        path = os.path.join(self.backup_dir, name)
        try:
            with open(path, encoding="utf-8") as handle:
                value = json.load(handle)
        except (OSError, ValueError) as exc:
            self._fail(f"{name} is unreadable or not JSON ({type(exc).__name__}: {exc})")
        if not isinstance(value, dict):
            self._fail(f"{name} must hold a JSON object, got {type(value).__name__}")
        return value

    def _check_backup(self) -> int | None:
        """None if there is nothing to resume from, else the number of completed epochs (the
        checked run record is kept in ``self._run``)."""
        folder = self.backup_dir
        if not os.path.isdir(folder):
            if os.path.exists(folder):
                self._fail("it is a file, not a folder")
            return None
        present = {n for n in (_WEIGHTS, _METADATA, _RUN) if os.path.isfile(os.path.join(
            folder, n))}
        if not present:
            if os.listdir(folder):
                self._fail(f"it holds {sorted(os.listdir(folder))[:5]} but no {_WEIGHTS} / "
                           f"{_METADATA}: not a training backup")
            return None
        for name in (_WEIGHTS, _METADATA, _RUN):
            if name not in present:
                self._fail(f"{name} is missing (the backup is incomplete)")
        metadata = self._read_json(_METADATA)
        epoch = metadata.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            self._fail(f"{_METADATA} must record the completed epochs as an int >= 0, got "
                       f"{epoch!r}")
        planned = (self.params or {}).get("epochs")
        if planned is not None and epoch >= planned:
            self._fail(f"it records {epoch} completed epochs, and this fit runs {planned}: "
                       "nothing would be trained and the backup would be deleted (it is a "
                       "finished run, or another, longer one)")
        run = self._run = self._read_json(_RUN)
        expected = _fingerprint(self.model)
        for key, what in (("model", "model class"), ("optimizers", "optimizers")):
            if run.get(key) != expected[key]:
                self._fail(f"it comes from another run: {what} {run.get(key)} in the backup, "
                           f"{expected[key]} now")
        stored_shapes = run.get("weights")
        if stored_shapes != expected["weights"]:
            if not isinstance(stored_shapes, list) or len(stored_shapes) != len(
                    expected["weights"]):
                self._fail(f"it comes from another run: {len(stored_shapes or [])} weight "
                           f"arrays in the backup, {len(expected['weights'])} now")
            i = next(i for i, (a, b) in enumerate(zip(stored_shapes, expected["weights"],
                                                      strict=True)) if a != b)
            self._fail(f"it comes from another run: weight {i} has shape {stored_shapes[i]} "
                       f"in the backup, {expected['weights'][i]} now")
        size = os.path.getsize(os.path.join(folder, _WEIGHTS))
        if size == 0:
            self._fail(f"{_WEIGHTS} is empty")
        try:
            import h5py

            with h5py.File(os.path.join(folder, _WEIGHTS), "r") as handle:
                handle.visititems(lambda _, item: item[()] if isinstance(item, h5py.Dataset)
                                  else None)
        except Exception as exc:                         # truncated or not HDF5
            self._fail(f"{_WEIGHTS} is truncated or corrupt ({type(exc).__name__}: {exc})")
        return epoch

    def _load_model(self, epoch: int):
        """Keras' restore of the checked backup (``epoch`` completed epochs), except that
        ``model.optimizer`` is built only if it was built when the backup was written: a GAN's
        placeholder optimizer (it trains with its own two) would otherwise be built over every
        variable and mismatch the saved, unbuilt one."""
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built and self._run.get("optimizer_built"):
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self._weights_path)
        self.model._initial_epoch = epoch

    # ------------------------------------------------------------------ Keras hooks
    def on_train_begin(self, logs=None):
        import warnings

        import numpy as np

        self._epoch_logs = []
        epoch = self._check_backup()
        if epoch is None:
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self._load_model(epoch)
            except Exception as exc:
                self._fail(f"{_WEIGHTS} does not load into this model ({exc})")
        skipped = [str(w.message) for w in caught if "could not be loaded" in str(w.message)
                   or "Skipping" in str(w.message)]
        if skipped:
            self._fail(f"{_WEIGHTS} did not restore every variable: {skipped[0][:200]}")
        try:
            with np.load(os.path.join(self.backup_dir, _EXTRA), allow_pickle=False) as extra:
                stored = {k: extra[k] for k in extra.files}
        except Exception as exc:
            self._fail(f"{_EXTRA} is missing or unreadable ({type(exc).__name__}: {exc})")
        for i, state in enumerate(_seed_states(self.model)):
            if f"seed_{i}" not in stored or stored[f"seed_{i}"].shape != tuple(state.shape):
                self._fail(f"{_EXTRA} lacks the state of seed generator {i}")
            state.assign(stored[f"seed_{i}"])
        self._epoch_logs = list(self._run.get("epoch_logs", []))[:epoch]
        kept = self._run.get("keep", [])
        if len(kept) != len(self.keep):
            self._fail(f"it kept the state of {len(kept)} callbacks, this fit passes "
                       f"{len(self.keep)} as keep")
        for i, callback in enumerate(self.keep):
            prefix = f"keep{i}_"
            callback.restore_state(kept[i], {k[len(prefix):]: v for k, v in stored.items()
                                             if k.startswith(prefix)}, epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_logs.append({k: float(v) for k, v in (logs or {}).items()
                                 if isinstance(v, (int, float))})
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        import json

        import numpy as np

        super()._save_model()
        arrays = {f"seed_{i}": np.asarray(state.numpy())
                  for i, state in enumerate(_seed_states(self.model))}
        keep_json = []
        for i, callback in enumerate(self.keep):
            plain, arrays_of = callback.backup_state()
            keep_json.append(plain)
            arrays.update({f"keep{i}_{k}": v for k, v in arrays_of.items()})
        np.savez(os.path.join(self.backup_dir, _EXTRA), **arrays)
        run = {**_fingerprint(self.model), "epoch_logs": self._epoch_logs, "keep": keep_json,
               "optimizer_built": bool(getattr(self.model.optimizer, "built", False))}
        with open(os.path.join(self.backup_dir, _RUN), "w", encoding="utf-8") as handle:
            json.dump(run, handle)

    def on_train_end(self, logs=None):
        history = getattr(self.model, "history", None)
        restored = self._epoch_logs[:len(self._epoch_logs) - len(getattr(history, "epoch", []))]
        if restored and isinstance(history, keras.callbacks.History):
            history.epoch = list(range(len(restored))) + list(history.epoch)
            for key in history.history:
                history.history[key] = [e.get(key, float("nan")) for e in restored] + list(
                    history.history[key])
        super().on_train_end(logs)


def resumable_callbacks(backup_dir, *, save_freq="epoch", keep=()) -> list[
        keras.callbacks.Callback]:
    """Callbacks that let ``fit`` resume after an interruption (``ResumableBackup``).

    Call ``fit`` again with the same ``backup_dir`` after a crash or a Colab disconnect: the
    weights, optimizer state, seed states and epoch counter come back and training continues
    from the last completed epoch (``save_freq="epoch"``); the returned ``History`` holds
    every epoch, and the callbacks in ``keep`` (an ``EpochLogger``, ``ImageSnapshots``) get
    their records back. The folder is deleted when ``fit`` ends normally. A folder that
    cannot be resumed from is a ``BackupError`` saying why (delete it to start fresh). Keras
    restarts an interrupted epoch from its first batch, so with an integer ``save_freq``
    (mid-epoch backups) the batches of the partial epoch are seen twice. Use ``backup_folder``
    for a folder of its own per run.
    """
    if isinstance(backup_dir, bool) or not isinstance(backup_dir, (str, os.PathLike)) or not str(
            backup_dir):
        raise TypeError(f"backup_dir must be a folder path (str or pathlib.Path), got "
                        f"{backup_dir!r}")
    if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                 or save_freq <= 0):
        raise ValueError(f"save_freq must be 'epoch' or a number of batches >= 1, got "
                         f"{save_freq!r}")
    return [ResumableBackup(backup_dir, save_freq=save_freq, keep=keep)]


def backup_folder(tag: str, **run) -> str:
    """A backup folder of one run's own: ``<tmp>/imgutils_backups/<tag>-<hash of run>``.

    ``run``: what defines the run (profile, seed, epochs, batch size ...): another profile or
    seed gets another folder, so runs never share (or restore) each other's backups, while
    re-running the same interrupted cell resumes it.
    """
    import hashlib
    import json
    import re
    import tempfile

    if not isinstance(tag, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", tag):
        raise ValueError(f"tag must be a plain name (letters, digits, _ . -), got {tag!r}")
    try:
        key = json.dumps(run, sort_keys=True, default=str)
    except TypeError as exc:
        raise TypeError(f"run must hold JSON-like values: {exc}") from exc
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), "imgutils_backups", f"{tag}-{digest}")
