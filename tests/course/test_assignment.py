"""lessons_lib.course.assignment: solution notebooks read as questions and steps; a submission's answer cells."""

import nbformat
import pytest

from lessons_lib.course.assignment import (
    answer_names,
    find_assignment,
    load_assignment,
    read_answers,
)
from lessons_lib.course.model import HIDDEN_BEGIN, CourseError, InvalidSubmission
from tests.course.shared import ASSIGNMENTS, HIDDEN, cell
from tests.notebook_paths import ROOT


def test_solutions_define_questions_with_points():
    points = {name: load_assignment(find_assignment(ROOT, name)).max_total for name in ASSIGNMENTS}
    assert points == {"01_self_attention": 6, "02_multi_head_attention": 7, "03_add_and_norm": 8,
                      "04_positional_encoding": 8, "05_masked_decoder": 13, "06_self_supervised_learning": 7,
                      "07_transfer_learning": 7, "08_bert": 9, "09_gpt": 11}
    for name in ASSIGNMENTS:
        assert 3 <= len(load_assignment(find_assignment(ROOT, name)).questions) <= 6


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([cell("test", "q1", HIDDEN)], "a test cell with no answer cell before it"),
        ([cell("answer", "q1_answer", "x = 1")], "has no test cell after it"),
        ([cell("answer", "q1_answer", "x = 1"), cell("test", "q1", "assert x")], "no '### BEGIN HIDDEN TESTS'"),
        ([cell("answer", "a", "x"), cell("answer", "b", "y"), cell("test", "q1", HIDDEN)], "two answer cells"),
        ([cell("answer", "q1_answer", "x"), cell("test", "q1", f"{HIDDEN_BEGIN}\nx")], "never closed"),
    ],
    ids=["fail_test_without_answer", "fail_answer_without_test", "fail_no_hidden_tests",
         "fail_two_answers", "fail_unclosed_hidden_block"],
)
def test_load_assignment_refuses_a_malformed_solution(tmp_path, cells, message):
    notebook = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / "demo" / "demo.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    with pytest.raises(CourseError, match=message):
        load_assignment(path)


def test_read_answers_takes_answer_cells_by_grade_id_and_counts_copies():
    notebook = nbformat.v4.new_notebook(cells=[
        cell("answer", "q1_answer", "first = 1"),
        cell("answer", "q1_answer", "second = 2"),
        cell("test", "q1", "edited by the student"),
        nbformat.v4.new_code_cell("scratch = 3"),
    ])
    notebook.cells[1].source = ["second", " = 2"]  # as saved on disk: a list of lines
    answers, counts = read_answers(nbformat.writes(notebook).encode())
    assert answers == {"q1_answer": "second = 2"}
    assert counts == {"q1_answer": 2}


@pytest.mark.parametrize(("data", "message"), [(b"{\"cells\": [", "not valid notebook JSON"),
                                               (b"\xff\xfe", "not valid notebook JSON"),
                                               (b"[1, 2]", "not a Jupyter notebook")],
                         ids=["invalid_json", "invalid_utf8", "invalid_not_a_notebook"])
def test_read_answers_refuses_what_is_not_a_notebook(data, message):
    with pytest.raises(InvalidSubmission, match=message):
        read_answers(data)


def test_answer_names_are_what_the_exercise_cell_defines():
    solution = "import math\n\n\ndef causal_mask(T):\n    ### BEGIN SOLUTION\n    def helper():\n" \
               "        pass\n    return helper()\n    ### END SOLUTION\n"
    assert answer_names(solution) == ("causal_mask",)
    hidden_helper = "### BEGIN SOLUTION\ndef _helper(x):\n    return x\n\n\ndef f(x):\n    return _helper(x)\n### END SOLUTION"
    assert answer_names(hidden_helper) == ("_helper", "f")  # no stub: whatever the solution defines
    questions = load_assignment(find_assignment(ROOT, "05_masked_decoder")).questions
    assert [q.answer_names for q in questions] == [("decoder_mask",), ("decoder_layer_forward",),
                                                   ("greedy_decode",), ("logit_change",),
                                                   ("encoder_layer_parameters",), ("teacher_forcing_loss",)]
