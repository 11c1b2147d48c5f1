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
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import dataclass

import numpy as np

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
