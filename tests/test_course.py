"""lessons_lib.course through its command line: regenerate, grade (hostile submissions too), build.

The grading fixtures in tests/fixtures/grading/01_self_attention/ are named by the outcome they
expect; EXPECTED below gives each one's score per question.
"""

import contextlib
import csv
import dataclasses
import hashlib
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from lessons_lib import course
from tests.notebook_paths import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "grading" / "01_self_attention"
ASSIGNMENTS = course.assignment_names(ROOT)
# Seconds per cell in these tests; a hang costs this. The grader also runs the instructor's notebook
# under it, and a timeout there fails every fixture. Measured on 2 cores with 4 kernels busy: the
# slowest step of pass_reference 0.08 s, of the instructor's run 1.0 s (its hidden test of q2).
CELL_TIMEOUT = 10

QUESTIONS_01 = ("q1_causal_mask", "q2_attention", "q3_score_variance")
# Expected score of each fixture per question of exercise 01 (1, 3 and 2 points).
EXPECTED = {
    "pass_reference": (1, 3, 2),
    "pass_deleted_test_cells": (1, 3, 2),
    "capped_output_flood": (1, 3, 2),
    "fail_wrong_scale": (1, 0, 2),
    "fail_edited_test_cells": (0, 3, 2),
    "fail_monkeypatched_asserts": (1, 0, 0),
    "fail_always_equal": (1, 0, 0),
    "fail_imports_the_answer": (0, 3, 2),
    "fail_wraps_the_answer": (1, 0, 2),
    "fail_hides_the_import": (0, 3, 2),
    "partial_missing_question": (1, 0, 2),
    "partial_answer_raises": (1, 3, 0),
    "partial_kernel_exit": (0, 3, 2),
    "timeout_infinite_loop": (1, 0, 2),
    "timeout_swallows_interrupt": (0, 3, 2),
    "zero_unfilled": (0, 0, 0),
    "invalid_json": (0, 0, 0),
    "invalid_not_a_notebook": (0, 0, 0),
}
# What each fixture's feedback must tell the student.
FEEDBACK_SAYS = {
    "pass_reference": "All tests passed.",
    "capped_output_flood": "the grader kept only the first 2,000",
    "fail_wrong_scale": "the largest difference is",
    "fail_edited_test_cells": "causal_mask(3) differs from the expected values",
    "fail_monkeypatched_asserts": "is 42.0, but the expected value is",
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


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(out: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return reader.fieldnames, rows


def _hidden_lines(assignment: str) -> list[str]:
    """The lines of hidden test code in a solution notebook that are long enough to recognise."""
    notebook = nbformat.read(course.find_assignment(ROOT, assignment), as_version=4)
    lines = []
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            _, hidden = course.split_hidden(cell.source)
            lines += [line.strip() for line in hidden.splitlines() if len(line.strip()) > 20]
    return lines


# ---------------------------------------------------------------------------------------------
# The hostile fixtures, graded once through the command line


@pytest.fixture(scope="module")
def graded_fixtures(tmp_path_factory):
    out = tmp_path_factory.mktemp("graded")
    gradebook = tmp_path_factory.mktemp("nbgrader") / "gradebook.db"  # nbgrader's, filled by the same run
    paths = sorted(FIXTURES.glob("*.ipynb"))
    listing = sorted(p.name for p in FIXTURES.iterdir())
    before = {p: _digest(p) for p in paths}
    started = time.perf_counter()
    status = course.main(["grade", *map(str, paths), "--assignment", "01_self_attention", "--out", str(out),
                          "--timeout", str(CELL_TIMEOUT), "--jobs", "2", "--gradebook", str(gradebook)])
    seconds = time.perf_counter() - started
    header, rows = _rows(out)
    rows = {Path(row["submission"]).stem: row for row in rows}
    return SimpleNamespace(out=out, status=status, header=header, rows=rows, paths=paths, before=before,
                           listing=listing, seconds=seconds, gradebook=gradebook)


def test_every_fixture_has_an_expected_outcome():
    assert sorted(p.stem for p in FIXTURES.glob("*.ipynb")) == sorted(EXPECTED)


def test_grade_finishes_with_status_0_and_one_row_per_submission(graded_fixtures):
    assert graded_fixtures.status == 0
    assert graded_fixtures.header == ["submission", "total", "max_total", *QUESTIONS_01, "feedback"]
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


def test_submissions_are_never_modified_moved_or_deleted(graded_fixtures):
    assert sorted(p.name for p in FIXTURES.iterdir()) == graded_fixtures.listing
    for path, digest in graded_fixtures.before.items():
        assert _digest(path) == digest, f"{path.name} changed while being graded"


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
# nbgrader's gradebook (--gradebook): the same scores, for formgrader and `nbgrader export`


@contextlib.contextmanager
def _open_gradebook(path: Path):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{path}", course_id="") as gradebook:  # as nbgrader's commands open it
        yield gradebook


def _gradebook_scores(path: Path) -> dict[str, dict[str, float]]:
    """{student: {question: auto_score}} for exercise 01; each grade must be marked as graded."""
    scores: dict[str, dict[str, float]] = {}
    with _open_gradebook(path) as gradebook:
        for student in gradebook.students:
            for question in QUESTIONS_01:
                grade = gradebook.find_grade(question, "01_self_attention", "01_self_attention", student.id)
                assert grade.needs_manual_grade == (grade.manual_score is not None)
                scores.setdefault(student.id, {})[question] = grade.auto_score
    return scores


def _result(submission: str, scores: tuple[float, ...], grader_error: bool = False) -> course.SubmissionResult:
    points = (1, 3, 2)
    questions = [course.QuestionResult(q, p, s) for q, p, s in zip(QUESTIONS_01, points, scores, strict=True)]
    return course.SubmissionResult(submission, questions, grader_error=grader_error)


def test_gradebook_holds_the_scores_of_grades_csv(graded_fixtures):
    # every fixture, the unreadable ones (0 points) included; a fixture's id is its file's stem
    scores = _gradebook_scores(graded_fixtures.gradebook)
    assert scores == {name: {q: float(row[q]) for q in QUESTIONS_01} for name, row in graded_fixtures.rows.items()}
    with _open_gradebook(graded_fixtures.gradebook) as gradebook:
        notebook = gradebook.find_notebook("01_self_attention", "01_self_attention")
        assert {c.name: c.max_score for c in notebook.grade_cells} == dict(zip(QUESTIONS_01, (1, 3, 2), strict=True))
        assert {c.name for c in notebook.solution_cells} == {f"{q}_answer" for q in QUESTIONS_01}
        for name, row in graded_fixtures.rows.items():
            assert gradebook.find_submission("01_self_attention", name).score == float(row["total"])


def test_nbgrader_export_writes_the_totals_of_grades_csv(graded_fixtures, tmp_path):
    nbgrader = Path(sys.executable).parent / "nbgrader"
    exported = tmp_path / "export.csv"
    # from a folder without nbgrader_config.py, as an instructor with only the database would
    subprocess.run([str(nbgrader), "export", f"--db=sqlite:///{graded_fixtures.gradebook}", f"--to={exported}"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    with open(exported, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["student_id"]: float(row["score"]) for row in rows} == {
        name: float(row["total"]) for name, row in graded_fixtures.rows.items()}
    assert {(row["assignment"], float(row["max_score"])) for row in rows} == {("01_self_attention", 6.0)}


@pytest.mark.parametrize(("submission", "student"), [
    ("course/submitted/kim_minji/01_self_attention/01_self_attention.ipynb", "kim_minji"),  # nbgrader's layout
    ("/srv/nbgrader/autograded/lee-01/01_self_attention/01_self_attention.ipynb", "lee-01"),
    ("kim_minji.ipynb", "kim_minji"),
    ("inbox/park.ipynb", "park"),
    ("inbox/01_self_attention/park.ipynb", "park"),  # a folder per assignment, a file per student
    ("inbox/choi_yuna/01_self_attention.ipynb", "choi_yuna"),  # an LMS download: a folder per student
], ids=["nbgrader_layout", "nbgrader_layout_absolute", "stem", "stem_in_a_folder", "stem_in_an_assignment_folder",
        "folder_per_student"])
def test_student_id_is_nbgrader_s_folder_else_the_file_s_stem(submission, student):
    assignment = course.load_assignment(course.find_assignment(ROOT, "01_self_attention"))
    assert course.student_id(submission, assignment) == student


def test_gradebook_refuses_two_submissions_of_one_student_before_grading(tmp_path, capsys):
    nbgrader_layout = tmp_path / "submitted" / "kim" / "01_self_attention" / "01_self_attention.ipynb"
    flat = tmp_path / "inbox" / "kim.ipynb"
    for path in (nbgrader_layout, flat):
        path.parent.mkdir(parents=True)
        shutil.copyfile(FIXTURES / "invalid_json.ipynb", path)
    gradebook, out = tmp_path / "gradebook.db", tmp_path / "out"
    status = course.main(["grade", str(nbgrader_layout), str(flat), "--assignment", "01_self_attention",
                          "--out", str(out), "--gradebook", str(gradebook)])
    assert status == 2
    assert "more than one submission for the student 'kim'" in capsys.readouterr().err
    assert not gradebook.exists() and not out.exists(), "nothing may be written"


def test_regrading_updates_the_same_rows(graded_fixtures, tmp_path):
    gradebook = tmp_path / "gradebook.db"
    shutil.copyfile(graded_fixtures.gradebook, gradebook)
    assignment = course.load_assignment(course.find_assignment(ROOT, "01_self_attention"))
    before = _gradebook_scores(gradebook)
    with _open_gradebook(gradebook) as book:  # a score the instructor gave by hand in formgrader
        book.find_grade("q1_causal_mask", "01_self_attention", "01_self_attention", "zero_unfilled").manual_score = 0.5
        book.db.commit()
    regraded = [_result("again/pass_reference.ipynb", (0, 3, 0)), _result("again/zero_unfilled.ipynb", (1, 3, 2)),
                _result("again/newcomer.ipynb", (1, 0, 0)), _result("again/crashed.ipynb", (1, 3, 2), grader_error=True)]
    for _ in range(2):  # twice: the second run changes nothing
        recorded = course.write_gradebook(regraded, assignment, gradebook)
    assert recorded == {"again/pass_reference.ipynb": "pass_reference", "again/zero_unfilled.ipynb": "zero_unfilled",
                        "again/newcomer.ipynb": "newcomer"}  # the grader's failure is not a grade
    after = _gradebook_scores(gradebook)
    assert after == {**before, "pass_reference": dict(zip(QUESTIONS_01, (0, 3, 0), strict=True)),
                     "zero_unfilled": dict(zip(QUESTIONS_01, (1, 3, 2), strict=True)),
                     "newcomer": dict(zip(QUESTIONS_01, (1, 0, 0), strict=True))}
    with _open_gradebook(gradebook) as book:
        assert len(book.find_assignment("01_self_attention").submissions) == len(EXPECTED) + 1
        assert book.find_submission("01_self_attention", "pass_reference").score == 3
        # the hand-set score still counts, as in nbgrader, and is flagged for review
        assert book.find_submission("01_self_attention", "zero_unfilled").score == 5.5
        grade = book.find_grade("q1_causal_mask", "01_self_attention", "01_self_attention", "zero_unfilled")
        assert grade.needs_manual_grade


def test_gradebook_refuses_other_questions_or_a_foreign_database(graded_fixtures, tmp_path):
    assignment = course.load_assignment(course.find_assignment(ROOT, "01_self_attention"))
    results = [_result("kim.ipynb", (1, 3, 2))]
    gradebook = tmp_path / "gradebook.db"
    shutil.copyfile(graded_fixtures.gradebook, gradebook)
    fewer = dataclasses.replace(assignment, questions=assignment.questions[:2])  # the solution changed since
    with pytest.raises(course.CourseError, match="has other questions than .* and 18 submission"):
        course.write_gradebook(results, fewer, gradebook)
    assert gradebook.read_bytes() == graded_fixtures.gradebook.read_bytes()
    foreign = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(foreign)) as db:
        db.execute("CREATE TABLE marks (student TEXT)")
    with pytest.raises(course.CourseError, match="not nbgrader's gradebook"):
        course.write_gradebook(results, assignment, foreign)
    text = tmp_path / "notes.db"
    text.write_text("not a database, " * 100)
    with pytest.raises(course.CourseError, match="not an SQLite database"):
        course.write_gradebook(results, assignment, text)


# ---------------------------------------------------------------------------------------------
# Every solution earns full marks; every unfilled exercise earns 0 and grades cleanly


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_earns_full_marks_and_unfilled_exercise_zero(assignment, tmp_path):
    solution = course.find_assignment(ROOT, assignment)
    exercise = ROOT / "exercises" / assignment / f"{assignment}.ipynb"
    status = course.main(["grade", str(solution), str(exercise), "--assignment", assignment,
                          "--out", str(tmp_path), "--jobs", "2"])
    assert status == 0
    _, rows = _rows(tmp_path)
    by_path = {row["submission"]: row for row in rows}
    solved, unfilled = by_path[str(solution)], by_path[str(exercise)]
    questions = course.load_assignment(solution).questions
    for question in questions:
        assert float(solved[question.id]) == question.points
        assert float(unfilled[question.id]) == 0
    assert float(unfilled["total"]) == 0
    feedback = (tmp_path / unfilled["feedback"]).read_text(encoding="utf-8")
    assert feedback.count("Not answered yet") == len(questions)


# ---------------------------------------------------------------------------------------------
# regenerate


def test_committed_exercises_are_up_to_date():
    assert course.main(["regenerate", "--check"]) == 0


def test_regenerate_is_byte_identical_and_check_names_what_is_stale(tmp_path, capsys):
    shutil.copytree(ROOT / "course", tmp_path / "course")
    shutil.copytree(ROOT / "solutions" / "01_self_attention", tmp_path / "solutions" / "01_self_attention")
    exercise = tmp_path / "exercises" / "01_self_attention" / "01_self_attention.ipynb"
    root = ["--root", str(tmp_path)]

    assert course.main([*root, "regenerate"]) == 0
    first = exercise.read_bytes()
    assert first == (ROOT / "exercises" / "01_self_attention" / "01_self_attention.ipynb").read_bytes()
    assert course.main([*root, "regenerate"]) == 0
    assert exercise.read_bytes() == first
    assert "up to date" in capsys.readouterr().out

    solution = tmp_path / "solutions" / "01_self_attention" / "01_self_attention.ipynb"
    notebook = nbformat.read(solution, as_version=4)
    notebook.cells[0].source += "\n\nA sentence added by the instructor."
    nbformat.write(notebook, solution)
    stale = tmp_path / "exercises" / "99_removed" / "99_removed.ipynb"
    stale.parent.mkdir()
    stale.write_text("{}")
    assert course.main([*root, "regenerate", "--check"]) == 1
    err = capsys.readouterr().err
    assert "exercises/01_self_attention/01_self_attention.ipynb" in err
    assert "exercises/99_removed/99_removed.ipynb" in err
    assert exercise.read_bytes() == first and stale.exists(), "--check must not write"

    assert course.main([*root, "regenerate"]) == 0
    assert b"A sentence added by the instructor." in exercise.read_bytes()
    assert not stale.exists()
    assert course.main([*root, "regenerate", "--check"]) == 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercise_hides_solutions_and_hidden_tests(assignment):
    exercise = ROOT / "exercises" / assignment / f"{assignment}.ipynb"
    text = exercise.read_text(encoding="utf-8")
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "hidden_check"):
        assert secret not in text
    questions = course.load_assignment(course.find_assignment(ROOT, assignment)).questions
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
        questions = course.load_assignment(course.find_assignment(ROOT, assignment)).questions
        assert set(results) == {"failed"}, f"{assignment}: {set(results)}"  # no 'changed' cells
        assert len(results["failed"]) == len(questions)
    # a student's filled-in copy validates cleanly: its test cells are unchanged, hidden tests and all
    assert validator.validate(str(FIXTURES / "pass_reference.ipynb")) == {}


# ---------------------------------------------------------------------------------------------
# Reading assignments and submissions


def test_solutions_define_questions_with_points():
    points = {name: course.load_assignment(course.find_assignment(ROOT, name)).max_total for name in ASSIGNMENTS}
    assert points == {"01_self_attention": 6, "02_multi_head_attention": 7, "03_add_and_norm": 7,
                      "04_positional_encoding": 7, "05_masked_decoder": 8}
    for name in ASSIGNMENTS:
        assert 3 <= len(course.load_assignment(course.find_assignment(ROOT, name)).questions) <= 5


def _cell(kind: str, grade_id: str, source: str) -> nbformat.NotebookNode:
    meta = {"grade_id": grade_id, "grade": kind == "test", "solution": kind == "answer",
            "locked": kind != "answer", "schema_version": 3}
    if kind == "test":
        meta["points"] = 1
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})


