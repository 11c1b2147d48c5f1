"""Small trained models shipped in ``weights/``, so a CPU reader can skip training.

Each model is stored as a weights-only file ``<name>.weights.h5`` (the arrays, no layer
configs, no optimizer) and rebuilt by the ``imgutils`` builder that made it: the manifest
``weights/manifest.json`` records the builder and its arguments (the *recipe*), the file's
SHA-256, the profile and data set it was trained with and its measured metrics. Layer configs
change between Keras releases (``.keras`` files saved by Keras 3.15 do not load on Colab's
Keras 3.13); arrays rebuilt into code-built models load on every Keras 3.

``load(name)`` refuses a file whose hash does not match, a recipe that names anything but a
registered ``imgutils`` builder, and a file whose arrays do not fit the rebuilt model. Nothing
in a weights file or the manifest is executed.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import warnings
from pathlib import Path

from .data import sha256_file

MANIFEST = "manifest.json"
SUFFIX = ".weights.h5"


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


def write_entry(folder: str | os.PathLike, name: str, entry: dict) -> None:
    """Add or replace ``name`` in the manifest of ``folder`` (removing a replaced file)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    old = manifest.get(name, {}).get("file")
    if old and old != entry["file"] and (folder / old).is_file():
        (folder / old).unlink()
    manifest[name] = entry
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def save_weights_file(model, folder: str | os.PathLike, name: str) -> tuple[Path, dict]:
    """Write ``model``'s arrays to ``<folder>/<name>.weights.h5``; returns (path, recipe).

    The arrays are copied into a fresh, uncompiled model rebuilt from the recipe, so no
    optimizer state and nothing but the model's own variables reach the file.
    """
    from .models import registry

    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"name must be an identifier such as 'fashion_classifier', got {name!r}")
    recipe = registry.recipe(model)
    if recipe is None:
        raise TypeError(f"{type(model).__name__} {getattr(model, 'name', '')!r} was not made by "
                        "an imgutils builder (e.g. imgutils.models.gan.dcgan_generator): only "
                        "such models can be saved, because loading rebuilds them by code")
    clean = registry.build(recipe["builder"], recipe["kwargs"])
    clean.set_weights(model.get_weights())
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}{SUFFIX}"
    clean.save_weights(path)
    return path, recipe


def save(model, name: str, *, profile: str, dataset: str, metrics: dict[str, float],
         weights_dir: str | os.PathLike | None = None, notes: str = "") -> dict:
    """Save ``model`` as ``<name>.weights.h5`` and record it (with its recipe) in the manifest.

    ``model`` must come from an ``imgutils.models`` builder. ``metrics`` are the numbers
    measured on held-out data. Returns the manifest entry.
    """
    import keras

    if not isinstance(metrics, dict) or not all(isinstance(v, (int, float))
                                                for v in metrics.values()):
        raise TypeError("metrics must be a dict of name -> number")
    folder = Path(weights_dir or default_weights_dir())
    path, recipe = save_weights_file(model, folder, name)
    entry = {
        "file": path.name,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "builder": recipe["builder"],
        "builder_kwargs": recipe["kwargs"],
        "profile": str(profile),
        "dataset": dataset,
        "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
        "params": int(model.count_params()),
        **model_shapes(model),
        "keras": keras.__version__,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "notes": notes,
    }
    write_entry(folder, name, entry)
    return entry


def model_shapes(model) -> dict[str, list[list[int | None]]]:
    """``{"inputs": [[H, W, C], ...], "outputs": [...]}`` without the batch axis: recorded by
    ``save`` and checked by ``load``, so a model swapped in under another name is refused."""
    def shapes(tensors):
        return [[None if d is None else int(d) for d in t.shape[1:]] for t in tensors]
    return {"inputs": shapes(model.inputs), "outputs": shapes(model.outputs)}


def _array_shapes(path: Path) -> list[tuple[int, ...]]:
    """Shapes of every array stored in a Keras weights file (h5py reads data, runs nothing)."""
    import h5py

    shapes: list[tuple[int, ...]] = []
    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(lambda key, item: shapes.append(tuple(item.shape))
                              if isinstance(item, h5py.Dataset) else None)
    except OSError as exc:
        raise ValueError(f"{path.name} is not a readable HDF5 weights file: {exc}") from exc
    return shapes


