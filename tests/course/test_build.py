"""lessons_lib.course.build and execute: every notebook executed, rendered, its wall time and metrics tabulated."""

import textwrap
from pathlib import Path

import nbformat

from lessons_lib.course.cli import main
from lessons_lib.course.execute import run_notebook

LESSON = textwrap.dedent("""
    from lessons_lib.runtime import start_lesson
    run = start_lesson("98_tiny", QUICK, SEED, DEVICE)
    run.record(loss=0.125, steps=3 if QUICK else 300)
    run.save(METRICS_DIR)
""")


def _tiny_notebook(path: Path, code: str, parameters: bool) -> Path:
    cells = []
    if parameters:
        cell = nbformat.v4.new_code_cell('QUICK = False\nSEED = 0\nDEVICE = "auto"\nMETRICS_DIR = None')
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells.append(nbformat.v4.new_code_cell(code))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_build_executes_renders_and_tabulates_wall_time_and_metrics(tmp_path, capsys):
    lesson = _tiny_notebook(tmp_path / "98_tiny.ipynb", LESSON, parameters=True)
    broken = _tiny_notebook(tmp_path / "99_broken.ipynb", "raise RuntimeError('broken on purpose')", False)
    out = tmp_path / "build"
    status = main(["build", "--quick", "--out", str(out), str(lesson), str(broken)])
    assert status == 1  # one notebook failed
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["notebook", "status", "wall", "s", "metrics"]
    tiny = next(line for line in table if line.startswith("98_tiny.ipynb"))
    assert " ok " in tiny and "loss=0.125, steps=3" in tiny  # QUICK=True reached the lesson
    assert "failed: PapermillExecutionError" in next(line for line in table if line.startswith("99_broken"))
    for name in ("98_tiny", "99_broken"):
        assert (out / "executed" / f"{name}.ipynb").is_file()
        assert "<html" in (out / "html" / f"{name}.html").read_text(encoding="utf-8")


def test_run_notebook_returns_the_metrics_the_lesson_wrote(tmp_path):
    lesson = _tiny_notebook(tmp_path / "98_tiny.ipynb", LESSON, parameters=True)
    plain = _tiny_notebook(tmp_path / "97_plain.ipynb", "x = 1", parameters=False)
    metrics_dir = tmp_path / "metrics"
    written = run_notebook(lesson, tmp_path / "out" / lesson.name, quick=False, metrics_dir=metrics_dir,
                           parameters={"SEED": 3})
    assert written["lesson"] == "98_tiny" and written["quick"] is False
    assert written["metrics"] == {"loss": 0.125, "steps": 300}
    # a notebook without a parameters cell gets no parameters and writes no metrics
    assert run_notebook(plain, tmp_path / "out" / plain.name, quick=True, metrics_dir=metrics_dir) is None
    assert "injected-parameters" not in (tmp_path / "out" / plain.name).read_text(encoding="utf-8")


def test_a_solution_keeps_its_own_metrics_apart_from_the_lesson_of_the_same_name(tmp_path, capsys):
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    (root / "solutions" / "98_tiny").mkdir(parents=True)
    lesson = _tiny_notebook(root / "notebooks" / "98_tiny.ipynb", LESSON, parameters=True)
    solution = _tiny_notebook(root / "solutions" / "98_tiny" / "98_tiny.ipynb", "print('solved')", False)
    out = tmp_path / "build"
    assert main(["--root", str(root), "build", "--quick", "--out", str(out), str(lesson), str(solution)]) == 0
    captured = capsys.readouterr()
    rows = {line.split()[0]: line for line in captured.out.splitlines()[2:]}
    assert "loss=0.125" in rows["notebooks/98_tiny.ipynb"]
    assert rows["solutions/98_tiny/98_tiny.ipynb"].rstrip().endswith("-")
    assert (out / "metrics" / "notebooks" / "98_tiny.json").is_file()
    assert "Traceback" not in captured.out + captured.err
