"""`python -m lessons_lib.course regenerate | grade | build`: see cli.py."""

import sys

from lessons_lib.course.cli import main

if __name__ == "__main__":
    sys.exit(main())
