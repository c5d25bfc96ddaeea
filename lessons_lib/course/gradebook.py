"""nbgrader's gradebook: the scores of grades.csv, for formgrader and `nbgrader export`.

`grade --gradebook DB` also records the scores in nbgrader's gradebook, the SQLite file DB
(course/nbgrader_config.py's is build/nbgrader/gradebook.db), through nbgrader's own API and as its
generate_assignment and autograde record them: the assignment, its notebook with a grade cell per
question (max_score = points) and a solution cell per answer, each student, a submission, and each
question's score as auto_score. formgrader and `nbgrader export` then show the numbers of grades.csv.
A submission's student id is STUDENT in nbgrader's layout `.../STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb`
(`submitted/kim_minji/01_self_attention/01_self_attention.ipynb`: the parent folder is the
assignment and the file keeps the exercise's name), else the file's name without .ipynb
(`kim_minji.ipynb`, `inbox/01_self_attention/kim_minji.ipynb`). Two submissions of one student are
refused before anything is graded or written; grading a student again updates the same rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lessons_lib.course.model import Assignment, CourseError, SubmissionResult
from lessons_lib.course.reports import student_id

# the tables every nbgrader gradebook has; an SQLite file with other tables is someone else's
GRADEBOOK_TABLES = frozenset({"assignment", "notebook", "grade_cells", "solution_cells", "student",
                              "submitted_assignment", "submitted_notebook", "grade"})


def student_ids(submissions: Sequence[str], assignment: Assignment) -> list[str]:
    """The student id of every submission; a CourseError naming them when two belong to one student."""
    ids = [student_id(submission, assignment) for submission in submissions]
    by_student: dict[str, list[str]] = {}
    for submission, student in zip(submissions, ids, strict=True):
        by_student.setdefault(student, []).append(submission)
    clashes = [f"{student!r} ({', '.join(found)})" for student, found in by_student.items() if len(found) > 1]
    if clashes:
        raise CourseError(
            f"--gradebook: more than one submission for the student {'; '.join(clashes)}. A student's id is "
            f"STUDENT in nbgrader's layout .../STUDENT/{assignment.name}/{assignment.path.name}, else the "
            "file's name without .ipynb; give each student one notebook. Nothing was graded or written."
        )
    return ids


def _alembic() -> str | None:
    """The `alembic` command, which nbgrader runs to create a gradebook: the one beside this Python first."""
    return shutil.which("alembic", path=str(Path(sys.executable).parent)) or shutil.which("alembic")


def _sqlite_tables(path: Path) -> set[str]:
    """The tables of an SQLite file, read without writing; a CourseError if it is not SQLite."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as error:
        raise CourseError(f"--gradebook {path} is not an SQLite database ({error})") from None


@contextlib.contextmanager
def alembic_on_path() -> Iterator[None]:
    """nbgrader creates a gradebook by running `alembic`, which is not on the PATH when the virtual
    environment is not activated: the one beside this Python is put first while the block runs."""
    saved_path = os.environ.get("PATH", "")
    alembic = _alembic()
    if alembic is not None:
        os.environ["PATH"] = os.pathsep.join([str(Path(alembic).parent), saved_path])
    try:
        yield
    except FileNotFoundError as error:
        raise CourseError(f"nbgrader needs the `alembic` command to create a gradebook ({error}); "
                          "install lessons-lib[instructor]") from None
    finally:
        os.environ["PATH"] = saved_path


@contextlib.contextmanager
def _open_gradebook(path: Path) -> Iterator[Any]:
    """nbgrader's Gradebook on the SQLite file at path, created if missing, as nbgrader's commands open it.

    nbgrader's commands open it with CourseDirectory.course_id, "" unless configured (course/ does not).
    """
    from nbgrader.api import Gradebook

    with alembic_on_path():
        gradebook = Gradebook(f"sqlite:///{os.path.abspath(path)}", course_id="")
    with gradebook:
        yield gradebook


def _recorded_questions(gradebook: Any, assignment: Assignment) -> tuple[bool, int] | None:
    """For the assignment's notebook in the gradebook: whether its graded and answer cells differ
    from the solution's questions, and how many submissions the assignment has; None if it is not there."""
    from nbgrader.api import MissingEntry

    try:
        notebook = gradebook.find_notebook(assignment.path.stem, assignment.name)
    except MissingEntry:
        return None
    differs = ({cell.name for cell in notebook.grade_cells} != {q.id for q in assignment.questions}
               or {cell.name for cell in notebook.solution_cells} != {q.answer_id for q in assignment.questions}
               or bool(notebook.task_cells))
    return differs, len(gradebook.find_assignment(assignment.name).submissions)


