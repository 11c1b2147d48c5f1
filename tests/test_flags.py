"""Boolean switches accept only True/False: bool("no") is True and would flip them silently."""

import numpy as np
import pytest

from imgutils import baselines, corrupt, data, validation, viz
from imgutils.models import restoration

X = np.full((2, 8, 8, 1), 0.5, np.float32)
CALLS = [
    ("clip", lambda v: corrupt.gaussian_noise(X, 0.1, clip=v)),
    ("clip", lambda v: corrupt.random_gaussian_noise(X, (0.0, 0.1), clip=v)),
    ("with_mask", lambda v: corrupt.training_pairs(X, ("missing_pixels", 0.5), with_mask=v)),
    ("shuffle", lambda v: corrupt.training_pairs(X, ("missing_pixels", 0.5), shuffle=v)),
    ("shuffle", lambda v: data.make_dataset(X, shuffle=v)),
    ("cache", lambda v: data.make_dataset(X, cache=v)),
    ("repeat", lambda v: data.make_dataset(X, repeat=v)),
    ("drop_remainder", lambda v: data.make_dataset(X, drop_remainder=v)),
    ("verify", lambda v: data.fashion_mnist(n_train=1, n_test=1, verify=v)),
    ("progress", lambda v: baselines.median(X, progress=v)),
    ("progress", lambda v: baselines.nlm(X, 0.1, progress=v)),
    ("verbose", lambda v: baselines.available_denoisers(verbose=v)),
    ("normalize", lambda v: viz.plot_confusion_matrix(np.eye(2), ["a", "b"], normalize=v)),
    ("residual", lambda v: restoration.dncnn(depth=3, width=4, residual=v)),
    ("skips", lambda v: restoration.unet(base=4, levels=1, skips=v)),
    ("keep_observed", lambda v: restoration.unet(base=4, levels=1, keep_observed=v)),
]


@pytest.mark.parametrize("name,call", CALLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CALLS)])
@pytest.mark.parametrize("bad", ["no", "False", 0, 1, None])
def test_a_flag_that_is_not_a_bool_is_a_clear_error(name, call, bad):
    with pytest.raises(TypeError, match=f"{name} must be True or False, got {bad!r}"):
        call(bad)


def test_real_bools_pass():
    assert validation.flag(True, "x") is True and validation.flag(np.bool_(False), "x") is False
    corrupt.gaussian_noise(X, 0.1, clip=True)
    data.make_dataset(X, shuffle=False, cache=False)
