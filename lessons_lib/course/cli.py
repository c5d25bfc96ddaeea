"""Instructor tooling for every lesson: regenerate the exercises, grade submissions, build the course.

    python -m lessons_lib.course regenerate [--check]
    python -m lessons_lib.course grade SUBMISSION... --assignment NAME --out DIR [--timeout S] [--jobs N]
                                       [--gradebook DB] [--memory SIZE] [--feedback plain|expected]
                                       [--unsafe-no-sandbox]
    python -m lessons_lib.course build [--quick] [--out DIR] [NOTEBOOK ...]
    python -m lessons_lib.course site [--executed DIR] [--out DIR]   (after build: the course website)
    python -m lessons_lib.course release|collect|return-feedback NAME --exchange DIR --course-id ID
                                       [--class-dir DIR] [--graded DIR]   (a class: classroom.py)

A thin layer over regenerate.py, grading.py (with gradebook.py), build.py and site.py: `main(argv)` parses
the arguments, runs one of them and returns the exit status (0 done, 1 out of date or a notebook
failed or the grader failed on a submission, 2 a problem with the course or the command line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lessons_lib.course.assignment import find_assignment, load_assignment
from lessons_lib.course.build import build, build_table, default_build_notebooks
from lessons_lib.course.classroom import collect, release, return_feedback
from lessons_lib.course.gradebook import check_gradebook, write_gradebook
from lessons_lib.course.grading import expand_submissions, grade
from lessons_lib.course.model import ROOT, CourseError, number
from lessons_lib.course.regenerate import regenerate
from lessons_lib.course.sandbox import Isolation, Limits
from lessons_lib.course.site import build_site

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


def _size(text: str) -> int:
    """'4G', '512M', '1.5G' or a number of bytes -> bytes."""
    number, unit = text.strip().upper().rstrip("B"), ""
    if number and number[-1] in _UNITS:
        number, unit = number[:-1], number[-1]
    try:
        size = int(float(number) * _UNITS[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 4G, 512M or 1000000") from None
    if size < 256 * 2**20:
        raise argparse.ArgumentTypeError(f"{text!r} is too little for a Python kernel with torch (256M at least)")
    return size


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lessons_lib.course", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the course checkout (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)

    regen = commands.add_parser("regenerate", help="write exercises/ from solutions/ with nbgrader")
    regen.add_argument("--check", action="store_true", help="write nothing; exit 1 and name what is out of date")

    grade_cmd = commands.add_parser("grade", help="grade submitted notebooks: grades.csv and feedback/")
    grade_cmd.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="notebooks, or folders of them")
    grade_cmd.add_argument("--assignment", required=True, help="the name of a folder in solutions/")
    grade_cmd.add_argument("--out", required=True, type=Path, help="folder for grades.csv and feedback/")
    grade_cmd.add_argument("--timeout", type=float, help="seconds per cell (default: the notebook's, else 30)")
    grade_cmd.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default: 1)")
    grade_cmd.add_argument("--gradebook", type=Path, metavar="DB",
                           help="also record the scores in nbgrader's gradebook, an SQLite file "
                                "(course/nbgrader_config.py's is build/nbgrader/gradebook.db)")
    grade_cmd.add_argument("--memory", type=_size, default=Limits().memory_bytes, metavar="SIZE",
                           help="memory each student kernel may use, like 4G or 512M (default: 4G)")
    grade_cmd.add_argument("--feedback", choices=("plain", "expected"), default="plain",
                           help="plain (default): say which hidden cases failed and how; expected: "
                                "also give their expected values")
    grade_cmd.add_argument("--unsafe-no-sandbox", action="store_true",
                           help="grade without a sandbox where none can be made (macOS, a container "
                                "without user namespaces): student code then runs with your rights "
                                "and can read the solutions and change grades; trusted work only")

    for name, help_text in (("release", "put exercises/NAME into nbgrader's exchange for students to fetch"),
                            ("collect", "copy the students' submissions from the exchange into --class-dir"),
                            ("return-feedback", "send each student the feedback of `grade` through the exchange")):
        exchange_cmd = commands.add_parser(name, help=help_text)
        exchange_cmd.add_argument("assignment", help="the name of a folder in solutions/")
        exchange_cmd.add_argument("--exchange", required=True, type=Path, help="nbgrader's exchange folder")
        exchange_cmd.add_argument("--course-id", required=True, help="the course's id in the exchange")
        if name != "release":
            exchange_cmd.add_argument("--class-dir", required=True, type=Path,
                                      help="the instructor's folder: submitted/, feedback/ go there")
        if name == "return-feedback":
            exchange_cmd.add_argument("--graded", type=Path,
                                      help="grade's --out folder (default: CLASS_DIR/graded/NAME)")

    build_cmd = commands.add_parser("build", help="execute every notebook, render HTML, tabulate metrics")
    build_cmd.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/ then solutions/")
    build_cmd.add_argument("--quick", action="store_true", help="run the lessons with QUICK=True")
    build_cmd.add_argument("--out", type=Path, help="output folder (default: ROOT/build)")
    build_cmd.add_argument("--timeout", type=float, help="seconds per cell (default: no limit)")

    site_cmd = commands.add_parser("site", help="the course website, from the notebooks build executed (Sphinx)")
    site_cmd.add_argument("--executed", type=Path,
                          help="the executed lessons (default: ROOT/build/executed/notebooks, as build writes them)")
    site_cmd.add_argument("--out", type=Path, help="output folder (default: ROOT/build/site)")
    return parser


def _regenerate(root: Path, check: bool) -> int:
    changed = regenerate(root, check=check)
    if check and changed:
        print("exercises/ is out of date; run `python -m lessons_lib.course regenerate`:", file=sys.stderr)
        for rel in changed:
            print(f"  {rel}", file=sys.stderr)
        return 1
    verb = "up to date" if not changed else f"wrote {len(changed)} file(s)"
    print(f"exercises/: {verb}")
    for rel in [] if check else changed:
        print(f"  {rel}")
    return 0


def _grade(root: Path, args: argparse.Namespace) -> int:
    assignment = load_assignment(find_assignment(root, args.assignment))
    submissions = expand_submissions(args.submissions)
    if not submissions:
        raise CourseError(f"no notebooks found in {args.submissions}")
    if args.gradebook is not None:  # refuse before grading, not after
        check_gradebook(args.gradebook, assignment, submissions)
    isolation = Isolation(sandboxed=not args.unsafe_no_sandbox, limits=Limits(memory_bytes=args.memory))
    results = grade(submissions, assignment, args.out, args.timeout, args.jobs, isolation=isolation,
                    show_expected=args.feedback == "expected")
    for result in results:
        if result.problem:
            print(f"warning: {result.submission}: {result.problem}", file=sys.stderr)
    failed = [r.submission for r in results if r.grader_error]
    mean = sum(r.total for r in results) / len(results)
    print(f"graded {len(results)} notebook(s) of {assignment.name}: mean "
          f"{mean:.2f} / {number(assignment.max_total)}; see {args.out / 'grades.csv'}")
    if args.gradebook is not None:
        recorded = write_gradebook(results, assignment, args.gradebook)
        left_out = f" (not the {len(failed)} the grader failed on)" if failed else ""
        print(f"recorded {len(recorded)} student(s) in nbgrader's gradebook {args.gradebook}{left_out}")
    return 1 if failed else 0


def _exchange(root: Path, args: argparse.Namespace) -> int:
    if args.command == "release":
        released = release(root, args.assignment, args.exchange, args.course_id)
        print(f"released {args.assignment} to {released}")
    elif args.command == "collect":
        collected = collect(root, args.assignment, args.exchange, args.course_id, args.class_dir)
        print(f"collected {len(collected)} submission(s) of {args.assignment} into {args.class_dir / 'submitted'}")
    else:
        graded = args.graded or args.class_dir / "graded" / args.assignment
        served = return_feedback(root, args.assignment, args.exchange, args.course_id, args.class_dir, graded)
        print(f"released the feedback of {len(served)} student(s): {', '.join(served)}")
    return 0


def _build(root: Path, args: argparse.Namespace) -> int:
    results = build(args.notebooks or default_build_notebooks(root), root, args.out or root / "build",
                    args.quick, args.timeout)
    print(build_table(results))
    return 0 if all(r.status == "ok" for r in results) else 1


def _site(root: Path, args: argparse.Namespace) -> int:
    home = build_site(root, args.executed or root / "build" / "executed" / "notebooks",
                      args.out or root / "build" / "site")
    print(f"the course website is in {home.parent}; open {home}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_request:
        return int(exit_request.code or 0)
    root = args.root.resolve()
    try:
        if args.command == "regenerate":
            return _regenerate(root, args.check)
        if args.command == "grade":
            return _grade(root, args)
        if args.command in ("release", "collect", "return-feedback"):
            return _exchange(root, args)
        if args.command == "site":
            return _site(root, args)
        return _build(root, args)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
