"""Fixtures of the tests of lessons_lib.course: the hostile grading fixtures, graded once."""

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from lessons_lib.course.cli import main
from tests.course.shared import CELL_TIMEOUT, FIXTURES, digest, rows


@pytest.fixture(scope="session")
def graded_fixtures(tmp_path_factory):
    """Every fixture of tests/fixtures/grading/01_self_attention graded once, through the command
    line, into grades.csv, feedback/ and nbgrader's gradebook (used by test_grading and test_gradebook)."""
    out = tmp_path_factory.mktemp("graded")
    gradebook = tmp_path_factory.mktemp("nbgrader") / "gradebook.db"  # nbgrader's, filled by the same run
    paths = sorted(FIXTURES.glob("*.ipynb"))
    listing = sorted(p.name for p in FIXTURES.iterdir())
    before = {p: digest(p) for p in paths}
    started = time.perf_counter()
    status = main(["grade", *map(str, paths), "--assignment", "01_self_attention", "--out", str(out),
                   "--timeout", str(CELL_TIMEOUT), "--jobs", "2", "--gradebook", str(gradebook)])
    seconds = time.perf_counter() - started
    header, found = rows(out)
    found = {Path(row["submission"]).stem: row for row in found}
    return SimpleNamespace(out=out, status=status, header=header, rows=found, paths=paths, before=before,
                           listing=listing, seconds=seconds, gradebook=gradebook)
