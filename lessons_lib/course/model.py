"""The plain data every part of the course tooling shares: errors, the limits the grader keeps, an
assignment read as questions and steps, and the grade of a submission."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the course checkout this package lives in

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"

DEFAULT_CELL_TIMEOUT_S = 30.0  # when neither --timeout nor the notebook's metadata says otherwise
CONTEXT_TIMEOUT_S = 120.0  # the instructor's own cells (imports, set-up) never run student code
KERNEL_START_TIMEOUT_S = 60.0
OUTPUT_LIMIT = 2_000  # characters of a cell's output kept for the feedback
ERROR_LIMIT = 1_500  # characters of an error message kept for the feedback
MAX_SUBMISSION_BYTES = 512 * 2**20  # the file, outputs included: only what can be read at all
MAX_ANSWER_BYTES = 2 * 2**20  # the code of the answer cells, which is what is graded
MAX_ANSWERS_BYTES = 64 * 2**20
MAX_ORIGINS_BYTES = 64 * 2**10


class CourseError(Exception):
    """A problem with the course itself (a solution notebook, the command line), not a submission."""


class InvalidSubmission(Exception):
    """A submission that cannot be graded at all (not JSON, not a notebook, unreadable)."""


# ---------------------------------------------------------------------------------------------
# The assignment: questions and the steps that run them, read from the instructor's notebook


@dataclass(frozen=True)
class Question:
    """One graded question: its test cell's grade_id, its points, its answer cell's grade_id and
    the names of the functions (or classes) that the answer cell asks the student to write."""

    id: str
    points: float
    answer_id: str
    answer_names: tuple[str, ...] = ()
    # more lessons_lib names the answer may not use, from the answer cell's metadata
    # {"lessons_lib": {"not_from_library": [...]}}: e.g. the class whose method is the answer
    not_from_library: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One piece of code the grader runs: a context cell, an answer, or a test's visible or hidden part."""

    kind: str  # "context", "answer", "visible", "hidden" or "origin" (the grader's own probe)
    source: str
    question: str = ""


@dataclass(frozen=True)
class Assignment:
    """A solution notebook read as questions and steps."""

    name: str
    path: Path
    questions: tuple[Question, ...]
    steps: tuple[Step, ...]
    timeout_s: float

    @property
    def max_total(self) -> float:
        """The sum of the questions' points."""
        return sum(question.points for question in self.questions)


# ---------------------------------------------------------------------------------------------
# The grade of a submission


@dataclass
class QuestionResult:
    """A question's score and what the student should know about it."""

    id: str
    points: float
    score: float
    notes: list[str] = field(default_factory=list)


@dataclass
class SubmissionResult:
    """The grade of one submitted notebook."""

    submission: str
    questions: list[QuestionResult]
    problem: str = ""  # why the whole notebook could not be graded, if it could not
    grader_error: bool = False  # the grader failed (not the student): the row is not a grade

    @property
    def total(self) -> float:
        """The sum of the question scores."""
        return sum(question.score for question in self.questions)


def number(value: float) -> str:
    """A score or a point count as the reports and the command line write it (6, not 6.0)."""
    return f"{value:g}"
