import json
import shutil
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from imgutils import pretrained
from imgutils.data import sha256_file
from imgutils.models import classifier, registry

TINY = {"width": 4, "feature_dim": 8, "name": "tiny_classifier"}


@pytest.fixture
def tiny_model():
    keras.utils.set_random_seed(0)
    model = classifier.build_classifier(**TINY)
    model.compile(optimizer="adam", loss="mse")  # compiled: the saved file must not carry it
    model.train_on_batch(np.zeros((2, 28, 28, 1), np.float32), np.zeros((2, 10), np.float32))
    return model


def test_save_load_roundtrip_with_manifest(tmp_path, tiny_model, rng):
    entry = pretrained.save(tiny_model, "tiny", profile="smoke", dataset="fashion_mnist",
                            metrics={"test_accuracy": 0.5}, weights_dir=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["tiny"]["sha256"] == entry["sha256"] and entry["profile"] == "smoke"
    assert entry["file"] == "tiny.weights.h5"
    assert entry["builder"] == "imgutils.models.classifier.build_classifier"
    assert entry["builder_kwargs"] == {"input_shape": [28, 28, 1], "num_classes": 10,
                                       "dropout": 0.3, **TINY}
    loaded = pretrained.load("tiny", weights_dir=tmp_path)
    x = rng.random((4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), tiny_model.predict(x, verbose=0))
    with h5py.File(tmp_path / "tiny.weights.h5") as weights:     # weights only, no optimizer
        assert "optimizer" not in weights and "layers" in weights
    assert pretrained.info("tiny", weights_dir=tmp_path)["metrics"] == {"test_accuracy": 0.5}
    # saving again under the same name replaces the file and the entry
    pretrained.save(tiny_model, "tiny", profile="cpu", dataset="x", metrics={},
                    weights_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "tiny.weights.h5"]


def test_tampered_file_is_refused(tmp_path, tiny_model):
    pretrained.save(tiny_model, "tiny", profile="smoke", dataset="x", metrics={},
                    weights_dir=tmp_path)
    path = tmp_path / "tiny.weights.h5"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="tiny.weights.h5.*refusing"):
        pretrained.load("tiny", weights_dir=tmp_path)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="tiny.weights.h5"):
        pretrained.load("tiny", weights_dir=tmp_path)
    with pytest.raises(KeyError, match="known: tiny"):
        pretrained.load("other", weights_dir=tmp_path)


def _rewrite_entry(folder, name, **changes):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest[name].update(changes)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_substituted_weights_are_refused_even_with_a_matching_hash(tmp_path, tiny_model):
    """A different model's arrays, with the manifest hash updated, still do not load."""
    pretrained.save(tiny_model, "tiny", profile="smoke", dataset="x", metrics={},
                    weights_dir=tmp_path)
    other = classifier.build_classifier(width=8, feature_dim=8)
    other.save_weights(tmp_path / "tiny.weights.h5")
    _rewrite_entry(tmp_path, "tiny", sha256=sha256_file(tmp_path / "tiny.weights.h5"))
    with pytest.raises(ValueError, match="tiny.weights.h5 holds .* do not fit"):
        pretrained.load("tiny", weights_dir=tmp_path)
    (tmp_path / "tiny.weights.h5").write_bytes(b"not an HDF5 file")
    _rewrite_entry(tmp_path, "tiny", sha256=sha256_file(tmp_path / "tiny.weights.h5"))
    with pytest.raises(ValueError, match="tiny.weights.h5 is not a readable HDF5"):
        pretrained.load("tiny", weights_dir=tmp_path)


def test_recipes_cannot_name_arbitrary_code(tmp_path, tiny_model):
    pretrained.save(tiny_model, "tiny", profile="smoke", dataset="x", metrics={},
                    weights_dir=tmp_path)
    for bad in ("os.system", "imgutils.models.registry.build", "builtins.eval"):
        _rewrite_entry(tmp_path, "tiny", builder=bad)
        with pytest.raises(ValueError, match="unknown model builder"):
            pretrained.load("tiny", weights_dir=tmp_path)
    _rewrite_entry(tmp_path, "tiny", file="tiny.keras")
    with pytest.raises(ValueError, match="not a weights file with a builder recipe"):
        pretrained.load("tiny", weights_dir=tmp_path)


