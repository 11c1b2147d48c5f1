"""Shared by the benchmarks: interleaved throughput windows, medians, the results table.

A *loop* is any object with ``batch`` (images per step), ``run(steps)`` (train that many
steps) and optionally ``params`` (trainable parameter count). Loops run in interleaved
windows of ``window_seconds`` after a warm-up (tracing, the first iterator), and the median
images/s of each is reported: this machine stalls now and then, and medians of interleaved
windows are robust to that (a stall hits one window of one loop, not a whole loop).
"""

from __future__ import annotations

import argparse
import statistics
import time


def parser(description: str, windows: int = 5, window_seconds: float = 10.0):
    """An ``ArgumentParser`` with ``--windows`` and ``--window-seconds``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--windows", type=int, default=windows)
    p.add_argument("--window-seconds", type=float, default=window_seconds)
    return p


def images_per_second(loop, seconds: float, steps_per_call: int = 10) -> float:
    start, images = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        loop.run(steps_per_call)
        images += steps_per_call * loop.batch
    return images / (time.perf_counter() - start)


def interleaved_rates(loops: dict, windows: int, window_seconds: float,
                      warmup_seconds: float = 3.0) -> dict[str, list[float]]:
    """images/s of each loop in ``windows`` rounds, one window per loop per round."""
    for loop in loops.values():
        images_per_second(loop, warmup_seconds)
    rates = {name: [] for name in loops}
    for _ in range(windows):
        for name, loop in loops.items():
            rates[name].append(images_per_second(loop, window_seconds))
    return rates


def print_table(loops: dict, rates: dict[str, list[float]], ours: str) -> dict[str, float]:
    """One row per loop: batch, params, median images/s, windows, ratio ours / this loop."""
    medians = {name: statistics.median(values) for name, values in rates.items()}
    width = max(len(name) for name in loops) + 2
    print(f"{'loop':<{width}} {'batch':>5} {'params':>9} {'median img/s':>12} "
          f"{'ours/this':>9}   windows (img/s)")
    for name, loop in loops.items():
        params = getattr(loop, "params", None)
        params = f"{params:,}" if params else ""
        ratio = "" if name == ours else f"{medians[ours] / medians[name]:.2f}x"
        print(f"{name:<{width}} {loop.batch:>5} {params:>9} "
              f"{medians[name]:>12,.0f} {ratio:>9}   "
              + " ".join(f"{v:,.0f}" for v in rates[name]))
    return medians
