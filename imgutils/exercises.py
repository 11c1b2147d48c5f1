"""``check_*`` helpers that give readers feedback on their exercise solutions.

Each helper calls the reader's function on a set of cases, compares with the reference in
``imgutils.ops``, prints what passed or the first case that failed, and returns ``True`` only if
all cases pass.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
from collections.abc import Callable

import numpy as np

from . import ops


class _Attempt:
    """Wraps the reader's function and notes whether it ever returned something."""

    def __init__(self, fn: Callable):
        self.fn, self.calls, self.attempted = fn, 0, False
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        try:
            result = self.fn(*args, **kwargs)
        except NotImplementedError:
            raise
        except Exception:
            self.attempted = True
            raise
        self.attempted = self.attempted or result is not None
        return result


def _feedback(checker: Callable) -> Callable:
    """Give an unattempted stub (it returns ``None`` or raises ``NotImplementedError`` on
    every case) one line of feedback instead of a list of failures."""

    @functools.wraps(checker)
    def wrapper(fn, *args, **kwargs):
        if not callable(fn):
            raise TypeError(f"pass your function itself, e.g. {checker.__name__}(my_function); "
                            f"got {type(fn).__name__}")
        attempt = _Attempt(fn)
        with contextlib.redirect_stdout(io.StringIO()) as feedback:
            passed = checker(attempt, *args, **kwargs)
        if attempt.calls and not attempt.attempted:
            name = checker.__name__.removeprefix("check_")
            print(f"… {name}: not attempted yet: `{getattr(fn, '__name__', 'your function')}` "
                  "returns None; write it, then run this cell again.")
            return False
        print(feedback.getvalue(), end="")
        return passed

    return wrapper


def _report(name: str, failures: list[str], total: int) -> bool:
    if failures:
        print(f"✗ {name}: {len(failures)} of {total} cases wrong. First one:\n  {failures[0]}")
        return False
    print(f"✓ {name}: all {total} cases correct.")
    return True


@_feedback
def check_conv_output_size(fn: Callable[[int, int, int, int], int]) -> bool:
    """Check ``fn(n, kernel, stride, padding) -> output length`` (integer padding)."""
    if not callable(fn):
        raise TypeError("pass your function itself, e.g. check_conv_output_size(my_size)")
    failures, total = [], 0
    for n, k, s, p in itertools.product((5, 7, 28, 32), (1, 3, 5), (1, 2, 3), (0, 1, 2)):
        if n + 2 * p < k:
            continue
        total += 1
        expected = ops.conv_output_size(n, k, s, p)
        try:
            got = fn(n, k, s, p)
        except Exception as exc:  # show the reader's error as feedback
            failures.append(f"n={n}, k={k}, s={s}, p={p}: raised {type(exc).__name__}: {exc}")
            continue
        if got != expected:
            failures.append(f"n={n}, k={k}, s={s}, p={p}: expected {expected}, got {got!r}"
                            + (" (did you forget the floor?)" if isinstance(got, float) else ""))
    return _report("conv_output_size", failures, total)


@_feedback
def check_receptive_field(fn: Callable[[list[tuple[int, int]]], int]) -> bool:
    """Check ``fn(layers) -> receptive field of the last layer`` for (kernel, stride) stacks."""
    if not callable(fn):
        raise TypeError("pass your function itself, e.g. check_receptive_field(my_rf)")
    cases = [
        [(3, 1)], [(3, 1), (3, 1)], [(3, 1)] * 5, [(3, 2), (3, 2)],
        [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)], [(5, 2), (5, 2), (5, 2)],
        [(7, 2), (3, 2), (3, 1), (3, 1)], [(1, 1), (1, 1)],
    ]
    failures = []
    for layers in cases:
        expected = ops.receptive_field(layers)[-1][0]
        try:
            got = fn(list(layers))
        except Exception as exc:
            failures.append(f"layers={layers}: raised {type(exc).__name__}: {exc}")
            continue
        if got != expected:
            failures.append(f"layers={layers}: expected {expected}, got {got!r}")
    return _report("receptive_field", failures, len(cases))


