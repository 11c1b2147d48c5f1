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


def _softplus(x):
    return np.logaddexp(0.0, x)


def test_gan_loss_checkers_accept_right_and_explain_backwards(capsys):
    assert exercises.check_discriminator_loss(
        lambda r, f: _softplus(-r).mean() + _softplus(f).mean())
    assert not exercises.check_discriminator_loss(
        lambda r, f: _softplus(r).mean() + _softplus(-f).mean())
    assert "backwards" in capsys.readouterr().out
    assert exercises.check_generator_loss(lambda f: _softplus(-f).mean())
    assert not exercises.check_generator_loss(lambda f: -_softplus(f).mean())
    assert "saturating minimax" in capsys.readouterr().out


def test_optimal_discriminator_and_slerp_checkers(capsys):
    assert exercises.check_optimal_discriminator(lambda pr, pg: pr / (pr + pg))
    assert not exercises.check_optimal_discriminator(lambda pr, pg: pg / (pr + pg))
    assert "1 - D*" in capsys.readouterr().out

    def slerp(z0, z1, t):
        n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
        omega = np.arccos(np.clip(z0 @ z1 / (n0 * n1), -1, 1))
        direction = (np.sin((1 - t) * omega) * z0 / n0 + np.sin(t * omega) * z1 / n1) / np.sin(
            omega)
        return direction * ((1 - t) * n0 + t * n1)

    assert exercises.check_slerp(slerp)
    assert not exercises.check_slerp(lambda z0, z1, t: (1 - t) * z0 + t * z1)
    assert "linear interpolation" in capsys.readouterr().out
    with pytest.raises(TypeError):
        exercises.check_slerp("slerp")


def test_vae_checkers_accept_right_and_explain_common_mistakes(capsys):
    assert exercises.check_kl_divergence(
        lambda m, lv: 0.5 * np.sum(np.exp(lv) + m ** 2 - 1 - lv))
    assert not exercises.check_kl_divergence(lambda m, lv: np.sum(np.exp(lv) + m ** 2 - 1 - lv))
    assert "1/2" in capsys.readouterr().out
    assert not exercises.check_kl_divergence(
        lambda m, lv: 0.5 * np.sum(np.exp(2 * lv) + m ** 2 - 1 - 2 * lv))
    assert "log(std)" in capsys.readouterr().out
    assert exercises.check_reparameterize(lambda m, lv, e: m + np.exp(0.5 * lv) * e)
    assert not exercises.check_reparameterize(lambda m, lv, e: m + np.exp(lv) * e)
    assert "variance" in capsys.readouterr().out


@pytest.mark.parametrize("checker", [name for name in dir(exercises)
                                     if name.startswith("check_")])
def test_an_unattempted_stub_gets_one_line(checker, capsys):
    def my_stub(*args):
        # your code here
        return None

    def not_implemented(*args):
        raise NotImplementedError

    for stub in (my_stub, not_implemented):
        assert getattr(exercises, checker)(stub) is False
        out = capsys.readouterr().out
        assert out.count("\n") == 1 and "not attempted yet" in out and "wrong" not in out
    assert "my_stub" in (getattr(exercises, checker)(my_stub) or capsys.readouterr().out)


def test_gaussian_posterior_checker(capsys):
    def right(y, mu, s, n):
        g = s**2 / (s**2 + n**2)
        return mu + g * (y - mu), np.full_like(y, g * n**2)

    assert exercises.check_gaussian_posterior(right)
    assert "✓" in capsys.readouterr().out
    scalar_variance = lambda y, mu, s, n: (right(y, mu, s, n)[0], s**2 * n**2 / (s**2 + n**2))  # noqa: E731
    assert exercises.check_gaussian_posterior(scalar_variance)   # a scalar variance is fine
    capsys.readouterr()
    assert not exercises.check_gaussian_posterior(lambda y, mu, s, n: (y, n**2))
    assert "shrink" in capsys.readouterr().out


def test_gaussian_score_checker(capsys):
    assert exercises.check_gaussian_score(lambda y, mu, s, n: -(y - mu) / (s**2 + n**2))
    assert "✓" in capsys.readouterr().out
    assert not exercises.check_gaussian_score(lambda y, mu, s, n: (y - mu) / (s**2 + n**2))
    assert "sign" in capsys.readouterr().out
    assert not exercises.check_gaussian_score(lambda y, mu, s, n: -(y - mu) / s**2)
    assert "prior_sd^2 + noise_sd^2" in capsys.readouterr().out


def test_q_sample_checker(capsys):
    def right(x0, betas, t, eps):
        ab = np.prod(1 - betas[:t])
        return np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps

    assert exercises.check_q_sample(right)
    assert "✓" in capsys.readouterr().out
    assert not exercises.check_q_sample(
        lambda x0, b, t, e: np.prod(1 - b[:t]) * x0 + (1 - np.prod(1 - b[:t])) * e)
    assert "square roots" in capsys.readouterr().out
    assert not exercises.check_q_sample(
        lambda x0, b, t, e: np.sqrt(1 - b[t - 1]) * x0 + np.sqrt(b[t - 1]) * e)
    assert "one step" in capsys.readouterr().out
