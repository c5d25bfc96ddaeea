"""Command line: `python -m lessons_lib doctor` checks that everything the course needs is here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lessons_lib.doctor import all_required_present, doctor


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in `argv` and return the exit status (1 when something required is missing)."""
    parser = argparse.ArgumentParser(prog="python -m lessons_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "doctor",
        help="check Python, PyTorch, the device, JupyterLab and the offline data; say what to do about anything missing",
    )
    parser.parse_args(argv)
    return 0 if all_required_present(doctor()) else 1


if __name__ == "__main__":
    sys.exit(main())
