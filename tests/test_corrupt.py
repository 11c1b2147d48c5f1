import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

from imgutils import corrupt, data

SIGMA = 25 / 255

# (name, positional args) for every degradation in the registry
CASES = [
    ("gaussian_noise", (SIGMA,)),
    ("random_gaussian_noise", ((0.05, 0.15),)),
    ("salt_and_pepper", (0.2,)),
    ("missing_pixels", (0.5,)),
    ("block_holes", (8,)),
    ("irregular_holes", ()),
    ("centre_hole", (8,)),
    ("gaussian_blur", (1.0,)),
    ("downsample", (2,)),
]
RANDOM = [case for case in CASES if case[0] not in ("gaussian_blur", "downsample",
                                                    "centre_hole")]


@pytest.fixture(scope="module")
def fmnist():
    return data.fashion_mnist(n_train=64).train.images


@pytest.fixture(scope="module")
def colour():
    return np.random.default_rng(1).random((8, 32, 32, 3)).astype(np.float32)


def test_registry_is_complete():
    assert {name for name, _ in CASES} == set(corrupt.DEGRADATIONS)


@pytest.mark.parametrize("name,args", CASES)
def test_contract_shapes_dtypes_and_clean(name, args, fmnist):
    out = corrupt.DEGRADATIONS[name](fmnist, *args, seed=3)
    assert isinstance(out, corrupt.Corruption)
    assert all(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in out)
    np.testing.assert_array_equal(out.clean, fmnist)
    n, h, w, c = fmnist.shape
    f = 2 if name == "downsample" else 1
    assert out.corrupted.shape == (n, h // f, w // f, c)
    assert out.mask.shape == (n, h // f, w // f, 1)
    assert set(np.unique(out.mask)) <= {0.0, 1.0}
    if name not in ("gaussian_noise", "random_gaussian_noise"):  # unclipped noise
        assert out.corrupted.min() >= 0 and out.corrupted.max() <= 1


def test_float64_input_gives_float32(fmnist):
    out = corrupt.missing_pixels(fmnist[:4].astype(np.float64), 0.3)
    assert out.corrupted.dtype == np.float32 and out.clean.dtype == np.float32


# --------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("sigma", [10 / 255, 25 / 255, 50 / 255])
def test_gaussian_noise_statistics(sigma, fmnist):
    out = corrupt.gaussian_noise(fmnist, sigma, seed=1)
    noise = (out.corrupted - out.clean).astype(np.float64)
    assert abs(noise.std() / sigma - 1) < 0.03
    assert abs(noise.mean()) < 0.03 * sigma
    assert out.corrupted.min() < 0 and out.corrupted.max() > 1  # unclipped: leaves [0, 1]
    np.testing.assert_array_equal(out.mask, 1.0)


def test_gaussian_noise_clip(fmnist):
    raw = corrupt.gaussian_noise(fmnist, SIGMA, seed=1)
    clipped = corrupt.gaussian_noise(fmnist, SIGMA, clip=True, seed=1)
    np.testing.assert_array_equal(clipped.corrupted, np.clip(raw.corrupted, 0, 1))
    np.testing.assert_array_equal(corrupt.gaussian_noise(fmnist, 0.0).corrupted, fmnist)


@pytest.mark.parametrize("amount", [0.05, 0.3])
def test_salt_and_pepper_statistics(amount, colour):
    out = corrupt.salt_and_pepper(colour, amount, seed=2)
    hit = out.mask[..., 0] == 0
    assert abs(hit.mean() - amount) < 0.02
    values = out.corrupted[hit]  # [K, C]: all channels of a hit pixel together
    assert np.all((values == 0) | (values == 1))
    assert np.all(values == values[:, :1])
    assert abs((values[:, 0] == 1).mean() - 0.5) < 0.1
    np.testing.assert_array_equal(out.corrupted[~hit], colour[~hit])


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_missing_pixels_rate_and_fill(rate, colour):
    out = corrupt.missing_pixels(colour, rate, fill=0.5, seed=4)
    missing = out.mask[..., 0] == 0
    assert abs(missing.mean() - rate) < 0.02
    assert np.all(out.corrupted[missing] == 0.5)  # every channel of a missing pixel
    np.testing.assert_array_equal(out.corrupted[~missing], colour[~missing])


@pytest.mark.parametrize("size", [1, 5, 12, 28])
def test_block_hole_is_one_square_of_exact_area(size, fmnist):
    out = corrupt.block_holes(fmnist, size, seed=5)
    holes = out.mask[..., 0] == 0
    assert np.all(holes.sum(axis=(1, 2)) == size * size)
    for hole in holes[:8]:
        rows, cols = np.nonzero(hole)
        assert rows.max() - rows.min() + 1 == size and cols.max() - cols.min() + 1 == size
    assert np.all(out.corrupted[holes] == 0) and np.all(out.corrupted[~holes]
                                                          == fmnist[~holes])
    if size < 28:  # positions are random, not the same square everywhere
        assert len({tuple(np.argwhere(h)[0]) for h in holes}) > 1


def test_several_block_holes(fmnist):
    area = (corrupt.block_holes(fmnist, 6, count=3, seed=0).mask == 0).sum(axis=(1, 2, 3))
    assert np.all((area >= 36) & (area <= 108)) and area.mean() > 80


def test_irregular_holes_are_strokes(fmnist):
    strokes, width = 4, 3
    out = corrupt.irregular_holes(fmnist, strokes=strokes, width=width, seed=6)
    holes = out.mask[..., 0] == 0
    area = holes.sum(axis=(1, 2))
    # each stroke covers at least the 3x3 block around its start pixel (a quarter at a corner)
    assert area.min() >= 4
    # a thick polyline covers about length x width; allow for overlaps and clipping
    mean_length = np.mean(corrupt.STROKE_LENGTH) * 28 * corrupt.STROKE_SEGMENTS
    assert area.mean() >= 0.4 * strokes * mean_length * width
    assert area.mean() <= strokes * (mean_length + width) * width * 1.5
    for hole in holes:  # every stroke is one connected piece
        assert 1 <= ndimage.label(hole, structure=np.ones((3, 3)))[1] <= strokes
    wide = corrupt.irregular_holes(fmnist, strokes=strokes, width=5, seed=6).mask == 0
    assert wide.sum() > holes.sum()
    more = corrupt.irregular_holes(fmnist, strokes=8, width=width, seed=6).mask == 0
    assert more.sum() > holes.sum()


def test_gaussian_kernel():
    k = corrupt.gaussian_kernel(1.5)
    assert k.shape == (13, 13) and abs(k.sum() - 1) < 1e-12
    np.testing.assert_allclose(k, k.T)
    np.testing.assert_allclose(k, k[::-1, ::-1])
    assert k.argmax() == 6 * 13 + 6
    assert corrupt.gaussian_kernel(2.0, radius=3).shape == (7, 7)
    np.testing.assert_array_equal(corrupt.gaussian_kernel(0.0), [[1.0]])


def test_gaussian_blur_matches_scipy_reflect(colour):
    out = corrupt.gaussian_blur(colour, 1.5)
    expected = ndimage.gaussian_filter(colour.astype(np.float64), (0, 1.5, 1.5, 0),
                                       mode="reflect", truncate=4.0)
    assert np.abs(out.corrupted - expected).max() < 1e-5
    np.testing.assert_array_equal(out.mask, 1.0)


def test_gaussian_blur_constant_and_high_frequencies(colour):
    const = np.full((2, 20, 20, 3), 0.37, np.float32)
    np.testing.assert_allclose(corrupt.gaussian_blur(const, 2.0).corrupted, 0.37, atol=1e-6)
    blurred = corrupt.gaussian_blur(colour, 1.0).corrupted
    assert abs(blurred.mean() - colour.mean()) < 1e-3

    def high_energy(x):
        spectrum = np.abs(np.fft.fft2(x - x.mean(axis=(1, 2), keepdims=True), axes=(1, 2)))
        f = np.abs(np.fft.fftfreq(x.shape[1]))
        high = (f[:, None] > 0.25) | (f[None, :] > 0.25)
        return (spectrum ** 2)[:, high].sum()

    assert high_energy(blurred) < 0.05 * high_energy(colour)
    np.testing.assert_array_equal(corrupt.gaussian_blur(colour, 0.1).corrupted, colour)


def test_downsample_and_upsample(colour):
    out = corrupt.downsample(colour, 4)
    assert out.corrupted.shape == (8, 8, 8, 3) and out.mask.shape == (8, 8, 8, 1)
    blocks = colour.reshape(8, 8, 4, 8, 4, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(out.corrupted, blocks, atol=1e-6)
    const = np.full((1, 12, 18, 1), 0.6, np.float32)
    np.testing.assert_allclose(corrupt.downsample(const, 3).corrupted, 0.6, atol=1e-6)
    up = corrupt.upsample_nearest(out.corrupted, 4)
    assert up.shape == colour.shape and isinstance(up, np.ndarray)
    np.testing.assert_allclose(corrupt.downsample(up, 4).corrupted, out.corrupted, atol=1e-6)
    np.testing.assert_array_equal(up[:, :4, :4], np.broadcast_to(out.corrupted[:, :1, :1],
                                                                 (8, 4, 4, 3)))


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("name,args", RANDOM)
def test_seeded(name, args, fmnist):
    fn = corrupt.DEGRADATIONS[name]
    a = fn(fmnist[:16], *args, seed=7)
    b = fn(fmnist[:16], *args, seed=7)
    c = fn(fmnist[:16], *args, seed=8)
    d = fn(fmnist[:16], *args, seed=(7, 1))
    np.testing.assert_array_equal(a.corrupted, b.corrupted)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.corrupted, c.corrupted)
    assert not np.array_equal(a.corrupted, d.corrupted)
    for same_seed in ((7, 0), np.int64(7), tf.constant(7), tf.constant([7, 0], tf.int32)):
        same = fn(fmnist[:16], *args, seed=same_seed)
        np.testing.assert_array_equal(a.corrupted, same.corrupted)


# --------------------------------------------------------------------------- TensorFlow paths
@pytest.mark.parametrize("name,args", CASES)
def test_tensor_in_tensor_out_equals_numpy(name, args, fmnist):
    fn = corrupt.DEGRADATIONS[name]
    x = fmnist[:8]
    eager = fn(tf.constant(x), *args, seed=11)
    assert all(tf.is_tensor(t) for t in eager)
    traced = tf.function(lambda t: tuple(fn(t, *args, seed=11)))(tf.constant(x))
    ref = fn(x, *args, seed=11)
    for got, want in zip(eager, ref, strict=True):
        np.testing.assert_array_equal(got.numpy(), want)
    for got, want in zip(traced, ref, strict=True):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


def test_upsample_nearest_tensor():
    up = corrupt.upsample_nearest(tf.ones((1, 2, 3, 1)), 2)
    assert tf.is_tensor(up) and tuple(up.shape) == (1, 4, 6, 1)


def test_plain_dataset_map(fmnist):
    ds = tf.data.Dataset.from_tensor_slices(fmnist).batch(16)
    ds = ds.map(lambda x: corrupt.missing_pixels(x, 0.5, seed=3).corrupted)
    first = next(iter(ds)).numpy()
    np.testing.assert_array_equal(first, corrupt.missing_pixels(fmnist[:16], 0.5,
                                                                seed=3).corrupted)


def test_corrupt_dataset_batched(fmnist):
    ds = tf.data.Dataset.from_tensor_slices(fmnist).batch(16)
    out = list(corrupt.corrupt_dataset(ds, "gaussian_noise", SIGMA, seed=5))
    assert len(out) == 4 and isinstance(out[0], corrupt.Corruption)
    direct = corrupt.gaussian_noise(fmnist[:16], SIGMA, seed=5)
    np.testing.assert_array_equal(out[0].corrupted.numpy(), direct.corrupted)
    np.testing.assert_array_equal(out[1].clean.numpy(), fmnist[16:32])
    noise = [(o.corrupted - o.clean).numpy() for o in out]
    assert not np.allclose(noise[0], noise[1])  # every batch gets its own noise
    again = list(corrupt.corrupt_dataset(ds, corrupt.gaussian_noise, SIGMA, seed=5))
    np.testing.assert_array_equal(out[3].corrupted.numpy(), again[3].corrupted.numpy())


def test_corrupt_dataset_unbatched_pairs_and_repeat(fmnist):
    ds = tf.data.Dataset.from_tensor_slices(fmnist[:4]).repeat(2)
    out = list(corrupt.corrupt_dataset(ds, "irregular_holes", seed=2, pairs=True,
                                       width=2))
    assert len(out) == 8 and all(len(o) == 2 for o in out)
    x, y = out[0]
    assert tuple(x.shape) == (28, 28, 1) and tuple(y.shape) == (28, 28, 1)
    np.testing.assert_array_equal(y.numpy(), fmnist[0])
    direct = corrupt.irregular_holes(fmnist[:1], seed=2, width=2).corrupted[0]
    np.testing.assert_array_equal(x.numpy(), direct)
    # the second epoch draws new holes for the same image
    assert not np.array_equal(out[4][0].numpy(), out[0][0].numpy())


def test_corrupt_dataset_checks(fmnist):
    labelled = tf.data.Dataset.from_tensor_slices((fmnist, np.zeros(64, np.int64)))
    with pytest.raises(TypeError, match="drop the labels"):
        corrupt.corrupt_dataset(labelled, "gaussian_noise", SIGMA)
    ds = tf.data.Dataset.from_tensor_slices(fmnist)
    with pytest.raises(ValueError, match="degradation must be one of"):
        corrupt.corrupt_dataset(ds, "jpeg", 0.5)
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        corrupt.corrupt_dataset(fmnist, "gaussian_noise", SIGMA)
    flat = tf.data.Dataset.from_tensor_slices(np.zeros((4, 28), np.float32))
    with pytest.raises(ValueError, match="ds must yield images"):
        corrupt.corrupt_dataset(flat, "gaussian_noise", SIGMA)
    # argument errors surface while tracing
    with pytest.raises(ValueError, match="rate"):
        corrupt.corrupt_dataset(ds, "missing_pixels", 1.5)
    with pytest.raises(ValueError, match="factor must divide"):
        corrupt.corrupt_dataset(ds.batch(4), "downsample", 3)


def test_dataset_value_range_checked_at_run_time():
    bad = tf.data.Dataset.from_tensor_slices(np.full((2, 16, 16, 1), 2.0, np.float32))
    ds = corrupt.corrupt_dataset(bad, "missing_pixels", 0.5)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must have values in \[0"):
        list(ds)
    rank3 = tf.data.Dataset.from_tensor_slices(np.zeros((2, 16, 16, 1), np.float32))
    with pytest.raises(ValueError, match="rank 4"):
        rank3.map(lambda x: corrupt.gaussian_noise(x, 0.1).corrupted)
    ints = tf.data.Dataset.from_tensor_slices(np.zeros((2, 1, 16, 16, 1), np.uint8))
    with pytest.raises(TypeError, match="float dtype"):
        ints.map(lambda x: corrupt.gaussian_noise(x, 0.1).corrupted)


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("call,error,match", [
    (lambda x: corrupt.gaussian_noise(x, -0.1), ValueError, "sigma"),
    (lambda x: corrupt.gaussian_noise(x, 25), ValueError, "25/255"),
    (lambda x: corrupt.gaussian_noise(x, "0.1"), TypeError, "sigma"),
    (lambda x: corrupt.gaussian_noise(x, True), TypeError, "sigma"),
    (lambda x: corrupt.gaussian_noise(x, float("nan")), ValueError, "sigma"),
    (lambda x: corrupt.salt_and_pepper(x, 1.2), ValueError, "amount"),
    (lambda x: corrupt.salt_and_pepper(x, -0.01), ValueError, "amount"),
    (lambda x: corrupt.missing_pixels(x, 1.01), ValueError, "rate"),
    (lambda x: corrupt.missing_pixels(x, -0.5), ValueError, "rate"),
    (lambda x: corrupt.missing_pixels(x, 0.5, fill=2.0), ValueError, "fill"),
    (lambda x: corrupt.block_holes(x, 29), ValueError, "size must be at most"),
    (lambda x: corrupt.block_holes(x, 0), ValueError, "size"),
    (lambda x: corrupt.block_holes(x, 4.0), TypeError, "size"),
    (lambda x: corrupt.block_holes(x, 4, count=0), ValueError, "count"),
    (lambda x: corrupt.irregular_holes(x, strokes=0), ValueError, "strokes"),
    (lambda x: corrupt.irregular_holes(x, width=1.5), TypeError, "width"),
    (lambda x: corrupt.gaussian_blur(x, -1.0), ValueError, "sigma"),
    (lambda x: corrupt.gaussian_blur(x, 10.0), ValueError, "sigma"),
    (lambda x: corrupt.downsample(x, 2.0), TypeError, "factor"),
    (lambda x: corrupt.downsample(x, 3), ValueError, "factor must divide"),
    (lambda x: corrupt.downsample(x, 0), ValueError, "factor"),
    (lambda x: corrupt.upsample_nearest(x, 1.5), TypeError, "factor"),
    (lambda x: corrupt.gaussian_noise(x, 0.1, seed=1.5), TypeError, "seed"),
    (lambda x: corrupt.gaussian_noise(x, 0.1, seed=(1, 2, 3)), ValueError, "seed"),
    (lambda x: corrupt.gaussian_kernel(-1.0), ValueError, "sigma"),
    (lambda x: corrupt.gaussian_kernel(1.0, radius=-1), ValueError, "radius"),
])
def test_bad_arguments(call, error, match, fmnist):
    with pytest.raises(error, match=match):
        call(fmnist[:2])


@pytest.mark.parametrize("images,error,match", [
    (np.zeros((28, 28, 1), np.float32), ValueError, "rank 4"),
    (np.zeros((2, 28, 28), np.float32), ValueError, "rank 4"),
    (np.zeros((2, 28, 28, 1), np.uint8), TypeError, "255"),
    (np.full((2, 28, 28, 1), 255.0, np.float32), ValueError, r"values in \[0, 1\]"),
    (np.full((2, 28, 28, 1), -0.1, np.float32), ValueError, r"values in \[0, 1\]"),
    (np.full((2, 28, 28, 1), np.nan, np.float32), ValueError, "NaN"),
    (np.zeros((0, 28, 28, 1), np.float32), ValueError, "at least one image"),
    ([[0.5]], TypeError, "NumPy array or tensor"),
])
@pytest.mark.parametrize("name,args", CASES)
def test_bad_images(images, error, match, name, args):
    with pytest.raises(error, match=match):
        corrupt.DEGRADATIONS[name](images, *args)


def test_bad_tensor_images():
    with pytest.raises(ValueError, match=r"images must have values in \[0, 1\]"):
        corrupt.gaussian_noise(tf.fill((1, 8, 8, 1), 3.0), 0.1)
    with pytest.raises(TypeError, match="float dtype"):
        corrupt.gaussian_noise(tf.zeros((1, 8, 8, 1), tf.int32), 0.1)


def test_random_gaussian_noise_varies_sigma_per_image():
    clean = np.full((400, 16, 16, 1), 0.5, np.float32)
    out = corrupt.random_gaussian_noise(clean, (0.02, 0.2), seed=3)
    stds = (out.corrupted - clean).reshape(400, -1).std(axis=1)
    assert 0.015 < stds.min() < 0.04 and 0.17 < stds.max() < 0.23
    assert abs(np.median(stds) - 0.11) < 0.02  # uniform on [0.02, 0.2]
    again = corrupt.random_gaussian_noise(clean, (0.02, 0.2), seed=3)
    np.testing.assert_array_equal(out.corrupted, again.corrupted)
    with pytest.raises(ValueError, match="sigma_range"):
        corrupt.random_gaussian_noise(clean, (0.2, 0.1))
    with pytest.raises(TypeError, match="pair"):
        corrupt.random_gaussian_noise(clean, 0.1)


def test_training_pairs_fresh_corruption_and_mixtures(fmnist):
    ds = corrupt.training_pairs(fmnist, ("gaussian_noise", 0.1), batch_size=8, seed=1)
    (x1, y1), (x2, y2) = list(ds.take(2))
    assert x1.shape == (8, 28, 28, 1) and y1.shape == (8, 28, 28, 1)
    assert abs(float(np.std(x1 - y1)) - 0.1) < 0.02
    assert not np.allclose((x1 - y1).numpy(), (x2 - y2).numpy())  # new noise every batch
    mixed = corrupt.training_pairs(
        fmnist, [("missing_pixels", 0.5), ("missing_pixels", 0.9),
                 ("block_holes", 8, {"count": 2})], batch_size=16, seed=2, with_mask=True)
    rates = set()
    for (corrupted, mask), clean in mixed.take(12):
        assert corrupted.shape == clean.shape and mask.shape == (16, 28, 28, 1)
        np.testing.assert_allclose((corrupted * mask).numpy(), (clean * mask).numpy())
        rates.add(round(1 - float(np.mean(mask)), 1))
    assert {0.5, 0.9} <= rates  # several degradations were sampled
    with pytest.raises(ValueError, match="unknown degradation"):
        corrupt.training_pairs(fmnist, ("fog", 0.1))
    with pytest.raises(ValueError, match="rate"):
        corrupt.training_pairs(fmnist, ("missing_pixels", 1.5))


def test_centre_hole_removes_the_central_square():
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    out = corrupt.centre_hole(x, 14)
    assert out.mask.shape == (3, 28, 28, 1)
    assert out.mask[:, 7:21, 7:21].sum() == 0 and out.mask.sum() == 3 * (784 - 196)
    np.testing.assert_array_equal(out.corrupted[:, 7:21, 7:21], 0.0)
    np.testing.assert_array_equal(out.corrupted * out.mask, x * out.mask)
    odd = corrupt.centre_hole(x[:, :27, :27], 5, fill=1.0)
    assert (odd.mask[0, ..., 0] == 0).nonzero()[0].min() == 11
    pairs = corrupt.training_pairs(x, ("centre_hole", 14), batch_size=3, with_mask=True)
    (corrupted, mask), clean = next(iter(pairs))
    assert float(tf.reduce_sum(mask)) == 3 * (784 - 196)
