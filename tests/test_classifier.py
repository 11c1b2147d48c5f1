import keras
import numpy as np
import pytest

from imgutils.models import classifier


def test_shapes_and_feature_layer():
    model = classifier.build_classifier()
    assert model.output_shape == (None, 10)
    features = classifier.feature_extractor(model)
    assert features.output_shape == (None, 128)
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    assert features.predict(x, verbose=0).shape == (3, 128)


def test_bad_arguments():
    with pytest.raises(ValueError, match="multiples of 4"):
        classifier.build_classifier(input_shape=(30, 30, 1))
    with pytest.raises(ValueError, match="input_shape"):
        classifier.build_classifier(input_shape=(28, 28))
    with pytest.raises(ValueError, match="dropout"):
        classifier.build_classifier(dropout=1.5)
    with pytest.raises(ValueError, match="num_classes"):
        classifier.build_classifier(num_classes=1)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no layer named 'features'"):
        classifier.feature_extractor(plain)


@pytest.mark.slow
def test_overfits_one_real_batch(fashion):
    """Learning test: 64 real images are memorised (loss falls, accuracy reaches 100 %).

    Measured in training mode (batch statistics in BatchNorm, no dropout): with one batch
    the moving averages used at inference have not converged yet, which is not what this
    test is about.
    """
    keras.utils.set_random_seed(0)
    x, y = fashion.train.images[:64], fashion.train.labels[:64]
    model = classifier.compile_classifier(classifier.build_classifier(dropout=0.0), 3e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    first = float(loss_fn(y, model(x, training=True)))
    model.fit(x, y, batch_size=64, epochs=60, verbose=0)
    logits = model(x, training=True)
    assert float(loss_fn(y, logits)) < 0.05 * first
    assert np.mean(np.argmax(logits, axis=1) == y) == 1.0
