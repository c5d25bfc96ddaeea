"""Timing two implementations fairly: in one process, interleaved, medians and a ratio.

Every benchmark in this folder compares the course's code with a reference through `compare`,
so a busy machine slows both sides alike and the ratio stays meaningful where absolute times
would not.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """One row of benchmarks/results.md: the median seconds of both sides and their ratio."""

    name: str
    ours: str
    reference: str
    ours_s: float
    reference_s: float
    note: str = ""

    @property
    def ratio(self) -> float:
        """ours / reference: below 1.0 the course's code is the faster."""
        return self.ours_s / self.reference_s


def bench_device():
    """The torch device every comparison runs on: $BENCH_DEVICE (set by run.py --device), default "auto"."""
    from lessons_lib.runtime import choose_device

    return choose_device(os.environ.get("BENCH_DEVICE", "auto"))


def _wait_for_device() -> None:
    """Wait for queued GPU work, so that a side's time includes it (CUDA calls return early)."""
    torch = sys.modules.get("torch")  # no torch imported: nothing can be queued
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def interleaved_medians(sides: dict[str, Callable[[], object]], repeats: int = 20,
                        warmup: int = 3) -> dict[str, float]:
    """Median seconds of each side's call; the sides take turns, so drift hits them alike."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    for _ in range(warmup):
        for fn in sides.values():
            fn()
    _wait_for_device()
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            started = time.perf_counter()
            fn()
            _wait_for_device()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def compare(name: str, ours: tuple[str, Callable[[], object]], reference: tuple[str, Callable[[], object]],
            repeats: int = 20, warmup: int = 3, note: str = "") -> Comparison:
    """Time `ours` = (label, fn) against `reference` = (label, fn), interleaved."""
    (ours_label, ours_fn), (reference_label, reference_fn) = ours, reference
    medians = interleaved_medians({"ours": ours_fn, "reference": reference_fn}, repeats, warmup)
    return Comparison(name, ours_label, reference_label, medians["ours"], medians["reference"], note)
