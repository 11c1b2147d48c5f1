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


def test_inpainting_keeps_the_observed_pixels_and_samples_the_hole():
    """Pixels of the optimal Gaussian model are independent, so the hole's posterior is the
    prior N(mu, s^2): RePaint must fill it with that distribution and keep the rest."""
    mu, s = 0.2, 0.3
    model = _optimal_diffusion(mu, s, diffusion.make_schedule("cosine", 1000))
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (3000, 4, 4, 1)).astype(np.float32)
    mask = np.ones_like(images)
    mask[:, 1:3, 1:3] = 0
    out = diffusion.inpaint(model, images, mask, steps=200, resample=2, seed=0)
    np.testing.assert_array_equal(out[mask == 1], images[mask == 1])
    hole = 2 * out[mask == 0] - 1
    assert abs(hole.mean() - mu) < 0.02 and abs(hole.std() - s) < 0.03
    np.testing.assert_array_equal(out, diffusion.inpaint(model, images, mask, steps=200,
                                                         resample=2, seed=0))
    with pytest.raises(ValueError, match="mask must hold only 0"):
        diffusion.inpaint(model, images, mask * 0.5)
    with pytest.raises(ValueError, match="mask must have shape"):
        diffusion.inpaint(model, images, mask[:10])
    with pytest.raises(ValueError, match="resample"):
        diffusion.inpaint(model, images, mask, resample=0)
    with pytest.raises(ValueError, match="images must have shape"):
        diffusion.inpaint(model, np.zeros((2, 8, 8, 1), np.float32), np.ones((2, 8, 8, 1)))


def test_trajectory_records_one_estimate_per_step():
    model = _optimal_diffusion(0.2, 0.3, diffusion.make_schedule("cosine", 1000))
    images, frames = diffusion.sample(model, 5, steps=7, seed=2, trajectory=True)
    assert frames.shape == (7, 5, 4, 4, 1) and frames.dtype == np.float32
    assert frames.min() >= 0 and frames.max() <= 1
    np.testing.assert_array_equal(images, diffusion.sample(model, 5, steps=7, seed=2))
    # the last x0 estimate is the image itself (the last step goes to alpha_bar = 1)
    np.testing.assert_allclose(frames[-1], images, atol=1e-6)
    with pytest.raises(TypeError, match="trajectory"):
        diffusion.sample(model, 5, trajectory=1)


def test_training_resumes_with_the_same_noise_and_ema(tmp_path, fashion):
    """Noise, levels and label dropout are keyed by (seed, optimizer step): an interrupted,
    resumed run ends with the weights *and* the EMA twin of the uninterrupted one."""
    from imgutils.train import resumable_callbacks

    images, labels = fashion.train.images[:96], fashion.train.labels[:96]

    def build():
        keras.utils.set_random_seed(5)
        m = diffusion.Diffusion(diffusion.diffusion_unet(widths=(4, 8), embed_dim=8),
                                diffusion.make_schedule("cosine", 100), ema_decay=0.9, seed=3)
        m.compile(optimizer=keras.optimizers.Adam(1e-3))
        return m

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    reference = build()
    reference.fit(images, labels, batch_size=32, epochs=3, verbose=0, shuffle=False)
    first = build()
    with pytest.raises(KeyboardInterrupt):
        first.fit(images, labels, batch_size=32, epochs=3, verbose=0, shuffle=False,
                  callbacks=resumable_callbacks(tmp_path / "b") + [Stop()])
    resumed = build()
    resumed.fit(images, labels, batch_size=32, epochs=3, verbose=0, shuffle=False,
                callbacks=resumable_callbacks(tmp_path / "b"))
    for net in ("network", "ema_network"):
        for a, b in zip(getattr(reference, net).get_weights(), getattr(resumed, net).get_weights(),
                        strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(reference.ema_network.get_weights()[0],
                           build().ema_network.get_weights()[0])


def test_unet_options_and_argument_checks():
    net = diffusion.diffusion_unet(widths=(8, 16), embed_dim=16, norm_groups=4, attention=True)
    out = net([np.zeros((2, 28, 28, 1), np.float32), np.array([0.1, 0.9], np.float32),
               np.array([3, 10], np.int32)])
    assert tuple(out.shape) == (2, 28, 28, 1)
    assert any("attention" in layer.name for layer in net.layers)
    with pytest.raises(ValueError, match="norm_groups"):
        diffusion.diffusion_unet(widths=(8, 12), norm_groups=8)
    with pytest.raises(TypeError, match="attention"):
        diffusion.diffusion_unet(widths=(8, 16), attention="yes")
    with pytest.raises(ValueError, match="divisible"):
        diffusion.diffusion_unet(image_shape=(30, 30, 1), widths=(8, 16, 32))
    with pytest.raises(TypeError, match="diffusion.Diffusion or a network"):
        inp = keras.Input((3,))
        diffusion.sample(keras.Model(inp, keras.layers.Dense(1)(inp)), 2)