@_feedback
def check_conv2d(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], *, seed: int = 0) -> bool:
    """Check ``fn(image [H, W], kernel [k, k]) -> 'valid' cross-correlation [H-k+1, W-k+1]``."""
    if not callable(fn):
        raise TypeError("pass your function itself, e.g. check_conv2d(my_conv)")
    rng = np.random.default_rng(seed)
    failures, total = [], 0
    for h, w, k in ((5, 5, 3), (6, 9, 3), (8, 8, 1), (7, 10, 5)):
        total += 1
        image, kernel = rng.normal(size=(h, w)), rng.normal(size=(k, k))
        expected = ops.conv2d_numpy(image[None, :, :, None], kernel[:, :, None, None])[0, :, :, 0]
        try:
            got = np.asarray(fn(image, kernel), dtype=np.float64)
        except Exception as exc:
            failures.append(f"{h}x{w} image, {k}x{k} kernel: raised {type(exc).__name__}: {exc}")
            continue
        if got.shape != expected.shape:
            failures.append(f"{h}x{w} image, {k}x{k} kernel: expected shape {expected.shape}, "
                            f"got {got.shape}")
        elif not np.allclose(got, expected, atol=1e-8):
            flipped = ops.conv2d_numpy(image[None, :, :, None],
                                       kernel[::-1, ::-1, None, None])[0, :, :, 0]
            hint = (" (you flipped the kernel: that is the mathematical convolution; "
                    "Conv2D computes cross-correlation)") if np.allclose(got, flipped) else ""
            failures.append(f"{h}x{w} image, {k}x{k} kernel: max abs error "
                            f"{np.abs(got - expected).max():.3g}{hint}")
    return _report("conv2d", failures, total)


@_feedback
def check_psnr(fn: Callable[[np.ndarray, np.ndarray], float], *, seed: int = 0) -> bool:
    """Check ``fn(reference [H, W, C], restored [H, W, C]) -> PSNR in dB`` for [0, 1] images."""
    if not callable(fn):
        raise TypeError("pass your function itself, e.g. check_psnr(my_psnr)")
    from . import metrics

    rng = np.random.default_rng(seed)
    failures, total = [], 0
    for shape, noise in (((28, 28, 1), 0.1), ((16, 20, 3), 0.02), ((12, 12, 1), 0.3)):
        total += 1
        ref = rng.random(shape).astype(np.float32)
        out = np.clip(ref + rng.normal(0, noise, shape), 0, 1).astype(np.float32)
        expected = float(metrics.psnr(ref[None], out[None])[0])
        try:
            got = float(fn(ref, out))
        except Exception as exc:
            failures.append(f"{shape} images: raised {type(exc).__name__}: {exc}")
            continue
        if not np.isclose(got, expected, atol=1e-3):
            hint = ""
            if np.isclose(got, expected + 20 * np.log10(255), atol=1e-2):
                hint = " (you used a peak of 255 for images in [0, 1]: the max_val=255 bug)"
            elif np.isclose(got, expected / 2, atol=1e-2):
                hint = " (10 log10 of the *squared* peak over the MSE, or 20 log10 of the peak)"
            failures.append(f"{shape} images: expected {expected:.3f} dB, got {got:.3f}{hint}")
    return _report("psnr", failures, total)


