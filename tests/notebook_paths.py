"""Where the course's notebooks are, for the tests that execute or inspect them."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lesson_notebooks() -> list[Path]:
    """notebooks/*.ipynb, in lesson order."""
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def solution_notebooks() -> list[Path]:
    """solutions/NN_name/*.ipynb: the instructor's versions, which must run clean."""
    return sorted((ROOT / "solutions").glob("*/*.ipynb"))


def exercise_notebooks() -> list[Path]:
    """exercises/NN_name/*.ipynb: generated student versions."""
    return sorted((ROOT / "exercises").glob("*/*.ipynb"))


def all_notebooks() -> list[Path]:
    """Every committed notebook."""
    return lesson_notebooks() + solution_notebooks() + exercise_notebooks()
