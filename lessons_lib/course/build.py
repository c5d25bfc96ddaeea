"""build: execute every notebook (run_notebook), render it to HTML, tabulate wall time and metrics.

The lessons run with QUICK and METRICS_DIR set through their `parameters` cell; the solutions,
which have none, run as they are. One notebook failing is reported in the table, and the others
still run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lessons_lib.course.execute import read_metrics, run_notebook


@dataclass(frozen=True)
class BuildResult:
    """One notebook of a build: where it went, whether it ran, how long, what it measured."""

    notebook: str
    status: str
    wall_time_s: float
    metrics: dict


def default_build_notebooks(root: Path) -> list[Path]:
    """The lessons (notebooks/*.ipynb), then the solutions, in order."""
    return sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "solutions").glob("*/*.ipynb"))


def build_notebook(path: Path, root: Path, out_dir: Path, quick: bool, timeout: float | None) -> BuildResult:
    """Execute one notebook into out_dir/executed, render it to out_dir/html, its metrics in out_dir/metrics.

    Every folder keeps its own metrics (out_dir/metrics/notebooks/, .../solutions/01_self_attention/):
    a solution never overwrites the metrics of the lesson of the same name.
    """
    from nbconvert import HTMLExporter

    path = path.resolve()
    rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    executed = out_dir / "executed" / rel
    html = (out_dir / "html" / rel).with_suffix(".html")
    metrics_dir = out_dir / "metrics" / rel.parent
    for folder in (html.parent, metrics_dir):
        folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        run_notebook(path, executed, quick=quick, metrics_dir=metrics_dir, timeout=timeout)
        status = "ok"
    except Exception as error:  # the table reports it; the other notebooks still run
        status = f"failed: {type(error).__name__}"
    wall = time.perf_counter() - started
    if executed.is_file():
        body, _ = HTMLExporter().from_filename(str(executed))
        html.write_text(body, encoding="utf-8")
    written = read_metrics(metrics_dir, path)  # also what a notebook that failed later recorded
    return BuildResult(str(rel), status, wall, written["metrics"] if written else {})


def _metrics_summary(metrics: dict, width: int = 70) -> str:
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
             if isinstance(v, (int, float, str, bool))]
    text = ", ".join(parts) or "-"
    return text if len(text) <= width else text[: width - 3] + "..."


def build_table(results: Sequence[BuildResult]) -> str:
    """A plain-text table: notebook, status, wall time, metrics."""
    rows = [("notebook", "status", "wall s", "metrics")]
    rows += [(r.notebook, r.status, f"{r.wall_time_s:.1f}", _metrics_summary(r.metrics)) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build(paths: Sequence[Path], root: Path, out_dir: Path, quick: bool, timeout: float | None,
          report: Callable[[str], None] = _to_stderr) -> list[BuildResult]:
    """Execute and render every notebook in paths, reporting each as it starts (on stderr)."""
    results = []
    for path in paths:
        report(f"running {path} ...")
        results.append(build_notebook(Path(path), root, out_dir, quick, timeout))
    return results
