"""lessons_lib.course.provenance: an answer must not take the function it asks for from lessons_lib.

The check in the source (answers_taken_from_library) is tested here directly; the check in the
kernel (origins.record_answer_origins, read back by read_origins) through the graded fixtures
(fail_hides_the_import) and tests/test_selfcheck.py.
"""

import dataclasses

import nbformat
import pytest

from lessons_lib.course.assignment import find_assignment, load_assignment
from lessons_lib.course.model import CourseError, Question, Step
from lessons_lib.course.provenance import answers_taken_from_library, read_origins
from tests.course.shared import ASSIGNMENTS, HIDDEN, cell
from tests.notebook_paths import ROOT

MASK = Question("q1_mask", 1, "q1_mask_answer", ("causal_mask",))
ATTENTION = Question("q2_attention", 1, "q2_attention_answer", ("scaled_dot_product_attention",))
OWN_MASK = "def causal_mask(T):\n    return torch.ones(T, T, dtype=torch.bool).tril()\n"


def _taken(answers: list[str], context: str = "import torch") -> dict[str, list[str]]:
    steps = [Step("context", context)]
    for question, source in zip((MASK, ATTENTION), answers, strict=False):
        steps += [Step("answer", source, question.id), Step("origin", "", question.id),
                  Step("visible", "pass", question.id), Step("hidden", "pass", question.id)]
    return answers_taken_from_library(steps, [MASK, ATTENTION])


@pytest.mark.parametrize("answer", [
    "from lessons_lib.attention import causal_mask",
    "from lessons_lib.attention import causal_mask as cm\ndef causal_mask(T):\n    return cm(T)",
    "import lessons_lib.attention as a; causal_mask = a.causal_mask",
    "from lessons_lib import attention\ndef causal_mask(T):\n    return attention.causal_mask(T)",
    "import lessons_lib\ndef causal_mask(T):\n    return lessons_lib.attention.causal_mask(T)",
    "import importlib\nm = importlib.import_module('lessons_lib.attention')\ncausal_mask = m.causal_mask",
    "causal_mask = getattr(__import__('lessons_lib.attention', fromlist=['_']), 'causal_mask')",
    "import sys\ncausal_mask = sys.modules['lessons_lib.attention'].causal_mask",
    "from lessons_lib import attention\ncausal_mask = vars(attention)['causal_mask']",
    "from lessons_lib.attention import *",
    "exec('from lessons_lib.attention import causal_mask')",
    "%time from lessons_lib.attention import causal_mask",
    "from lessons_lib import attention\ncausal_mask = getattr(attention, 'causal' + '_mask')",
    "from lessons_lib import attention\ncausal_mask = attention.__dict__.get('causal_mask')",
    "from lessons_lib import attention\ncausal_mask = getattr(attention, 'nothing', attention.causal_mask)",
    "def bind():\n    global lib\n    import lessons_lib.attention as lib\nbind()\n"
    "def causal_mask(T):\n    return lib.causal_mask(T)",
    # an import inside the answer's own function
    "def causal_mask(T):\n    from lessons_lib import attention as a\n    return a.causal_mask(T)",
    # a forbidden name in a string given to getattr, whatever the object (the module's name is computed)
    "import importlib\nlib = importlib.import_module('.'.join(['lessons_lib', 'attention']))\n"
    "def causal_mask(T):\n    return getattr(lib, 'causal_mask')(T)",
], ids=["from_import", "from_import_as_and_wrap", "module_alias", "wraps_module_attribute", "full_path",
        "importlib", "dunder_import_and_getattr", "sys_modules", "vars", "star_import", "exec_string",
        "ipython_magic", "computed_name", "module_dict", "getattr_default", "global_alias",
        "import_inside_the_function", "getattr_string_on_a_computed_module"])
def test_an_answer_that_takes_its_function_from_lessons_lib_is_found(answer):
    taken = _taken([answer])
    assert list(taken) == ["q1_mask"]
    assert "causal_mask" in taken["q1_mask"][0] and "write it yourself" in taken["q1_mask"][0]


