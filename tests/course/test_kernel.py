"""lessons_lib.course.kernel: what runs in the student's kernel (the kernels themselves run in test_grading)."""

import pytest

from lessons_lib.course.kernel import isolated


def test_hidden_tests_run_in_a_copy_of_the_namespace():
    namespace = {"answer": 41}
    exec(isolated("def reference(): return answer + 1\nresult = reference()"), namespace)
    assert "reference" not in namespace and "result" not in namespace  # later answers cannot use them
    with pytest.raises(ZeroDivisionError):
        exec(isolated("1 / 0"), namespace)  # errors still reach the grader
