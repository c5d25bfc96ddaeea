"""lessons_lib.course.grading through the command line: every grading fixture (hostile ones too)
earns its expected score, and the feedback says why without showing hidden tests."""

import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest

from lessons_lib.course.assignment import find_assignment, load_assignment, split_hidden
from lessons_lib.course.cli import main
from lessons_lib.course.model import HIDDEN_BEGIN, HIDDEN_END
from tests.course.shared import (
    ASSIGNMENTS,
    CELL_TIMEOUT,
    EXPECTED,
    FIXTURES,
    QUESTIONS_01,
    cell,
    digest,
    rows,
)
from tests.notebook_paths import ROOT

# What each fixture's feedback must tell the student.
FEEDBACK_SAYS = {
    "pass_reference": "All tests passed.",
    "capped_output_flood": "the grader kept only the first 2,000",
    "fail_wrong_scale": "differs from the expected values in",
    "fail_edited_test_cells": "causal_mask(3) differs from the expected values",
    "fail_monkeypatched_asserts": "is 42.0, but that is not the expected value",
    "fail_always_equal": "but it is an object of type Liar",
    "fail_imports_the_answer": "imports the course's own implementation of `causal_mask` from lessons_lib",
    "fail_wraps_the_answer": ("uses the course's own implementation of `scaled_dot_product_attention` from "
                              "lessons_lib (`lib.scaled_dot_product_attention`, line 6 of your answer cell)"),
    "fail_hides_the_import": ("Your `causal_mask` is not your own code: it is the course's own "
                              "`lessons_lib.attention.causal_mask` from lessons_lib"),
    "partial_missing_question": "no answer cell for this question",
    "partial_answer_raises": "raised ZeroDivisionError",
    "partial_kernel_exit": "stopped the Python kernel",
    "timeout_infinite_loop": f"still running after {CELL_TIMEOUT} s",
    "timeout_swallows_interrupt": f"Your answer cell was still running after {CELL_TIMEOUT} s",
    "zero_unfilled": "Not answered yet",
    "invalid_json": "not valid notebook JSON",
    "invalid_not_a_notebook": "not a Jupyter notebook",
}


def _hidden_lines(assignment: str) -> list[str]:
    """The lines of hidden test code in a solution notebook that are long enough to recognise."""
    notebook = nbformat.read(find_assignment(ROOT, assignment), as_version=4)
    lines = []
    for code in notebook.cells:
        if code.metadata.get("nbgrader", {}).get("grade"):
            _, hidden = split_hidden(code.source)
            lines += [line.strip() for line in hidden.splitlines() if len(line.strip()) > 20]
    return lines


# ---------------------------------------------------------------------------------------------
# The hostile fixtures, graded once through the command line (the graded_fixtures fixture)


def test_every_fixture_has_an_expected_outcome():
    assert sorted(p.stem for p in FIXTURES.glob("*.ipynb")) == sorted(EXPECTED)


def test_grade_finishes_with_status_0_and_one_row_per_submission(graded_fixtures):
    assert graded_fixtures.status == 0
    assert graded_fixtures.header == ["submission", "student", "total", "max_total", *QUESTIONS_01, "feedback"]
    assert sorted(graded_fixtures.rows) == sorted(EXPECTED)
    for path in graded_fixtures.paths:  # the path exactly as it was given
        assert graded_fixtures.rows[path.stem]["submission"] == str(path)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_earns_its_expected_score(graded_fixtures, name):
    row = graded_fixtures.rows[name]
    assert tuple(float(row[q]) for q in QUESTIONS_01) == EXPECTED[name]
    assert float(row["total"]) == sum(EXPECTED[name])
    assert row["max_total"] == "6"


@pytest.mark.parametrize("name", sorted(FEEDBACK_SAYS))
def test_feedback_says_what_went_wrong(graded_fixtures, name):
    feedback = (graded_fixtures.out / graded_fixtures.rows[name]["feedback"]).read_text(encoding="utf-8")
    assert FEEDBACK_SAYS[name] in feedback
    assert f"**Score: {graded_fixtures.rows[name]['total']} / 6**" in feedback


def _hidden_case_lines(feedback: str) -> list[str]:
    return [line for line in feedback.splitlines() if line.startswith(("- Hidden test", "- 2 hidden", "- 3 hidden",
                                                                       "- 4 hidden", "- 5 hidden", "- 6 hidden"))]


def test_feedback_gives_expected_values_of_hidden_cases_only_when_asked(graded_fixtures, tmp_path):
    default = (graded_fixtures.out / graded_fixtures.rows["fail_wrong_scale"]["feedback"]).read_text(encoding="utf-8")
    hidden = _hidden_case_lines(default)
    assert hidden and all("differs from the expected values" in line for line in hidden)
    assert not any(": expected " in line for line in hidden)
    fixture = str(FIXTURES / "fail_wrong_scale.ipynb")
    assert main(["grade", fixture, "--assignment", "01_self_attention", "--out", str(tmp_path),
                 "--timeout", str(CELL_TIMEOUT), "--feedback", "expected"]) == 0
    _, (row,) = rows(tmp_path)
    asked = _hidden_case_lines((tmp_path / row["feedback"]).read_text(encoding="utf-8"))
    assert asked and all("the largest difference is" in line and ": expected " in line for line in asked)


def test_submissions_are_never_modified_moved_or_deleted(graded_fixtures):
    assert sorted(p.name for p in FIXTURES.iterdir()) == graded_fixtures.listing
    for path, before in graded_fixtures.before.items():
        assert digest(path) == before, f"{path.name} changed while being graded"


