"""lessons_lib.course.reports: grades.csv and the feedback files (their content is checked in test_grading)."""

import csv
import unicodedata

from lessons_lib.course.assignment import find_assignment, load_assignment
from lessons_lib.course.model import QuestionResult, SubmissionResult
from lessons_lib.course.reports import feedback_names, student_id, write_reports
from tests.notebook_paths import ROOT


def test_feedback_names_are_distinct_and_safe():
    assert feedback_names(["class/alice/01.ipynb", "class/bob/01.ipynb"]) == ["alice__01.md", "bob__01.md"]
    assert feedback_names(["a/x y.ipynb", "b/../a/x y.ipynb"]) == ["x_y.md", "x_y-2.md"]


def test_feedback_names_keep_unicode_in_nfc():
    decomposed = unicodedata.normalize("NFD", "김철수")
    assert decomposed != "김철수"
    assert feedback_names([f"class/{decomposed}.ipynb", "class/이영희.ipynb"]) == ["김철수.md", "이영희.md"]
    assert feedback_names(["class/a:b*?.ipynb"]) == ["a_b.md"]


def test_student_ids_are_nfc_so_a_macos_upload_is_the_same_student():
    assignment = load_assignment(find_assignment(ROOT, "01_self_attention"))
    decomposed = unicodedata.normalize("NFD", "김철수")
    assert student_id(f"inbox/{decomposed}.ipynb", assignment) == student_id("inbox/김철수.ipynb", assignment) == "김철수"
    assert student_id(f"submitted/{decomposed}/01_self_attention/01_self_attention.ipynb", assignment) == "김철수"


def test_grades_csv_has_a_student_column_and_the_feedback_names_no_path(tmp_path):
    assignment = load_assignment(find_assignment(ROOT, "01_self_attention"))
    submission = str(tmp_path / "submitted" / "김철수" / "01_self_attention" / "01_self_attention.ipynb")
    result = SubmissionResult(submission, [QuestionResult(q.id, q.points, q.points) for q in assignment.questions])
    write_reports([result], assignment, tmp_path / "out")
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    assert row["student"] == "김철수" and row["total"] == "6"
    feedback = (tmp_path / "out" / row["feedback"]).read_text(encoding="utf-8")
    assert "Student: 김철수" in feedback and "Notebook: `01_self_attention.ipynb`" in feedback
    assert str(tmp_path) not in feedback
