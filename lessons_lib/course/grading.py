"""Grading: a pristine reference run of the instructor's notebook, then each submission judged.

`grade` does not trust the submitted notebook beyond its answer cells. For each submission it
takes the answer cells by grade_id, puts them into a fresh copy of the instructor's notebook (so
deleted or edited test cells come back), and runs that in a new kernel, step by step (kernel.py).
The hidden tests (`lessons_lib.selfcheck.hidden_check`) only record what the student's functions
return on inputs that a first, pristine run of the instructor's notebook produced, together with
the expected results; the comparison happens here, in the grader's own process, on data read back
with `torch.load(weights_only=True)`: no patched assertion helper and no object that claims to
equal everything can reach it. A question scores its points when its visible tests pass, every
hidden case agrees and its answer is not taken from lessons_lib (provenance.py); otherwise 0, and
the feedback says why without showing any hidden test code. A crash, a hang or an exit costs the
question it happens in, never the others. The submitted file is only read, never written, moved
or deleted.

nbgrader's own `autograde` also works on solutions/ (see course/nbgrader_config.py), but it runs
the tests in the student's kernel after the student's code: there, a submission that patches the
assertion helpers passes (tests/fixtures/grading/.../fail_monkeypatched_asserts.ipynb scores 6/6
under nbgrader 0.9.6 and 1/6 here).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lessons_lib.course.assignment import (
    assignment_of,
    defined_names,
    read_answers,
    without_references,
)
from lessons_lib.course.kernel import CellRun, execute_steps, isolated, workspace
from lessons_lib.course.model import (
    MAX_ANSWERS_BYTES,
    MAX_SUBMISSION_BYTES,
    OUTPUT_LIMIT,
    Assignment,
    CourseError,
    InvalidSubmission,
    Question,
    QuestionResult,
    Step,
    SubmissionResult,
)
from lessons_lib.course.provenance import answers_taken_from_library, origin_notes, origin_probe
from lessons_lib.course.reports import feedback_names, write_reports
from lessons_lib.course.sandbox import SANDBOXED, Isolation, sandbox_problem
from lessons_lib.origins import ORIGINS_DIR
from lessons_lib.selfcheck import compare


@dataclass(frozen=True)
class Reference:
    """What the pristine run of the solution produced: hidden inputs, expected results, ownership."""

    cases: dict[str, bytes]  # check id -> the saved inputs, copied to every submission
    expected: dict[str, dict]  # check id -> {"labels", "expected", "atol", "rtol"}
    checks: dict[str, tuple[str, ...]]  # question id -> its check ids


# Python 3.11's ast module is not safe to use from several threads at once ("SystemError: AST
# constructor recursion depth mismatch", CPython gh-106905, seen here with --jobs 2): the grading
# threads take turns for the parsing, never for the kernels.
_AST_LOCK = threading.Lock()


def _owner(check_id: str, question_ids: Sequence[str]) -> str | None:
    owners = [q for q in question_ids if check_id == q or check_id.startswith(q + "_")]
    return max(owners, key=len) if owners else None


def run_reference(assignment: Assignment, timeout: float, isolation: Isolation = SANDBOXED) -> Reference:
    """Run the solution notebook in reference mode, in a sandbox of its own; every step must pass
    and every question own a check."""
    import torch

    with workspace(assignment, "reference", isolation) as place:
        grading = place.grading
        runs = execute_steps(assignment.steps, place, timeout)
        for step, run in zip(assignment.steps, runs, strict=True):
            if run.status != "ok":
                where = f"the {step.kind} step of {step.question}" if step.question else "a context cell"
                detail = run.error or f"{run.status} (timeout {timeout:g} s)"
                raise CourseError(f"{assignment.path} fails its own tests in {where}: {detail}\n{run.traceback}")
        cases = {p.stem: p.read_bytes() for p in sorted((grading / "cases").glob("*.pt"))}
        expected = {
            p.stem: torch.load(p, weights_only=True, map_location="cpu")
            for p in sorted((grading / "expected").glob("*.pt"))
        }
    ids = [q.id for q in assignment.questions]
    checks: dict[str, list[str]] = {q: [] for q in ids}
    for check_id in expected:
        owner = _owner(check_id, ids)
        if owner is None:
            raise CourseError(f"{assignment.path}: hidden_check id {check_id!r} does not start with a question id {ids}")
        checks[owner].append(check_id)
    for question_id, owned in checks.items():
        if not owned:
            raise CourseError(f"{assignment.path}: question {question_id} ran no hidden_check")
    return Reference(cases, expected, {q: tuple(c) for q, c in checks.items()})


def _read_submission(path: Path) -> bytes:
    try:
        info = os.stat(path)
    except OSError as error:
        raise InvalidSubmission(f"the file cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InvalidSubmission("this is not a regular file")
    if info.st_size > MAX_SUBMISSION_BYTES:
        raise InvalidSubmission(f"the file is {info.st_size:,} bytes, over the limit of {MAX_SUBMISSION_BYTES:,}")
    with open(path, "rb") as handle:  # read only: the submission is never written
        return handle.read(MAX_SUBMISSION_BYTES + 1)


def _load_answers_file(path: Path) -> Any:
    import torch

    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ANSWERS_BYTES:
        return None
    try:
        saved = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:
        return None
    answers = saved.get("answers") if type(saved) is dict else None
    return answers if type(answers) is list else None


def _judge_check(check_id: str, reference: Reference, answers_dir: Path, show_expected: bool) -> list[str]:
    expected = reference.expected[check_id]
    answers = _load_answers_file(answers_dir / f"{check_id}.pt")
    if answers is None or len(answers) != len(expected["expected"]):
        return ["The hidden tests found no results of your function to check."]
    failed: dict[str, list[str]] = {}  # problem -> the labels of the cases that have it
    for label, want, got in zip(expected["labels"], expected["expected"], answers, strict=True):
        try:
            problem = compare(want, got, atol=expected["atol"], rtol=expected["rtol"], show_expected=show_expected)
        except Exception as error:  # an odd tensor (sparse, meta) that cannot be compared
            problem = f"could not be compared ({type(error).__name__})"
        if problem is not None:
            failed.setdefault(problem, []).append(label)
    notes = []
    for problem, labels in failed.items():
        named = ", ".join(f"'{label}'" for label in labels[:3]) + (", ..." if len(labels) > 3 else "")
        which = f"Hidden test {named}" if len(labels) == 1 else f"{len(labels)} hidden tests ({named})"
        notes.append(f"{which}: the result {problem}.")
    return notes[:5] + ([f"... and {len(notes) - 5} more kinds of failure."] if len(notes) > 5 else [])


def _step_note(run: CellRun, step: Step, timeout: float) -> str | None:
    if step.kind == "origin":  # the grader's probe: its result is read from its file, not its run
        return None
    what = {
        "answer": "Your answer cell",
        "visible": "A visible test",
        "hidden": "The hidden tests",
    }[step.kind]
    if run.status == "ok":
        return None
    if run.status == "timeout":
        if step.kind == "answer":
            return (f"Your answer cell was still running after {timeout:g} s, so the grader stopped it "
                    "(look for a loop that never ends); it was left out when grading the rest.")
        return (f"{what} called your function, which was still running after {timeout:g} s, "
                "so the grader stopped it (look for a loop that never ends).")
    if run.status == "died":
        return f"{what} stopped the Python kernel (for example with exit() or os._exit())."
    if run.status == "skipped":
        return f"{what} were not run: {run.error}." if step.kind == "hidden" else f"{what} was not run: {run.error}."
    if step.kind == "answer":
        note = f"Your answer cell raised {run.error}"
        return note + (f"\n\n```\n{run.traceback}\n```" if run.traceback else "")
    if step.kind == "visible" and run.error.startswith("NotImplementedError"):
        return "Not answered yet: your function still raises NotImplementedError()."
    if step.kind == "visible":
        return f"A visible test failed: {run.error}"
    return f"The hidden tests could not use your answer: {run.error}"


def judge_question(
    question: Question,
    steps: Sequence[Step],
    runs: Sequence[CellRun],
    reference: Reference,
    answers_dir: Path,
    timeout: float,
    taken: Sequence[str] = (),
    show_expected: bool = False,
) -> QuestionResult:
    """Score one question from its steps' runs and the hidden results, judged here.

    `taken` are the notes saying that the answer takes what it asks for from lessons_lib: then
    the question scores 0, and those notes come first. The notes give the expected values of a
    failed hidden case only when `show_expected`.
    """
    notes: list[str] = []
    passed = True
    unanswered = False
    for step, run in zip(steps, runs, strict=True):
        if step.question != question.id or step.kind == "origin":
            continue
        note = _step_note(run, step, timeout)
        unanswered = unanswered or (step.kind == "visible" and run.error.startswith("NotImplementedError"))
        if note:
            notes.append(note)
        if step.kind == "answer" and run.output_chars > OUTPUT_LIMIT:
            notes.append(f"Your answer cell printed {run.output_chars:,} characters; "
                         f"the grader kept only the first {OUTPUT_LIMIT:,}.")
        if step.kind != "answer" and run.status != "ok":
            passed = False
    hidden_ran = all(run.status == "ok" for step, run in zip(steps, runs, strict=True)
                     if step.question == question.id and step.kind == "hidden")
    for check_id in reference.checks[question.id]:
        problems = _judge_check(check_id, reference, answers_dir, show_expected)
        if hidden_ran and not unanswered:
            notes.extend(problems)
        passed = passed and not problems
    renamed = _renamed_answer(question, steps, runs)
    if renamed:
        notes.insert(0, renamed)
    if taken:
        return QuestionResult(question.id, question.points, 0.0, [*taken, *notes])
    if passed:
        notes.append("All tests passed.")
    return QuestionResult(question.id, question.points, question.points if passed else 0.0, notes)


def _renamed_answer(question: Question, steps: Sequence[Step], runs: Sequence[CellRun]) -> str | None:
    """Say which name the tests expected when they could not find the student's function."""
    errors = " ".join(run.error for step, run in zip(steps, runs, strict=True) if step.question == question.id)
    absent = [name for name in question.answer_names if f"NameError: name '{name}' is not defined" in errors]
    answer = next((step.source for step in steps if step.kind == "answer" and step.question == question.id), "")
    defined = defined_names(answer)
    if not absent or absent[0] in defined:
        return None
    has = ", ".join(f"`{name}`" for name in defined) or "nothing"
    return (f"The tests call `{absent[0]}`, which your answer cell does not define (it defines {has}): "
            "keep the name the exercise gives.")


