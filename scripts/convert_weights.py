"""Convert shipped ``.keras`` models into ``.weights.h5`` files with builder recipes.

    python scripts/convert_weights.py [--weights-dir weights]

A ``.keras`` file stores layer configs that older Keras 3 releases cannot read (Keras 3.15's
files fail on Colab's 3.13). For every manifest entry that still points at a ``.keras`` file,
this loads it (safe mode), rebuilds the architecture with the ``imgutils`` builder given in
``RECIPES``, copies the arrays, checks that the rebuilt model computes exactly the same
outputs, writes ``<name>.weights.h5``, and updates the manifest entry (file, hash, size,
recipe, ``converted_from``) keeping its metrics, profile and dates. Nothing is retrained.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imgutils import pretrained  # noqa: E402
from imgutils.data import sha256_file  # noqa: E402
from imgutils.models import registry  # noqa: E402

# How each shipped model was built (the calls in the chapters that trained them).
RECIPES = {
    "fashion_classifier": ("imgutils.models.classifier.build_classifier", {}),
    "fashion_dcgan_generator": ("imgutils.models.gan.dcgan_generator",
                                {"latent_dim": 64, "image_shape": (28, 28, 1)}),
    "fashion_vae_encoder": ("imgutils.models.vae.conv_encoder",
                            {"image_shape": (28, 28, 1), "latent_dim": 16}),
    "fashion_vae_decoder": ("imgutils.models.vae.conv_decoder",
                            {"latent_dim": 16, "image_shape": (28, 28, 1)}),
    "fashion_denoiser_blind": ("imgutils.models.restoration.unet",
                               {"base": 16, "levels": 2, "keep_observed": False,
                                "name": "denoiser_blind"}),
    "fashion_inpainter": ("imgutils.models.restoration.unet",
                          {"base": 16, "levels": 2, "name": "inpainter"}),
}


def _probe_inputs(model, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = [tuple(28 if d is None else d for d in t.shape[1:]) for t in model.inputs]
    arrays = [rng.random((4, *s)).astype(np.float32) for s in shapes]
    return arrays[0] if len(arrays) == 1 else arrays


def convert(name: str, folder: Path, recipes: dict = RECIPES) -> dict:
    """Convert one manifest entry in ``folder``; returns the new entry."""
    import keras

    entry = pretrained.info(name, weights_dir=folder)
    old_file = entry["file"]
    if not old_file.endswith(".keras"):
        raise ValueError(f"{old_file} is not a .keras file: nothing to convert")
    if name not in recipes:
        raise KeyError(f"no recipe for {name!r}: add its builder call to RECIPES")
    path = folder / old_file
    if sha256_file(path) != entry["sha256"]:
        raise ValueError(f"{old_file}: SHA-256 does not match the manifest; refusing to convert")
    old = keras.models.load_model(path, compile=False, safe_mode=True)
    builder_name, kwargs = recipes[name]
    new = registry.build(builder_name, kwargs)
    old_shapes = [w.shape for w in old.get_weights()]
    if old_shapes != [tuple(w.shape) for w in new.weights]:
        raise ValueError(f"{old_file}: the arrays do not fit {builder_name}({kwargs})")
    new.set_weights(old.get_weights())
    probe = _probe_inputs(old)
    before, after = old.predict(probe, verbose=0), new.predict(probe, verbose=0)
    as_list = lambda out: out if isinstance(out, list) else [out]  # noqa: E731
    for a, b in zip(as_list(before), as_list(after), strict=True):
        if not np.array_equal(np.asarray(a), np.asarray(b)):
            raise ValueError(f"{old_file}: the rebuilt model computes different outputs "
                             f"(max diff {np.max(np.abs(np.asarray(a) - np.asarray(b))):.3g})")
    new_path, recipe = pretrained.save_weights_file(new, folder, name)
    converted = {**entry, "file": new_path.name, "sha256": sha256_file(new_path),
                 "bytes": new_path.stat().st_size, "builder": recipe["builder"],
                 "builder_kwargs": recipe["kwargs"], "keras": keras.__version__,
                 "converted_from": f"{old_file} (saved by Keras {entry.get('keras', '?')})"}
    pretrained.write_entry(folder, name, converted)     # removes the .keras file
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights-dir", type=Path, default=pretrained.default_weights_dir())
    args = parser.parse_args()
    for name, entry in sorted(pretrained.read_manifest(args.weights_dir).items()):
        if entry["file"].endswith(".keras"):
            new = convert(name, args.weights_dir)
            print(f"{name}: {entry['file']} -> {new['file']} ({new['bytes'] / 1e6:.2f} MB), "
                  f"outputs identical")


if __name__ == "__main__":
    main()