def load(name: str, *, weights_dir: str | os.PathLike | None = None):
    """Load a shipped model by name: check the SHA-256, rebuild the model, load its arrays.

    Raises ``KeyError`` for an unknown name (listing the known ones), ``FileNotFoundError``
    for a missing file and ``ValueError`` for a hash mismatch, a manifest entry without a
    registered builder, or arrays that do not fit the rebuilt model.
    """
    from .models import registry

    folder = Path(weights_dir or default_weights_dir())
    manifest = read_manifest(folder)
    if name not in manifest:
        known = ", ".join(sorted(manifest)) or "none"
        raise KeyError(f"no pretrained model {name!r} in {folder / MANIFEST}; known: {known}")
    entry = manifest[name]
    file = entry.get("file") if isinstance(entry, dict) else None
    if (not isinstance(file, str) or not file or Path(file).name != file or "\\" in file
            or file in (".", "..")):
        raise ValueError(f"model {name!r}: the manifest's file entry must be a plain file name "
                         f"inside {folder.name}/ (no folders, no '..'), got {file!r}")
    path = folder / file
    _check_entry(name, entry)
    if not entry["file"].endswith(SUFFIX) or "builder" not in entry:
        raise ValueError(f"{entry['file']} (model {name!r}) is not a weights file with a builder "
                         f"recipe: re-save it with imgutils.pretrained.save (*{SUFFIX})")
    if not path.is_file():
        raise FileNotFoundError(f"{entry['file']} (model {name!r}) is listed in the manifest "
                                f"but missing from {folder}")
    actual = sha256_file(path)
    if actual != entry["sha256"]:
        raise ValueError(f"{entry['file']} has SHA-256 {actual[:12]}..., the manifest expects "
                         f"{entry['sha256'][:12]}...: the file is corrupt or was replaced; "
                         "refusing to load it")
    model = registry.build(entry["builder"], entry.get("builder_kwargs", {}))
    expected = sorted(tuple(w.shape) for w in model.weights)
    stored = sorted(_array_shapes(path))
    if stored != expected:
        raise ValueError(f"{entry['file']} holds {len(stored)} arrays that do not fit "
                         f"{entry['builder']} ({len(expected)} weights): refusing to load it")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
        except (ValueError, KeyError, OSError) as exc:
            raise ValueError(f"{entry['file']} does not load into {entry['builder']}: "
                             f"{exc}") from exc
    skipped = [str(w.message) for w in caught if "could not be loaded" in str(w.message)
               or "Skipping" in str(w.message)]
    if skipped:
        raise ValueError(f"{entry['file']} did not fill every weight of {entry['builder']}: "
                         f"{skipped[0][:300]}")
    for w in caught:      # anything else Keras said is passed on unchanged
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if "params" in entry and int(model.count_params()) != entry["params"]:
        raise ValueError(f"{entry['file']} (model {name!r}): the rebuilt model has "
                         f"{model.count_params():,} parameters, the manifest records "
                         f"{entry['params']:,}: the entry was edited or belongs to another model")
    actual = model_shapes(model)
    for field in ("inputs", "outputs"):
        if field in entry and entry[field] != actual[field]:
            raise ValueError(f"{entry['file']} (model {name!r}): the rebuilt model's {field} are "
                             f"{actual[field]}, the manifest records {entry[field]}: the entry "
                             "was edited or belongs to another model")
    return model


def _check_entry(name: str, entry: dict) -> None:
    """Types of the manifest fields ``load`` relies on; a clear error naming the field."""
    sha = entry.get("sha256")
    if not (isinstance(sha, str) and len(sha) == 64
            and all(ch in "0123456789abcdef" for ch in sha)):
        raise ValueError(f"model {name!r}: the manifest's sha256 must be 64 lower-case hex "
                         f"digits, got {sha!r}")
    if "builder" in entry and not isinstance(entry["builder"], str):
        raise ValueError(f"model {name!r}: the manifest's builder must be a str, got "
                         f"{entry['builder']!r}")
    if not isinstance(entry.get("builder_kwargs", {}), dict):
        raise ValueError(f"model {name!r}: the manifest's builder_kwargs must be a JSON object, "
                         f"got {entry['builder_kwargs']!r}")
    for field in ("inputs", "outputs"):
        shapes = entry.get(field, [])
        if not (isinstance(shapes, list) and all(
                isinstance(s, list) and all(d is None or (isinstance(d, int)
                                                          and not isinstance(d, bool))
                                            for d in s) for s in shapes)):
            raise ValueError(f"model {name!r}: the manifest's {field} must be a list of shapes "
                             f"(lists of ints), got {shapes!r}")
    params = entry.get("params")
    if params is not None and (isinstance(params, bool) or not isinstance(params, int)
                               or params < 0):
        raise ValueError(f"model {name!r}: the manifest's params must be an int >= 0, got "
                         f"{params!r}")


def info(name: str, *, weights_dir: str | os.PathLike | None = None) -> dict:
    """The manifest entry of ``name`` (recipe, profile, data set, metrics, hash ...)."""
    manifest = read_manifest(weights_dir)
    if name not in manifest:
        raise KeyError(f"no pretrained model {name!r}; known: {', '.join(sorted(manifest))}")
    return dict(manifest[name])
