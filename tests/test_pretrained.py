import io
import json
import shutil
import zipfile

import h5py
import keras
import numpy as np
import pytest

from imgutils import pretrained
from imgutils.models import classifier


@pytest.fixture
def tiny_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(8, activation="relu", name="features")(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    model.compile(optimizer="adam", loss="mse")  # compiled: the saved file must not carry it
    return model


def test_save_load_roundtrip_with_manifest(tmp_path, tiny_model, rng):
    entry = pretrained.save(tiny_model, "tiny", profile="smoke", dataset="fashion_mnist",
                            metrics={"test_accuracy": 0.5}, weights_dir=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["tiny"]["sha256"] == entry["sha256"] and entry["profile"] == "smoke"
    loaded = pretrained.load("tiny", weights_dir=tmp_path)
    x = rng.random((4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), tiny_model.predict(x, verbose=0),
                               atol=1e-6)
    with zipfile.ZipFile(tmp_path / "tiny.keras") as archive:  # weights only, no optimizer
        with h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as weights:
            assert "optimizer" not in weights and "layers" in weights
    assert pretrained.info("tiny", weights_dir=tmp_path)["metrics"] == {"test_accuracy": 0.5}


def test_tampered_file_is_refused(tmp_path, tiny_model):
    pretrained.save(tiny_model, "tiny", profile="smoke", dataset="x", metrics={},
                    weights_dir=tmp_path)
    path = tmp_path / "tiny.keras"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="tiny.keras.*refusing"):
        pretrained.load("tiny", weights_dir=tmp_path)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="tiny.keras"):
        pretrained.load("tiny", weights_dir=tmp_path)
    with pytest.raises(KeyError, match="known: tiny"):
        pretrained.load("other", weights_dir=tmp_path)


def test_bad_save_arguments(tmp_path, tiny_model):
    with pytest.raises(ValueError, match="identifier"):
        pretrained.save(tiny_model, "no spaces", profile="cpu", dataset="x", metrics={},
                        weights_dir=tmp_path)
    with pytest.raises(TypeError, match="metrics"):
        pretrained.save(tiny_model, "ok", profile="cpu", dataset="x", metrics={"a": "high"},
                        weights_dir=tmp_path)


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
