"""Resume never lies (issue 13, item 5): every broken backup is a clear error naming the folder,
and what a resumed run gives back (seed states, History, EpochLogger, ImageSnapshots) matches
an uninterrupted run."""

import json
import os

import keras
import numpy as np
import pytest

from imgutils.models import vae
from imgutils.train import (
    BackupError,
    EpochLogger,
    ImageSnapshots,
    backup_folder,
    resumable_callbacks,
)
from tests.test_train import Interrupt

X = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None]


def _model(width=8, optimizer="adam"):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(width, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2) if optimizer == "adam"
                  else keras.optimizers.SGD(1e-2), loss="mse")
    return model


def _interrupted_backup(folder, epochs=4, at_epoch=2):
    """A backup left by a run of ``epochs`` epochs that crashed in epoch ``at_epoch + 1``."""
    with pytest.raises(KeyboardInterrupt):
        _model().fit(X, Y, batch_size=8, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=resumable_callbacks(folder) + [Interrupt(at_epoch, 1)])
    assert sorted(os.listdir(folder)) == ["imgutils_run.json", "imgutils_state.npz",
                                          "latest.weights.h5", "training_metadata.json"]


def _truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 3])


FAULTS = {
    "weights missing": (lambda f: os.remove(f / "latest.weights.h5"),
                        "latest.weights.h5 is missing"),
    "weights empty": (lambda f: open(f / "latest.weights.h5", "wb").close(), "is empty"),
    "weights truncated": (lambda f: _truncate(f / "latest.weights.h5"), "truncated or corrupt"),
    "metadata missing": (lambda f: os.remove(f / "training_metadata.json"),
                         "training_metadata.json is missing"),
    "metadata not JSON": (lambda f: (f / "training_metadata.json").write_text("{epoch: 2"),
                          "not JSON"),
    "metadata epoch not an int": (
        lambda f: (f / "training_metadata.json").write_text('{"epoch": "two"}'), "int >= 0"),
    "metadata beyond the run": (
        lambda f: (f / "training_metadata.json").write_text('{"epoch": 9, "batch": 0}'),
        "records 9 completed epochs, and this fit runs 4"),
    "run record missing": (lambda f: os.remove(f / "imgutils_run.json"),
                           "imgutils_run.json is missing"),
    "seed states missing": (lambda f: os.remove(f / "imgutils_state.npz"),
                            "imgutils_state.npz is missing or unreadable"),
    "foreign folder": (lambda f: [os.remove(f / n) for n in os.listdir(f)]
                       and (f / "notes.txt").write_text("mine"), "not a training backup"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_broken_backup_is_a_clear_error_and_is_kept(tmp_path, fault):
    folder = tmp_path / "backup"
    _interrupted_backup(folder)
    damage, says = FAULTS[fault]
    damage(folder)
    before = sorted(os.listdir(folder))
    with pytest.raises(BackupError, match=says) as caught:
        _model().fit(X, Y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                     callbacks=resumable_callbacks(folder))
    assert str(folder) in str(caught.value) and "shutil.rmtree" in str(caught.value)
    assert sorted(os.listdir(folder)) == before              # nothing deleted, nothing trained


@pytest.mark.parametrize("other,says", [
    (lambda: _model(width=16), r"weight 0 has shape \[4, 8\] in the backup, \[4, 16\] now"),
    (lambda: _model(optimizer="sgd"), r"optimizers \{'optimizer': 'Adam'\} in the backup, "
                                      r"\{'optimizer': 'SGD'\} now"),
])
def test_a_backup_of_another_model_or_optimizer_is_refused(tmp_path, other, says):
    folder = tmp_path / "backup"
    _interrupted_backup(folder)
    with pytest.raises(BackupError, match=f"another run: {says}"):
        other().fit(X, Y, batch_size=8, epochs=4, verbose=0, callbacks=resumable_callbacks(folder))
    assert folder.is_dir()


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / "backup").write_text("x")
    with pytest.raises(BackupError, match="is a file, not a folder"):
        _model().fit(X, Y, epochs=1, verbose=0, callbacks=resumable_callbacks(tmp_path / "backup"))


def test_history_logger_and_snapshots_keep_the_epochs_before_the_interruption(tmp_path):
    folder = tmp_path / "backup"
    probe = np.ones((2, 4), np.float32)

    def run(model, callbacks, logger, snaps):
        backup = resumable_callbacks(folder, keep=[logger, snaps])
        return model.fit(X, Y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                         callbacks=[logger, snaps, *backup, *callbacks])

    def snapshots(model):
        return ImageSnapshots(lambda z: np.tile(model(z)[:, :, None, None] * 0 + 0.5,
                                                (1, 2, 2, 1)), probe)

    reference = _model()
    full = run(reference, [], EpochLogger(32), snapshots(reference))
    crashed = _model()
    with pytest.raises(KeyboardInterrupt):
        run(crashed, [Interrupt(3, 1)], EpochLogger(32), snapshots(crashed))
    resumed = _model()
    logger, snaps = EpochLogger(32), snapshots(resumed)
    history = run(resumed, [], logger, snaps)
    assert history.epoch == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(history.history["loss"], full.history["loss"], rtol=1e-6)
    assert len(logger.throughput) == len(logger.epoch_seconds) == 5
    # the wall time covers all five epochs, the three before the interruption included
    assert logger.resumed_epochs == 3
    assert logger.total_seconds >= sum(logger.epoch_seconds) - 1e-9
    assert snaps.epochs == [1, 2, 3, 4, 5] and len(snaps.frames) == 5
    assert not folder.exists()


def test_a_resumed_vae_matches_an_uninterrupted_one(tmp_path):
    """The Sampling layer's seed state is restored with the weights: the resumed run draws
    the same noise as the uninterrupted one, so it ends with the same weights."""
    images = np.random.default_rng(3).random((48, 28, 28, 1)).astype(np.float32)

    def make():
        keras.utils.set_random_seed(0)
        model = vae.VAE(vae.conv_encoder(latent_dim=2, width=4), vae.conv_decoder(2, width=4),
                        kl_warmup_steps=4, seed=3)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model(images[:2])                          # built: BackupAndRestore needs it
        return model

    reference = make()
    reference.fit(images, batch_size=16, epochs=4, shuffle=False, verbose=0)
    folder = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        make().fit(images, batch_size=16, epochs=4, shuffle=False, verbose=0,
                   callbacks=resumable_callbacks(folder) + [Interrupt(2, 1)])
    keras.utils.set_random_seed(123)                      # a new session
    resumed = make()
    resumed.sampling.seed_generator.state.assign(np.array([7, 7], "uint32")
                                                 .astype(resumed.sampling.seed_generator
                                                         .state.dtype))
    history = resumed.fit(images, batch_size=16, epochs=4, shuffle=False, verbose=0,
                          callbacks=resumable_callbacks(folder))
    assert len(history.history["loss"]) == 4
    np.testing.assert_array_equal(resumed.sampling.seed_generator.state.numpy(),
                                  reference.sampling.seed_generator.state.numpy())
    for a, b in zip(reference.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_backup_folder_is_one_per_run():
    a = backup_folder("ch02", profile="cpu", seed=0, epochs=10)
    assert a == backup_folder("ch02", epochs=10, seed=0, profile="cpu")     # same run: resumes
    assert a != backup_folder("ch02", profile="smoke", seed=0, epochs=10)
    assert a != backup_folder("ch02", profile="cpu", seed=1, epochs=10)
    assert os.path.basename(a).startswith("ch02-")
    with pytest.raises(ValueError, match="tag"):
        backup_folder("../elsewhere")
    with pytest.raises(TypeError, match="keep"):
        resumable_callbacks("b", keep=[keras.callbacks.History()])


def test_metadata_written_by_the_callback_is_what_keras_expects(tmp_path):
    folder = tmp_path / "backup"
    _interrupted_backup(folder)
    assert json.loads((folder / "training_metadata.json").read_text())["epoch"] == 2
