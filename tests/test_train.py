import keras
import numpy as np
import pytest

from imgutils.train import EpochLogger, ImageSnapshots, resumable_callbacks


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch, at_batch):
        super().__init__()
        self.at = (at_epoch, at_batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt("simulated crash")


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    """Crash in the middle of epoch 3 of 5; the resumed run ends bit-identical.

    Keras restores the weights and optimizer state of the last completed epoch and replays
    the interrupted epoch from its first batch. The data order is fixed (shuffle=False),
    and the model has no randomness (no dropout), so the result is deterministic.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None]

    keras.utils.set_random_seed(1)
    reference = _model()
    reference.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0)

    keras.utils.set_random_seed(1)
    model = _model()
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                  callbacks=resumable_callbacks(backup) + [Interrupt(2, 3)])
    keras.utils.set_random_seed(99)      # a new session: different seed, fresh model
    resumed = _model()
    history = resumed.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                          callbacks=resumable_callbacks(backup))
    # epochs 1-2 come back from the backup, 3-5 are trained again: the History holds all five
    assert history.epoch == [0, 1, 2, 3, 4] and len(history.history["loss"]) == 5
    for a, b in zip(reference.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(resumed.optimizer.iterations) == int(reference.optimizer.iterations) == 40
    assert not backup.exists()  # cleaned up after a normal end


def test_image_snapshots_record_fixed_inputs():
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, "sigmoid"),
                                  keras.layers.Reshape((4, 4, 1))])
    z = np.ones((3, 2), np.float32)
    snaps = ImageSnapshots(lambda inputs: generator(inputs), z)
    model = _model()
    model.fit(np.zeros((8, 4)), np.zeros((8, 1)), epochs=3, verbose=0,
              callbacks=[snaps, EpochLogger(8)])
    assert snaps.epochs == [1, 2, 3] and snaps.frames[0].shape == (3, 4, 4, 1)
    assert snaps.animation(ncols=3) is not None
    with pytest.raises(TypeError):
        ImageSnapshots("not callable", z)