# ----------------------------------------------------------------------------- chapter 02
def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _check_arrays(name: str, fn: Callable, cases: list[tuple[str, tuple, np.ndarray]],
                  hints: Callable[[tuple, np.ndarray], str] | None = None,
                  atol: float = 1e-6) -> bool:
    """Run ``fn(*args)`` on every case and compare with the expected array (or number)."""
    if not callable(fn):
        raise TypeError(f"pass your function itself, e.g. check_{name}(my_function)")
    failures = []
    for label, args, expected in cases:
        try:
            got = np.asarray(fn(*args), dtype=np.float64)
        except Exception as exc:  # show the reader's error as feedback
            failures.append(f"{label}: raised {type(exc).__name__}: {exc}")
            continue
        expected = np.asarray(expected, dtype=np.float64)
        if got.shape != expected.shape:
            failures.append(f"{label}: expected shape {expected.shape}, got {got.shape}")
        elif not np.allclose(got, expected, atol=atol, rtol=1e-5):
            hint = hints(args, got) if hints else ""
            failures.append(f"{label}: max abs error {np.abs(got - expected).max():.3g}{hint}")
    return _report(name, failures, len(cases))


def _logit_cases(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, s, 16), rng.normal(m, s, 16)) for m, s in ((0, 1), (-3, 2), (2, 5))]


@_feedback
def check_discriminator_loss(fn: Callable[[np.ndarray, np.ndarray], float], *,
                             seed: int = 0) -> bool:
    """Check ``fn(real_logits [N], fake_logits [N]) -> mean discriminator loss`` (a number).

    The discriminator maximises ``E log D(x) + E log(1 - D(G(z)))`` with ``D = sigmoid(logit)``,
    so its loss is the negative: ``mean(-log D(x)) + mean(-log(1 - D(G(z))))``.
    """
    cases = [(f"case {i}", (r, f), _softplus(-r).mean() + _softplus(f).mean())
             for i, (r, f) in enumerate(_logit_cases(seed))]

    def hints(args, got):
        r, f = args
        if np.isclose(got, _softplus(r).mean() + _softplus(-f).mean()):
            return (" (real and fake swapped: D must score real images HIGH; this is the "
                    "backwards statement found in some textbooks)")
        return ""

    return _check_arrays("discriminator_loss", fn, cases, hints, atol=1e-5)


@_feedback
def check_generator_loss(fn: Callable[[np.ndarray], float], *, seed: int = 0) -> bool:
    """Check ``fn(fake_logits [N]) -> mean non-saturating generator loss -log D(G(z))``."""
    cases = [(f"case {i}", (f,), _softplus(-f).mean())
             for i, (_, f) in enumerate(_logit_cases(seed))]

    def hints(args, got):
        (f,) = args
        if np.isclose(got, -_softplus(f).mean()):
            return " (that is the saturating minimax loss log(1 - D(G(z))))"
        return ""

    return _check_arrays("generator_loss", fn, cases, hints, atol=1e-5)


@_feedback
def check_optimal_discriminator(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> bool:
    """Check ``fn(p_real [N], p_fake [N]) -> D*(x) [N]`` for densities evaluated at points x."""
    rng = np.random.default_rng(0)
    cases = []
    for i in range(3):
        p_r, p_g = rng.random(12) * 3, rng.random(12) * 3
        cases.append((f"case {i}", (p_r, p_g), p_r / (p_r + p_g)))

    def hints(args, got):
        p_r, p_g = args
        if np.allclose(got, p_g / (p_r + p_g)):
            return " (that is 1 - D*: D should be high where the REAL density dominates)"
        return ""

    return _check_arrays("optimal_discriminator", fn, cases, hints)


@_feedback
def check_slerp(fn: Callable[[np.ndarray, np.ndarray, float], np.ndarray]) -> bool:
    """Check ``fn(z0 [D], z1 [D], t) -> z(t) [D]``: spherical interpolation with linear norm."""
    from .widgets import interpolate

    rng = np.random.default_rng(1)
    cases = []
    for d in (2, 16, 64):
        z0, z1 = rng.normal(size=d), rng.normal(size=d)
        for t_index, t in ((2, 0.25), (4, 0.5), (7, 0.875)):
            expected = interpolate(z0, z1, 9, method="slerp")[t_index]
            cases.append((f"D={d}, t={t}", (z0, z1, t), expected))

    def hints(args, got):
        z0, z1, t = args
        if np.allclose(got, (1 - t) * z0 + t * z1, atol=1e-4):
            return " (that is linear interpolation)"
        return ""

    return _check_arrays("slerp", fn, cases, hints, atol=1e-4)


# ----------------------------------------------------------------------------- chapter 03
def _gaussian_cases(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, s, d), rng.normal(0, s, d)) for d, s in ((2, 0.5), (16, 1.0),
                                                                    (64, 2.0))]


