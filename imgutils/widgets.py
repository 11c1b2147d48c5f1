"""Latent-space explorers: interpolation and traversal, as arrays, static figures and widgets.

``interpolate`` and ``traverse`` are plain NumPy (used by tests and by the static figures of
the rendered book); ``interpolation_explorer`` and ``traversal_explorer`` wrap a decoder in
ipywidgets sliders for readers running the notebook (a static book cannot run them).

decode: any function ``z [N, D] -> images [N, H, W, C] in [0, 1]`` (a GAN generator, a VAE
decoder followed by a sigmoid, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .validation import as_images, positive_int

INTERPOLATIONS = ("linear", "slerp")


def _vector(z, name: str) -> np.ndarray:
    if hasattr(z, "numpy") and not isinstance(z, np.ndarray):
        z = z.numpy()
    z = np.asarray(z)
    if not np.issubdtype(z.dtype, np.floating) or z.ndim != 1 or z.size == 0:
        raise ValueError(f"{name} must be a float vector [D], got dtype {z.dtype}, "
                         f"shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return z.astype(np.float64)


def interpolate(z0, z1, steps: int = 9, *, method: str = "slerp") -> np.ndarray:
    """``steps`` latent vectors from ``z0`` to ``z1`` (both included): float32 ``[steps, D]``.

    ``"linear"``: ``(1 - t) z0 + t z1``. ``"slerp"`` (spherical, White 2016): follows the great
    circle between the two directions while interpolating the norm linearly. Under a Gaussian
    prior in many dimensions almost all mass lies near the sphere of radius sqrt(D); the linear
    midpoint of two such vectors has norm about sqrt(D / 2), a region the generator never saw
    during training, while slerp stays on the shell.
    """
    a, b = _vector(z0, "z0"), _vector(z1, "z1")
    if a.shape != b.shape:
        raise ValueError(f"z0 and z1 must have the same length, got {a.shape} and {b.shape}")
    steps = positive_int(steps, "steps")
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (both end points), got {steps}")
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {INTERPOLATIONS}, got {method!r}")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if method == "linear":
        return ((1 - t) * a + t * b).astype(np.float32)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return ((1 - t) * a + t * b).astype(np.float32)
    ua, ub = a / na, b / nb
    omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
    if omega < 1e-6:                                 # (nearly) the same direction
        directions = (1 - t) * ua + t * ub
    elif np.pi - omega < 1e-6:
        # antipodal: every great circle joins them; take the one through the coordinate axis
        # least aligned with ua (deterministic), so the path stays on the shell, never at 0
        axis = np.zeros_like(ua)
        axis[np.argmin(np.abs(ua))] = 1.0
        ortho = axis - (axis @ ua) * ua
        ortho /= np.linalg.norm(ortho)
        directions = np.cos(t * np.pi) * ua + np.sin(t * np.pi) * ortho
    else:
        directions = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return (directions * ((1 - t) * na + t * nb)).astype(np.float32)


def traverse(z, dims: Sequence[int], values: Sequence[float]) -> np.ndarray:
    """Copies of ``z`` with one coordinate swept: ``[len(dims) * len(values), D]`` float32.

    Row ``i`` of the result (in blocks of ``len(values)``) sets ``z[dims[i]]`` to each value
    in turn and leaves the other coordinates alone.
    """
    base = _vector(z, "z")
    dims = [int(d) for d in dims]
    if not dims or any(d < 0 or d >= base.size for d in dims):
        raise ValueError(f"dims must be non-empty indices in [0, {base.size}), got {dims}")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("values must be a non-empty 1-D list of finite numbers")
    out = np.repeat(base[None], len(dims) * len(values), axis=0)
    for i, d in enumerate(dims):
        out[i * len(values):(i + 1) * len(values), d] = values
    return out.astype(np.float32)


def _decode(decode: Callable, z: np.ndarray) -> np.ndarray:
    """``decode(z)`` checked: images ``[len(z), H, W, C]`` in [0, 1] (C = 1 or 3); a decoder
    returning logits, 0-255 values or flat vectors is an error naming it, not a wrong picture."""
    if not callable(decode):
        raise TypeError("decode must be a function z [N, D] -> images [N, H, W, C] in [0, 1]")
    images = decode(z)
    if hasattr(images, "numpy") and not isinstance(images, np.ndarray):
        images = images.numpy()
    if not isinstance(images, np.ndarray):
        images = np.asarray(images)
    images = as_images(images, "decode(z)", channels=(1, 3), value_range=None)
    if len(images) != len(z):
        raise ValueError(f"decode(z) must return one image per latent vector ({len(z)}), "
                         f"got {len(images)}")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1e-3 or hi > 1.0 + 1e-3:
        raise ValueError(
            f"decode(z) must return images in [0, 1], got min {lo:.4g}, max {hi:.4g}"
            + (" (logits? apply a sigmoid, e.g. keras.ops.sigmoid)" if lo < -1e-3 else
               " (values on the 0-255 scale? divide by 255)" if hi > 2.0 else ""))
    return np.clip(images.astype(np.float32), 0.0, 1.0)


def interpolation_explorer(decode: Callable, z0, z1, *, steps: int = 33,
                           method: str = "slerp", size: float = 2.5):
    """An ipywidgets slider ``t`` in [0, 1] showing ``decode(z(t))`` between ``z0`` and ``z1``.

    All ``steps`` images are decoded once up front, so moving the slider is instant.
    Returns the widget (display it as the last expression of a cell).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    path = interpolate(z0, z1, steps, method=method)
    images = _decode(decode, path)

    def show(t: float):
        k = int(round(t * (steps - 1)))
        fig, ax = plt.subplots(figsize=(size, size))
        image = images[k]
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray",
                  vmin=0, vmax=1)
        ax.set_title(f"t = {k / (steps - 1):.2f} ({method})", fontsize=9)
        ax.axis("off")
        plt.show()

    slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=1 / (steps - 1),
                                 description="t", continuous_update=True)
    return widgets.interactive(show, t=slider)


def traversal_explorer(decode: Callable, z, *, low: float = -3.0, high: float = 3.0,
                       size: float = 2.5):
    """Sliders for every latent coordinate of ``z`` (at most 16); shows ``decode(z)``."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    base = _vector(z, "z")
    if base.size > 16:
        raise ValueError(f"traversal_explorer shows at most 16 sliders, z has {base.size}; "
                         "pass a slice of z and decode the rest yourself")
    _decode(decode, base[None].astype(np.float32))   # a bad decoder fails here, not in a slider

    def show(**coords):
        vector = base.copy()
        for name, value in coords.items():
            vector[int(name[1:])] = value
        image = _decode(decode, vector[None].astype(np.float32))[0]
        fig, ax = plt.subplots(figsize=(size, size))
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray",
                  vmin=0, vmax=1)
        ax.axis("off")
        plt.show()

    sliders = {f"z{i}": widgets.FloatSlider(value=float(v), min=low, max=high, step=0.1,
                                            continuous_update=False)
               for i, v in enumerate(base)}
    return widgets.interactive(show, **sliders)
