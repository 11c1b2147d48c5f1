"""Figures for the book: image grids, training curves, before/after panels, confusion matrices.

All image inputs follow the package convention: float ``[N, H, W, C]`` in ``[0, 1]`` with
``C`` = 1 (shown in grey) or 3 (RGB). Every function returns the matplotlib ``Figure``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from .validation import as_images, as_labels, flag, positive_int


def _tight(fig) -> None:
    """``fig.tight_layout()`` without its warning for figures too small to fit every label
    (the warning would print this file's path into a notebook's outputs)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        fig.tight_layout()


def _show(ax, image: np.ndarray, cmap: str = "gray") -> None:
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def image_grid(images, labels: Sequence[str] | None = None, *, ncols: int = 8,
               title: str | None = None, size: float = 1.2, cmap: str = "gray"):
    """A grid of images with optional per-image captions.

    images: float ``[N, H, W, C]`` in [0, 1] with C in (1, 3); labels: N strings (or None).
    """
    images = as_images(images, "images", channels=(1, 3))
    ncols = positive_int(ncols, "ncols")
    n = len(images)
    if labels is not None:
        labels = [str(label) for label in labels]
        if len(labels) != n:
            raise ValueError(f"labels must have one entry per image ({n}), got {len(labels)}")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    extra = 0.3 if labels is not None else 0.0
    title_height = 0.4 if title else 0.0            # room for the title above short grids
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(size * ncols, (size + extra) * nrows + title_height))
    for i, ax in enumerate(axes.flat):
        if i < n:
            _show(ax, images[i], cmap)
            if labels is not None:
                ax.set_title(labels[i], fontsize=8)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    _tight(fig)
    return fig


def animate_grids(frames, titles: Sequence[str] | None = None, *, ncols: int = 8,
                  interval_ms: int = 400):
    """A ``matplotlib.animation.FuncAnimation`` whose k-th frame tiles ``frames[k]``.

    frames: a sequence of image batches, each float ``[N, H, W, C]`` in [0, 1] with the same
    shape (e.g. the same samples after every epoch, or after every reverse step); titles: one
    caption per frame (or None). Show it with ``IPython.display.HTML(anim.to_jshtml())``.
    """
    from matplotlib import animation

    if len(frames) == 0:
        raise ValueError("frames must hold at least one image batch")
    frames = [as_images(f, f"frames[{k}]", channels=(1, 3)).astype(np.float32)
              for k, f in enumerate(frames)]
    if any(f.shape != frames[0].shape for f in frames):
        raise ValueError("every frame must have the same shape [N, H, W, C]")
    if titles is not None and len(titles) != len(frames):
        raise ValueError(f"titles must have one entry per frame ({len(frames)}), got "
                         f"{len(titles)}")
    ncols = positive_int(ncols, "ncols")
    interval_ms = positive_int(interval_ms, "interval_ms")
    n, h, w, c = frames[0].shape
    ncols = min(ncols, n)
    rows = -(-n // ncols)

    def tile(images):
        canvas = np.ones((rows * (h + 1) - 1, ncols * (w + 1) - 1, c), np.float32)
        for i, image in enumerate(images):
            r, q = divmod(i, ncols)
            canvas[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = image
        return canvas[..., 0] if c == 1 else canvas

    fig, ax = plt.subplots(figsize=(ncols * 0.8, 0.8 * rows))
    ax.axis("off")
    shown = ax.imshow(tile(frames[0]), cmap="gray", vmin=0, vmax=1)

    def update(k):
        shown.set_data(tile(frames[k]))
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=9)
        return (shown,)

    anim = animation.FuncAnimation(fig, update, frames=len(frames), interval=interval_ms,
                                   blit=False)
    plt.close(fig)
    return anim


def plot_history(history, metrics: Sequence[str] | None = None, *, title: str | None = None):
    """Training curves from a Keras ``History`` or a dict ``{name: [value per epoch]}``.

    One panel per metric; a ``val_<name>`` series is drawn in the same panel as ``<name>``.
    """
    logs = history.history if hasattr(history, "history") else history
    if not isinstance(logs, Mapping) or not logs:
        raise TypeError("history must be a keras History or a non-empty dict of lists")
    names = list(metrics) if metrics is not None else [k for k in logs
                                                         if not k.startswith("val_")]
    missing = [m for m in names if m not in logs]
    if missing:
        raise ValueError(f"metrics {missing} not in history; available: {sorted(logs)}")
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], marker="o", ms=3, label="train")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], marker="o", ms=3, label="validation")
            ax.legend()
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    _tight(fig)
    return fig


