"""lessons_lib.course.sandbox, and grading under attack: every hostile notebook in
tests/fixtures/grading/attacks_01_self_attention gets the score its own answers deserve, and nothing
outside its sandbox changes.

Each attack was checked to work without the sandbox (`grade --unsafe-no-sandbox`): the two thefts
score 6/6, the detached process appends forged rows to grades.csv after the grader wrote it, the
files outside appear, and the slow honest student graded beside fail_reaches_another_kernel drops
to 1/6. These tests therefore fail if the sandbox stops doing its job.
"""

import os
import socket
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import lessons_lib
from lessons_lib.course import grading
from lessons_lib.course.cli import main
from lessons_lib.course.sandbox import Limits, sandbox_command, sandbox_environment, sandbox_problem
from tests.course.shared import QUESTIONS_01, digest, rows
from tests.notebook_paths import ROOT

ATTACKS = ROOT / "tests" / "fixtures" / "grading" / "attacks_01_self_attention"
# Each attack's deserved score per question (1, 3 and 2 points): its honest answers score, the
# stubs and the stolen answers do not.
EXPECTED = {
    "fail_steals_solutions_by_path": (1, 0, 0),  # the solutions are not in the sandbox
    "fail_steals_solutions_walking_up": (1, 0, 0),
    # the student's kernel holds no reference function: the swapped check has nothing to call,
    # so no hidden check gets a result, the honest q1 included (the student broke its own checks)
    "fail_swaps_the_hidden_check": (0, 0, 0),
    "fail_forges_grades_from_a_detached_process": (1, 0, 0),
    "fail_writes_outside_its_folder": (1, 0, 0),
    "fail_reads_the_environment": (1, 0, 2),
    "fail_allocates_6_gb": (1, 0, 2),  # the allocation fails (4 GB limit); grading goes on
    "fail_opens_a_network_connection": (1, 0, 0),
    "fail_reaches_another_kernel": (1, 0, 0),
    "pass_slow_honest": (1, 3, 2),  # graded beside fail_reaches_another_kernel, untouched by it
}
SECRET = "grader-secret-7f3a"
PORTS = range(47100, 47200)  # the range fail_opens_a_network_connection tries
WRITTEN = "pwned_by_a_student.txt"


def _listen_on_one_of(ports: range) -> tuple[socket.socket, list[bytes]]:
    """A TCP server on 127.0.0.1 at a free port of the range, recording what reaches it."""
    received: list[bytes] = []
    for port in ports:
        server = socket.socket()
        try:
            server.bind(("127.0.0.1", port))
            break
        except OSError:
            server.close()
    else:
        pytest.fail(f"no free port in {ports}")
    server.listen()
    server.settimeout(0.2)

    def accept() -> None:
        while server.fileno() != -1:
            try:
                connection, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                received.append(connection.recv(100) or b"(connected)")

    threading.Thread(target=accept, daemon=True).start()
    return server, received


def _process_lines() -> list[str]:
    """The command line of every process on the machine."""
    lines = []
    for pid in os.listdir("/proc"):
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return lines


@pytest.fixture(scope="session")
def attacked(tmp_path_factory):
    """Every attack graded once through the command line, two at a time, with a server listening."""
    problem = sandbox_problem()
    assert problem is None, f"this machine cannot make the grading sandbox: {problem}"
    out = tmp_path_factory.mktemp("graded")
    outside = tmp_path_factory.mktemp("outside")
    paths = sorted(ATTACKS.glob("*.ipynb"))
    # the attacker and its victim first, so that they are graded at the same time
    paths.sort(key=lambda p: p.stem not in ("fail_reaches_another_kernel", "pass_slow_honest"))
    before = {p: digest(p) for p in paths}
    server, received = _listen_on_one_of(PORTS)
    planted = {"LESSONS_TEST_SECRET": SECRET, "LESSONS_TEST_OUTSIDE": str(outside)}
    os.environ.update(planted)
    try:
        status = main(["grade", *map(str, paths), "--assignment", "01_self_attention", "--out", str(out),
                       "--timeout", "30", "--jobs", "2"])
        time.sleep(3)  # a detached forger would have written by now
    finally:
        for name in planted:
            del os.environ[name]
        server.close()
    header, found = rows(out)
    return SimpleNamespace(out=out, outside=outside, status=status, header=header, found=found,
                           paths=paths, before=before, received=received)