def test_an_alias_bound_by_an_earlier_cell_is_followed():
    wraps_context_alias = "def causal_mask(T):\n    return attention.causal_mask(T)"
    assert list(_taken([wraps_context_alias], context="from lessons_lib import attention")) == ["q1_mask"]
    # a local variable of a function does not hide the module-level alias from the next cells
    shadow = "def helper():\n    attention = None\n    return attention\n" + OWN_MASK
    taken = _taken([shadow, "def scaled_dot_product_attention(q, k, v, mask=None):\n"
                            "    return attention.scaled_dot_product_attention(q, k, v, mask)"],
                   context="from lessons_lib import attention")
    assert list(taken) == ["q2_attention"]
    # imported in the answer cell of question 1, used in the answer of question 2
    taken = _taken(["from lessons_lib.attention import scaled_dot_product_attention as sdpa\n" + OWN_MASK,
                    "def scaled_dot_product_attention(q, k, v, mask=None):\n    return sdpa(q, k, v, mask)"])
    assert list(taken) == ["q2_attention"]
    assert "line 1 of your answer cell for q1_mask" in taken["q2_attention"][0]


@pytest.mark.parametrize("answers", [
    ["from lessons_lib.attention import padding_mask, check_mask\n" + OWN_MASK],
    [OWN_MASK, "from lessons_lib import attention\ndef scaled_dot_product_attention(q, k, v, mask=None):\n"
               "    return attention.causal_mask(q.shape[-2]), k"],
    ["def causal_mask(T, attention=None):\n    return attention.causal_mask(T)"],
    ["def causal_mask(T):\n    \"\"\"Like lessons_lib.attention.causal_mask, but mine.\"\"\"\n    return T"],
    ["from lessons_lib import attention\nattention = None\ndef causal_mask(T):\n    return attention.causal_mask(T)"],
    ["import lessons_lib.selfcheck\nfor name in ('check_close',):\n    setattr(lessons_lib.selfcheck, name, None)\n"
     + OWN_MASK],
    ["from lessons_lib.selfcheck import *\n" + OWN_MASK],
    ["def causal_mask(T) return T"],
], ids=["other_helpers", "earlier_questions_function", "parameter_hides_alias", "docstring",
        "alias_rebound", "monkeypatching_not_taking", "star_import_of_another_module", "syntax_error"])
def test_other_uses_of_lessons_lib_are_allowed(answers):
    assert _taken(answers) == {}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_takes_its_answer_from_lessons_lib(assignment):
    solution = load_assignment(find_assignment(ROOT, assignment))
    assert all(q.answer_names for q in solution.questions)
    assert answers_taken_from_library(solution.steps, solution.questions) == {}


def test_load_assignment_refuses_a_solution_that_would_score_0(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        cell("answer", "q1_mask_answer", "def causal_mask(T):\n    ### BEGIN SOLUTION\n"
                                         "    from lessons_lib.attention import causal_mask as cm\n"
                                         "    return cm(T)\n    ### END SOLUTION"),
        cell("test", "q1_mask", HIDDEN),
    ])
    path = tmp_path / "demo" / "demo.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    with pytest.raises(CourseError, match="the solution of q1_mask would score 0"):
        load_assignment(path)


def test_a_name_the_grader_cannot_read_costs_only_questions_lessons_lib_could_answer():
    computed = "from lessons_lib import attention\nf = getattr(attention, 'causal' + '_mask')\n" + OWN_MASK
    variances = Question("q2_variance", 1, "q2_variance_answer", ("score_variances",))
    steps = [Step("answer", computed, MASK.id), Step("answer", "def score_variances(q, k):\n"
                                                               "    return 1.0, 1.0", variances.id)]
    taken = answers_taken_from_library(steps, [MASK, variances])
    assert list(taken) == ["q1_mask"]  # lessons_lib has no score_variances to take
    assert "a name the grader cannot read" in taken["q1_mask"][0]


def test_read_origins_keeps_only_plain_names_of_the_question(tmp_path):
    path = tmp_path / "q1_mask.json"
    path.write_text('{"causal_mask": "lessons_lib.attention.causal_mask", "other": "lessons_lib.x", '
                    '"scaled_dot_product_attention": "lessons_lib.x"}')
    assert read_origins(path, MASK) == {"causal_mask": "lessons_lib.attention.causal_mask"}
    for junk in ('{"causal_mask": "numpy.tril"}', '{"causal_mask": "lessons_lib.`x` **bold**"}',
                 '["causal_mask"]', "not json", '{"causal_mask": 1}'):
        path.write_text(junk)
        assert read_origins(path, MASK) == {}
    assert read_origins(tmp_path / "missing.json", MASK) == {}


