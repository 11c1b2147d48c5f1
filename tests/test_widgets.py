import numpy as np
import pytest

from imgutils import widgets


def test_linear_interpolation_end_points_and_midpoint():
    z0, z1 = np.zeros(4), np.arange(4.0)
    path = widgets.interpolate(z0, z1, 5, method="linear")
    assert path.shape == (5, 4) and path.dtype == np.float32
    np.testing.assert_allclose(path[0], z0)
    np.testing.assert_allclose(path[-1], z1)
    np.testing.assert_allclose(path[2], z1 / 2)


def test_slerp_keeps_gaussian_vectors_on_the_shell():
    rng = np.random.default_rng(0)
    z0, z1 = rng.normal(size=256), rng.normal(size=256)
    slerp = widgets.interpolate(z0, z1, 9)
    linear = widgets.interpolate(z0, z1, 9, method="linear")
    np.testing.assert_allclose(slerp[0], z0, atol=1e-5)
    np.testing.assert_allclose(slerp[-1], z1, atol=1e-5)
    norms = np.linalg.norm(slerp, axis=1)
    expected = np.linspace(np.linalg.norm(z0), np.linalg.norm(z1), 9)
    np.testing.assert_allclose(norms, expected, rtol=1e-5)
    # the linear midpoint of two nearly orthogonal vectors shrinks by about 1/sqrt(2)
    assert np.linalg.norm(linear[4]) < 0.8 * norms[4]
    # equal angular steps along the great circle
    unit = slerp / norms[:, None]
    angles = np.arccos(np.clip((unit[:-1] * unit[1:]).sum(1), -1, 1))
    np.testing.assert_allclose(angles, angles.mean(), rtol=1e-4)


def test_slerp_of_parallel_vectors_is_linear():
    z = np.ones(3)
    np.testing.assert_allclose(widgets.interpolate(z, 2 * z, 3), [z, 1.5 * z, 2 * z], rtol=1e-6)


def test_traverse_sweeps_one_coordinate_per_block():
    z = np.array([0.5, -1.0, 2.0])
    out = widgets.traverse(z, dims=[0, 2], values=[-1, 0, 1])
    assert out.shape == (6, 3)
    np.testing.assert_allclose(out[:3, 0], [-1, 0, 1])
    np.testing.assert_allclose(out[:3, 1:], np.tile(z[1:], (3, 1)))
    np.testing.assert_allclose(out[3:, 2], [-1, 0, 1])
    np.testing.assert_allclose(out[3:, :2], np.tile(z[:2], (3, 1)))


@pytest.mark.parametrize("call", [
    lambda: widgets.interpolate(np.zeros(3), np.zeros(4)),
    lambda: widgets.interpolate(np.zeros(3), np.zeros(3), 1),
    lambda: widgets.interpolate(np.zeros(3), np.zeros(3), method="cubic"),
    lambda: widgets.interpolate(np.array([np.nan, 0.0]), np.zeros(2)),
    lambda: widgets.interpolate(np.zeros((2, 3)), np.zeros((2, 3))),
    lambda: widgets.traverse(np.zeros(3), dims=[3], values=[0]),
    lambda: widgets.traverse(np.zeros(3), dims=[0], values=[]),
])
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_explorers_build_widgets_from_a_decoder():
    def decode(z):
        return np.clip(np.tile(z[:, :1, None, None], (1, 4, 4, 1)), 0, 1)

    explorer = widgets.interpolation_explorer(decode, np.zeros(2), np.ones(2), steps=5)
    assert explorer.children[0].description == "t"
    sliders = widgets.traversal_explorer(decode, np.zeros(3))
    assert len([c for c in sliders.children if hasattr(c, "value")]) >= 3
    with pytest.raises(ValueError):
        widgets.traversal_explorer(decode, np.zeros(17))
    with pytest.raises(TypeError):
        widgets.interpolation_explorer("decoder", np.zeros(2), np.ones(2))