HIDDEN = f"pass\n{course.HIDDEN_BEGIN}\nhidden_check()\n{course.HIDDEN_END}"


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([_cell("test", "q1", HIDDEN)], "a test cell with no answer cell before it"),
        ([_cell("answer", "q1_answer", "x = 1")], "has no test cell after it"),
        ([_cell("answer", "q1_answer", "x = 1"), _cell("test", "q1", "assert x")], "no '### BEGIN HIDDEN TESTS'"),
        ([_cell("answer", "a", "x"), _cell("answer", "b", "y"), _cell("test", "q1", HIDDEN)], "two answer cells"),
        ([_cell("answer", "q1_answer", "x"), _cell("test", "q1", f"{course.HIDDEN_BEGIN}\nx")], "never closed"),
    ],
    ids=["fail_test_without_answer", "fail_answer_without_test", "fail_no_hidden_tests",
         "fail_two_answers", "fail_unclosed_hidden_block"],
)
def test_load_assignment_refuses_a_malformed_solution(tmp_path, cells, message):
    notebook = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / "demo" / "demo.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    with pytest.raises(course.CourseError, match=message):
        course.load_assignment(path)


def test_read_answers_takes_answer_cells_by_grade_id_and_counts_copies():
    notebook = nbformat.v4.new_notebook(cells=[
        _cell("answer", "q1_answer", "first = 1"),
        _cell("answer", "q1_answer", "second = 2"),
        _cell("test", "q1", "edited by the student"),
        nbformat.v4.new_code_cell("scratch = 3"),
    ])
    notebook.cells[1].source = ["second", " = 2"]  # as saved on disk: a list of lines
    answers, counts = course.read_answers(nbformat.writes(notebook).encode())
    assert answers == {"q1_answer": "second = 2"}
    assert counts == {"q1_answer": 2}


