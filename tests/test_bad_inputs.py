"""One bad-input suite over every public entry point that takes images (issue 13, items 2 and 6).

Each image argument of each callable gets the same eight kinds of wrong batch (rank 3, uint8,
bool, object, NaN, Inf, 0-255 floats, empty); every one must raise the stated exception with a
message that names the argument (and, for 0-255 floats, says to divide by 255). The models'
``fit`` is checked on arrays and on a ``tf.data.Dataset``, the widgets on decoders that return
the wrong thing. ``test_every_image_taking_callable_is_in_the_suite`` walks the package so that
a new public function with an image argument cannot slip past the suite.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import imgutils
from imgutils import baselines, channel, corrupt, data, evaluation, features, metrics, viz, widgets
from imgutils.models import autoencoder as ae
from imgutils.models import diffusion, gan, pix2pix, restoration, score, vae

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, (2, 28, 28, 1)).astype(np.float32)
MASK = (RNG.uniform(size=(2, 28, 28, 1)) > 0.5).astype(np.float32)
LOW = X[:, ::4, ::4]                                  # [2, 7, 7, 1]


def _nan(x):
    x = x.copy()
    x.flat[3] = np.nan
    return x


def _inf(x):
    x = x.copy()
    x.flat[3] = np.inf
    return x


# kind -> (make the bad batch from a good one, exception, what the message must also say)
BAD = {
    "rank3": (lambda x: x[0], ValueError, r"rank 4|shape"),
    "uint8": (lambda x: (x * 255).astype(np.uint8), TypeError, r"float dtype|/ 255"),
    "bool": (lambda x: x > 0.5, TypeError, r"float dtype"),
    "object": (lambda x: x.astype(object), TypeError, r"float dtype"),
    "nan": (_nan, ValueError, r"NaN"),
    "inf": (_inf, ValueError, r"NaN or infinite"),
    "0-255": (lambda x: x * 255, ValueError, r"divide by 255"),
    "empty": (lambda x: x[:0], ValueError, r"at least one image|empty"),
}
MASK_KINDS = ("rank3", "uint8", "object", "nan", "inf", "empty")   # bool masks are allowed


@functools.cache
def tiny(kind: str):
    """Small models built once (the checks run before any of them computes anything)."""
    keras.utils.set_random_seed(0)
    if kind == "vae":
        return vae.VAE(vae.conv_encoder(latent_dim=2, width=4), vae.conv_decoder(2, width=4))
    if kind == "ae":
        return ae.Autoencoder(ae.conv_encoder(code_size=4, width=4),
                              ae.conv_decoder(code_size=4, width=4))
    if kind == "dae":
        return ae.DenoisingAutoencoder(ae.skip_autoencoder(base=4), None,
                                       [("missing_pixels", 0.5)])
    if kind == "ncdae":
        return score.NoiseConditionalDAE(score.noise_conditional_denoiser(base=4), [0.5, 0.1])
    if kind == "gan":
        return gan.GAN(gan.dcgan_generator(4, width=4), gan.dcgan_discriminator(width=4))
    if kind == "diffusion":
        return diffusion.Diffusion(diffusion.diffusion_unet(widths=(4, 8), embed_dim=8),
                                   diffusion.make_schedule("cosine", 10))
    if kind == "pix2pix":
        return pix2pix.Pix2Pix(restoration.sr_unet(factor=4, base=4, noise_channels=1),
                               pix2pix.patchgan_discriminator((28, 28, 1), ((7, 7, 1),),
                                                              width=4))
    if kind == "dncnn":
        return restoration.dncnn(depth=3, width=4)
    if kind == "unet":
        return restoration.unet(base=4, levels=1)
    if kind == "pca":
        return channel.PCA(4).fit(RNG.uniform(0, 1, (16, 28, 28, 1)).astype(np.float32))
    raise KeyError(kind)


# (callable, image argument, call(bad) with every other argument valid, kinds)
ALL = tuple(BAD)
CASES = [
    ("baselines.adaptive_median", "noisy", lambda b: baselines.adaptive_median(b), ALL),
    ("baselines.bicubic_upsample", "low", lambda b: baselines.bicubic_upsample(b, 2), ALL),
    ("baselines.bilateral", "noisy", lambda b: baselines.bilateral(b, 0.1), ALL),
    ("baselines.biharmonic_inpaint", "images",
     lambda b: baselines.biharmonic_inpaint(b, MASK), ALL),
    ("baselines.biharmonic_inpaint", "mask",
     lambda b: baselines.biharmonic_inpaint(X, b), MASK_KINDS),
    ("baselines.median", "noisy", lambda b: baselines.median(b), ALL),
    ("baselines.nlm", "noisy", lambda b: baselines.nlm(b, 0.1), ALL),
    ("baselines.tv", "noisy", lambda b: baselines.tv(b, 0.1), ALL),
    ("baselines.wavelet", "noisy", lambda b: baselines.wavelet(b, 0.1), ALL),
    ("channel.PCA.fit", "images", lambda b: channel.PCA(2).fit(b), ALL),
    ("channel.PCA.encode", "images", lambda b: tiny("pca").encode(b), ALL),
    ("channel.separated_transmit", "images",
     lambda b: channel.separated_transmit(tiny("pca"), b, bits=4, code="none", snr_db=10.0),
     ALL),
    ("corrupt.gaussian_noise", "images", lambda b: corrupt.gaussian_noise(b, 0.1), ALL),
    ("corrupt.random_gaussian_noise", "images",
     lambda b: corrupt.random_gaussian_noise(b, (0.0, 0.1)), ALL),
    ("corrupt.salt_and_pepper", "images", lambda b: corrupt.salt_and_pepper(b, 0.1), ALL),
    ("corrupt.missing_pixels", "images", lambda b: corrupt.missing_pixels(b, 0.5), ALL),
    ("corrupt.block_holes", "images", lambda b: corrupt.block_holes(b, 4), ALL),
    ("corrupt.centre_hole", "images", lambda b: corrupt.centre_hole(b, 8), ALL),
    ("corrupt.irregular_holes", "images", lambda b: corrupt.irregular_holes(b), ALL),
    ("corrupt.gaussian_blur", "images", lambda b: corrupt.gaussian_blur(b, 1.0), ALL),
    ("corrupt.downsample", "images", lambda b: corrupt.downsample(b, 2), ALL),
    ("corrupt.upsample_nearest", "low", lambda b: corrupt.upsample_nearest(b, 2), ALL),
    ("corrupt.mixture", "images",
     lambda b: corrupt.mixture(b, [("missing_pixels", 0.5)]), ALL),
    ("corrupt.training_pairs", "images",
     lambda b: corrupt.training_pairs(b, ("missing_pixels", 0.5)), ALL),
    ("data.make_dataset", "images", lambda b: data.make_dataset(b), ALL),
    ("evaluation.restoration_scores", "clean",
     lambda b: evaluation.restoration_scores(b, X * 0.9, fid=False), ALL),
    ("evaluation.restoration_scores", "restored",
     lambda b: evaluation.restoration_scores(X, b, fid=False), ALL),
    ("evaluation.restoration_scores", "mask",
     lambda b: evaluation.restoration_scores(X, X * 0.9, mask=b, fid=False), MASK_KINDS),
    ("features.fashion_features", "images", lambda b: features.fashion_features(b), ALL),
    ("features.fashion_probabilities", "images",
     lambda b: features.fashion_probabilities(b), ALL),
    ("features.generation_intervals", "real_images",
     lambda b: features.generation_intervals(b, {"model": X}), ALL),
    ("features.generation_report", "real_images",
     lambda b: features.generation_report(b, X[:1]), ALL),
    ("features.generation_report", "fake_images",
     lambda b: features.generation_report(np.concatenate([X, X]), b), ALL),
    ("features.generation_intervals", "generated",
     lambda b: features.generation_intervals(X, {"model": b}), ALL),
    ("metrics.psnr", "reference", lambda b: metrics.psnr(b, X), ALL),
    ("metrics.psnr", "restored", lambda b: metrics.psnr(X, b), ALL),
    ("metrics.ssim", "reference", lambda b: metrics.ssim(b, X), ALL),
    ("metrics.ssim", "restored", lambda b: metrics.ssim(X, b), ALL),
    ("metrics.masked_psnr", "reference", lambda b: metrics.masked_psnr(b, X, MASK), ALL),
    ("metrics.masked_psnr", "restored", lambda b: metrics.masked_psnr(X, b, MASK), ALL),
    ("metrics.masked_psnr", "mask", lambda b: metrics.masked_psnr(X, X, b), MASK_KINDS),
    ("metrics.masked_mae", "reference", lambda b: metrics.masked_mae(b, X, MASK), ALL),
    ("metrics.masked_mae", "restored", lambda b: metrics.masked_mae(X, b, MASK), ALL),
    ("metrics.masked_mae", "mask", lambda b: metrics.masked_mae(X, X, b), MASK_KINDS),
    ("metrics.mean_pairwise_distance", "images",
     lambda b: metrics.mean_pairwise_distance(b), ALL),
    ("metrics.posterior_sampling", "reference",
     lambda b: metrics.posterior_sampling(b, np.stack([X, X], 1)), ALL),
    ("metrics.inception_features", "images", lambda b: metrics.inception_features(b), ALL),
    ("models.autoencoder.Autoencoder.encode", "images", lambda b: tiny("ae").encode(b), ALL),
    ("models.autoencoder.Autoencoder.reconstruct", "images",
     lambda b: tiny("ae").reconstruct(b), ALL),
    ("models.autoencoder.Autoencoder.transmit", "images",
     lambda b: tiny("ae").transmit(b, snr_db=10.0), ALL),
    ("models.autoencoder.DenoisingAutoencoder.restore", "images",
     lambda b: tiny("dae").restore(b), ALL),
    ("models.diffusion.inpaint", "images",
     lambda b: diffusion.inpaint(tiny("diffusion"), b, MASK, steps=2), ALL),
    ("models.diffusion.inpaint", "mask",
     lambda b: diffusion.inpaint(tiny("diffusion"), X, b, steps=2), MASK_KINDS),
    ("models.pix2pix.draw_samples", "inputs",
     lambda b: pix2pix.draw_samples(tiny("pix2pix").generator, b[..., :7, :7, :], 2), ALL),
    ("models.restoration.restore", "inputs",
     lambda b: restoration.restore(tiny("dncnn"), b), ALL),
    ("models.restoration.restore", "inputs[0]",
     lambda b: restoration.restore(tiny("unet"), [b, MASK]), ALL),
    ("models.restoration.restore", "inputs[1]",
     lambda b: restoration.restore(tiny("unet"), [X, b]), MASK_KINDS),
    ("models.score.NoiseConditionalDAE.denoise", "noisy",
     lambda b: tiny("ncdae").denoise(b, 0.1), ALL),
    ("models.vae.VAE.encode", "images", lambda b: tiny("vae").encode(b), ALL),
    ("models.vae.VAE.reconstruct", "images", lambda b: tiny("vae").reconstruct(b), ALL),
    ("models.vae.active_units", "images",
     lambda b: vae.active_units(tiny("vae").encoder, b), ALL),
    ("models.vae.elbo", "images", lambda b: vae.elbo(tiny("vae"), b), ALL),
    ("models.vae.iwae_bound", "images", lambda b: vae.iwae_bound(tiny("vae"), b, k=2), ALL),
    ("models.vae.reconstruction_nll", "images",
     lambda b: vae.reconstruction_nll(b, np.zeros_like(X)), ALL),
    ("models.autoencoder.denoising_elbo", "clean",
     lambda b: ae.denoising_elbo(b, np.zeros_like(X), np.zeros((2, 2), np.float32),
                                 np.zeros((2, 2), np.float32)), ALL),
    ("viz.image_grid", "images", lambda b: viz.image_grid(b), ALL),
    ("viz.before_after", "columns['noisy']",
     lambda b: viz.before_after({"clean": X, "noisy": b}), ALL),
    ("viz.animate_grids", "frames[0]", lambda b: viz.animate_grids([b]), ALL),
]


# the models' fit: every model that overrides train_step, on arrays and on a dataset
def _fit_array(kind, make):
    return lambda b: tiny(kind).fit(make(b), epochs=1, verbose=0)


def _fit_dataset(kind, make):
    def call(b):
        if b.ndim == 0 or b.dtype == object:    # tf.data cannot hold object arrays at all
            return tiny(kind).fit(make(b), epochs=1, verbose=0)
        return tiny(kind).fit(tf.data.Dataset.from_tensor_slices(make(b)).batch(2),
                              epochs=1, verbose=0)
    return call


FIT = [
    ("gan", lambda b: b), ("vae", lambda b: b), ("ae", lambda b: b), ("dae", lambda b: b),
    ("ncdae", lambda b: b), ("diffusion", lambda b: b),
    ("pix2pix", lambda b: (LOW[: len(b)] if len(b) else LOW[:0], b)),
]
for _kind, _make in FIT:
    _cls = type(tiny(_kind)).__name__
    CASES.append((f"{_cls}.fit(array)", "x", _fit_array(_kind, _make),
                  tuple(k for k in ALL if k != "rank3" or _kind != "pix2pix")))
    CASES.append((f"{_cls}.fit(dataset)", "x", _fit_dataset(_kind, _make),
                  tuple(k for k in ALL if k not in ("rank3", "empty"))))

EXPANDED = [(f"{name}:{arg}:{kind}", arg, call, kind)
            for name, arg, call, kinds in CASES for kind in kinds]


@pytest.mark.parametrize("case_id,arg,call,kind", EXPANDED, ids=[e[0] for e in EXPANDED])
def test_a_bad_image_batch_is_a_clear_error_naming_the_argument(case_id, arg, call, kind):
    make, error, says = BAD[kind]
    good = MASK if arg in ("mask", "inputs[1]") else X
    with pytest.raises(error) as caught:
        call(make(good))
    message = str(caught.value)
    assert arg in message, f"{case_id}: the message does not name {arg!r}: {message}"
    if arg not in ("mask", "inputs[1]"):
        assert re.search(says, message), f"{case_id}: expected /{says}/ in: {message}"


def test_the_fit_check_sees_a_bad_first_batch_of_a_dataset_and_validation_data():
    model = tiny("vae")
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    with pytest.raises(ValueError, match=r"x \(its first batch\).*divide by 255"):
        model.fit(tf.data.Dataset.from_tensor_slices((X * 255, np.zeros(2))).batch(2),
                  verbose=0)
    with pytest.raises(ValueError, match=r"validation_data.*NaN"):
        model.fit(X, validation_data=_nan(X), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="x is an empty dataset"):
        model.fit(tf.data.Dataset.from_tensor_slices(X).take(0).batch(2), verbose=0)
    with pytest.raises(ValueError, match=r"\[-1, 1\].*\(images \+ 1\) / 2"):
        model.fit(X * 2 - 1, verbose=0)
    history = model.fit(X, epochs=1, verbose=0)          # good data still trains
    assert np.isfinite(history.history["loss"][0])


def test_degraded_inputs_may_overshoot_but_a_0_255_input_is_refused():
    noisy = corrupt.gaussian_noise(X, 0.3, seed=1).corrupted      # unclipped: leaves [0, 1]
    assert noisy.min() < 0 and noisy.max() > 1
    out = restoration.restore(tiny("dncnn"), noisy)
    assert out.shape == X.shape and 0 <= out.min() and out.max() <= 1
    pairs = tf.data.Dataset.from_tensor_slices((noisy, X)).batch(2)
    model = tiny("ae")
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    assert np.isfinite(model.fit(pairs, epochs=1, verbose=0).history["loss"][0])
    with pytest.raises(ValueError, match=r"image part 2 of 2.*\[0, 1\]"):
        model.fit(tf.data.Dataset.from_tensor_slices((X, noisy)).batch(2), verbose=0)
    with pytest.raises(ValueError, match=r"inputs must have values in \[-4, 5\].*divide by 255"):
        restoration.restore(tiny("dncnn"), noisy * 255)


def test_psnr_refuses_images_on_two_different_scales():
    with pytest.raises(ValueError, match="different scales"):
        metrics.psnr(X, X * 255, data_range=255)
    assert np.allclose(metrics.psnr(X * 255, X * 255 * 0.99, data_range=255),
                       metrics.psnr(X, X * 0.99))


BAD_DECODERS = {
    "0-255": (lambda z: np.repeat(X[:1] * 255, len(z), 0), r"divide by 255"),
    "logits": (lambda z: np.repeat(X[:1] * 8 - 4, len(z), 0), r"sigmoid"),
    "flat": (lambda z: np.zeros((len(z), 784), np.float32), r"rank 4"),
    "count": (lambda z: np.repeat(X[:1], len(z) + 1, 0), r"one image per latent vector"),
    "nan": (lambda z: np.full((len(z), 28, 28, 1), np.nan, np.float32), r"NaN"),
}


@pytest.mark.parametrize("kind", sorted(BAD_DECODERS))
@pytest.mark.parametrize("explorer", ["interpolation", "traversal"])
def test_explorers_refuse_decoders_that_do_not_return_images(explorer, kind):
    decode, says = BAD_DECODERS[kind]
    with pytest.raises((ValueError, TypeError), match=rf"decode\(z\).*{says}|{says}.*decode"):
        if explorer == "interpolation":
            widgets.interpolation_explorer(decode, np.ones(2), -np.ones(2), steps=3)
        else:
            widgets.traversal_explorer(decode, np.zeros(2))


@pytest.mark.parametrize("call,name", [
    (lambda v: diffusion.make_schedule("cosine", 10).q_sample(v, np.ones(2, int), np.zeros(
        (2, 3))), "x0"),
    (lambda v: diffusion.make_schedule("cosine", 10).q_sample(np.zeros((2, 3)), np.ones(
        2, int), v), "eps"),
    (lambda v: score.score_from_denoiser(v, np.zeros((2, 3)), 0.1), "denoised"),
    (lambda v: score.score_from_denoiser(np.zeros((2, 3)), v, 0.1), "noisy"),
])
@pytest.mark.parametrize("bad,error", [
    (np.array([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]]), ValueError),
    (np.zeros((2, 3), np.int64), TypeError),
    (np.zeros((3, 3)), ValueError),                      # shape differs from the other array
    (np.zeros((0, 3)), ValueError),
])
def test_point_arrays_are_checked_too(call, name, bad, error):
    # a shape that differs from its partner's is reported on the second array checked
    with pytest.raises(error, match=name if len(bad) != 3 else "must have shape"):
        call(bad)


# ---------------------------------------------------------------- the suite covers the package
IMAGE_ARGUMENTS = {"images", "fake_images", "noisy", "reference", "restored", "clean", "inputs",
                   "x0", "low", "real_images", "generated", "mask", "corrupted", "denoised",
                   "frames", "columns"}
# image-named arguments that are not image batches of the [0, 1] scale, with the reason
EXEMPT = {
    "imgutils.ops.conv2d_numpy": "a teaching convolution over any real-valued feature maps",
    "imgutils.validation.as_images": "the guard itself (tested in test_corrupt/test_metrics)",
    "imgutils.validation.noisy_images": "the guard itself",
    "imgutils.models.restoration.KeepObserved.call": "a Keras layer inside a model graph",
    "imgutils.models.diffusion.Diffusion.call": "a Keras call inside the training graph",
    "imgutils.models.score.NoiseConditionalDAE.call": "a Keras call inside the training graph",
    "imgutils.models.vae.VAE.call": "a Keras call inside the training graph",
    "imgutils.models.vae.Sampling.call": "a Keras layer on latent statistics, not images",
    "imgutils.models.autoencoder.Autoencoder.call": "a Keras call inside the training graph",
    "imgutils.models.autoencoder.DenoisingAutoencoder.corrupt_batch": "inside train_step; "
    "corrupt.mixture checks it (as 'images')",
    "imgutils.models.autoencoder.DenoisingVAE.corrupt_batch": "inside train_step, as above",
    "imgutils.models.classifier.conv_bn_relu": "a layer builder on symbolic tensors",
    "imgutils.models.restoration.NoiseChannels.call": "a Keras layer inside a model graph",
    "imgutils.models.replicas.gather_global_batch": "any tensor, inside a replica context",
    "imgutils.baselines.telea_inpaint": "needs OpenCV (optional); shares biharmonic's _mask",
    "imgutils.baselines.bm3d_denoise": "needs bm3d (optional); shares the _noisy guard",
    "imgutils.corrupt.corrupt_dataset": "a tf.data pipeline, checked per element by corrupt",
    "imgutils.widgets.traversal_explorer": "'low' is the slider bound; decoders tested above",
    "imgutils.channel.quantize": "'low' is the quantiser's range bound",
    "imgutils.channel.dequantize": "'low' is the quantiser's range bound",
    "imgutils.validation.real_number": "'low' is the bound",
    "imgutils.validation.finite_array": "the guard for points and tensors (tested below)",
    "imgutils.models.diffusion.Schedule.q_sample": "x0 is any array on the model's [-1, 1] "
    "scale (points in the tests): finite_array, tested below",
    "imgutils.models.score.score_from_denoiser": "points [N, D] in chapter 06: finite_array, "
    "tested below",
}


def _public_callables():
    for info in pkgutil.walk_packages(imgutils.__path__, "imgutils."):
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", [n for n in dir(module) if not n[0] == "_"]):
            obj = getattr(module, name, None)
            if getattr(obj, "__module__", None) != info.name:
                continue
            if inspect.isclass(obj):
                for meth_name, meth in vars(obj).items():
                    if not meth_name.startswith("_") and inspect.isfunction(meth):
                        yield f"{info.name}.{name}.{meth_name}", meth
            elif inspect.isfunction(obj):
                yield f"{info.name}.{name}", obj


def test_every_image_taking_callable_is_in_the_suite():
    covered = {"imgutils." + name.split("(")[0] for name, *_ in CASES}
    covered |= {f"imgutils.models.{type(tiny(k)).__module__.split('.')[-1]}."
                f"{type(tiny(k)).__name__}.fit" for k, _ in FIT}
    missing = []
    for qualified, fn in _public_callables():
        params = set(inspect.signature(fn).parameters)
        if params & IMAGE_ARGUMENTS and qualified not in covered | set(EXEMPT):
            missing.append(qualified)
    assert not missing, f"public callables with image arguments outside the suite: {missing}"
    assert len(EXPANDED) >= 400
