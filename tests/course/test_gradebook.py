"""lessons_lib.course.gradebook (--gradebook): the scores of grades.csv in nbgrader's gradebook,
for formgrader and `nbgrader export`."""

import contextlib
import csv
import dataclasses
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lessons_lib.course.assignment import find_assignment, load_assignment
from lessons_lib.course.cli import main
from lessons_lib.course.gradebook import write_gradebook
from lessons_lib.course.model import CourseError, QuestionResult, SubmissionResult
from lessons_lib.course.reports import student_id
from tests.course.shared import EXPECTED, FIXTURES, QUESTIONS_01
from tests.notebook_paths import ROOT


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


def _result(submission: str, scores: tuple[float, ...], grader_error: bool = False) -> SubmissionResult:
    points = (1, 3, 2)
    questions = [QuestionResult(q, p, s) for q, p, s in zip(QUESTIONS_01, points, scores, strict=True)]
    return SubmissionResult(submission, questions, grader_error=grader_error)


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
    assignment = load_assignment(find_assignment(ROOT, "01_self_attention"))
    assert student_id(submission, assignment) == student


def test_gradebook_refuses_two_submissions_of_one_student_before_grading(tmp_path, capsys):
    nbgrader_layout = tmp_path / "submitted" / "kim" / "01_self_attention" / "01_self_attention.ipynb"
    flat = tmp_path / "inbox" / "kim.ipynb"
    for path in (nbgrader_layout, flat):
        path.parent.mkdir(parents=True)
        shutil.copyfile(FIXTURES / "invalid_json.ipynb", path)
    gradebook, out = tmp_path / "gradebook.db", tmp_path / "out"
    status = main(["grade", str(nbgrader_layout), str(flat), "--assignment", "01_self_attention",
                   "--out", str(out), "--gradebook", str(gradebook)])
    assert status == 2
    assert "more than one submission for the student 'kim'" in capsys.readouterr().err
    assert not gradebook.exists() and not out.exists(), "nothing may be written"


def test_regrading_updates_the_same_rows(graded_fixtures, tmp_path):
    gradebook = tmp_path / "gradebook.db"
    shutil.copyfile(graded_fixtures.gradebook, gradebook)
    assignment = load_assignment(find_assignment(ROOT, "01_self_attention"))
    before = _gradebook_scores(gradebook)
    with _open_gradebook(gradebook) as book:  # a score the instructor gave by hand in formgrader
        book.find_grade("q1_causal_mask", "01_self_attention", "01_self_attention", "zero_unfilled").manual_score = 0.5
        book.db.commit()
    regraded = [_result("again/pass_reference.ipynb", (0, 3, 0)), _result("again/zero_unfilled.ipynb", (1, 3, 2)),
                _result("again/newcomer.ipynb", (1, 0, 0)), _result("again/crashed.ipynb", (1, 3, 2), grader_error=True)]
    for _ in range(2):  # twice: the second run changes nothing
        recorded = write_gradebook(regraded, assignment, gradebook)
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
    assignment = load_assignment(find_assignment(ROOT, "01_self_attention"))
    results = [_result("kim.ipynb", (1, 3, 2))]
    gradebook = tmp_path / "gradebook.db"
    shutil.copyfile(graded_fixtures.gradebook, gradebook)
    fewer = dataclasses.replace(assignment, questions=assignment.questions[:2])  # the solution changed since
    with pytest.raises(CourseError, match="has other questions than .* and 18 submission"):
        write_gradebook(results, fewer, gradebook)
    assert gradebook.read_bytes() == graded_fixtures.gradebook.read_bytes()
    foreign = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(foreign)) as db:
        db.execute("CREATE TABLE marks (student TEXT)")
    with pytest.raises(CourseError, match="not nbgrader's gradebook"):
        write_gradebook(results, assignment, foreign)
    text = tmp_path / "notes.db"
    text.write_text("not a database, " * 100)
    with pytest.raises(CourseError, match="not an SQLite database"):
        write_gradebook(results, assignment, text)