def _with_answer(solution, question_id: str, source: str) -> list[Step]:
    return [dataclasses.replace(step, source=source) if step.kind == "answer" and step.question == question_id
            else step for step in solution.steps]


def test_the_decoder_layer_question_also_forbids_the_package_layer_s_own_forward():
    solution = load_assignment(find_assignment(ROOT, "05_masked_decoder"))
    question = next(q for q in solution.questions if q.id == "q2_decoder_layer")
    assert question.not_from_library == ("DecoderLayer.forward",)
    cheat = ("def decoder_layer_forward(layer, x, memory, tgt_mask=None, memory_mask=None):\n"
             "    out, _, cross = transformer.DecoderLayer.forward(layer, x, memory, tgt_mask, memory_mask,\n"
             "                                                     need_weights=True)\n"
             "    return out, cross\n")
    taken = answers_taken_from_library(_with_answer(solution, question.id, cheat), solution.questions)
    assert list(taken) == ["q2_decoder_layer"]
    assert "`DecoderLayer.forward`" in taken["q2_decoder_layer"][0]
    # naming the class for another purpose is not taking its forward
    honest = ("def decoder_layer_forward(layer, x, memory, tgt_mask=None, memory_mask=None):\n"
              "    assert not isinstance(layer, transformer.DecoderLayer) or True\n"
              "    x = layer.add_norm_1(x, lambda h: layer.self_attention(h, h, h, mask=tgt_mask))\n"
              "    x, cross = layer.add_norm_2(\n"
              "        x, lambda h: layer.cross_attention(h, memory, memory, mask=memory_mask, need_weights=True))\n"
              "    return layer.add_norm_3(x, layer.feed_forward), cross\n")
    assert answers_taken_from_library(_with_answer(solution, question.id, honest), solution.questions) == {}


@pytest.mark.parametrize(("assignment", "question_id", "cheat", "named"), [
    ("03_add_and_norm", "q3_residual",
     "def residual_block(x, W, weight, bias, norm_first):\n"
     "    block = norm.SublayerConnection(x.shape[-1], 'pre-norm' if norm_first else 'post-norm')\n"
     "    block.norm.weight.data, block.norm.bias.data = weight, bias\n"
     "    return block(x, lambda h: h @ W.T)\n", "SublayerConnection"),
    ("03_add_and_norm", "q4_predicted_std",
     "def predicted_std(arrangement, num_layers, gain, input_std):\n"
     "    x = input_std * torch.randn(8, 16, 64)\n"
     "    layers = norm.random_sublayers('linear', num_layers, 64, gain=gain)\n"
     "    return norm.stack_statistics(layers, x, arrangement)[0][-1]\n", "random_sublayers"),
    ("04_positional_encoding", "q1_sinusoidal",
     "from lessons_lib import positional\n\n\n"
     "def sinusoidal_encoding(max_len, d_model):\n"
     "    return positional.PositionalEncoding(d_model, max_len=max_len).pe.clone()\n", "PositionalEncoding"),
    ("02_multi_head_attention", "q3_multi_head",
     "def multi_head_self_attention(*args, **kwargs):\n"
     "    return multihead.MultiHeadAttention(8, 2)(*args)\n", "MultiHeadAttention"),
], ids=["sublayer_connection", "measured_not_predicted", "positional_encoding_table", "multi_head_module"])
def test_a_package_class_that_holds_the_answer_costs_the_question(assignment, question_id, cheat, named):
    solution = load_assignment(find_assignment(ROOT, assignment))
    taken = answers_taken_from_library(_with_answer(solution, question_id, cheat), solution.questions)
    # (02's parameter-count question forbids MultiHeadAttention too, 04's offset question the
    # positional table, and an earlier answer cell counts)
    assert question_id in taken and set(taken) <= {question_id, "q4_parameter_count", "q4_offset_dot_product"}
    assert f"`{named}`" in taken[question_id][0]