@_feedback
def check_kl_divergence(fn: Callable[[np.ndarray, np.ndarray], float], *,
                        seed: int = 0) -> bool:
    """Check ``fn(mean [D], logvar [D]) -> KL(N(mean, diag exp(logvar)) || N(0, I))``."""
    cases = [(f"D={len(m)}", (m, lv), 0.5 * np.sum(np.exp(lv) + m ** 2 - 1 - lv))
             for m, lv in _gaussian_cases(seed)]

    def hints(args, got):
        m, lv = args
        if np.isclose(got, np.sum(np.exp(lv) + m ** 2 - 1 - lv)):
            return " (missing the factor 1/2)"
        if np.isclose(got, 0.5 * np.sum(np.exp(2 * lv) + m ** 2 - 1 - 2 * lv)):
            return " (you treated logvar as log(std): the variance is exp(logvar))"
        if np.isclose(got, -0.5 * np.sum(np.exp(lv) + m ** 2 - 1 - lv)):
            return " (wrong sign: a KL divergence is never negative)"
        return ""

    return _check_arrays("kl_divergence", fn, cases, hints, atol=1e-6)


@_feedback
def check_reparameterize(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray], *,
                         seed: int = 0) -> bool:
    """Check ``fn(mean [D], logvar [D], eps [D]) -> z = mean + std * eps``."""
    cases = []
    for m, lv in _gaussian_cases(seed):
        eps = np.random.default_rng(seed + len(m)).normal(size=len(m))
        cases.append((f"D={len(m)}", (m, lv, eps), m + np.exp(0.5 * lv) * eps))

    def hints(args, got):
        m, lv, eps = args
        if np.allclose(got, m + np.exp(lv) * eps):
            return " (you scaled eps by the variance exp(logvar); scale by the std exp(logvar / 2))"
        if np.allclose(got, m + lv * eps):
            return " (logvar is a log-variance: the std is exp(logvar / 2))"
        return ""

    return _check_arrays("reparameterize", fn, cases, hints)


