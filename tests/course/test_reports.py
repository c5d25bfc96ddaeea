"""lessons_lib.course.reports: grades.csv and the feedback files (their content is checked in test_grading)."""

from lessons_lib.course.reports import feedback_names


def test_feedback_names_are_distinct_and_safe():
    assert feedback_names(["class/alice/01.ipynb", "class/bob/01.ipynb"]) == ["alice__01.md", "bob__01.md"]
    assert feedback_names(["a/x y.ipynb", "b/../a/x y.ipynb"]) == ["x_y.md", "x_y-2.md"]
