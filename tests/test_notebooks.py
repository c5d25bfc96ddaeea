"""Every notebook: committed clean, follows the conventions, and runs under papermill in quick mode.

nbval runs the lesson notebooks a second way (see `testpaths` and `--nbval-lax` in pyproject.toml).
"""

import os

import nbformat
import papermill
import pytest

from lessons_lib.course.execute import run_notebook
from tests.notebook_paths import ROOT, all_notebooks, lesson_notebooks, solution_notebooks

# A cell that runs longer than this in quick mode has hung: fail instead of blocking CI.
CELL_TIMEOUT_S = 180


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.mark.parametrize("path", all_notebooks(), ids=_ids(all_notebooks()))
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} of {path.name} has outputs: clear them"
            assert cell.execution_count is None, f"cell {index} of {path.name} has an execution count"


@pytest.mark.parametrize("path", all_notebooks(), ids=_ids(all_notebooks()))
def test_kernel_is_python3(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", lesson_notebooks(), ids=_ids(lesson_notebooks()))
def test_first_code_cell_holds_the_parameters(path):
    notebook = nbformat.read(path, as_version=4)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", []), "first code cell must be tagged 'parameters'"
    # papermill must be able to read every parameter, or `-p NAME value` only warns
    parameters = papermill.inspect_notebook(str(path))
    for name in ("QUICK", "SEED", "DEVICE", "METRICS_DIR"):
        assert name in parameters, f"papermill finds no parameter {name} in {path.name}"


def test_lessons_are_numbered_in_order():
    stems = [p.stem for p in lesson_notebooks()]
    lessons = [s for s in stems if s[:2] != "00"]
    assert [int(s[:2]) for s in lessons] == list(range(1, len(lessons) + 1)), stems


@pytest.mark.parametrize("path", lesson_notebooks(), ids=_ids(lesson_notebooks()))
def test_lesson_runs_quick_under_papermill_and_writes_metrics(path, tmp_path, executed_lessons_dir):
    # the executed notebook is kept for tests/test_site.py, which builds the website from it
    written = run_notebook(path, executed_lessons_dir / path.name, quick=True, metrics_dir=tmp_path / "metrics",
                           timeout=CELL_TIMEOUT_S)
    assert written is not None, "the lesson wrote no metrics file"
    assert written["lesson"] == path.stem
    assert written["quick"] is True
    assert written["wall_time_s"] > 0
    assert written["metrics"], "the lesson recorded no metrics"


@pytest.mark.parametrize("path", solution_notebooks(), ids=_ids(solution_notebooks()))
def test_solution_runs_clean_under_papermill(path, tmp_path):
    # a solution has no parameters cell: it runs as it is
    run_notebook(path, tmp_path / path.name, quick=True, metrics_dir=tmp_path / "metrics", timeout=CELL_TIMEOUT_S)
    assert os.path.getsize(tmp_path / path.name) > 0
