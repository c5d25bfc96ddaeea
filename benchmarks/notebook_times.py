"""Wall time and peak memory of every lesson notebook, quick and full, executed by papermill as CI does.

    .venv/bin/python benchmarks/notebook_times.py [--only 01 02] [--modes quick full]

Each run is lessons_lib.course.execute.run_notebook, as in `python -m lessons_lib.course build` and
tests/test_notebooks.py. Wall time is the whole papermill run, kernel start included. Peak memory
is the largest resident set size (RSS) of the kernel and every process it starts, added up,
sampled every 50 ms while the notebook runs (shared pages are counted once per process, so the
figure errs high). The lessons of one mode run in order, sharing one checkpoint folder, since
lesson 07 loads the encoder lesson 06 saves. `python -m benchmarks` (run.py) puts the table in
benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from lessons_lib.course.execute import run_notebook

ROOT = Path(__file__).resolve().parents[1]
# The budgets of issue 14: all lessons in quick mode, in full mode, and any one notebook's memory.
QUICK_BUDGET_S = 120.0
FULL_BUDGET_S = 15 * 60.0
MEMORY_BUDGET_BYTES = 3 * 1024**3


class PeakRSS:
    """Samples, in a thread, the summed RSS of this process's descendants (a kernel and its children)."""

    def __init__(self, interval_s: float = 0.05):
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # it ended between the listing and the reading
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class NotebookRun:
    """One notebook in one mode: papermill wall seconds, the peak RSS of its kernel, and whether it ran."""

    notebook: str
    mode: str
    wall_s: float
    peak_rss_bytes: int
    status: str = "ok"


def measure_notebook(path: Path, quick: bool, workdir: Path) -> NotebookRun:
    """Execute one notebook with papermill, timing it and sampling its kernel's memory."""
    mode = "quick" if quick else "full"
    started = time.perf_counter()
    status = "ok"
    with PeakRSS() as memory:
        try:
            written = run_notebook(path, workdir / f"{path.stem}-{mode}.ipynb", quick=quick,
                                   metrics_dir=workdir / mode)
            if written is None:
                status = "failed: wrote no metrics file"
        except Exception as error:  # the table says so; the other notebooks still run
            status = f"failed: {type(error).__name__}"
    return NotebookRun(path.stem, mode, time.perf_counter() - started, memory.peak_bytes, status)


def measure_notebooks(paths: Sequence[Path], modes: Sequence[str], report=print) -> list[NotebookRun]:
    """Every notebook in every mode, mode by mode, lessons in order; each run reported as it ends."""
    runs = []
    saved = {name: os.environ.get(name) for name in ("LESSONS_QUICK", "LESSONS_CHECKPOINT_DIR")}
    os.environ.pop("LESSONS_QUICK", None)  # the parameter decides, not the environment
    try:
        with tempfile.TemporaryDirectory(prefix="notebook-times-") as tmp:
            for mode in modes:
                os.environ["LESSONS_CHECKPOINT_DIR"] = str(Path(tmp) / "checkpoints" / mode)
                for path in paths:
                    run = measure_notebook(Path(path), mode == "quick", Path(tmp))
                    report(f"{run.notebook} {run.mode}: {run.wall_s:.1f} s, "
                           f"peak {run.peak_rss_bytes / 1024**2:.0f} MiB, {run.status}")
                    runs.append(run)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return runs


def notebooks_markdown(runs: Sequence[NotebookRun]) -> str:
    """A Markdown table, a row per notebook and two columns per mode, then totals against the budgets."""
    modes = list(dict.fromkeys(run.mode for run in runs))
    by_key = {(run.notebook, run.mode): run for run in runs}
    lines = ["| notebook | " + " | ".join(f"{mode} wall s | {mode} peak MiB" for mode in modes) + " |",
             "| --- |" + " --- | --- |" * len(modes)]
    for notebook in dict.fromkeys(run.notebook for run in runs):
        cells = []
        for mode in modes:
            run = by_key.get((notebook, mode))
            if run is None:
                cells += ["-", "-"]
                continue
            failed = "" if run.status == "ok" else f" ({run.status})"
            cells += [f"{run.wall_s:.1f}{failed}", f"{run.peak_rss_bytes / 1024**2:.0f}"]
        lines.append(f"| {notebook} | " + " | ".join(cells) + " |")
    budgets = {"quick": QUICK_BUDGET_S, "full": FULL_BUDGET_S}
    totals = []
    for mode in modes:
        of_mode = [run for run in runs if run.mode == mode]
        total = sum(run.wall_s for run in of_mode)
        peak = max(run.peak_rss_bytes for run in of_mode)
        within = "within" if total <= budgets[mode] else "OVER"
        memory = "within" if peak <= MEMORY_BUDGET_BYTES else "OVER"
        failed = sum(run.status != "ok" for run in of_mode)
        totals.append(f"- {mode}: {total:.1f} s in total ({within} the {budgets[mode]:.0f} s budget); largest peak "
                      f"{peak / 1024**2:.0f} MiB ({memory} the 3 GiB budget); {failed} failed")
    return "\n".join(lines) + "\n\n" + "\n".join(totals)


def main(argv: list[str] | None = None) -> int:
    """Time the selected notebooks in the selected modes and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="lesson numbers, e.g. 01 02")
    parser.add_argument("--modes", nargs="*", default=["quick", "full"], choices=["quick", "full"])
    args = parser.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.only:
        notebooks = [p for p in notebooks if p.stem[:2] in args.only]
    runs = measure_notebooks(notebooks, args.modes)
    print(notebooks_markdown(runs))
    return 0 if all(run.status == "ok" for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
