"""imgutils: the code behind the book *Deep Image Generation and Restoration*.

Image convention at every public interface: ``float32`` arrays of shape ``[N, H, W, C]`` with
values in ``[0, 1]``. Modules are imported lazily so that ``import imgutils`` stays cheap
(TensorFlow is only loaded by the modules that need it).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "baselines", "config", "corrupt", "data", "evaluation", "exercises", "features", "logs",
    "metrics", "models",
    "ops", "pretrained", "provenance", "train", "validation", "viz",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'imgutils' has no attribute {name!r}")