def test_bad_save_arguments(tmp_path, tiny_model):
    with pytest.raises(ValueError, match="identifier"):
        pretrained.save(tiny_model, "no spaces", profile="cpu", dataset="x", metrics={},
                        weights_dir=tmp_path)
    with pytest.raises(TypeError, match="metrics"):
        pretrained.save(tiny_model, "ok", profile="cpu", dataset="x", metrics={"a": "high"},
                        weights_dir=tmp_path)
    inputs = keras.Input((28, 28, 1))
    hand_made = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    with pytest.raises(TypeError, match="not made by an imgutils builder"):
        pretrained.save(hand_made, "ok", profile="cpu", dataset="x", metrics={},
                        weights_dir=tmp_path)


def test_registry_records_and_rebuilds(rng):
    from imgutils.models import gan, restoration

    model = restoration.unet(base=4, levels=1, keep_observed=False, name="small")
    recipe = registry.recipe(model)
    assert recipe == {"builder": "imgutils.models.restoration.unet",
                      "kwargs": {"channels": 1, "base": 4, "levels": 1, "skips": True,
                                 "keep_observed": False, "noise_channels": 0, "seed": 0,
                                 "name": "small"}}
    rebuilt = registry.build(recipe["builder"], recipe["kwargs"])
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]
    assert rebuilt.name == "small" and registry.recipe(rebuilt) == recipe
    generator = gan.dcgan_generator(8, (28, 28, 1), width=4)
    assert registry.recipe(generator)["kwargs"]["image_shape"] == [28, 28, 1]
    with pytest.raises(TypeError, match="kwargs must be a dict"):
        registry.build("imgutils.models.gan.dcgan_generator", ["latent_dim", 8])
    with pytest.raises(ValueError, match="unknown model builder"):
        registry.build("imgutils.models.gan.GAN")


def test_converting_a_keras_file_keeps_the_outputs(tmp_path, tiny_model, rng):
    """scripts/convert_weights.py: .keras + manifest -> .weights.h5 with a recipe."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "convert_weights", Path(__file__).resolve().parents[1] / "scripts" / "convert_weights.py")
    convert_weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert_weights)
    path = tmp_path / "tiny.keras"
    tiny_model.save(path)
    pretrained.write_entry(tmp_path, "tiny", {"file": "tiny.keras", "sha256": sha256_file(path),
                                              "metrics": {"test_accuracy": 0.5},
                                              "profile": "cpu", "keras": "3.0"})
    recipes = {"tiny": ("imgutils.models.classifier.build_classifier", TINY)}
    entry = convert_weights.convert("tiny", tmp_path, recipes)
    assert entry["file"] == "tiny.weights.h5" and entry["metrics"] == {"test_accuracy": 0.5}
    assert entry["converted_from"] == "tiny.keras (saved by Keras 3.0)"
    assert not path.exists()
    x = rng.random((3, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(pretrained.load("tiny", weights_dir=tmp_path).predict(x),
                                  tiny_model.predict(x))


def test_shipped_classifier_meets_its_manifest(fashion, tmp_path):
    """The committed weights: hash verified, >= 91 % on the real test set, 128-d features."""
    entry = pretrained.info("fashion_classifier")
    assert entry["profile"] in ("cpu", "full") and entry["dataset"] == "fashion_mnist"
    model = pretrained.load("fashion_classifier")
    x, y = fashion.test
    predictions = model.predict(x, batch_size=1000, verbose=0).argmax(1)
    accuracy = float(np.mean(predictions == y))
    assert accuracy >= 0.91
    assert abs(accuracy - entry["metrics"]["test_accuracy"]) < 0.002
    assert classifier.feature_extractor(model).output_shape == (None, 128)
    # a copy with one flipped byte is refused
    shutil.copy(pretrained.default_weights_dir() / "manifest.json", tmp_path / "manifest.json")
    blob = bytearray((pretrained.default_weights_dir() / entry["file"]).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / entry["file"]).write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="SHA-256"):
        pretrained.load("fashion_classifier", weights_dir=tmp_path)


def test_shipped_generator_reproduces_its_manifest_fid(fashion):
    """The chapter-02 DCGAN: its FID-FM on fresh samples is close to the manifest's."""
    from imgutils import features

    entry = pretrained.info("fashion_dcgan_generator")
    assert entry["profile"] in ("cpu", "full")
    assert {"fid_fm", "kid_x1000", "precision", "recall"} <= set(entry["metrics"])
    generator = pretrained.load("fashion_dcgan_generator")
    n = int(entry["metrics"]["n_eval"])
    z = np.random.default_rng(123).standard_normal((n, generator.input_shape[-1]))
    fake = np.clip(generator.predict(z.astype(np.float32), batch_size=500, verbose=0), 0, 1)
    assert fake.shape == (n, 28, 28, 1)
    report = features.generation_report(fashion.test.images[:2 * n], fake)
    fid = report["generated"]["FID-FM"]
    assert abs(fid - entry["metrics"]["fid_fm"]) < 0.1 * entry["metrics"]["fid_fm"]
    assert fid < 0.5 * 1500    # an untrained generator scores about 1,500 here


