"""lessons_lib.origins: the grader's probe that an answer is lessons_lib's own function, seen
through wrappers, partials and copied code, and written as plain data only under the grader."""

import functools
import json
import types

import pytest
import torch

from lessons_lib import attention, origins, selfcheck


def _my_mask(T):
    return attention.causal_mask(T)  # calls the package's function, but is code of its own


class _Hostile:
    """An object whose every attribute lookup would stop the test."""

    def __getattr__(self, name):
        raise SystemExit(f"the probe read {name}")


@functools.wraps(attention.causal_mask)
def _wrapper(T):
    return attention.causal_mask(T)


@pytest.mark.parametrize(("value", "origin"), [
    (attention.causal_mask, "lessons_lib.attention.causal_mask"),
    (_wrapper, "lessons_lib.attention.causal_mask"),
    (types.FunctionType(attention.causal_mask.__code__, {}), "lessons_lib.attention.causal_mask"),
    (functools.partial(attention.scaled_dot_product_attention, mask=None),
     "lessons_lib.attention.scaled_dot_product_attention"),
    (attention.SelfAttention, "lessons_lib.attention.SelfAttention"),
    (attention.SelfAttention(4).forward, "lessons_lib.attention.SelfAttention.forward"),
    (_my_mask, None),
    (torch.tril, None),
    (42, None),
    (_Hostile(), None),
], ids=["itself", "functools_wraps", "copied_code", "partial", "class", "bound_method", "own_function",
        "torch_function", "number", "hostile_object"])
def test_library_origin_sees_through_wrappers_but_not_own_code(value, origin):
    assert origins.library_origin(value) == origin


def test_record_answer_origins_writes_plain_data_only_under_the_grader(tmp_path, monkeypatch):
    namespace = {"causal_mask": attention.causal_mask, "score_variances": _my_mask}
    names = ["causal_mask", "score_variances", "not_defined"]
    monkeypatch.setenv(selfcheck.GRADING_DIR_ENV, str(tmp_path))
    for mode in ("", "reference"):
        monkeypatch.setenv(selfcheck.GRADING_MODE_ENV, mode)
        origins.record_answer_origins("q1_mask", names, namespace)
        assert not (tmp_path / origins.ORIGINS_DIR).exists()
    monkeypatch.setenv(selfcheck.GRADING_MODE_ENV, "answers")
    origins.record_answer_origins("q1_mask", names, namespace)
    saved = json.loads((tmp_path / origins.ORIGINS_DIR / "q1_mask.json").read_text())
    assert saved == {"causal_mask": "lessons_lib.attention.causal_mask"}
    with pytest.raises(ValueError, match="question_id"):
        origins.record_answer_origins("../q1", names, namespace)
