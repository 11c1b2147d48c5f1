"""Run profiles, seeding and an environment report.

A *profile* sets how much work a notebook does:

========  ==========================================================  ===================
profile   for                                                         budget per notebook
========  ==========================================================  ===================
smoke     CI: tiny subsets, the same code path                        <= 60 s (2 CPU cores)
cpu       laptop readers; the outputs committed in the book           <= 20 min (2 cores)
full      a GPU (Colab T4 or better): the full training runs          <= 30 min on a T4
========  ==========================================================  ===================

The profile is resolved from the argument, then the environment variable
``IMGUTILS_PROFILE``, then automatically (a visible GPU gives ``full``, otherwise ``cpu``).
With several GPUs, ``distribute(profile)`` makes the ``full`` profile train under a
``tf.distribute.MirroredStrategy`` (call it right after ``environment_report``).
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

PROFILES = ("smoke", "cpu", "full")
ENV_VAR = "IMGUTILS_PROFILE"


@dataclass(frozen=True)
class Profile:
    """A resolved run profile and where the choice came from (argument, environment, auto)."""

    name: str
    source: str

    def pick(self, smoke, cpu, full):
        """Return the value for this profile, e.g. ``profile.pick(smoke=1, cpu=10, full=30)``."""
        return {"smoke": smoke, "cpu": cpu, "full": full}[self.name]

    def __str__(self) -> str:
        return self.name


def _validate_name(name: object, where: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{where} must be a str, one of {PROFILES}; got {type(name).__name__}")
    cleaned = name.strip().lower()
    if cleaned not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} from {where}; expected one of {', '.join(PROFILES)}"
        )
    return cleaned


def gpu_available() -> bool:
    """True when TensorFlow sees at least one GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def resolve_profile(profile: str | None = None) -> Profile:
    """Resolve the run profile: argument > ``$IMGUTILS_PROFILE`` > auto (GPU -> full, else cpu).

    Raises ``ValueError`` for an unknown name (the message lists the valid ones) and
    ``TypeError`` for a non-string argument.
    """
    if profile is not None:
        return Profile(_validate_name(profile, "argument 'profile'"), "argument")
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Profile(_validate_name(env, f"environment variable {ENV_VAR}"), "environment")
    return Profile("full" if gpu_available() else "cpu", "auto")


def seed_everything(seed: int = 0) -> int:
    """Seed Python, NumPy, TensorFlow and Keras; returns the seed.

    Also sets ``PYTHONHASHSEED`` for child processes. Makes runs repeatable on one machine
    (GPU kernels and thread scheduling may still differ in the last bits).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    import keras

    keras.utils.set_random_seed(seed)  # seeds python, numpy and the TF/Keras backends
    return seed


def environment_report(profile: str | Profile | None = None) -> dict[str, str]:
    """Print and return Python / TensorFlow / Keras / NumPy versions, devices and the profile.

    Machine paths and host names are never printed (the outputs are committed to the book).
    """
    import keras
    import tensorflow as tf

    resolved = profile if isinstance(profile, Profile) else resolve_profile(profile)
    gpus = tf.config.list_physical_devices("GPU")
    devices = ", ".join(d.name.replace("/physical_device:", "") for d in gpus) or "CPU only"
    report = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "devices": devices,
        "cpu cores": str(os.cpu_count()),
        "profile": f"{resolved.name} (from {resolved.source})",
    }
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}} : {value}")
    return report


# environment_report's keys: distribute() pads its line to the same width.
_REPORT_KEYS = ("python", "tensorflow", "keras", "numpy", "devices", "cpu cores", "profile")
_INSTALLED: dict[str, object] = {}   # the MirroredStrategy distribute() installed, its request


def _check_devices(devices) -> tuple[str, ...] | None:
    if devices is None:
        return None
    if isinstance(devices, str) or not isinstance(devices, (list, tuple)):
        raise TypeError("devices must be None or a list of device names such as "
                        f"['/gpu:0', '/gpu:1'], got {type(devices).__name__}")
    for device in devices:
        if not isinstance(device, str) or not device.strip():
            raise TypeError(f"devices must hold non-empty device-name strings, got {device!r}")
    cleaned = tuple(d.strip() for d in devices)
    if len(cleaned) < 2:
        raise ValueError(f"devices must name at least 2 devices to mirror over, got {devices!r}")
    if len({d.lower() for d in cleaned}) != len(cleaned):
        raise ValueError(f"devices must not repeat a device, got {devices!r}")
    return cleaned


def _describe(strategy) -> str:
    import tensorflow as tf

    n = strategy.num_replicas_in_sync
    if n == 1:
        return f"one device ({'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'})"
    names = [d.rsplit("device:", 1)[-1] for d in strategy.extended.worker_devices]
    if all(name.upper().startswith("GPU") for name in names):
        return f"{type(strategy).__name__} over {n} GPUs"
    return f"{type(strategy).__name__} over {n} devices ({', '.join(names)})"


def distribute(profile: str | Profile | None = None, *,
               devices: list[str] | tuple[str, ...] | None = None) -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy to train under; prints one ``strategy : ...`` line.

    For the ``full`` profile on a machine where TensorFlow sees 2 or more GPUs, creates a
    ``tf.distribute.MirroredStrategy()`` (over ``devices`` when given, e.g.
    ``["/cpu:0", "/cpu:1"]`` for a test on logical CPU devices; they need not be GPUs) and
    installs it as the global default (``tf.distribute.experimental_set_strategy``): the
    models, optimizers and ``fit`` calls that follow use it without ``strategy.scope()``
    blocks. Build the models *after* this call. Otherwise (``smoke`` / ``cpu``, or at most one
    GPU) nothing changes and the current strategy, ``tf.distribute.get_strategy()`` (the
    default one-device strategy), is returned.

    ``profile``: a ``Profile`` or a name, resolved as by ``resolve_profile``. Calling it
    again with the same request returns the installed strategy; asking for other devices
    once a strategy is installed raises ``RuntimeError`` (restart the kernel instead).
    Raises ``TypeError`` / ``ValueError`` for a bad ``profile`` or ``devices``.
    """
    import tensorflow as tf

    resolved = profile if isinstance(profile, Profile) else resolve_profile(profile)
    wanted = _check_devices(devices)
    strategy = tf.distribute.get_strategy()
    if resolved.name == "full" and (
            wanted is not None or len(tf.config.list_physical_devices("GPU")) >= 2):
        installed = _INSTALLED.get("strategy")
        if installed is not None and tf.distribute.has_strategy() and strategy is installed:
            if _INSTALLED["devices"] != wanted:
                raise RuntimeError(
                    f"a MirroredStrategy over {_INSTALLED['devices'] or 'all GPUs'} is already "
                    f"installed; cannot switch to devices={devices!r} (restart the kernel)")
        else:
            strategy = (tf.distribute.MirroredStrategy(list(wanted)) if wanted is not None
                        else tf.distribute.MirroredStrategy())
            tf.distribute.experimental_set_strategy(strategy)
            _INSTALLED.update(strategy=strategy, devices=wanted)
    width = max(map(len, (*_REPORT_KEYS, "strategy")))
    print(f"{'strategy':<{width}} : {_describe(strategy)}")
    return strategy