def before_after(columns: Mapping[str, np.ndarray], *, n: int | None = None,
                 size: float = 1.6, captions: Mapping[str, Sequence[str]] | None = None):
    """Side-by-side comparison: one column per entry (e.g. noisy / restored / clean).

    columns: ``{"title": images [N, H, W, C] in [0, 1]}`` with equal N, H, W; rows are images.
    captions: optional ``{"title": N strings}`` shown under the images (e.g. PSNRs).
    """
    if not isinstance(columns, Mapping) or not columns:
        raise TypeError("columns must be a non-empty dict of title -> images")
    arrays = {k: as_images(v, f"columns[{k!r}]", channels=(1, 3)) for k, v in columns.items()}
    shapes = {v.shape[:3] for v in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(f"all columns must share N, H, W; got shapes {sorted(shapes)}")
    rows = next(iter(shapes))[0] if n is None else min(positive_int(n, "n"),
                                                         next(iter(shapes))[0])
    fig, axes = plt.subplots(rows, len(arrays), figsize=(size * len(arrays), size * rows),
                             squeeze=False)
    for j, (title, imgs) in enumerate(arrays.items()):
        for i in range(rows):
            _show(axes[i, j], imgs[i])
            if captions and title in captions:
                axes[i, j].set_xlabel(captions[title][i], fontsize=8)
        axes[0, j].set_title(title, fontsize=9)
    _tight(fig)
    return fig


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """Counts ``[num_classes, num_classes]``: row = true class, column = predicted class."""
    num_classes = positive_int(num_classes, "num_classes", minimum=2)
    labels = as_labels(labels, "labels", num_classes=num_classes)
    predictions = as_labels(predictions, "predictions", n=len(labels), num_classes=num_classes)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def plot_confusion_matrix(matrix, class_names: Sequence[str], *, normalize: bool = True,
                          title: str | None = None):
    """Heat map of a confusion matrix (rows normalised to recall when ``normalize``)."""
    normalize = flag(normalize, "normalize")
    matrix = np.asarray(matrix)
    k = len(class_names)
    if matrix.shape != (k, k):
        raise ValueError(f"matrix must be [{k}, {k}] for {k} class names, got {matrix.shape}")
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    fig, ax = plt.subplots(figsize=(0.55 * k + 2.5, 0.55 * k + 2))
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    ax.set_xticks(range(k), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = shown.max() / 2
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else str(matrix[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5,
                    color="white" if shown[i, j] > threshold else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title)
    _tight(fig)
    return fig


def feature_maps(maps, *, ncols: int = 8, title: str | None = None, size: float = 1.1):
    """Channels of one activation tensor ``[H, W, C]`` (any range; each map rescaled)."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must be [H, W, C] (one image's activations), got {maps.shape}")
    lo = maps.min(axis=(0, 1), keepdims=True)
    span = maps.max(axis=(0, 1), keepdims=True) - lo
    scaled = (maps - lo) / np.where(span > 0, span, 1.0)
    return image_grid(np.moveaxis(scaled, -1, 0)[..., None], ncols=ncols, title=title,
                      size=size, cmap="viridis")


def show_source(obj) -> object:
    """Display the source code of a function or class of ``imgutils`` in a notebook."""
    from IPython.display import Markdown

    return Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```")


def results_table(results: Mapping[str, Mapping[str, float]], *, fmt: str = "{:.2f}",
                  best: str | None = "max", title: str | None = None) -> str:
    """Format ``{row: {column: value}}`` as an aligned text table (printed and returned).

    Missing entries show as ``-``. With ``best="max"`` (or ``"min"``) the best value of each
    column is marked with ``*``. Text, not HTML, so it renders the same in a terminal, a
    notebook and the book.
    """
    if not isinstance(results, Mapping) or not results:
        raise TypeError("results must be a non-empty dict of row -> {column: value}")
    if best not in ("max", "min", None):
        raise ValueError(f"best must be 'max', 'min' or None, got {best!r}")
    columns: list[str] = []
    for row in results.values():
        columns += [c for c in row if c not in columns]
    marks = {}
    for c in columns:
        values = [(r, v[c]) for r, v in results.items() if c in v and np.isfinite(v[c])]
        if best and values:
            pick = max if best == "max" else min
            marks[c] = pick(values, key=lambda item: item[1])[0]
    cells = {(r, c): (fmt.format(v[c]) + ("*" if marks.get(c) == r else " ")) if c in v
             else "- " for r, v in results.items() for c in columns}
    first = max(len(str(r)) for r in results)
    widths = {c: max(len(c), *(len(cells[r, c]) for r in results)) for c in columns}
    lines = [f"{'':<{first}}  " + "  ".join(f"{c:>{widths[c]}}" for c in columns)]
    lines += [f"{r:<{first}}  " + "  ".join(f"{cells[r, c]:>{widths[c]}}" for c in columns)
              for r in results]
    text = ((title + "\n") if title else "") + "\n".join(lines)
    print(text)
    return text


def class_histogram(predicted: Mapping[str, np.ndarray], class_names: Sequence[str], *,
                    title: str | None = None):
    """Bar chart of predicted-class frequencies, one group of bars per set of images.

    predicted: ``{set name: int class labels [N]}`` (e.g. the chapter-01 classifier's argmax on
    generated images, and on real test images for reference). A generator that covers the
    data gives bars close to the real ones; mode collapse shows up as a few tall bars.
    """
    if not isinstance(predicted, Mapping) or not predicted:
        raise TypeError("predicted must be a non-empty dict of name -> labels [N]")
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * k), 2.8))
    width = 0.8 / len(predicted)
    for i, (name, labels) in enumerate(predicted.items()):
        labels = as_labels(labels, f"predicted[{name!r}]")
        if labels.max() >= k:
            raise ValueError(f"predicted[{name!r}] has class {labels.max()}, "
                             f"but only {k} class names were given")
        freq = np.bincount(labels, minlength=k) / len(labels)
        ax.bar(np.arange(k) + (i - (len(predicted) - 1) / 2) * width, freq, width, label=name)
    ax.set_xticks(np.arange(k), class_names, rotation=30, fontsize=8)
    ax.set_ylabel("fraction of images")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    _tight(fig)
    return fig


def interval_table(results: Mapping[str, Mapping[str, tuple[float, float, float]]], *,
                   fmt: str = "{:.2f}", best: Mapping[str, str] | None = None,
                   title: str | None = None,
                   unranked: Sequence[str] = ("real floor",)) -> str:
    """Format ``{row: {column: (value, low, high)}}`` as ``value [low, high]`` (printed, returned).

    ``best`` maps a column to ``"max"`` or ``"min"``: its best value is marked ``*`` and every
    other row whose interval overlaps the best one's is marked ``=`` (a tie: the difference is
    inside the intervals). Columns not in ``best`` are not ranked, nor are the rows named in
    ``unranked`` (the real-data floor is a reference, not a competitor). Missing entries show
    ``-``.
    """
    if not isinstance(results, Mapping) or not results:
        raise TypeError("results must be a non-empty dict of row -> {column: (value, lo, hi)}")
    best = dict(best or {})
    for column, how in best.items():
        if how not in ("max", "min"):
            raise ValueError(f"best[{column!r}] must be 'max' or 'min', got {how!r}")
    columns: list[str] = []
    for row in results.values():
        for c, triple in row.items():
            if not (isinstance(triple, tuple) and len(triple) == 3):
                raise TypeError(f"entries must be (value, low, high) tuples, got {triple!r} "
                                f"in column {c!r}")
            if c not in columns:
                columns.append(c)
    marks: dict[tuple[str, str], str] = {}
    for c, how in best.items():
        rows = [(r, v[c]) for r, v in results.items()
                if c in v and np.isfinite(v[c][0]) and r not in unranked]
        if not rows:
            continue
        pick = max if how == "max" else min
        top, (_, lo, hi) = pick(rows, key=lambda item: item[1][0])
        for r, (_, rlo, rhi) in rows:
            marks[r, c] = "*" if r == top else ("=" if rlo <= hi and rhi >= lo else " ")
    cells = {}
    for r, v in results.items():
        for c in columns:
            if c in v:
                value, lo, hi = v[c]
                cells[r, c] = (f"{fmt.format(value)} [{fmt.format(lo)}, {fmt.format(hi)}]"
                               + marks.get((r, c), " "))
            else:
                cells[r, c] = "- "
    first = max(len(str(r)) for r in results)
    widths = {c: max(len(c), *(len(cells[r, c]) for r in results)) for c in columns}
    lines = [f"{'':<{first}}  " + "  ".join(f"{c:>{widths[c]}}" for c in columns)]
    lines += [f"{r:<{first}}  " + "  ".join(f"{cells[r, c]:>{widths[c]}}" for c in columns)
              for r in results]
    if best:
        lines.append("95 % bootstrap intervals; * best, = tied with the best (intervals "
                     "overlap)")
    text = ((title + "\n") if title else "") + "\n".join(lines)
    print(text)
    return text
