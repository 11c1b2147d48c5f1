import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from imgutils import ops


@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel_size", [1, 3, 4])
def test_conv2d_numpy_matches_keras(stride, padding, kernel_size, rng):
    x = rng.random((2, 11, 9, 3)).astype("float32")
    layer = keras.layers.Conv2D(5, kernel_size, strides=stride, padding=padding)
    expected = layer(x).numpy()
    kernel, bias = layer.get_weights()
    got = ops.conv2d_numpy(x, kernel, bias, stride=stride, padding=padding)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-5


def test_conv2d_numpy_integer_padding_matches_explicit_pad(rng):
    x = rng.random((1, 6, 6, 2))
    w = rng.random((3, 3, 2, 1))
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    np.testing.assert_allclose(ops.conv2d_numpy(x, w, padding=2), ops.conv2d_numpy(padded, w))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4),
       padding=st.sampled_from(["valid", "same"]))
def test_output_size_formula_matches_tensorflow(n, k, s, padding):
    if padding == "valid" and k > n:
        with pytest.raises(ValueError, match="does not fit"):
            ops.conv_output_size(n, k, s, padding)
        return
    y = tf.nn.conv2d(tf.zeros((1, n, n, 1)), tf.zeros((k, k, 1, 1)), s, padding.upper())
    assert ops.conv_output_size(n, k, s, padding) == y.shape[1]


def test_output_size_textbook_cases():
    assert ops.conv_output_size(32, 5, 2, 2) == 16
    assert ops.conv_output_size(28, 3, 1, 1) == 28
    assert ops.conv_output_size(7, 3, 2, 0) == 3
    assert ops.conv_output_size(10, 3, 1, 0, dilation=2) == 6


def test_transposed_conv_is_the_adjoint(rng):
    x = rng.normal(size=(2, 9, 9, 3))
    w = rng.normal(size=(3, 3, 3, 4))
    kx = ops.conv2d_numpy(x, w, stride=2)
    y = rng.normal(size=kx.shape)
    kty = ops.conv2d_transpose_numpy(y, w, input_hw=(9, 9), stride=2)
    assert np.isclose(np.sum(kx * y), np.sum(x * kty), rtol=1e-10)
    tf_kty = tf.nn.conv2d_transpose(y.astype("float32"), w.astype("float32"), x.shape, 2, "VALID")
    assert np.abs(tf_kty.numpy() - kty).max() < 1e-4


def test_receptive_field_recursion_and_gradient():
    assert ops.receptive_field([(3, 1)] * 3)[-1] == (7, 1)
    assert ops.receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)])[-1] == (18, 4)
    # empirical: gradient support of one output unit of a conv stack
    model = keras.Sequential([keras.Input((40, 40, 1))] + [
        keras.layers.Conv2D(1, 3, strides=s, padding="valid", kernel_initializer="ones")
        for s in (1, 2, 1, 2)])
    inp = tf.ones((1, 40, 40, 1))
    with tf.GradientTape() as tape:
        tape.watch(inp)
        unit = model(inp)[0, 3, 3, 0]
    support = np.argwhere(tape.gradient(unit, inp).numpy()[0, ..., 0] != 0)
    extent = support.max(0) - support.min(0) + 1
    expected = ops.receptive_field([(3, s) for s in (1, 2, 1, 2)])[-1][0]
    assert tuple(extent) == (expected, expected)


@pytest.mark.parametrize("call, match", [
    (lambda: ops.conv_output_size(0, 3), "n must be an int >= 1"),
    (lambda: ops.conv_output_size(5, 3, padding="full"), "padding must be"),
    (lambda: ops.conv_output_size(5, 3, stride=1.5), "stride must be an int"),
    (lambda: ops.conv2d_numpy(np.zeros((4, 4)), np.zeros((3, 3, 1, 1))), "images must have"),
    (lambda: ops.conv2d_numpy(np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 1, 1))), "C_in = 1"),
    (lambda: ops.receptive_field([(3,)]), r"layers\[0\]"),
    (lambda: ops.receptive_field("33"), "sequence"),
])
def test_bad_arguments_give_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