def test_shipped_vae_reproduces_its_manifest_elbo(fashion):
    """The chapter-03 VAE: same test ELBO and active units as recorded in the manifest."""
    from imgutils.models import vae

    entry = pretrained.info("fashion_vae_decoder")
    assert pretrained.info("fashion_vae_encoder")["metrics"] == entry["metrics"]
    model = vae.VAE(pretrained.load("fashion_vae_encoder"), pretrained.load("fashion_vae_decoder"))
    x = fashion.test.images[:1000]
    elbo = vae.elbo(model, x, seed=0).mean()
    assert abs(elbo - entry["metrics"]["test_elbo"]) < 1.0
    units, _ = vae.active_units(model, fashion.test.images[:int(entry["metrics"]["n_eval"])])
    assert units == entry["metrics"]["active_units"]
    assert model.sample(4, seed=0).shape == (4, 28, 28, 1)


def test_shipped_sr4_models_reproduce_their_manifest_and_targets(fashion):
    """Chapter 05: one input [N, 7, 7, 1] -> [N, 28, 28, 1]; the manifest's test PSNR and
    FID-FM come back; the cGAN keeps its targets against the MSE model."""
    from imgutils import corrupt, features, metrics
    from imgutils.models import pix2pix

    x = fashion.test.images[:1000]
    low = corrupt.downsample(x, 4).corrupted
    real = features.fashion_features(x)
    measured = {}
    for name in ("fashion_sr4_mse", "fashion_sr4_gan"):
        entry = pretrained.info(name)
        assert entry["profile"] in ("cpu", "full")
        model = pretrained.load(name)
        assert model.input_shape == (None, None, None, 1) and len(model.inputs) == 1
        out = pix2pix.draw_samples(model, low, 1, seed=0)[0]
        assert out.shape == (1000, 28, 28, 1)
        psnr = metrics.psnr(x, out, reduce="mean")
        fid = metrics.fid_from_features(real, features.fashion_features(out))
        assert abs(psnr - entry["metrics"]["test_psnr"]) < 0.1
        assert abs(fid - entry["metrics"]["test_fid_fm"]) < 0.1 * entry["metrics"]["test_fid_fm"]
        measured[name] = (psnr, fid)
    assert not pix2pix.is_stochastic(pretrained.load("fashion_sr4_mse"))
    assert pix2pix.is_stochastic(pretrained.load("fashion_sr4_gan"))
    (psnr_mse, fid_mse), (psnr_gan, fid_gan) = measured.values()
    assert fid_gan <= 0.5 * fid_mse and psnr_gan >= psnr_mse - 10 * np.log10(2)


def test_shipped_dae_reproduces_its_manifest_and_targets(fashion):
    """Chapter 06: the blind DAE, one input [N, 28, 28, 1] (no mask) -> [N, 28, 28, 1] in
    [0, 1]; the manifest's test PSNRs come back, and it beats every classical filter setting
    (even one picked on these test images) by >= 3 dB at salt-and-pepper 30 % and masking 50 %."""
    from imgutils import baselines, corrupt, metrics
    from imgutils.models import restoration

    entry = pretrained.info("fashion_dae")
    assert entry["profile"] in ("cpu", "full")
    model = pretrained.load("fashion_dae")
    assert model.input_shape == (None, 28, 28, 1) and len(model.inputs) == 1
    x = fashion.test.images[:1000]
    for key, damaged in (("test_psnr_sp30", corrupt.salt_and_pepper(x, 0.3, seed=12)),
                         ("test_psnr_mask50", corrupt.missing_pixels(x, 0.5, seed=12))):
        out = restoration.restore(model, damaged.corrupted)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
        psnr = metrics.psnr(x, out, reduce="mean")
        assert abs(psnr - entry["metrics"][key]) < 0.05
        classical = [baselines.adaptive_median(damaged.corrupted, s) for s in (3, 5, 7, 9)]
        classical += [baselines.median(damaged.corrupted, s) for s in (3, 5)]
        best = max(metrics.psnr(x, c, reduce="mean") for c in classical)
        assert psnr >= best + 3.0


