"""The benchmark suite: every comparison module, then every notebook, into benchmarks/results.md.

    .venv/bin/python -m benchmarks [--quick] [--device auto] [--modules NAME ...] [--no-notebooks]
    make bench            # full: comparisons with 20 repeats, notebooks in quick and full mode
    make bench QUICK=1    # quick: 5 repeats, notebooks in quick mode only

A comparison module exposes `comparisons(quick: bool = False) -> list[Comparison]`, each pair
timed by timing.compare (one process, the two sides interleaved, medians and their ratio). A
module that cannot be imported yet (its lesson is not merged: lessons_lib.bert, lessons_lib.gpt)
is skipped with a line saying so in the results; one that fails is reported and makes the exit
status 1. The device is --device (default "auto": CUDA, then MPS, then the CPU), the same for
every module (timing.bench_device).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.timing import Comparison

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("benchmarks.modules", "benchmarks.bert_vs_hf", "benchmarks.gpt_vs_hf")
# within this of its reference, a side counts as "as fast": medians on a shared machine move that much
SAME_SPEED = 1.10


@dataclass(frozen=True)
class ModuleResult:
    """What one comparison module gave: its rows, or why it was skipped or failed."""

    module: str
    comparisons: list[Comparison] = field(default_factory=list)
    skipped: str = ""
    failed: str = ""


def run_module(name: str, quick: bool, importer: Callable = importlib.import_module) -> ModuleResult:
    """Import a comparison module and run its comparisons; a module that is not importable is skipped."""
    try:
        module = importer(name)
        return ModuleResult(name, list(module.comparisons(quick=quick)))
    except ModuleNotFoundError as error:
        missing = error.name or str(error)
        return ModuleResult(name, skipped=f"{missing} is not importable yet ({error}), so nothing was timed")
    except Exception as error:  # the results say so; the other modules still run
        traceback.print_exc()
        return ModuleResult(name, failed=f"{type(error).__name__}: {error}")


def machine_description(device: str) -> dict[str, str]:
    """Where the suite ran: cores, torch and Python versions, the device, the date."""
    import torch

    from lessons_lib.runtime import choose_device

    chosen = choose_device(device)
    name = torch.cuda.get_device_name(chosen) if chosen.type == "cuda" else platform.processor() or platform.machine()
    return {
        "date": datetime.date.today().isoformat(),
        "cores": f"{os.cpu_count()} (torch uses {torch.get_num_threads()} threads)",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": f"{chosen} ({name}), asked for {device!r}",
        "platform": platform.platform(),
    }


def verdict(comparison: Comparison) -> str:
    """How ours compares: as fast (within SAME_SPEED of the reference), or by how much it is slower."""
    if comparison.ratio <= SAME_SPEED:
        return "as fast or faster"
    return f"{(comparison.ratio - 1) * 100:.0f} % slower"


def comparisons_markdown(results: Sequence[ModuleResult]) -> str:
    """A Markdown table per module, or the line saying why it has none."""
    parts = []
    for result in results:
        parts.append(f"### {result.module}\n")
        if result.skipped:
            parts.append(f"Skipped: {result.skipped}.\n")
            continue
        if result.failed:
            parts.append(f"FAILED: {result.failed}\n")
            continue
        rows = ["| comparison | ours | reference | ours ms | reference ms | ours / reference | verdict | why |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        rows += [f"| {c.name} | {c.ours} | {c.reference} | {c.ours_s * 1e3:.2f} | {c.reference_s * 1e3:.2f} | "
                 f"{c.ratio:.2f} | {verdict(c)} | {c.note} |" for c in result.comparisons]
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def results_markdown(machine: dict[str, str], quick: bool, results: Sequence[ModuleResult],
                     notebooks_table: str | None) -> str:
    """The whole of benchmarks/results.md."""
    mode = "quick (`make bench QUICK=1`: 5 repeats per side)" if quick else "full (`make bench`: 20 repeats per side)"
    lines = ["# Benchmark results", "",
             "Written by `python -m benchmarks` (benchmarks/run.py); do not edit by hand. Each comparison ran in",
             "one process, the two sides interleaved; the times are medians, and only their ratio carries",
             "from one machine to another.", "",
             f"Mode: {mode}.", ""]
    lines += [f"- {key}: {value}" for key, value in machine.items()]
    lines += ["", "## Modules against their references", "", comparisons_markdown(results)]
    lines += ["## Notebooks", ""]
    if notebooks_table is None:
        lines += ["Not measured in this run (--no-notebooks)."]
    else:
        lines += ["papermill wall time (kernel start included) and the peak RSS of the kernel and its children "
                  "(benchmarks/notebook_times.py).", "", notebooks_table]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the suite and write the results file; exit 1 if a module or notebook failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; notebooks in quick mode only")
    parser.add_argument("--device", default=os.environ.get("BENCH_DEVICE", "auto"),
                        help="torch device for the comparisons: auto (default), cpu, cuda, mps")
    parser.add_argument("--modules", nargs="*", default=list(MODULES), help=f"default: {' '.join(MODULES)}")
    parser.add_argument("--no-notebooks", action="store_true", help="time the modules only")
    parser.add_argument("--notebooks", nargs="*", default=None, help="lesson numbers (default: every notebook)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = parser.parse_args(argv)
    os.environ["BENCH_DEVICE"] = args.device
    machine = machine_description(args.device)
    results = []
    for name in args.modules:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run_module(name, args.quick))
    notebooks_table, notebooks_ok = None, True
    if not args.no_notebooks:
        from benchmarks.notebook_times import measure_notebooks, notebooks_markdown

        paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
        if args.notebooks:
            paths = [path for path in paths if path.stem[:2] in args.notebooks]
        modes = ["quick"] if args.quick else ["quick", "full"]
        runs = measure_notebooks(paths, modes, report=lambda line: print(line, file=sys.stderr, flush=True))
        notebooks_table = notebooks_markdown(runs) if runs else "No notebook matched."
        notebooks_ok = all(run.status == "ok" for run in runs)
    text = results_markdown(machine, args.quick, results, notebooks_table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if notebooks_ok and not any(result.failed for result in results) else 1
