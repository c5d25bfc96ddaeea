"""A class through nbgrader's exchange: release, collect, and return each student's feedback.

The instructor's path, with nbgrader's own exchange (a shared folder that JupyterHub users reach;
`hub/` configures one) for moving files and the course's own tools for the rest:

    python -m lessons_lib.course release 01_self_attention --exchange X --course-id C
        exercises/ checked against solutions/ (regenerate --check), then nbgrader's release
    python -m lessons_lib.course collect 01_self_attention --exchange X --course-id C --class-dir D
        nbgrader's collect into D/submitted/STUDENT/01_self_attention/
    python -m lessons_lib.course grade D/submitted --assignment 01_self_attention --out D/graded/01_self_attention
        the course's sandboxed grader (not `nbgrader autograde`, which runs student code unsandboxed)
    python -m lessons_lib.course return-feedback 01_self_attention --exchange X --course-id C --class-dir D
        every student's feedback file, as HTML, through nbgrader's release_feedback: a student's
        Assignments tab fetches only the feedback whose name is made from the secret of their own
        submission, so no student sees another's

The exchange keeps nbgrader's layout (C/outbound, C/inbound, C/feedback), so nbgrader's JupyterLab
extensions (assignment list, formgrader) work on it unchanged.
"""

from __future__ import annotations

import html
from pathlib import Path

from lessons_lib.course.assignment import find_assignment, load_assignment
from lessons_lib.course.gradebook import alembic_on_path
from lessons_lib.course.model import CourseError
from lessons_lib.course.regenerate import regenerate
from lessons_lib.course.reports import student_id


def _exchange_config(root: Path, exchange: Path, course_id: str, assignment: str, class_dir: Path | None = None):
    """nbgrader's configuration for one exchange operation on this course."""
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(class_dir or root)
    if class_dir is not None:  # nbgrader's collect also lists the students in this gradebook
        class_dir.mkdir(parents=True, exist_ok=True)
        config.CourseDirectory.db_url = f"sqlite:///{class_dir.resolve() / 'gradebook.db'}"
    config.CourseDirectory.release_directory = str(root / "exercises")
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.course_id = course_id
    config.Exchange.root = str(exchange)
    return config


def _run(app_class: type, config) -> None:
    """Run one of nbgrader's exchange apps; its failure becomes a CourseError in plain words."""
    from nbgrader.auth import Authenticator
    from nbgrader.exchange import ExchangeError

    app = app_class(coursedir=_coursedir(config), authenticator=Authenticator(config=config), config=config)
    try:
        with alembic_on_path():
            app.start()
    except ExchangeError as error:
        raise CourseError(f"nbgrader's exchange refused: {error}") from None


def _coursedir(config):
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=config)


def release(root: Path, assignment: str, exchange: Path, course_id: str) -> Path:
    """Put exercises/ASSIGNMENT into the exchange for students to fetch; returns the released folder."""
    from nbgrader.exchange.default import ExchangeReleaseAssignment

    find_assignment(root, assignment)
    stale = [path for path in regenerate(root, check=True) if f"/{assignment}/" in f"/{path}"]
    if stale:
        raise CourseError(f"exercises/{assignment} is out of date with solutions/ ({', '.join(stale)}): "
                          "run `python -m lessons_lib.course regenerate` first")
    (exchange / course_id).mkdir(parents=True, exist_ok=True)
    config = _exchange_config(root, exchange, course_id, assignment)
    config.ExchangeReleaseAssignment.force = True  # a release replaces the last one of the same name
    _run(ExchangeReleaseAssignment, config)
    return exchange / course_id / "outbound" / assignment


def collect(root: Path, assignment: str, exchange: Path, course_id: str, class_dir: Path) -> list[Path]:
    """Copy every student's latest submission into class_dir/submitted/STUDENT/ASSIGNMENT/; returns the notebooks."""
    from nbgrader.exchange.default import ExchangeCollect

    config = _exchange_config(root, exchange, course_id, assignment, class_dir)
    config.CourseDirectory.submitted_directory = "submitted"
    config.ExchangeCollect.update = True  # a newer submission replaces the one collected before
    config.ExchangeCollect.check_owner = False  # on one machine every server runs as the same user
    _run(ExchangeCollect, config)
    notebook = find_assignment(root, assignment).name
    return sorted((class_dir / "submitted").glob(f"*/{assignment}/{notebook}"))


def _feedback_html(markdown: str, student: str, assignment: str) -> str:
    body = html.escape(markdown)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(assignment)}: "
            f"feedback for {html.escape(student)}</title></head>\n<body><pre style=\"white-space: pre-wrap\">"
            f"{body}</pre></body></html>\n")


def return_feedback(root: Path, assignment: str, exchange: Path, course_id: str, class_dir: Path,
                    graded_dir: Path) -> list[str]:
    """Release each graded student's feedback through the exchange; returns the students served.

    graded_dir is the --out folder of `grade` on class_dir/submitted: its grades.csv names every
    submission and its feedback file. Each becomes class_dir/feedback/STUDENT/ASSIGNMENT/NOTEBOOK.html
    with the submission's timestamp and secret beside it, as nbgrader's release_feedback expects.
    """
    import csv

    from nbgrader.exchange.default import ExchangeReleaseFeedback

    solution = load_assignment(find_assignment(root, assignment))
    grades = graded_dir / "grades.csv"
    if not grades.is_file():
        raise CourseError(f"{grades} does not exist: grade the collected submissions first")
    with open(grades, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    served = []
    for row in rows:
        submitted = Path(row["submission"]).parent
        student = student_id(row["submission"], solution)
        secret = submitted / "submission_secret.txt"
        if not secret.is_file():
            raise CourseError(f"{submitted} has no submission_secret.txt: grade the notebooks that "
                              "`collect` put in class_dir/submitted, not copies")
        target = class_dir / "feedback" / student / assignment
        target.mkdir(parents=True, exist_ok=True)
        markdown = (graded_dir / row["feedback"]).read_text(encoding="utf-8")
        (target / f"{Path(row['submission']).stem}.html").write_text(
            _feedback_html(markdown, student, assignment), encoding="utf-8")
        for name in ("timestamp.txt", "submission_secret.txt"):
            (target / name).write_bytes((submitted / name).read_bytes())
        served.append(student)
    config = _exchange_config(root, exchange, course_id, assignment, class_dir)
    config.CourseDirectory.feedback_directory = "feedback"
    _run(ExchangeReleaseFeedback, config)
    return served