def test_every_attack_has_an_expected_outcome():
    assert sorted(p.stem for p in ATTACKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_attack_earns_only_what_its_answers_deserve(attacked, name):
    row = next(r for r in attacked.found if Path(r["submission"]).stem == name)
    assert tuple(float(row[q]) for q in QUESTIONS_01) == EXPECTED[name]


def test_grades_csv_holds_one_row_per_submission_and_no_forged_row(attacked):
    assert attacked.status == 0
    assert [Path(r["submission"]).stem for r in attacked.found] == [p.stem for p in attacked.paths]


def test_no_student_process_outlives_grading():
    assert not [line for line in _process_lines() if "look for the grader" in line]


def test_nothing_outside_the_sandbox_was_written(attacked):
    package = Path(lessons_lib.__file__).resolve().parent
    for folder in (package, package.parent, Path("/tmp"), Path.home(), attacked.outside):
        assert not (folder / WRITTEN).exists(), folder / WRITTEN
    assert {p: digest(p) for p in attacked.paths} == attacked.before, "a submission was changed"


def test_no_connection_reached_the_server(attacked):
    assert attacked.received == []


def test_feedback_carries_no_environment_and_no_path_of_the_grading_machine(attacked):
    grader_paths = {str(ROOT), sys.prefix, sys.base_prefix, str(attacked.out), str(attacked.outside)}
    for feedback in (attacked.out / "feedback").glob("*.md"):
        text = feedback.read_text(encoding="utf-8")
        assert SECRET not in text, feedback.name
        for path in grader_paths:
            assert path not in text, (feedback.name, path)
        assert "/tmp/lessons-" not in text, feedback.name  # the workspaces
    environment = (attacked.out / "feedback" / "fail_reads_the_environment.md").read_text(encoding="utf-8")
    assert "Your answer cell raised RuntimeError: the grader's environment" in environment


def test_the_memory_limit_stops_a_6_gb_allocation(attacked):
    text = (attacked.out / "feedback" / "fail_allocates_6_gb.md").read_text(encoding="utf-8")
    assert "can't allocate memory" in text or "MemoryError" in text


# ---------------------------------------------------------------------------------------------
# The sandbox itself


def test_the_sandbox_binds_the_package_but_not_the_checkout(tmp_path):
    command = sandbox_command(["python"], tmp_path, {"A": "b"}, Limits())
    bound = {command[i + 1] for i, word in enumerate(command) if word in ("--ro-bind", "--bind")}
    package = str(Path(lessons_lib.__file__).resolve().parent)
    assert package in bound and str(tmp_path) in bound
    assert str(ROOT) not in bound and str(ROOT / "solutions") not in bound
    assert not any(path.startswith(str(ROOT / "solutions")) for path in bound)
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv"):
        assert flag in command
    assert command[command.index("--setenv") + 1:command.index("--setenv") + 3] == ["A", "b"]


def test_the_sandbox_environment_is_an_allow_list(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_TEST_SECRET", SECRET)
    env = sandbox_environment(tmp_path, {"EXTRA": "1"})
    assert SECRET not in env.values() and "LESSONS_TEST_SECRET" not in env
    assert env["HOME"] == str(tmp_path) and env["EXTRA"] == "1"
    assert env["PYTHONPATH"] == str(Path(lessons_lib.__file__).resolve().parent.parent)


@pytest.mark.parametrize("field", ["memory_bytes", "processes", "cpu_seconds"])
def test_limits_must_be_positive_ints(field):
    with pytest.raises(ValueError, match=f"{field} must be a positive int"):
        Limits(**{field: 0})


def test_grade_refuses_where_no_sandbox_can_be_made(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(grading, "sandbox_problem", lambda: "bwrap is not installed")
    status = main(["grade", str(ATTACKS / "pass_slow_honest.ipynb"), "--assignment", "01_self_attention",
                   "--out", str(tmp_path / "out")])
    assert status == 2
    message = capsys.readouterr().err
    assert "none can be made here: bwrap is not installed" in message and "--unsafe-no-sandbox" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("text", "expected"), [("4G", 4 * 2**30), ("512M", 512 * 2**20), ("1.5g", int(1.5 * 2**30))])
def test_memory_sizes(text, expected):
    from lessons_lib.course.cli import _size

    assert _size(text) == expected


@pytest.mark.parametrize("text", ["lots", "1M", "-4G"])
def test_bad_memory_sizes_are_refused(text, capsys):
    assert main(["grade", "x.ipynb", "--assignment", "01_self_attention", "--out", "o", "--memory", text]) == 2
    assert "--memory" in capsys.readouterr().err


def test_preparing_a_workspace_never_follows_a_link_the_kernel_left(tmp_path):
    from lessons_lib.course.sandbox import UNPRIVILEGED_UID, prepare_root

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("the grader's")
    root = tmp_path / "root"
    (root / "work").mkdir(parents=True)
    (root / "work" / "x").symlink_to(outside, target_is_directory=True)
    before = (outside.stat().st_uid, (outside / "file").stat().st_uid)
    prepare_root(root)
    assert (outside.stat().st_uid, (outside / "file").stat().st_uid) == before
    if os.getuid() == 0:
        assert (root / "work").stat().st_uid == UNPRIVILEGED_UID


def test_a_course_under_tmp_is_bound_after_the_private_tmp(tmp_path):
    command = sandbox_command(["python"], tmp_path, {}, Limits())
    tmpfs = command.index("--tmpfs")
    binds = [i for i, word in enumerate(command) if word in ("--ro-bind", "--bind")]
    assert command[tmpfs + 1] == "/tmp" and all(i > tmpfs for i in binds)