@pytest.mark.parametrize(("data", "message"), [(b"{\"cells\": [", "not valid notebook JSON"),
                                               (b"\xff\xfe", "not valid notebook JSON"),
                                               (b"[1, 2]", "not a Jupyter notebook")],
                         ids=["invalid_json", "invalid_utf8", "invalid_not_a_notebook"])
def test_read_answers_refuses_what_is_not_a_notebook(data, message):
    with pytest.raises(course.InvalidSubmission, match=message):
        course.read_answers(data)


# ---------------------------------------------------------------------------------------------
# The rule: an answer must not take the function it asks for from lessons_lib


def test_answer_names_are_what_the_exercise_cell_defines():
    solution = "import math\n\n\ndef causal_mask(T):\n    ### BEGIN SOLUTION\n    def helper():\n" \
               "        pass\n    return helper()\n    ### END SOLUTION\n"
    assert course.answer_names(solution) == ("causal_mask",)
    hidden_helper = "### BEGIN SOLUTION\ndef _helper(x):\n    return x\n\n\ndef f(x):\n    return _helper(x)\n### END SOLUTION"
    assert course.answer_names(hidden_helper) == ("_helper", "f")  # no stub: whatever the solution defines
    questions = course.load_assignment(course.find_assignment(ROOT, "05_masked_decoder")).questions
    assert [q.answer_names for q in questions] == [("decoder_mask",), ("decoder_layer_forward",),
                                                   ("greedy_decode",), ("logit_change",)]


