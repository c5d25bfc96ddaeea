"""Constants and helpers the tests of lessons_lib.course share (fixtures are in conftest.py).

The grading fixtures in tests/fixtures/grading/01_self_attention/ are named by the outcome they
expect; EXPECTED gives each one's score per question.
"""

import csv
import hashlib
from pathlib import Path

import nbformat

from lessons_lib.course.assignment import assignment_names
from lessons_lib.course.model import HIDDEN_BEGIN, HIDDEN_END
from tests.notebook_paths import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "grading" / "01_self_attention"
ASSIGNMENTS = assignment_names(ROOT)
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

HIDDEN = f"pass\n{HIDDEN_BEGIN}\nhidden_check()\n{HIDDEN_END}"


def digest(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(out: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of out/grades.csv."""
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        found = list(reader)
        return reader.fieldnames, found


def cell(kind: str, grade_id: str, source: str) -> nbformat.NotebookNode:
    """An nbgrader answer cell (kind "answer") or test cell worth 1 point (kind "test")."""
    meta = {"grade_id": grade_id, "grade": kind == "test", "solution": kind == "answer",
            "locked": kind != "answer", "schema_version": 3}
    if kind == "test":
        meta["points"] = 1
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": meta})


def gradebook_totals(path: Path) -> dict[str, float]:
    """Each student's total auto score in nbgrader's gradebook (an SQLite file), read with SQL alone."""
    import sqlite3

    with sqlite3.connect(path) as db:
        return dict(db.execute(
            "SELECT submitted_assignment.student_id, SUM(grade.auto_score) FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "GROUP BY submitted_assignment.student_id"))
