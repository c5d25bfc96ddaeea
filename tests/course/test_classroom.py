"""lessons_lib.course.classroom: a class through nbgrader's exchange, without a hub. Two students
(nbgrader's own fetch, submit and fetch-feedback, each with a home of their own) and the instructor
(the course's command line): release, collect, grade in the sandbox, gradebook, feedback returned.
tests/test_hub.py runs the same path through a real JupyterHub in Chromium."""

import shutil
from pathlib import Path

import pytest

from lessons_lib.course.cli import main
from tests.course.shared import gradebook_totals
from tests.notebook_paths import ROOT

ASSIGNMENT = "01_self_attention"
COURSE = "attention101"
CORRECT = ROOT / "tests" / "fixtures" / "grading" / ASSIGNMENT / "pass_reference.ipynb"


def _student(exchange: Path, home: Path, student: str, app_name: str) -> None:
    """One of nbgrader's student-side exchange apps, run as `student` from their own home."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import default
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(home)
    config.CourseDirectory.assignment_id = ASSIGNMENT
    config.CourseDirectory.course_id = COURSE
    config.CourseDirectory.student_id = student
    config.Exchange.root = str(exchange)
    config.Exchange.cache = str(home / ".nbgrader_cache")
    app_class = getattr(default, app_name)
    app = app_class(coursedir=CourseDirectory(config=config), authenticator=Authenticator(config=config),
                    config=config)
    app.start()


@pytest.fixture
def chdir_back(monkeypatch):
    monkeypatch.chdir(ROOT)  # nbgrader's student apps work from the current folder


def test_release_collect_grade_and_return_feedback_to_each_student_alone(tmp_path, chdir_back, monkeypatch):
    exchange, class_dir = tmp_path / "exchange", tmp_path / "instructor"
    exchange_args = ["--exchange", str(exchange), "--course-id", COURSE]
    assert main(["release", ASSIGNMENT, *exchange_args]) == 0
    homes = {name: tmp_path / "home" / name for name in ("alice", "bob")}
    for name, home in homes.items():
        home.mkdir(parents=True)
        monkeypatch.chdir(home)
        _student(exchange, home, name, "ExchangeFetchAssignment")
    fetched = homes["alice"] / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert fetched.is_file() and "raise NotImplementedError()" in fetched.read_text(encoding="utf-8")
    shutil.copyfile(CORRECT, fetched)  # alice answers; bob hands in the blank exercise
    for name, home in homes.items():
        monkeypatch.chdir(home)
        _student(exchange, home, name, "ExchangeSubmit")

    assert main(["collect", ASSIGNMENT, *exchange_args, "--class-dir", str(class_dir)]) == 0
    graded = class_dir / "graded" / ASSIGNMENT
    gradebook = class_dir / "gradebook.db"
    assert main(["grade", str(class_dir / "submitted"), "--assignment", ASSIGNMENT, "--out", str(graded),
                 "--gradebook", str(gradebook)]) == 0
    assert main(["return-feedback", ASSIGNMENT, *exchange_args, "--class-dir", str(class_dir)]) == 0

    totals = gradebook_totals(gradebook)
    assert totals == {"alice": 6, "bob": 0}
    for name, home in homes.items():
        monkeypatch.chdir(home)
        _student(exchange, home, name, "ExchangeFetchFeedback")
        (feedback,) = (home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")
        text = feedback.read_text(encoding="utf-8")
        other = "bob" if name == "alice" else "alice"
        assert f"Student: {name}" in text and f"Student: {other}" not in text
        assert ("Score: 6 / 6" if name == "alice" else "Score: 0 / 6") in text


def test_release_refuses_an_out_of_date_exercise(tmp_path, monkeypatch, capsys):
    from lessons_lib.course import classroom

    monkeypatch.setattr(classroom, "regenerate", lambda root, check: [f"exercises/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"])
    assert main(["release", ASSIGNMENT, "--exchange", str(tmp_path), "--course-id", COURSE]) == 2
    assert "out of date" in capsys.readouterr().err and not (tmp_path / COURSE / "outbound").exists()