MASK = course.Question("q1_mask", 1, "q1_mask_answer", ("causal_mask",))
ATTENTION = course.Question("q2_attention", 1, "q2_attention_answer", ("scaled_dot_product_attention",))
OWN_MASK = "def causal_mask(T):\n    return torch.ones(T, T, dtype=torch.bool).tril()\n"


def _taken(answers: list[str], context: str = "import torch") -> dict[str, list[str]]:
    steps = [course.Step("context", context)]
    for question, source in zip((MASK, ATTENTION), answers, strict=False):
        steps += [course.Step("answer", source, question.id), course.Step("origin", "", question.id),
                  course.Step("visible", "pass", question.id), course.Step("hidden", "pass", question.id)]
    return course.answers_taken_from_library(steps, [MASK, ATTENTION])


@pytest.mark.parametrize("answer", [
    "from lessons_lib.attention import causal_mask",
    "from lessons_lib.attention import causal_mask as cm\ndef causal_mask(T):\n    return cm(T)",
    "import lessons_lib.attention as a; causal_mask = a.causal_mask",
    "from lessons_lib import attention\ndef causal_mask(T):\n    return attention.causal_mask(T)",
    "import lessons_lib\ndef causal_mask(T):\n    return lessons_lib.attention.causal_mask(T)",
    "import importlib\nm = importlib.import_module('lessons_lib.attention')\ncausal_mask = m.causal_mask",
    "causal_mask = getattr(__import__('lessons_lib.attention', fromlist=['_']), 'causal_mask')",
    "import sys\ncausal_mask = sys.modules['lessons_lib.attention'].causal_mask",
    "from lessons_lib import attention\ncausal_mask = vars(attention)['causal_mask']",
    "from lessons_lib.attention import *",
    "exec('from lessons_lib.attention import causal_mask')",
    "%time from lessons_lib.attention import causal_mask",
    "from lessons_lib import attention\ncausal_mask = getattr(attention, 'causal' + '_mask')",
    "from lessons_lib import attention\ncausal_mask = attention.__dict__.get('causal_mask')",
    "from lessons_lib import attention\ncausal_mask = getattr(attention, 'nothing', attention.causal_mask)",
    "def bind():\n    global lib\n    import lessons_lib.attention as lib\nbind()\n"
    "def causal_mask(T):\n    return lib.causal_mask(T)",
], ids=["from_import", "from_import_as_and_wrap", "module_alias", "wraps_module_attribute", "full_path",
        "importlib", "dunder_import_and_getattr", "sys_modules", "vars", "star_import", "exec_string",
        "ipython_magic", "computed_name", "module_dict", "getattr_default", "global_alias"])
