"""``config.distribute`` and the GAN / VAE train steps under ``tf.distribute.MirroredStrategy``.

The multi-replica test runs in a subprocess: the CPU must be split into two logical devices
before TensorFlow initialises, which the pytest process has long done. It trains the same
small GAN and VAE from the same seeds on the same batches once on one device and once
mirrored over ``/cpu:0`` and ``/cpu:1`` (4 images per replica), and compares the reported
losses and every weight (trainable weights, BatchNorm moving statistics, optimizer step,
seed state). Plain SGD, not Adam: Adam's first steps are nearly invariant to the scale of the
gradient, so it would hide a missing ``1 / num_replicas`` loss scaling; with SGD that error
doubles the update. Duplicated noise (both replicas drawing the same z or eps) changes the
gradients too.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from imgutils import config

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import os
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import keras

    from imgutils import config
    from imgutils.models import gan, vae

    DEVICES = ["/cpu:0", "/cpu:1"]
    images = np.random.default_rng(0).random((16, 28, 28, 1)).astype(np.float32)
    out = {}


    def dataset():
        return tf.data.Dataset.from_tensor_slices(images).batch(8)   # 2 steps of 8 images


    def make_gan():
        keras.utils.set_random_seed(0)
        model = gan.GAN(gan.dcgan_generator(8, width=4),
                        gan.dcgan_discriminator(width=4, dropout=0.0), seed=1)
        model.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
        return model


    def make_vae():
        keras.utils.set_random_seed(0)
        model = vae.VAE(vae.conv_encoder(latent_dim=4, width=4), vae.conv_decoder(4, width=4),
                        kl_warmup_steps=4, seed=3)
        model.compile(optimizer=keras.optimizers.SGD(1e-2))
        return model


    def save_weights(tag, model):
        seeds = model.seed_generator if hasattr(model, "seed_generator") else (
            model.sampling.seed_generator)
        strategy = tf.distribute.get_strategy()
        for i, variable in enumerate([*model.weights, seeds.state]):
            copies = strategy.experimental_local_results(variable.value)
            for replica, copy in enumerate(copies[1:], 1):   # mirrors must not diverge
                if not np.array_equal(copy.numpy(), copies[0].numpy()):
                    sys.exit(f"{tag}: {variable.path} differs on replica {replica}")
            out[f"{tag}/{i:03d}"] = copies[0].numpy()   # by position: auto-named paths differ
        out[f"{tag}_paths"] = np.array([v.path for v in [*model.weights, seeds.state]])


    def train(tag, make):
        model = make()
        save_weights(f"{tag}/w0", model)
        history = model.fit(dataset(), epochs=1, steps_per_epoch=2, verbose=0).history
        for key, values in history.items():
            out[f"{tag}/log/{key}"] = np.asarray(values, np.float64)
        save_weights(f"{tag}/w", model)
        out[f"{tag}/synchronized"] = np.array(
            [layer.synchronized for part in (getattr(model, "generator", None),
                                             getattr(model, "decoder", None)) if part
             for layer in part.layers if isinstance(layer, keras.layers.BatchNormalization)])


    train("one/gan", make_gan)
    train("one/vae", make_vae)
    strategy = config.distribute("full", devices=DEVICES)
    assert isinstance(strategy, tf.distribute.MirroredStrategy), strategy
    assert strategy.num_replicas_in_sync == 2
    assert config.distribute("full", devices=DEVICES) is strategy       # safe to call twice
    assert config.distribute("cpu") is strategy                         # changes nothing
    try:
        config.distribute("full", devices=["/cpu:1", "/cpu:0", "/cpu:2"])
        sys.exit("switching devices was not refused")
    except RuntimeError:
        pass
    train("two/gan", make_gan)
    train("two/vae", make_vae)
    np.savez(sys.argv[1], **out)
''')


@pytest.mark.slow
def test_mirrored_train_steps_match_one_device(tmp_path):
    result = tmp_path / "steps.npz"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(result)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "strategy   : MirroredStrategy over 2 devices (CPU:0, CPU:1)" in proc.stdout
    got = np.load(result)
    for model in ("gan", "vae"):
        one = sorted(k[4:] for k in got.files if k.startswith(f"one/{model}/"))
        two = sorted(k[4:] for k in got.files if k.startswith(f"two/{model}/"))
        assert one == two
        logs = [k for k in one if "/log/" in k]
        weights = [k for k in one if "/w/" in k and not k.endswith("_paths")]
        assert len(logs) >= 4 and len(weights) >= 8, (logs, weights)
        for key in logs:
            np.testing.assert_allclose(got["two/" + key], got["one/" + key], rtol=1e-4,
                                       atol=1e-6, err_msg=key)
        paths = got[f"one/{model}/w_paths"]
        for key in weights:
            np.testing.assert_allclose(got["two/" + key], got["one/" + key], rtol=0, atol=1e-5,
                                       err_msg=paths[int(key.rsplit("/", 1)[1])])
        if model == "gan":   # 2 BatchNorm layers in the generator: global-batch statistics
            assert got["one/gan/synchronized"].tolist() == [False] * 2
            assert got["two/gan/synchronized"].tolist() == [True] * 2
        # The steps are large enough for the tolerance to catch a missing 1/num_replicas
        # (which doubles them): the largest update of a trainable kernel is >> 1e-5.
        update = max(np.abs(got["one/" + k] - got["one/" + k.replace("/w/", "/w0/")]).max()
                     for k in weights if paths[int(k.rsplit("/", 1)[1])].endswith("kernel"))
        assert update > 1e-3, (model, update)


def test_distribute_keeps_the_default_strategy_without_gpus(monkeypatch, capsys):
    original = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [] if kind == "GPU" else original(kind))
    for profile in ("smoke", "cpu", "full", config.Profile("full", "argument")):
        strategy = config.distribute(profile)
        assert strategy is tf.distribute.get_strategy()
        assert strategy.num_replicas_in_sync == 1 and not tf.distribute.has_strategy()
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["strategy   : one device (CPU)"] * 4
    # devices only matter for the full profile
    assert config.distribute("cpu", devices=["/cpu:0", "/cpu:1"]).num_replicas_in_sync == 1
    assert not tf.distribute.has_strategy()


def test_distribute_line_aligns_with_the_environment_report(capsys):
    config.environment_report("cpu")
    config.distribute("cpu")
    lines = capsys.readouterr().out.splitlines()
    assert len({line.index(" : ") for line in lines}) == 1, lines


def test_distribute_rejects_bad_arguments():
    with pytest.raises(TypeError, match="profile"):
        config.distribute(3)
    with pytest.raises(ValueError, match="smoke, cpu, full"):
        config.distribute("multi-gpu")
    with pytest.raises(TypeError, match="devices"):
        config.distribute("full", devices="/gpu:0,/gpu:1")
    with pytest.raises(TypeError, match="devices"):
        config.distribute("full", devices=[0, 1])
    with pytest.raises(ValueError, match="at least 2"):
        config.distribute("full", devices=["/gpu:0"])
    with pytest.raises(ValueError, match="repeat"):
        config.distribute("full", devices=["/cpu:0", "/CPU:0"])
    assert not tf.distribute.has_strategy()
