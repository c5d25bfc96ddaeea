"""What the grading sandbox costs: a class of 30 notebooks of exercise 01 graded with --jobs 2, in
bubblewrap sandboxes and without (--unsafe-no-sandbox), alternately, in one process.

    .venv/bin/python benchmarks/grading_sandbox.py [--rounds 2]

The class: 10 correct notebooks, and 5 each of a wrong scale, an answer that raises, an unfilled
exercise and patched assertion helpers (tests/fixtures/grading/01_self_attention). Prints the wall
time of every run, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lessons_lib.course.cli import main  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "grading" / "01_self_attention"
CLASS = {"pass_reference": 10, "fail_wrong_scale": 5, "partial_answer_raises": 5, "zero_unfilled": 5,
         "fail_monkeypatched_asserts": 5}


def make_class(folder: Path) -> list[str]:
    """30 submissions, one per student, copied from the grading fixtures."""
    paths = []
    for fixture, count in CLASS.items():
        for number in range(count):
            path = folder / f"{fixture}_{number:02d}.ipynb"
            shutil.copyfile(FIXTURES / f"{fixture}.ipynb", path)
            paths.append(str(path))
    return paths


def grade_once(paths: list[str], sandboxed: bool) -> float:
    """Seconds to grade the class (the instructor's reference run included)."""
    with tempfile.TemporaryDirectory() as out:
        arguments = ["grade", *paths, "--assignment", "01_self_attention", "--out", out, "--jobs", "2"]
        started = time.perf_counter()
        status = main(arguments + ([] if sandboxed else ["--unsafe-no-sandbox"]))
        seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"grading failed with status {status}")
    return seconds


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = make_class(Path(folder))
        times: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for sandboxed in (True, False):  # interleaved, so that load on the machine hits both
                times[sandboxed].append(grade_once(paths, sandboxed))
                print(f"{'sandboxed' if sandboxed else 'no sandbox'}: {times[sandboxed][-1]:.1f} s", flush=True)
    with_box, without = statistics.median(times[True]), statistics.median(times[False])
    print(f"\n{len(paths)} notebooks, --jobs 2, median of {args.rounds}: sandboxed {with_box:.1f} s, "
          f"no sandbox {without:.1f} s, ratio {with_box / without:.2f}")


if __name__ == "__main__":
    main_benchmark()