def test_an_answer_that_takes_its_function_from_lessons_lib_is_found(answer):
    taken = _taken([answer])
    assert list(taken) == ["q1_mask"]
    assert "causal_mask" in taken["q1_mask"][0] and "write it yourself" in taken["q1_mask"][0]


def test_an_alias_bound_by_an_earlier_cell_is_followed():
    wraps_context_alias = "def causal_mask(T):\n    return attention.causal_mask(T)"
    assert list(_taken([wraps_context_alias], context="from lessons_lib import attention")) == ["q1_mask"]
    # a local variable of a function does not hide the module-level alias from the next cells
    shadow = "def helper():\n    attention = None\n    return attention\n" + OWN_MASK
    taken = _taken([shadow, "def scaled_dot_product_attention(q, k, v, mask=None):\n"
                            "    return attention.scaled_dot_product_attention(q, k, v, mask)"],
                   context="from lessons_lib import attention")
    assert list(taken) == ["q2_attention"]
    # imported in the answer cell of question 1, used in the answer of question 2
    taken = _taken(["from lessons_lib.attention import scaled_dot_product_attention as sdpa\n" + OWN_MASK,
                    "def scaled_dot_product_attention(q, k, v, mask=None):\n    return sdpa(q, k, v, mask)"])
    assert list(taken) == ["q2_attention"]
    assert "line 1 of your answer cell for q1_mask" in taken["q2_attention"][0]