def _zero(submission: str, assignment: Assignment, problem: str, grader_error: bool = False) -> SubmissionResult:
    questions = [QuestionResult(q.id, q.points, 0.0) for q in assignment.questions]
    return SubmissionResult(submission, questions, problem, grader_error)


def grade_submission(submission: str, assignment: Assignment, reference: Reference, timeout: float,
                     isolation: Isolation = SANDBOXED, show_expected: bool = False) -> SubmissionResult:
    """Grade one submitted notebook (the path as given) in a sandbox of its own; never raises for a
    bad submission. The student's kernel gets the hidden inputs, never the expected results nor the
    reference functions (`without_references`)."""
    try:
        data = _read_submission(Path(submission))
        answers, counts = read_answers(data)
    except InvalidSubmission as problem:
        return _zero(submission, assignment, f"This notebook could not be graded: {problem}.")
    answered = {q.answer_id for q in assignment.questions} & set(answers)
    other = None if answered else assignment_of(data, assignment.path.parents[2])
    if other is not None and other != assignment.name:
        return _zero(submission, assignment, f"This is the notebook of {other}, not of {assignment.name}: "
                                             f"hand in exercises/{assignment.name}/{assignment.path.name}.")
    with _AST_LOCK:
        steps, missing, taken = _graded_steps(assignment, answers)
    cases = {f".grading/cases/{check_id}.pt": data for check_id, data in reference.cases.items()}
    with workspace(assignment, "answers", isolation, cases) as place:
        grading = place.grading
        runs = execute_steps(steps, place, timeout)
        for question in assignment.questions:  # the answers that are lessons_lib's own objects
            notes = taken.setdefault(question.id, [])
            notes += origin_notes(grading / ORIGINS_DIR / f"{question.id}.json", question, notes)
        with _AST_LOCK:  # judging reads the answer cells' names (defined_names)
            results = [judge_question(q, steps, runs, reference, grading / "answers", timeout, taken[q.id],
                                      show_expected)
                       for q in assignment.questions]
    for result, question in zip(results, assignment.questions, strict=True):
        if question.id in missing:
            result.notes.insert(0, f"Your notebook has no answer cell for this question (grade_id "
                                   f"{question.answer_id}): it was deleted, or replaced by a new cell. "
                                   "Write the answer in the answer cell of the exercise notebook.")
        elif counts.get(question.answer_id, 0) > 1:
            result.notes.insert(0, f"Your notebook has {counts[question.answer_id]} copies of the answer "
                                   "cell of this question; the last one was graded.")
    return SubmissionResult(submission, results)


