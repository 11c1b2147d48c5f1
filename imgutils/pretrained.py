"""Small trained models shipped in ``weights/``, so a CPU reader can skip training.

``weights/manifest.json`` maps a name to its file, SHA-256, the profile and data set it was
trained with and its measured metrics. ``load(name)`` refuses a file whose hash does not match
and loads models with Keras' safe mode (no arbitrary code from the file is run).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

from .data import sha256_file

MANIFEST = "manifest.json"


def default_weights_dir() -> Path:
    """``$IMGUTILS_WEIGHTS`` if set, else the ``weights/`` folder beside the package."""
    env = os.environ.get("IMGUTILS_WEIGHTS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "weights"


def read_manifest(weights_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """The manifest as a dict (empty if the folder has none)."""
    path = Path(weights_dir or default_weights_dir()) / MANIFEST
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path.name} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ValueError(f"{path.name} must hold a JSON object of model entries")
    return manifest


def save(model, name: str, *, profile: str, dataset: str, metrics: dict[str, float],
         weights_dir: str | os.PathLike | None = None, notes: str = "") -> dict:
    """Save ``model`` (without optimizer state) as ``<name>.keras`` and record it in the manifest.

    Returns the manifest entry. ``metrics`` are the numbers measured on held-out data.
    """
    import keras

    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"name must be an identifier such as 'fashion_classifier', got {name!r}")
    if not isinstance(metrics, dict) or not all(isinstance(v, (int, float))
                                                for v in metrics.values()):
        raise TypeError("metrics must be a dict of name -> number")
    folder = Path(weights_dir or default_weights_dir())
    folder.mkdir(parents=True, exist_ok=True)
    # An uncompiled copy (clone_model would copy the compile state): no optimizer in the file.
    clean = model.__class__.from_config(model.get_config())
    clean.set_weights(model.get_weights())
    path = folder / f"{name}.keras"
    clean.save(path)
    entry = {
        "file": path.name,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "profile": str(profile),
        "dataset": dataset,
        "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
        "params": int(model.count_params()),
        "keras": keras.__version__,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notes": notes,
    }
    manifest = read_manifest(folder)
    manifest[name] = entry
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry


def load(name: str, *, weights_dir: str | os.PathLike | None = None):
    """Load a shipped model by name after checking its SHA-256 against the manifest.

    Raises ``KeyError`` for an unknown name (listing the known ones), ``FileNotFoundError``
    for a missing file and ``ValueError`` for a hash mismatch.
    """
    import keras

    folder = Path(weights_dir or default_weights_dir())
    manifest = read_manifest(folder)
    if name not in manifest:
        known = ", ".join(sorted(manifest)) or "none"
        raise KeyError(f"no pretrained model {name!r} in {folder / MANIFEST}; known: {known}")
    entry = manifest[name]
    path = folder / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{entry['file']} (model {name!r}) is listed in the manifest "
                                f"but missing from {folder}")
    actual = sha256_file(path)
    if actual != entry["sha256"]:
        raise ValueError(f"{entry['file']} has SHA-256 {actual[:12]}..., the manifest expects "
                         f"{entry['sha256'][:12]}...: the file is corrupt or was replaced; "
                         "refusing to load it")
    return keras.models.load_model(path, compile=False, safe_mode=True)


def info(name: str, *, weights_dir: str | os.PathLike | None = None) -> dict:
    """The manifest entry of ``name`` (profile, data set, metrics, hash ...)."""
    manifest = read_manifest(weights_dir)
    if name not in manifest:
        raise KeyError(f"no pretrained model {name!r}; known: {', '.join(sorted(manifest))}")
    return dict(manifest[name])