@pytest.mark.parametrize("answers", [
    ["from lessons_lib.attention import padding_mask, check_mask\n" + OWN_MASK],
    [OWN_MASK, "from lessons_lib import attention\ndef scaled_dot_product_attention(q, k, v, mask=None):\n"
               "    return attention.causal_mask(q.shape[-2]), k"],
    ["def causal_mask(T, attention=None):\n    return attention.causal_mask(T)"],
    ["def causal_mask(T):\n    \"\"\"Like lessons_lib.attention.causal_mask, but mine.\"\"\"\n    return T"],
    ["from lessons_lib import attention\nattention = None\ndef causal_mask(T):\n    return attention.causal_mask(T)"],
    ["import lessons_lib.selfcheck\nfor name in ('check_close',):\n    setattr(lessons_lib.selfcheck, name, None)\n"
     + OWN_MASK],
    ["from lessons_lib.selfcheck import *\n" + OWN_MASK],
    ["def causal_mask(T) return T"],
], ids=["other_helpers", "earlier_questions_function", "parameter_hides_alias", "docstring",
        "alias_rebound", "monkeypatching_not_taking", "star_import_of_another_module", "syntax_error"])
def test_other_uses_of_lessons_lib_are_allowed(answers):
    assert _taken(answers) == {}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_takes_its_answer_from_lessons_lib(assignment):
    solution = course.load_assignment(course.find_assignment(ROOT, assignment))
    assert all(q.answer_names for q in solution.questions)
    assert course.answers_taken_from_library(solution.steps, solution.questions) == {}


def test_load_assignment_refuses_a_solution_that_would_score_0(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        _cell("answer", "q1_mask_answer", "def causal_mask(T):\n    ### BEGIN SOLUTION\n"
                                          "    from lessons_lib.attention import causal_mask as cm\n"
                                          "    return cm(T)\n    ### END SOLUTION"),
        _cell("test", "q1_mask", HIDDEN),
    ])
    path = tmp_path / "demo" / "demo.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    with pytest.raises(course.CourseError, match="the solution of q1_mask would score 0"):
        course.load_assignment(path)


