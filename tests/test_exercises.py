import numpy as np
import pytest

from imgutils import exercises


def test_conv_output_size_checker(capsys):
    assert exercises.check_conv_output_size(lambda n, k, s, p: (n + 2 * p - k) // s + 1)
    assert "✓" in capsys.readouterr().out
    assert not exercises.check_conv_output_size(lambda n, k, s, p: (n + 2 * p - k) / s + 1)
    assert "floor" in capsys.readouterr().out
    assert not exercises.check_conv_output_size(lambda n, k, s, p: None)
    with pytest.raises(TypeError):
        exercises.check_conv_output_size(3)


def test_receptive_field_checker(capsys):
    def right(layers):
        r, j = 1, 1
        for k, s in layers:
            r, j = r + (k - 1) * j, j * s
        return r

    def ignores_stride(layers):
        return 1 + sum(k - 1 for k, _ in layers)

    assert exercises.check_receptive_field(right)
    assert not exercises.check_receptive_field(ignores_stride)
    assert "expected" in capsys.readouterr().out


def test_conv2d_checker_detects_flipped_kernel(capsys):
    def correlate(image, kernel):
        k = kernel.shape[0]
        out = np.zeros((image.shape[0] - k + 1, image.shape[1] - k + 1))
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = np.sum(image[i:i + k, j:j + k] * kernel)
        return out

    assert exercises.check_conv2d(correlate)
    assert not exercises.check_conv2d(lambda im, k: correlate(im, k[::-1, ::-1]))
    assert "cross-correlation" in capsys.readouterr().out
    assert not exercises.check_conv2d(lambda im, k: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_psnr_checker_catches_the_255_bug(capsys):
    def right(ref, out):
        return 10 * np.log10(1.0 / np.mean((ref - out) ** 2))

    assert exercises.check_psnr(right)
    assert not exercises.check_psnr(lambda ref, out: right(ref, out) + 20 * np.log10(255))
    assert "max_val=255" in capsys.readouterr().out
