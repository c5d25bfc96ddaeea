"""Executing a notebook as CI does: papermill, the python3 kernel, the lesson's own parameters.

The one way the course runs a whole notebook (build.py, tests/test_notebooks.py and
benchmarks/notebook_times.py all call `run_notebook`). A lesson's first code cell is tagged
`parameters` and holds QUICK and METRICS_DIR; the lesson writes its measured results to
METRICS_DIR/<lesson>.json, which `run_notebook` reads back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def has_parameters_cell(path: Path) -> bool:
    """Whether a notebook has a cell tagged `parameters` (papermill injects its values after it)."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    return any("parameters" in cell.metadata.get("tags", []) for cell in notebook.cells)


def read_metrics(metrics_dir: Path, path: Path) -> dict | None:
    """The metrics file the notebook at path wrote into metrics_dir, as a dict; None if there is none."""
    metrics_file = Path(metrics_dir) / f"{Path(path).stem}.json"
    return json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.is_file() else None


def run_notebook(
    path: Path,
    out_path: Path,
    *,
    quick: bool,
    metrics_dir: Path,
    cwd: Path | None = None,
    timeout: float | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict | None:
    """Execute the notebook at path with papermill into out_path; returns the metrics JSON it wrote.

    A notebook with a `parameters` cell gets QUICK=quick, METRICS_DIR=metrics_dir and `parameters`;
    one without (a solution) gets none. It runs in cwd (default: its own folder), each cell for at
    most timeout seconds (default: no limit). Returns the lesson's metrics file as a dict
    ({"lesson", "quick", "wall_time_s", "metrics", ...}), or None when the notebook wrote none.
    A failing cell raises papermill's PapermillExecutionError; out_path then holds the run so far
    (and read_metrics what the notebook wrote before it failed).
    """
    import papermill

    path = Path(path)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    (Path(metrics_dir) / f"{path.stem}.json").unlink(missing_ok=True)  # a file left by an earlier run is not this run's
    given = {"QUICK": quick, "METRICS_DIR": str(metrics_dir), **(parameters or {})}
    papermill.execute_notebook(
        str(path), str(out_path), parameters=given if has_parameters_cell(path) else {},
        kernel_name="python3", cwd=str(cwd or path.parent), progress_bar=False, log_output=False,
        execution_timeout=timeout,
    )
    return read_metrics(metrics_dir, path)