def test_feedback_never_reveals_hidden_test_code(graded_fixtures):
    hidden = _hidden_lines("01_self_attention")
    assert len(hidden) > 10
    for feedback in (graded_fixtures.out / "feedback").glob("*.md"):
        text = feedback.read_text(encoding="utf-8")
        assert "HIDDEN TESTS" not in text and "hidden_check" not in text, feedback.name
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{feedback.name} shows hidden test code: {leaked}"


def test_flooded_output_is_capped(graded_fixtures):
    feedback = graded_fixtures.out / graded_fixtures.rows["capped_output_flood"]["feedback"]
    assert feedback.stat().st_size < 5_000


def test_hung_cells_cost_the_timeout_not_the_run(graded_fixtures):
    # Two fixtures hang until killed; with 2 jobs and 18 notebooks, far under one minute of hanging each.
    assert graded_fixtures.seconds < 240, f"grading the fixtures took {graded_fixtures.seconds:.0f} s"


# ---------------------------------------------------------------------------------------------
# Every solution earns full marks; every unfilled exercise earns 0 and grades cleanly


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_earns_full_marks_and_unfilled_exercise_zero(assignment, tmp_path):
    solution = find_assignment(ROOT, assignment)
    exercise = ROOT / "exercises" / assignment / f"{assignment}.ipynb"
    status = main(["grade", str(solution), str(exercise), "--assignment", assignment,
                   "--out", str(tmp_path), "--jobs", "2"])
    assert status == 0
    _, found = rows(tmp_path)
    by_path = {row["submission"]: row for row in found}
    solved, unfilled = by_path[str(solution)], by_path[str(exercise)]
    questions = load_assignment(solution).questions
    for question in questions:
        assert float(solved[question.id]) == question.points
        assert float(unfilled[question.id]) == 0
    assert float(unfilled["total"]) == 0
    feedback = (tmp_path / unfilled["feedback"]).read_text(encoding="utf-8")
    assert feedback.count("Not answered yet") == len(questions)


# ---------------------------------------------------------------------------------------------
# What grading refuses


def test_grade_refuses_to_write_over_a_submission(tmp_path, capsys):
    submission = tmp_path / "grades.csv"
    shutil.copyfile(FIXTURES / "pass_reference.ipynb", submission)
    status = main(["grade", str(submission), "--assignment", "01_self_attention", "--out", str(tmp_path)])
    assert status == 2
    assert "would overwrite the submissions" in capsys.readouterr().err
    assert submission.read_bytes() == (FIXTURES / "pass_reference.ipynb").read_bytes()


def test_grade_reports_a_solution_that_fails_its_own_hidden_tests(tmp_path: Path, capsys):
    hidden = textwrap.dedent(f"""
        {HIDDEN_BEGIN}
        from lessons_lib.selfcheck import hidden_check
        hidden_check("q1_double", double, lambda x: 2 * x, cases=[("three", (3,), {{}})])
        {HIDDEN_END}
    """)
    notebook = nbformat.v4.new_notebook(cells=[
        cell("answer", "q1_double_answer", "def double(x):\n    return x + 2"),
        cell("test", "q1_double", hidden),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "solutions" / "99_broken" / "99_broken.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    status = main(["--root", str(tmp_path), "grade", str(path), "--assignment", "99_broken",
                   "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert "fails its own tests in the hidden step of q1_double" in err
    assert "hidden check q1_double failed" in err


def test_rough_edges_a_big_notebook_another_assignment_and_a_renamed_function(tmp_path):
    big = nbformat.read(FIXTURES / "pass_reference.ipynb", as_version=4)
    scratch = nbformat.v4.new_code_cell("print('x' * 25_000_000)")
    scratch.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 25_000_000)]
    big.cells.append(scratch)  # 25 MB of output in a scratch cell: outputs never cost marks
    renamed = nbformat.read(FIXTURES / "pass_reference.ipynb", as_version=4)
    for code in renamed.cells:
        code.source = code.source.replace("def causal_mask(T):", "def my_causal_mask(T):")
    paths = {"big": tmp_path / "big.ipynb", "renamed": tmp_path / "renamed.ipynb"}
    nbformat.write(big, paths["big"])
    nbformat.write(renamed, paths["renamed"])
    assert paths["big"].stat().st_size > 20 * 2**20
    other = ROOT / "exercises" / "02_multi_head_attention" / "02_multi_head_attention.ipynb"
    out = tmp_path / "out"
    assert main(["grade", str(paths["big"]), str(paths["renamed"]), str(other), "--assignment",
                 "01_self_attention", "--out", str(out), "--timeout", str(CELL_TIMEOUT), "--jobs", "2"]) == 0
    _, found = rows(out)
    by_stem = {Path(row["submission"]).stem: row for row in found}
    assert by_stem["big"]["total"] == "6"
    assert [by_stem["renamed"][q] for q in QUESTIONS_01] == ["0", "3", "2"]
    says = (out / by_stem["renamed"]["feedback"]).read_text(encoding="utf-8")
    assert ("The tests call `causal_mask`, which your answer cell does not define (it defines "
            "`my_causal_mask`): keep the name the exercise gives.") in says
    assert by_stem["02_multi_head_attention"]["total"] == "0"
    says = (out / by_stem["02_multi_head_attention"]["feedback"]).read_text(encoding="utf-8")
    assert "This is the notebook of 02_multi_head_attention, not of 01_self_attention" in says