# ----------------------------------------------------------------------------- chapter 05
@_feedback
def check_gaussian_posterior(fn: Callable[[np.ndarray, float, float, float], tuple], *,
                             seed: int = 0) -> bool:
    """Check ``fn(y, prior_mean, prior_sd, noise_sd) -> (posterior mean, posterior variance)``.

    The model: ``x ~ N(prior_mean, prior_sd^2)``, ``y = x + n`` with ``n ~ N(0, noise_sd^2)``,
    per pixel. Expected: ``g = prior_sd^2 / (prior_sd^2 + noise_sd^2)``, mean
    ``prior_mean + g (y - prior_mean)``, variance ``g noise_sd^2`` (the MMSE), the variance
    returned as an array shaped like ``y``.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for mu, s, n in ((0.5, 0.1, 0.1), (0.3, 0.2, 0.05), (0.0, 1.0, 2.0)):
        y = mu + np.sqrt(s**2 + n**2) * rng.standard_normal(6)
        g = s**2 / (s**2 + n**2)
        expected = np.stack([mu + g * (y - mu), np.full_like(y, g * n**2)])
        cases.append((f"prior N({mu}, {s}^2), noise sd {n}", (y, mu, s, n), expected))

    def stacked(*args):
        mean, var = fn(*args)
        y = args[0]
        return np.stack([np.broadcast_to(np.asarray(mean, np.float64), y.shape),
                         np.broadcast_to(np.asarray(var, np.float64), y.shape)])

    def hints(args, got):
        y, mu, s, n = args
        if np.allclose(got[0], y):
            return " (the mean is not y itself: shrink y towards the prior mean)"
        if np.allclose(got[1], s**2 * n**2 / (s + n) ** 2) or np.allclose(got[1], n**2):
            return " (posterior variance: 1 / (1 / prior_sd^2 + 1 / noise_sd^2))"
        return ""

    return _check_arrays("gaussian_posterior", stacked, cases, hints)


# ----------------------------------------------------------------------------- chapter 06
@_feedback
def check_gaussian_score(fn: Callable[[np.ndarray, float, float, float], np.ndarray], *,
                         seed: int = 0) -> bool:
    """Check ``fn(y, prior_mean, prior_sd, noise_sd) -> grad_y log p_sigma(y)``.

    The model: ``x ~ N(prior_mean, prior_sd^2)``, ``y = x + n``, ``n ~ N(0, noise_sd^2)``, so
    y is ``N(prior_mean, prior_sd^2 + noise_sd^2)`` and its score is
    ``-(y - prior_mean) / (prior_sd^2 + noise_sd^2)``. Tweedie: ``y + noise_sd^2 * score`` is
    then the posterior mean of chapter 05.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for mu, s, n in ((0.5, 0.1, 0.1), (0.3, 0.2, 0.05), (0.0, 1.0, 2.0)):
        y = mu + np.sqrt(s**2 + n**2) * rng.standard_normal(6)
        cases.append((f"prior N({mu}, {s}^2), noise sd {n}", (y, mu, s, n),
                      -(y - mu) / (s**2 + n**2)))

    def hints(args, got):
        y, mu, s, n = args
        if np.allclose(got, (y - mu) / (s**2 + n**2)):
            return " (wrong sign: the score points towards the mean)"
        if np.allclose(got, -(y - mu) / s**2) or np.allclose(got, -(y - mu) / n**2):
            return " (the variance of y is prior_sd^2 + noise_sd^2)"
        return ""

    return _check_arrays("gaussian_score", fn, cases, hints)


@_feedback
def check_q_sample(fn: Callable[[np.ndarray, np.ndarray, int, np.ndarray], np.ndarray]) -> bool:
    """Check ``fn(x0, betas, t, eps) -> x_t``, the forward process in closed form (chapter 07).

    ``betas``: float ``[T]`` (``betas[t - 1]`` is beta_t); ``t`` in [1, T]; x0 and eps arrays of
    the same shape. Expected: ``sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps`` with
    ``alpha_bar_t = prod_{s <= t} (1 - beta_s)``.
    """
    rng = np.random.default_rng(3)
    cases = []
    for label, betas, t in (("linear, T = 1000, t = 1", np.linspace(1e-4, 0.02, 1000), 1),
                            ("linear, T = 1000, t = 500", np.linspace(1e-4, 0.02, 1000), 500),
                            ("constant beta 0.1, T = 10, t = 10", np.full(10, 0.1), 10)):
        x0, eps = rng.uniform(-1, 1, (2, 3)), rng.standard_normal((2, 3))
        ab = np.prod(1 - betas[:t])
        cases.append((label, (x0, betas, t, eps), np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps))

    def hints(args, got):
        x0, betas, t, eps = args
        ab = np.prod(1 - betas[:t])
        if np.allclose(got, ab * x0 + (1 - ab) * eps):
            return " (the weights are square roots: sqrt(alpha_bar) and sqrt(1 - alpha_bar))"
        alpha_t = 1 - betas[t - 1]
        if np.allclose(got, np.sqrt(alpha_t) * x0 + np.sqrt(1 - alpha_t) * eps):
            return " (that is one step of the chain; use the product of all (1 - beta_s), s <= t)"
        if np.allclose(got, np.sqrt(np.prod(1 - betas[:t - 1])) * x0
                       + np.sqrt(1 - np.prod(1 - betas[:t - 1])) * eps):
            return " (off by one: alpha_bar_t includes beta_t itself)"
        return ""

    return _check_arrays("q_sample", fn, cases, hints)