def test_a_name_the_grader_cannot_read_costs_only_questions_lessons_lib_could_answer():
    computed = "from lessons_lib import attention\nf = getattr(attention, 'causal' + '_mask')\n" + OWN_MASK
    variances = course.Question("q2_variance", 1, "q2_variance_answer", ("score_variances",))
    steps = [course.Step("answer", computed, MASK.id), course.Step("answer", "def score_variances(q, k):\n"
                                                                         "    return 1.0, 1.0", variances.id)]
    taken = course.answers_taken_from_library(steps, [MASK, variances])
    assert list(taken) == ["q1_mask"]  # lessons_lib has no score_variances to take
    assert "a name the grader cannot read" in taken["q1_mask"][0]


def test_read_origins_keeps_only_plain_names_of_the_question(tmp_path):
    path = tmp_path / "q1_mask.json"
    path.write_text('{"causal_mask": "lessons_lib.attention.causal_mask", "other": "lessons_lib.x", '
                    '"scaled_dot_product_attention": "lessons_lib.x"}')
    assert course.read_origins(path, MASK) == {"causal_mask": "lessons_lib.attention.causal_mask"}
    for junk in ('{"causal_mask": "numpy.tril"}', '{"causal_mask": "lessons_lib.`x` **bold**"}',
                 '["causal_mask"]', "not json", '{"causal_mask": 1}'):
        path.write_text(junk)
        assert course.read_origins(path, MASK) == {}
    assert course.read_origins(tmp_path / "missing.json", MASK) == {}


def test_hidden_tests_run_in_a_copy_of_the_namespace():
    namespace = {"answer": 41}
    exec(course.isolated("def reference(): return answer + 1\nresult = reference()"), namespace)
    assert "reference" not in namespace and "result" not in namespace  # later answers cannot use them
    with pytest.raises(ZeroDivisionError):
        exec(course.isolated("1 / 0"), namespace)  # errors still reach the grader


def test_feedback_names_are_distinct_and_safe():
    assert course.feedback_names(["class/alice/01.ipynb", "class/bob/01.ipynb"]) == ["alice__01.md", "bob__01.md"]
    assert course.feedback_names(["a/x y.ipynb", "b/../a/x y.ipynb"]) == ["x_y.md", "x_y-2.md"]


def test_grade_refuses_an_unknown_assignment(tmp_path, capsys):
    status = course.main(["grade", str(FIXTURES / "pass_reference.ipynb"), "--assignment", "99_nope",
                          "--out", str(tmp_path)])
    assert status == 2
    assert "no assignment '99_nope'" in capsys.readouterr().err


def test_grade_refuses_to_write_over_a_submission(tmp_path, capsys):
    submission = tmp_path / "grades.csv"
    shutil.copyfile(FIXTURES / "pass_reference.ipynb", submission)
    status = course.main(["grade", str(submission), "--assignment", "01_self_attention", "--out", str(tmp_path)])
    assert status == 2
    assert "would overwrite the submissions" in capsys.readouterr().err
    assert submission.read_bytes() == (FIXTURES / "pass_reference.ipynb").read_bytes()


