"""Start a demo class: a JupyterHub on 127.0.0.1 with an instructor and a few students.

    make hub                      (or: .venv/bin/python hub/demo.py [--port 8000] [--class-dir build/hub])

It prints where to log in and the instructor's commands, then runs JupyterHub in the foreground
(Ctrl-C stops it and every server it started). The class folder keeps the hub's database, every
user's home, nbgrader's exchange and the instructor's course folder between runs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = ("alice", "bob", "carol")
INSTRUCTOR = "instructor"
COURSE_ID = "attention101"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def class_environment(class_dir: Path, port: int, password: str) -> dict[str, str]:
    """The environment hub/jupyterhub_config.py reads, with free ports for the hub's API and the proxy's."""
    for folder in ("home", "exchange", "instructor"):
        (class_dir / folder).mkdir(parents=True, exist_ok=True)
    return {
        "COURSE_CLASS_DIR": str(class_dir.resolve()),
        "COURSE_HUB_PORT": str(port),
        "COURSE_HUB_API_PORT": str(_free_port()),
        "COURSE_PROXY_API_PORT": str(_free_port()),
        "COURSE_INSTRUCTOR": INSTRUCTOR,
        "COURSE_STUDENTS": ",".join(STUDENTS),
        "COURSE_HUB_PASSWORD": password,
        "COURSE_ID": COURSE_ID,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the port to open (default: 8000)")
    parser.add_argument("--class-dir", type=Path, default=ROOT / "build" / "hub", help="default: build/hub")
    parser.add_argument("--password", default=os.environ.get("COURSE_HUB_PASSWORD") or secrets.token_urlsafe(8),
                        help="the demo password of every account (default: a new random one)")
    args = parser.parse_args(argv)
    env = class_environment(args.class_dir, args.port, args.password)
    exchange = ["--exchange", str(args.class_dir / "exchange"), "--course-id", COURSE_ID]
    course = f"{sys.executable} -m lessons_lib.course"
    print(f"""Demo class on http://127.0.0.1:{args.port}/
  log in as {INSTRUCTOR} (instructor) or {", ".join(STUDENTS)} (students), password: {args.password}
Instructor, in a terminal here:
  {course} release 01_self_attention {" ".join(exchange)}
  {course} collect 01_self_attention {" ".join(exchange)} --class-dir {args.class_dir / "instructor"}
  {course} grade {args.class_dir / "instructor" / "submitted"} --assignment 01_self_attention \\
      --out {args.class_dir / "instructor" / "graded" / "01_self_attention"} --gradebook {args.class_dir / "instructor" / "gradebook.db"}
  {course} return-feedback 01_self_attention {" ".join(exchange)} --class-dir {args.class_dir / "instructor"}
Students: Nbgrader > Assignment List in JupyterLab: fetch, work, submit, then fetch feedback.
Ctrl-C stops the hub.""", flush=True)
    os.environ.update(env)
    hub = str(Path(sys.executable).parent / "jupyterhub")
    os.execv(hub, [hub, "-f", str(ROOT / "hub" / "jupyterhub_config.py")])


if __name__ == "__main__":
    main()