def test_shipped_diffusion_draws_recognisable_classes_and_covers_all_of_them(fashion):
    """Chapter 07: the EMA network loads, ``diffusion.sample`` draws from the bare network,
    asked-for classes are recognised by the chapter-1 classifier (guidance 3), unconditional
    samples cover every class, and the manifest records a FID-FM below the shipped DCGAN's
    and VAE's with recall >= 0.6 (the chapter's targets, measured on 2,000 samples)."""
    from imgutils import features
    from imgutils.models import diffusion

    entry = pretrained.info("fashion_diffusion")
    assert entry["profile"] in ("cpu", "full")
    net = pretrained.load("fashion_diffusion")
    asked = np.arange(200) % 10
    x = diffusion.sample(net, 200, labels=asked, guidance=3.0, seed=1)
    assert x.shape == (200, 28, 28, 1) and x.min() >= 0 and x.max() <= 1
    assert np.mean(features.fashion_probabilities(x).argmax(1) == asked) >= 0.8
    free = diffusion.sample(net, 300, seed=2)
    counts = np.bincount(features.fashion_probabilities(free).argmax(1), minlength=10)
    assert counts.min() >= 5, counts
    m = entry["metrics"]
    assert m["n_eval"] == pretrained.info("fashion_dcgan_generator")["metrics"]["n_eval"]
    assert m["fid_fm"] < pretrained.info("fashion_dcgan_generator")["metrics"]["fid_fm"]
    assert m["fid_fm"] < pretrained.info("fashion_vae_decoder")["metrics"]["fid_fm"]
    assert m["recall"] >= 0.6


@pytest.mark.parametrize("file", ["../outside.weights.h5", "/etc/outside.weights.h5",
                                  "sub/dir.weights.h5", "..", "", None, 3])
def test_manifest_file_entries_are_confined_to_the_weights_folder(tmp_path, tiny_model, file):
    pretrained.save(tiny_model, "tiny", profile="smoke", dataset="fashion_mnist", metrics={},
                    weights_dir=tmp_path / "weights")
    manifest = pretrained.read_manifest(tmp_path / "weights")
    (tmp_path / "outside.weights.h5").write_bytes(
        (tmp_path / "weights" / manifest["tiny"]["file"]).read_bytes())
    manifest["tiny"]["file"] = file
    pretrained.write_entry(tmp_path / "weights", "tiny", manifest["tiny"])
    with pytest.raises(ValueError, match="plain file name"):
        pretrained.load("tiny", weights_dir=tmp_path / "weights")


@pytest.mark.parametrize("field,value,match", [
    ("sha256", None, "sha256"), ("sha256", "abc", "sha256"), ("sha256", 12, "sha256"),
    ("builder", ["imgutils.models.classifier.build_classifier"], "builder must be a str"),
    ("builder_kwargs", [1, 2], "builder_kwargs"), ("params", "many", "params"),
    ("params", 7, "parameters"), ("inputs", "28x28", "inputs must be a list of shapes"),
    ("outputs", [[28, 28, True]], "outputs must be a list of shapes"),
    ("inputs", [[32, 32, 3]], r"inputs are \[\[28, 28, 1\]\], the manifest records"),
    ("outputs", [[28, 28, 1]], "outputs are .* the manifest records"),
])
def test_malformed_or_swapped_manifest_entries_are_clear_errors(tmp_path, tiny_model, field,
                                                                 value, match):
    pretrained.save(tiny_model, "tiny", profile="smoke", dataset="fashion_mnist", metrics={},
                    weights_dir=tmp_path)
    entry = pretrained.read_manifest(tmp_path)["tiny"]
    assert field not in ("inputs", "outputs") or field in entry     # save records the shapes
    entry[field] = value
    pretrained.write_entry(tmp_path, "tiny", entry)
    with pytest.raises(ValueError, match=match):
        pretrained.load("tiny", weights_dir=tmp_path)