def test_grade_reports_a_solution_that_fails_its_own_hidden_tests(tmp_path, capsys):
    hidden = textwrap.dedent(f"""
        {course.HIDDEN_BEGIN}
        from lessons_lib.selfcheck import hidden_check
        hidden_check("q1_double", double, lambda x: 2 * x, cases=[("three", (3,), {{}})])
        {course.HIDDEN_END}
    """)
    notebook = nbformat.v4.new_notebook(cells=[
        _cell("answer", "q1_double_answer", "def double(x):\n    return x + 2"),
        _cell("test", "q1_double", hidden),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "solutions" / "99_broken" / "99_broken.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    status = course.main(["--root", str(tmp_path), "grade", str(path), "--assignment", "99_broken",
                          "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert "fails its own tests in the hidden step of q1_double" in err
    assert "hidden check q1_double failed" in err


# ---------------------------------------------------------------------------------------------
# build


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
    lesson = _tiny_notebook(tmp_path / "98_tiny.ipynb", textwrap.dedent("""
        from lessons_lib.runtime import start_lesson
        run = start_lesson("98_tiny", QUICK, SEED, DEVICE)
        run.record(loss=0.125, steps=3 if QUICK else 300)
        run.save(METRICS_DIR)
    """), parameters=True)
    broken = _tiny_notebook(tmp_path / "99_broken.ipynb", "raise RuntimeError('broken on purpose')", False)
    out = tmp_path / "build"
    status = course.main(["build", "--quick", "--out", str(out), str(lesson), str(broken)])
    assert status == 1  # one notebook failed
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["notebook", "status", "wall", "s", "metrics"]
    tiny = next(line for line in table if line.startswith("98_tiny.ipynb"))
    assert " ok " in tiny and "loss=0.125, steps=3" in tiny  # QUICK=True reached the lesson
    assert "failed: PapermillExecutionError" in next(line for line in table if line.startswith("99_broken"))
    for name in ("98_tiny", "99_broken"):
        assert (out / "executed" / f"{name}.ipynb").is_file()
        assert "<html" in (out / "html" / f"{name}.html").read_text(encoding="utf-8")


def test_the_decoder_layer_question_also_forbids_the_package_layer_s_own_forward():
    solution = course.load_assignment(course.find_assignment(ROOT, "05_masked_decoder"))
    question = next(q for q in solution.questions if q.id == "q2_decoder_layer")
    assert question.not_from_library == ("DecoderLayer.forward",)
    cheat = ("def decoder_layer_forward(layer, x, memory, tgt_mask=None, memory_mask=None):\n"
             "    out, _, cross = transformer.DecoderLayer.forward(layer, x, memory, tgt_mask, memory_mask,\n"
             "                                                     need_weights=True)\n"
             "    return out, cross\n")
    steps = [dataclasses.replace(step, source=cheat) if step.kind == "answer" and step.question == question.id
             else step for step in solution.steps]
    taken = course.answers_taken_from_library(steps, solution.questions)
    assert list(taken) == ["q2_decoder_layer"]
    assert "`DecoderLayer.forward`" in taken["q2_decoder_layer"][0]
    # naming the class for another purpose is not taking its forward
    honest = ("def decoder_layer_forward(layer, x, memory, tgt_mask=None, memory_mask=None):\n"
              "    assert not isinstance(layer, transformer.DecoderLayer) or True\n"
              "    x = layer.add_norm_1(x, layer.self_attention(x, x, x, mask=tgt_mask))\n"
              "    attended, cross = layer.cross_attention(x, memory, memory, mask=memory_mask, need_weights=True)\n"
              "    x = layer.add_norm_2(x, attended)\n"
              "    return layer.add_norm_3(x, layer.feed_forward(x)), cross\n")
    steps = [dataclasses.replace(step, source=honest) if step.kind == "answer" and step.question == question.id
             else step for step in solution.steps]
    assert course.answers_taken_from_library(steps, solution.questions) == {}


@pytest.mark.parametrize(("assignment", "question_id", "cheat", "named"), [
    ("03_add_and_norm", "q1_layer_norm",
     "def layer_norm(x, weight, bias, eps=1e-5):\n"
     "    layer = norm.LayerNorm(x.shape[-1], eps)\n"
     "    layer.weight.data, layer.bias.data = weight, bias\n"
     "    return layer(x)\n", "LayerNorm"),
    ("04_positional_encoding", "q1_sinusoidal",
     "from lessons_lib import positional\n\n\n"
     "def sinusoidal_encoding(max_len, d_model):\n"
     "    return positional.PositionalEncoding(d_model, max_len=max_len).pe.clone()\n", "PositionalEncoding"),
    ("02_multi_head_attention", "q3_multi_head",
     "def multi_head_self_attention(*args, **kwargs):\n"
     "    return multihead.MultiHeadAttention(8, 2)(*args)\n", "MultiHeadAttention"),
], ids=["layer_norm_class", "positional_encoding_table", "multi_head_module"])
def test_a_package_class_that_holds_the_answer_costs_the_question(assignment, question_id, cheat, named):
    solution = course.load_assignment(course.find_assignment(ROOT, assignment))
    steps = [dataclasses.replace(step, source=cheat) if step.kind == "answer" and step.question == question_id
             else step for step in solution.steps]
    taken = course.answers_taken_from_library(steps, solution.questions)
    # (02's parameter-count question forbids MultiHeadAttention too, and an earlier answer cell counts)
    assert question_id in taken and set(taken) <= {question_id, "q4_parameter_count"}
    assert f"`{named}`" in taken[question_id][0]
