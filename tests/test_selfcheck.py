"""lessons_lib.selfcheck: messages a learner can act on, and hidden checks that trust nothing."""


import pytest
import torch

from lessons_lib import selfcheck
from lessons_lib.selfcheck import (
    RAISED,
    UNSUPPORTED,
    CheckFailed,
    check_close,
    check_equal,
    check_raises,
    check_runs,
    check_shape,
    compare,
    hidden_check,
    to_plain,
)


class AlwaysEqual:
    """The classic cheat: an object that says it equals everything."""

    shape = (2, 3)

    def __eq__(self, other):
        return True

    def __getattr__(self, name):
        return self


class AgreeableTensor(torch.Tensor):
    """A tensor subclass that answers True to every comparison."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.Tensor.__eq__):
            return True
        return super().__torch_function__(func, types, args, kwargs)


def test_a_shape_mismatch_names_both_shapes():
    problem = compare(torch.zeros(2, 3, 4), torch.zeros(2, 4, 3))
    assert problem == "has shape (2, 4, 3), but the expected shape is (2, 3, 4)"


def test_a_value_mismatch_gives_the_largest_difference_and_where_it_is():
    expected = torch.zeros(2, 3)
    got = expected.clone()
    got[1, 2] = 0.5
    got[0, 0] = 0.1
    problem = compare(expected, got)
    assert "2 of 6 entries" in problem
    assert "largest difference is 0.5 at index (1, 2)" in problem
    assert "expected 0, got 0.5" in problem


def test_values_within_tolerance_agree():
    assert compare(torch.ones(3), torch.ones(3) + 1e-7) is None
    assert compare(torch.ones(3), torch.ones(3, dtype=torch.float64)) is None


def test_a_float_tensor_is_not_a_mask():
    problem = compare(torch.ones(2, dtype=torch.bool), torch.ones(2))
    assert problem == "has dtype torch.float32, but it should be a boolean tensor like torch.bool"


def test_nan_is_reported_with_its_index():
    got = torch.zeros(3)
    got[2] = float("nan")
    assert "contains NaN in 1 of 3 entries, the first at index (2,)" in compare(torch.zeros(3), got)


def test_matching_infinities_agree():
    inf = torch.tensor([float("-inf"), 1.0])
    assert compare(inf, inf.clone()) is None


def test_tuple_items_are_compared_one_by_one():
    problem = compare((torch.zeros(2), 1.0), [torch.zeros(2), 2.0])
    assert problem.startswith("(item 1) is 2.0, but the expected value is 1.0")
    assert compare((torch.zeros(2), 1.0), (torch.zeros(2),)) == "has 1 items, but it should have 2"


def test_numbers_accept_a_one_element_tensor_but_not_a_bool():
    assert compare(3.0, torch.tensor(3.0)) is None
    assert compare(3.0, True).startswith("should be a number like 3.0")
    assert compare(12, 12.0) == "should be the int 12, but it is the float 12.0"


def test_an_expected_exception_must_be_raised():
    expected = {RAISED: "ValueError", "message": "T must be positive"}
    assert compare(expected, {RAISED: "ValueError", "message": "other words"}) is None
    assert compare(expected, torch.zeros(1)).startswith("should raise ValueError, but it returned a tensor")
    assert compare(expected, {RAISED: "TypeError"}) == "should raise ValueError, but it raised TypeError"


@pytest.mark.parametrize("cheat", [AlwaysEqual(), torch.zeros(2, 3).as_subclass(AgreeableTensor)],
                         ids=["always_equal_object", "agreeable_tensor_subclass"])
def test_objects_that_claim_equality_fail_the_type_check(cheat):
    with pytest.raises(CheckFailed, match="should be a tensor of shape"):
        check_close("out", cheat, torch.ones(2, 3))
    with pytest.raises(CheckFailed, match="should be a Tensor"):
        check_shape("out", cheat, (2, 3))


def test_a_failed_check_is_an_assertion_error_with_the_hint():
    with pytest.raises(AssertionError) as failure:
        check_close("weights", torch.zeros(2), torch.ones(2), hint="did you take the softmax?")
    assert str(failure.value).startswith("weights differs from the expected values in 2 of 2 entries")
    assert str(failure.value).endswith("\nHint: did you take the softmax?")


def test_check_equal_needs_exact_values():
    check_equal("mask", torch.ones(2, dtype=torch.bool), torch.ones(2, dtype=torch.bool))
    with pytest.raises(CheckFailed, match="expected 1, got 1.0001"):
        check_equal("x", torch.tensor([1.0001]), torch.tensor([1.0]))


def test_check_raises_says_what_happened_instead():
    check_raises("int('a')", lambda: int("a"), ValueError)
    with pytest.raises(CheckFailed, match="should raise ValueError, but it returned the int 3"):
        check_raises("f()", lambda: 3, ValueError)
    with pytest.raises(CheckFailed, match="should raise ValueError, but it raised ZeroDivisionError"):
        check_raises("f()", lambda: 1 / 0, ValueError)


def test_check_runs_returns_the_result_or_turns_the_error_into_a_hint():
    assert check_runs("f()", lambda: 3) == 3

    def wrong_shapes():
        raise ValueError("mask of shape (2, 1, 1, 3) cannot be broadcast to the scores (2, 2, 3, 4)")

    with pytest.raises(CheckFailed) as failure:
        check_runs("decoder_layer_forward(...)", wrong_shapes, hint="queries come from x")
    assert str(failure.value) == ("decoder_layer_forward(...) raised ValueError: mask of shape (2, 1, 1, 3) "
                                  "cannot be broadcast to the scores (2, 2, 3, 4)\nHint: queries come from x")
    with pytest.raises(ZeroDivisionError):  # not a shape problem: the error itself is clearest
        check_runs("f()", lambda: 1 / 0, hint="never shown")
    with pytest.raises(CheckFailed, match="raised KeyError"):
        check_runs("f()", lambda: {}["x"], exceptions=(KeyError,))


def test_to_plain_copies_tensors_and_records_anything_else_by_type():
    weight = torch.nn.Parameter(torch.ones(2))
    plain = to_plain((weight, [1, 2.5, None, "s"], AlwaysEqual()))
    assert type(plain[0]) is torch.Tensor and not plain[0].requires_grad
    assert plain[1] == [1, 2.5, None, "s"]
    assert plain[2] == {UNSUPPORTED: "AlwaysEqual"}


def _square(x):
    return x * x


def _cube(x):
    return x * x * x


def _cheat(x):
    return AlwaysEqual()


def _refuse(x):
    raise ValueError("no")


CASES = [("ones", (torch.ones(3),), {}), ("twos", (2 * torch.ones(3),), {})]


def test_hidden_check_in_place_passes_a_right_answer_and_names_the_failing_cases():
    hidden_check("q_square", _square, _square, CASES)
    with pytest.raises(CheckFailed) as failure:
        hidden_check("q_square", _cube, _square, CASES)
    assert "twos" in str(failure.value) and "ones" not in str(failure.value)


def test_hidden_check_under_the_grader_records_answers_but_never_judges_them(tmp_path, monkeypatch):
    monkeypatch.setenv(selfcheck.GRADING_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(selfcheck.GRADING_MODE_ENV, "reference")
    hidden_check("q_square", _square, _square, CASES)
    expected = torch.load(tmp_path / "expected" / "q_square.pt", weights_only=True)
    assert expected["labels"] == ["ones", "twos"]

    monkeypatch.setenv(selfcheck.GRADING_MODE_ENV, "answers")
    for answer, verdicts in [(_cube, [None, "differs"]), (_cheat, ["object of type AlwaysEqual"] * 2),
                             (_refuse, ["raised ValueError: no"] * 2)]:
        hidden_check("q_square", answer, _square, [("ignored: the saved cases are used", (), {})])
        saved = torch.load(tmp_path / "answers" / "q_square.pt", weights_only=True)["answers"]
        problems = [compare(want, got) for want, got in zip(expected["expected"], saved, strict=True)]
        for problem, verdict in zip(problems, verdicts, strict=True):
            assert (problem is None) if verdict is None else (verdict in problem)


@pytest.mark.parametrize(
    ("check_id", "cases", "message"),
    [("", CASES, "check_id"), ("q 1", CASES, "check_id"), ("q1", [], "cases"), ("q1", [("x", 1, {})], "case")],
    ids=["empty_id", "id_with_space", "no_cases", "args_not_a_tuple"],
)
def test_hidden_check_refuses_bad_arguments(check_id, cases, message):
    with pytest.raises(ValueError, match=message):
        hidden_check(check_id, _square, _square, cases)
