"""lessons_lib.course.cli: the command line, called as main([...]) and as `python -m lessons_lib.course`."""

import subprocess
import sys

from lessons_lib.course.cli import main
from tests.course.shared import FIXTURES
from tests.notebook_paths import ROOT


def test_help_and_usage_errors_give_argparse_s_status(capsys):
    assert main(["--help"]) == 0
    assert "regenerate" in capsys.readouterr().out
    assert main([]) == 2  # no command
    assert main(["grade", "x.ipynb"]) == 2  # no --assignment, no --out


def test_python_m_lessons_lib_course_runs_the_command_line():
    done = subprocess.run([sys.executable, "-m", "lessons_lib.course", "build", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "--quick" in done.stdout


def test_grade_refuses_an_unknown_assignment(tmp_path, capsys):
    status = main(["grade", str(FIXTURES / "pass_reference.ipynb"), "--assignment", "99_nope",
                   "--out", str(tmp_path)])
    assert status == 2
    assert "no assignment '99_nope'" in capsys.readouterr().err
