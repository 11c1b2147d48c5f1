"""Chapter 07: schedules, the forward process, samplers, learning."""

import math

import keras
import numpy as np
import pytest

from imgutils.models import diffusion


@pytest.mark.parametrize("kind", diffusion.SCHEDULES)
def test_closed_form_matches_iterating_the_forward_chain(kind, rng):
    schedule = diffusion.make_schedule(kind, 200)
    x0 = np.array([0.8, -0.3, 0.0])
    x = np.tile(x0, (40_000, 1))
    for t in range(1, 201):
        beta = schedule.betas[t - 1]
        x = math.sqrt(1 - beta) * x + math.sqrt(beta) * rng.standard_normal(x.shape)
        if t in (1, 50, 200):
            ab = schedule.alpha_bars[t - 1]
            np.testing.assert_allclose(x.mean(0), math.sqrt(ab) * x0, atol=0.02)
            np.testing.assert_allclose(x.var(0), 1 - ab, atol=0.02, rtol=0.03)
    closed = schedule.q_sample(np.tile(x0, (40_000, 1)), np.full(40_000, 200),
                               rng.standard_normal((40_000, 3)))
    np.testing.assert_allclose(closed.mean(0), x.mean(0), atol=0.03)


def test_schedules_are_monotone_and_end_near_pure_noise():
    for kind in diffusion.SCHEDULES:
        s = diffusion.make_schedule(kind, 1000)
        assert np.all(np.diff(s.alpha_bars) < 0)
        assert s.alpha_bars[0] > 0.99 and s.alpha_bars[-1] < 1e-3
    with pytest.raises(ValueError, match="kind"):
        diffusion.make_schedule("quadratic")
    with pytest.raises(ValueError, match="t must"):
        diffusion.make_schedule().q_sample(np.zeros(2), np.array([0, 1]), np.zeros(2))


def _optimal_model(mu, s, schedule):
    """A network computing the exact E[eps | x_t] for data x0 ~ N(mu, s^2) per pixel
    (in the model's [-1, 1] scale)."""
    from keras import layers, ops

    noisy = keras.Input((4, 4, 1))
    level = keras.Input(())
    label = keras.Input((), dtype="int32")
    total = schedule.steps
    ab_table = ops.convert_to_tensor(schedule.alpha_bars.astype("f4"))

    def eps(args):
        x, lv = args
        t = ops.cast(ops.round(lv * total), "int32") - 1
        ab = ops.reshape(ops.take(ab_table, t), (-1, 1, 1, 1))
        return ops.sqrt(1 - ab) * (x - ops.sqrt(ab) * mu) / (ab * s ** 2 + 1 - ab)

    out = layers.Lambda(eps, output_shape=(4, 4, 1))([noisy, level])
    return keras.Model([noisy, level, label], out)


def _optimal_diffusion(mu, s, schedule):
    return diffusion.Diffusion(_optimal_model(mu, s, schedule), schedule,
                               ema_network=_optimal_model(mu, s, schedule))


def test_ddim_with_the_optimal_denoiser_reproduces_the_gaussian_data():
    mu, s = 0.2, 0.3                          # in [-1, 1]: images in [0, 1] have mean 0.6
    model = _optimal_diffusion(mu, s, diffusion.make_schedule("cosine", 1000))
    images = diffusion.sample(model, 4000, steps=50, seed=0)
    x = 2 * images - 1
    assert abs(x.mean() - mu) < 0.01 and abs(x.std() - s) < 0.02
    again = diffusion.sample(model, 4000, steps=50, seed=0)
    np.testing.assert_array_equal(images, again)                 # DDIM, eta = 0: deterministic
    assert not np.array_equal(images, diffusion.sample(model, 4000, steps=50, seed=1))
    ddpm = 2 * diffusion.sample(model, 4000, steps=200, seed=0, method="ddpm") - 1
    assert abs(ddpm.mean() - mu) < 0.01 and abs(ddpm.std() - s) < 0.03


def test_one_step_from_pure_noise_gives_the_posterior_mean():
    """One DDIM step from t = T to 0 returns x0_hat = E[x0 | x_T] (clipped)."""
    mu, s = 0.2, 0.3
    schedule = diffusion.make_schedule("linear", 1000)
    model = _optimal_diffusion(mu, s, schedule)
    x = 2 * diffusion.sample(model, 500, steps=1, seed=3) - 1
    ab = schedule.alpha_bars[-1]
    x_t = np.random.default_rng(3).standard_normal((500, 4, 4, 1))
    expected = mu + math.sqrt(ab) * s ** 2 / (ab * s ** 2 + 1 - ab) * (x_t - math.sqrt(ab) * mu)
    np.testing.assert_allclose(x, np.clip(expected, -1, 1), atol=1e-4)


def test_tiny_model_learns_and_sampling_validates_arguments(fashion):
    keras.utils.set_random_seed(0)
    net = diffusion.diffusion_unet(widths=(8, 16), embed_dim=16)
    model = diffusion.Diffusion(net, diffusion.make_schedule("cosine", 1000), ema_decay=0.9)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    train = fashion.train.images[:2048]
    held_out = (fashion.test.images[:512], fashion.test.labels[:512])
    before = model.evaluate(*held_out, batch_size=256, verbose=0)
    initial = [w.copy() for w in model.network.get_weights()]
    model.fit(train, fashion.train.labels[:2048], batch_size=64, epochs=2, verbose=0,
              shuffle=False)
    after = model.evaluate(*held_out, batch_size=256, verbose=0)
    assert after < 0.8 * before
    # the EMA (with warm-up) follows the trained weights, not the random initial ones
    trained, ema = model.network.get_weights(), model.ema_network.get_weights()
    gap = sum(np.sum((a - b) ** 2) for a, b in zip(ema, trained, strict=True))
    moved = sum(np.sum((a - b) ** 2) for a, b in zip(initial, trained, strict=True))
    assert gap < 0.1 * moved
    out = diffusion.sample(model, 3, steps=4, labels=[0, 1, 2], guidance=2.0, seed=1)
    assert out.shape == (3, 28, 28, 1) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="guidance needs labels"):
        diffusion.sample(model, 3, guidance=2.0)
    with pytest.raises(ValueError, match="steps"):
        diffusion.sample(model, 3, steps=5000)
    with pytest.raises(ValueError, match="labels"):
        diffusion.sample(model, 3, labels=[0, 1, 12])
    with pytest.raises(ValueError, match="method"):
        diffusion.sample(model, 3, method="euler")
