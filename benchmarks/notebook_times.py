"""Wall time of every lesson notebook, quick and full, executed by papermill as CI does.

    .venv/bin/python benchmarks/notebook_times.py [--only 01 02] [--modes quick full]

Prints a Markdown table: the notebook's own clock (from its metrics JSON) and the wall time of
the whole papermill run, kernel start included. Each run is lessons_lib.course.execute.run_notebook,
as in `python -m lessons_lib.course build` and tests/test_notebooks.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from lessons_lib.course.execute import run_notebook

ROOT = Path(__file__).resolve().parents[1]


def time_notebook(path: Path, quick: bool, workdir: Path) -> tuple[float, float]:
    """Execute one notebook; return (papermill wall seconds, the notebook's own wall_time_s)."""
    mode = "quick" if quick else "full"
    started = time.perf_counter()
    written = run_notebook(path, workdir / f"{path.stem}-{mode}.ipynb", quick=quick, metrics_dir=workdir / mode)
    wall = time.perf_counter() - started
    if written is None:
        raise RuntimeError(f"{path.name} wrote no metrics file")
    return wall, written["wall_time_s"]


def main(argv: list[str] | None = None) -> int:
    """Time the selected notebooks in the selected modes and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="lesson numbers, e.g. 01 02")
    parser.add_argument("--modes", nargs="*", default=["quick", "full"], choices=["quick", "full"])
    args = parser.parse_args(argv)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.only:
        notebooks = [p for p in notebooks if p.stem[:2] in args.only]
    os.environ.pop("LESSONS_QUICK", None)
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    header = "| notebook | " + " | ".join(f"{m} papermill s | {m} notebook s" for m in args.modes) + " |"
    print(header)
    print("|" + " --- |" * (1 + 2 * len(args.modes)))
    with tempfile.TemporaryDirectory() as tmp:
        for path in notebooks:
            cells = []
            for mode in args.modes:
                wall, own = time_notebook(path, mode == "quick", Path(tmp))
                cells += [f"{wall:.1f}", f"{own:.1f}"]
            print(f"| {path.stem} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