def _graded_steps(assignment: Assignment, answers: dict[str, str]) -> tuple[list[Step], set[str], dict]:
    """The steps the student's kernel runs (their answer cells in the instructor's notebook, the
    hidden tests without references, an origin probe after each answer), the questions with no
    answer cell, and the notes of answers taken from lessons_lib (read in the source)."""
    steps = []
    missing = set()
    for step in assignment.steps:
        if step.kind == "answer":
            question = next(q for q in assignment.questions if q.id == step.question)
            if question.answer_id not in answers:
                missing.add(step.question)
            steps.append(replace(step, source=answers.get(question.answer_id, "")))
            if question.answer_names:
                steps.append(Step("origin", origin_probe(question), question.id))
            continue
        if step.kind == "hidden":
            step = replace(step, source=isolated(without_references(step.source)))
        steps.append(step)
    return steps, missing, answers_taken_from_library(steps, assignment.questions)


def expand_submissions(arguments: Sequence[str]) -> list[str]:
    """The submissions named: files as given, and every *.ipynb under a named folder."""
    submissions = []
    for argument in arguments:
        if os.path.isdir(argument):
            found = sorted(p for p in Path(argument).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            submissions.extend(str(p) for p in found)
        else:
            submissions.append(argument)
    return submissions


def grade(
    submissions: Sequence[str],
    assignment: Assignment,
    out_dir: Path,
    timeout: float | None = None,
    jobs: int = 1,
    progress: bool | None = None,
    isolation: Isolation = SANDBOXED,
    show_expected: bool = False,
) -> list[SubmissionResult]:
    """Grade the submissions against the assignment; writes grades.csv and the feedback files.

    Every kernel runs in a sandbox (`isolation`); where none can be made, grading is refused
    unless `isolation.sandboxed` is False. The reports are written after every kernel is gone,
    to `out_dir`, which no sandbox sees. `show_expected` puts the expected values of failed hidden
    cases into the feedback (off by default: the feedback says what failed, not the answer).
    """
    from tqdm.auto import tqdm

    if jobs < 1:
        raise CourseError(f"--jobs must be at least 1, got {jobs}")
    timeout = assignment.timeout_s if timeout is None else timeout
    if timeout <= 0:
        raise CourseError(f"--timeout must be positive, got {timeout}")
    if isolation.sandboxed and (problem := sandbox_problem()) is not None:
        raise CourseError(
            f"grading runs every student kernel in a sandbox, and none can be made here: {problem}. "
            "Grade on Linux with bubblewrap (README: 'Grading safely'), or, for work you trust, "
            "pass --unsafe-no-sandbox: student code then runs with your rights, and can read the "
            "solutions and change the grades"
        )
    outputs = {(out_dir / "grades.csv").resolve()} | {
        (out_dir / "feedback" / name).resolve() for name in feedback_names(submissions)
    }
    clash = [s for s in submissions if Path(s).resolve() in outputs]
    if clash:
        raise CourseError(f"--out {out_dir} would overwrite the submissions {clash}; pick another folder")
    reference = run_reference(assignment, timeout, isolation)

    def one(submission: str) -> SubmissionResult:
        try:
            return grade_submission(submission, assignment, reference, timeout, isolation, show_expected)
        except Exception as error:  # a fault of the grader or the machine, reported, not hidden
            problem = f"The grader failed on this notebook ({type(error).__name__}: {error}); it was not graded."
            return _zero(submission, assignment, problem, grader_error=True)

    results: dict[int, SubmissionResult] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, s): i for i, s in enumerate(submissions)}
        # progress=None: a bar only when stderr is a terminal (tqdm's own rule)
        bar = tqdm(as_completed(futures), total=len(futures), desc=f"grading {assignment.name}",
                   unit="notebook", disable=None if progress is None else not progress)
        for future in bar:
            results[futures[future]] = future.result()
    ordered = [results[i] for i in range(len(submissions))]
    write_reports(ordered, assignment, out_dir)
    return ordered