def check_gradebook(path: Path, assignment: Assignment, submissions: Sequence[str]) -> list[str]:
    """The student id of every submission, once sure that write_gradebook can record them; writes nothing.

    A CourseError when two submissions belong to one student, when path is a submission or an SQLite
    file that is not nbgrader's gradebook, or when the gradebook's notebook of the assignment has
    other questions than the solution and already has submissions (nbgrader refuses that too).
    """
    ids = student_ids(submissions, assignment)
    if any(Path(submission).resolve() == path.resolve() for submission in submissions):
        raise CourseError(f"--gradebook {path} is one of the submissions; pick another file")
    if path.exists():
        tables = _sqlite_tables(path)
        if tables and not GRADEBOOK_TABLES <= tables:
            raise CourseError(f"--gradebook {path} is an SQLite database but not nbgrader's gradebook "
                              f"(its tables are {sorted(tables)})")
        if tables:
            with _open_gradebook(path) as gradebook:
                recorded = _recorded_questions(gradebook, assignment)
            if recorded is not None and recorded[0] and recorded[1]:
                raise CourseError(
                    f"--gradebook {path}: its notebook {assignment.name}/{assignment.path.stem} has other "
                    f"questions than {assignment.path}, and {recorded[1]} submission(s); remove the "
                    f"assignment (`nbgrader db assignment remove {assignment.name} --force`) or pick another file"
                )
    elif _alembic() is None:
        raise CourseError("nbgrader needs the `alembic` command to create a gradebook; install lessons-lib[instructor]")
    return ids


def write_gradebook(results: Sequence[SubmissionResult], assignment: Assignment, path: Path) -> dict[str, str]:
    """Record the results in nbgrader's gradebook (an SQLite file, created if missing); returns
    {submission: student id} of the submissions recorded.

    It records what nbgrader's generate_assignment and autograde would: the assignment, its notebook
    with one grade cell per question (max_score = points) and one solution cell per answer cell,
    each student, a submission per student, and each question's score as the grade's auto_score.
    Recording a student again updates the same rows. A manual score given in formgrader still
    takes precedence over auto_score, as in nbgrader, and the grade is marked for review. A
    submission the grader failed on (grader_error) is not a grade and is left out; one that could not
    be read (invalid JSON) is recorded with 0 points, as in grades.csv. Checks first (check_gradebook):
    when it refuses, nothing is written.
    """
    from nbgrader.api import InvalidEntry, MissingEntry
    from sqlalchemy.exc import SQLAlchemyError

    ids = check_gradebook(path, assignment, [result.submission for result in results])
    path.parent.mkdir(parents=True, exist_ok=True)
    name, notebook = assignment.name, assignment.path.stem
    recorded: dict[str, str] = {}
    try:
        with _open_gradebook(path) as gradebook:
            # 1. the assignment and its notebook, as generate_assignment's SaveCells records them
            found = _recorded_questions(gradebook, assignment)
            if found is not None and found[0]:  # other questions, no submissions (checked): start afresh
                gradebook.remove_notebook(notebook, name)
            gradebook.update_or_create_assignment(name)
            try:
                gradebook.find_notebook(notebook, name)
            except MissingEntry:
                kernelspec = json.loads(assignment.path.read_text(encoding="utf-8"))["metadata"].get("kernelspec", {})
                gradebook.add_notebook(notebook, name, kernelspec=json.dumps(kernelspec))
            for question in assignment.questions:
                gradebook.update_or_create_grade_cell(question.id, notebook, name, max_score=question.points,
                                                      cell_type="code")
                gradebook.update_or_create_solution_cell(question.answer_id, notebook, name)
            # 2. each student's submission and scores, as autograde's SaveAutoGrades records them
            for result, student in zip(results, ids, strict=True):
                if result.grader_error:
                    continue
                gradebook.update_or_create_student(student)
                with warnings.catch_warnings():  # nbgrader 0.9.6's add_submission under SQLAlchemy 2
                    # warns that it links rows before adding them to the session; the rows are right
                    warnings.filterwarnings("ignore", r"Object of type <Submitted(Assignment|Notebook)> not in session")
                    gradebook.update_or_create_submission(name, student)
                for question in result.questions:
                    grade = gradebook.find_grade(question.id, notebook, name, student)
                    grade.auto_score = question.score
                    grade.needs_manual_grade = grade.manual_score is not None
                gradebook.db.commit()
                recorded[result.submission] = student
    except (InvalidEntry, MissingEntry, SQLAlchemyError) as error:
        raise CourseError(f"--gradebook {path}: nbgrader could not record the scores ({error})") from None
    return recorded
