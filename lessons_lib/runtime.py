"""The small pieces every lesson shares: quick mode, seeding, device choice, a model's train/eval
mode, the metrics file.

Every notebook starts with `run = start_lesson(...)` and ends with `run.save(...)`, so that
papermill, nbval, CI and instructors all read the same JSON of measured figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"", "0", "false", "no", "off"}


def quick_from_env(default: bool = False) -> bool:
    """Read the LESSONS_QUICK environment variable ("1"/"true" -> True); `default` when unset."""
    raw = os.environ.get("LESSONS_QUICK")
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(f"LESSONS_QUICK={raw!r}: expected one of 1/0, true/false, yes/no, on/off")


def check_positive_int(name: str, value: object) -> None:
    """Raise ValueError, naming the argument, unless `value` is an int >= 1 (a bool is not)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


@contextlib.contextmanager
def model_mode(model: torch.nn.Module, training: bool) -> Iterator[torch.nn.Module]:
    """Put `model` in train (True) or eval (False) mode for a block, then give back the caller's mode.

    The caller's mode comes back even when the block raises, so decoding or measuring never leaves
    dropout switched on or off behind the learner's back.
    """
    was_training = model.training
    model.train(training)
    try:
        yield model
    finally:
        model.train(was_training)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so that two runs give the same numbers."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def choose_device(name: str = "auto") -> torch.device:
    """"auto" picks CUDA, then Apple MPS, then CPU; any other name is checked and returned."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"DEVICE={name!r} is not a device name: use 'auto', 'cpu', 'cuda' or 'mps'") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"DEVICE={name!r} was asked for, but this machine has no CUDA GPU; use 'auto'")
    return device


@dataclass
class LessonRun:
    """One execution of a lesson: its settings, its clock and the metrics it measured."""

    lesson: str
    quick: bool
    seed: int
    device: torch.device
    started: float = field(default_factory=time.perf_counter)
    metrics: dict = field(default_factory=dict)

    def record(self, **metrics: float | int | str | bool | list) -> None:
        """Add measured figures (plain JSON values) to the metrics file."""
        for name, value in metrics.items():
            if isinstance(value, torch.Tensor):
                value = value.tolist()
            elif isinstance(value, np.generic):
                value = value.item()
            json.dumps(value)  # fails now, with the name in the traceback, rather than at save
            self.metrics[name] = value

    def wall_time(self) -> float:
        """Seconds since the lesson started."""
        return time.perf_counter() - self.started

    def save(self, directory: str | os.PathLike | None = None) -> Path:
        """Write `<directory>/<lesson>.json` and return its path.

        The directory is, in order: the argument, $LESSONS_METRICS_DIR, ./metrics.
        """
        directory = Path(directory or os.environ.get("LESSONS_METRICS_DIR") or "metrics")
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.lesson}.json"
        payload = {
            "lesson": self.lesson,
            "quick": self.quick,
            "seed": self.seed,
            "device": str(self.device),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "wall_time_s": round(self.wall_time(), 3),
            "metrics": self.metrics,
        }
        path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def start_lesson(lesson: str, quick: bool, seed: int, device: str = "auto") -> LessonRun:
    """Seed everything, pick the device and start the lesson's clock."""
    if not lesson:
        raise ValueError("lesson must be a non-empty name such as '01_self_attention'")
    seed_everything(seed)
    return LessonRun(lesson=lesson, quick=bool(quick), seed=seed, device=choose_device(device))
