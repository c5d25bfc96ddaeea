"""lessons_lib.course.regenerate: exercises/ from solutions/ with nbgrader, byte for byte, checked in CI."""

import shutil

import nbformat
import pytest

from lessons_lib.course.assignment import find_assignment, load_assignment
from lessons_lib.course.cli import main
from tests.course.shared import ASSIGNMENTS, FIXTURES
from tests.notebook_paths import ROOT


def test_committed_exercises_are_up_to_date():
    assert main(["regenerate", "--check"]) == 0


def test_regenerate_is_byte_identical_and_check_names_what_is_stale(tmp_path, capsys):
    shutil.copytree(ROOT / "course", tmp_path / "course")
    shutil.copytree(ROOT / "solutions" / "01_self_attention", tmp_path / "solutions" / "01_self_attention")
    exercise = tmp_path / "exercises" / "01_self_attention" / "01_self_attention.ipynb"
    root = ["--root", str(tmp_path)]

    assert main([*root, "regenerate"]) == 0
    first = exercise.read_bytes()
    assert first == (ROOT / "exercises" / "01_self_attention" / "01_self_attention.ipynb").read_bytes()
    assert main([*root, "regenerate"]) == 0
    assert exercise.read_bytes() == first
    assert "up to date" in capsys.readouterr().out

    solution = tmp_path / "solutions" / "01_self_attention" / "01_self_attention.ipynb"
    notebook = nbformat.read(solution, as_version=4)
    notebook.cells[0].source += "\n\nA sentence added by the instructor."
    nbformat.write(notebook, solution)
    stale = tmp_path / "exercises" / "99_removed" / "99_removed.ipynb"
    stale.parent.mkdir()
    stale.write_text("{}")
    assert main([*root, "regenerate", "--check"]) == 1
    err = capsys.readouterr().err
    assert "exercises/01_self_attention/01_self_attention.ipynb" in err
    assert "exercises/99_removed/99_removed.ipynb" in err
    assert exercise.read_bytes() == first and stale.exists(), "--check must not write"

    assert main([*root, "regenerate"]) == 0
    assert b"A sentence added by the instructor." in exercise.read_bytes()
    assert not stale.exists()
    assert main([*root, "regenerate", "--check"]) == 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercise_hides_solutions_and_hidden_tests(assignment):
    exercise = ROOT / "exercises" / assignment / f"{assignment}.ipynb"
    text = exercise.read_text(encoding="utf-8")
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "hidden_check"):
        assert secret not in text
    questions = load_assignment(find_assignment(ROOT, assignment)).questions
    notebook = nbformat.read(exercise, as_version=4)
    answers = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert [c.metadata["nbgrader"]["grade_id"] for c in answers] == [q.answer_id for q in questions]
    for cell in answers:
        assert cell.source.startswith("def ") and cell.source.endswith("raise NotImplementedError()")
    assert "python -m lessons_lib.course regenerate" in notebook.cells[0].source


def test_nbgrader_validator_flags_unfilled_exercises_without_false_checksum_warnings():
    # `nbgrader validate` exits 0 even when validation fails, so CI uses its Python API.
    from nbgrader.validator import Validator

    validator = Validator()
    for assignment in ASSIGNMENTS:
        results = validator.validate(str(ROOT / "exercises" / assignment / f"{assignment}.ipynb"))
        questions = load_assignment(find_assignment(ROOT, assignment)).questions
        assert set(results) == {"failed"}, f"{assignment}: {set(results)}"  # no 'changed' cells
        assert len(results["failed"]) == len(questions)
    # a student's filled-in copy validates cleanly: its test cells are unchanged, hidden tests and all
    assert validator.validate(str(FIXTURES / "pass_reference.ipynb")) == {}
