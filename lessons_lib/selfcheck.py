"""Checks for the exercise notebooks (exercises/NN_*/NN_*.ipynb): messages a learner can act on.

The visible test cells call `check_close`, `check_equal`, `check_shape`, `check_type`,
`check_raises` and `check_runs` (which turns an error raised inside an answer, such as the
package's ValueError about shapes, into a failed check with a hint). A failed check raises `CheckFailed` (an AssertionError) whose message says what
was expected and what was received: the two shapes, or the largest difference and where it is.

The instructor's hidden tests call `hidden_check`. Inside a notebook it compares an answer with a
reference there and then. Under the grader (`python -m lessons_lib.course grade`) it never judges
in the student's kernel: it only runs the answer on inputs the grader wrote, saves the results as
plain tensors and numbers, and the grader compares them in its own process, where nothing the
student's code replaced can reach.

The grader's other probe in the student's kernel, which says whether an answer is lessons_lib's
own function, is `lessons_lib.origins`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

#: Environment variables through which the grader tells `hidden_check` what to do.
GRADING_MODE_ENV = "LESSONS_GRADING_MODE"  # "reference" or "answers"; unset: judge in place
GRADING_DIR_ENV = "LESSONS_GRADING_DIR"

#: What a call that raised is recorded as, in place of a return value.
RAISED = "__raised__"
#: What a value that is not a tensor, number, string, None, tuple or list is recorded as.
UNSUPPORTED = "__unsupported__"

_MAX_ITEMS = 64  # longest tuple or list recorded from an answer
_MAX_MESSAGE = 300  # longest exception message recorded from an answer


class CheckFailed(AssertionError):
    """A self-check failed; the message says what was expected and what was received."""


def _type_name(value: Any) -> str:
    try:
        return type(value).__name__
    except Exception:  # a hostile metaclass; the name is only for a message
        return "unknown type"


def describe(value: Any) -> str:
    """A short description of a value for a message, without calling any of its methods."""
    if type(value) is torch.Tensor:
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if value is None:
        return "None"
    if type(value) in (bool, int, float):
        return f"the {type(value).__name__} {value!r}"
    if type(value) in (tuple, list):
        return f"a {type(value).__name__} of {len(value)} items"
    if type(value) is dict and RAISED in value:
        return f"an exception ({_raised(value)})"
    if type(value) is dict and UNSUPPORTED in value:
        return f"an object of type {value[UNSUPPORTED]}"
    return f"an object of type {_type_name(value)}"


def _index(flat_index: int, shape: torch.Size) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        index.append(flat_index % size)
        flat_index //= size
    return tuple(reversed(index))


def _kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "boolean"
    return "floating-point" if dtype.is_floating_point else "integer"


def _compare_tensors(expected: torch.Tensor, got: torch.Tensor, atol: float, rtol: float,
                     show_expected: bool = True) -> str | None:
    if got.shape != expected.shape:
        return f"has shape {tuple(got.shape)}, but the expected shape is {tuple(expected.shape)}"
    if _kind(got.dtype) != _kind(expected.dtype):
        return f"has dtype {got.dtype}, but it should be a {_kind(expected.dtype)} tensor like {expected.dtype}"
    if expected.numel() == 0:
        return None
    if not expected.is_floating_point():
        wrong = got.cpu() != expected.cpu()
        if wrong.any():
            first = _index(int(wrong.flatten().nonzero()[0]), got.shape)
            values = f": expected {expected[first].item()}, got {got[first].item()}" if show_expected else ""
            return (
                f"differs from the expected values in {int(wrong.sum())} of {wrong.numel()} entries; "
                f"the first is at index {first}{values}"
            )
        return None
    want, have = expected.detach().cpu().double(), got.detach().cpu().double()
    bad_nan = have.isnan() & ~want.isnan()
    if bad_nan.any():
        first = _index(int(bad_nan.flatten().nonzero()[0]), got.shape)
        value = f" (expected {float(want[first]):.6g})" if show_expected else ""
        return (
            f"contains NaN in {int(bad_nan.sum())} of {bad_nan.numel()} entries, the first at index "
            f"{first}{value}; look for a division by zero or a softmax over a row of -inf"
        )
    same_inf = want.isinf() & (have == want)
    difference = (have - want).abs().masked_fill(same_inf | (want.isnan() & have.isnan()), 0.0)
    difference = difference.nan_to_num(nan=float("inf"))
    tolerance = atol + rtol * want.abs().nan_to_num(nan=0.0, posinf=0.0)
    off = difference > tolerance
    if not off.any():
        return None
    worst = _index(int(difference.flatten().argmax()), got.shape)
    if not show_expected:
        return (f"differs from the expected values in {int(off.sum())} of {off.numel()} entries, "
                f"the most at index {worst} (tolerance: atol={atol:g}, rtol={rtol:g})")
    return (
        f"differs from the expected values in {int(off.sum())} of {off.numel()} entries; "
        f"the largest difference is {float(difference[worst]):.4g} at index {worst}: "
        f"expected {float(want[worst]):.6g}, got {float(have[worst]):.6g} "
        f"(tolerance: atol={atol:g}, rtol={rtol:g})"
    )


def _compare_number(expected: float | int, got: Any, atol: float, rtol: float,
                    show_expected: bool = True) -> str | None:
    if type(got) is torch.Tensor and got.numel() == 1 and not got.dtype == torch.bool:
        got = got.item()
    like = f" like {expected!r}" if show_expected else ""
    if type(got) not in (int, float):
        return f"should be a number{like}, but it is {describe(got)}"
    if type(expected) is int and type(got) is not int:
        return f"should be {f'the int {expected}' if show_expected else 'an int'}, but it is {describe(got)}"
    if got != got or abs(got - expected) > atol + rtol * abs(expected):
        wanted = f"the expected value is {expected!r}" if show_expected else "that is not the expected value"
        return f"is {got!r}, but {wanted} (tolerance: atol={atol:g}, rtol={rtol:g})"
    return None


def _raised(value: Any) -> str:
    """'raised NAME: message' for the record of an exception, else ''."""
    if type(value) is not dict or RAISED not in value:
        return ""
    message = str(value.get("message", ""))
    return f"raised {value[RAISED]}" + (f": {message}" if message else "")


def compare(expected: Any, got: Any, atol: float = 1e-5, rtol: float = 1e-4,
            show_expected: bool = True) -> str | None:
    """What is wrong with `got` compared with `expected` (None when they agree).

    With show_expected=False (the grader's feedback on hidden cases, by default) the message says
    what is wrong (type, shape, which entries) without giving the expected values.
    `expected` is a plain value (tensor, number, bool, str, None, tuple or list of these, or
    the record of an exception). `got` may be anything: it is only inspected after its type
    is checked to be exactly the expected type, so an object that claims to equal everything
    gets no further than the type check.
    """
    raised = _raised(got)
    if type(expected) is dict and RAISED in expected:
        if type(got) is dict and got.get(RAISED) == expected[RAISED]:
            return None
        outcome = f"it {raised}" if raised else f"it returned {describe(got)}"
        return f"should raise {expected[RAISED]}, but {outcome}"
    if raised:
        return raised
    if type(expected) is torch.Tensor:
        if type(got) is not torch.Tensor:
            return (
                f"should be a tensor of shape {tuple(expected.shape)} and dtype {expected.dtype}, "
                f"but it is {describe(got)}"
            )
        return _compare_tensors(expected, got, atol, rtol, show_expected)
    if type(expected) in (tuple, list):
        if type(got) not in (tuple, list):
            return f"should be a {type(expected).__name__} of {len(expected)} items, but it is {describe(got)}"
        if len(got) != len(expected):
            return f"has {len(got)} items, but it should have {len(expected)}"
        for position, (want, have) in enumerate(zip(expected, got, strict=True)):
            problem = compare(want, have, atol, rtol, show_expected)
            if problem is not None:
                return f"(item {position}) {problem}"
        return None
    if type(expected) is bool:
        if type(got) is not bool:
            return f"should be the bool {expected}, but it is {describe(got)}"
        return None if got == expected else f"is {got}, but it should be {expected}"
    if type(expected) in (int, float):
        return _compare_number(expected, got, atol, rtol, show_expected)
    if expected is None:
        return None if got is None else f"should be None, but it is {describe(got)}"
    if type(expected) is str:
        if type(got) is not str:
            return f"should be the string {expected!r}, but it is {describe(got)}"
        if got == expected:
            return None
        return f"is {got!r}, but it should be {expected!r}" if show_expected else f"is {got!r}, not the expected string"
    raise ValueError(f"expected must be a plain value, got {describe(expected)}")


def _fail(name: str, problem: str, hint: str) -> None:
    message = f"{name} {problem}"
    if hint:
        message += f"\nHint: {hint}"
    raise CheckFailed(message)


def check_type(name: str, got: Any, expected_type: type, hint: str = "") -> None:
    """Fail unless `got` is exactly of `expected_type` (a subclass is not enough)."""
    if type(got) is not expected_type:
        _fail(name, f"should be a {expected_type.__name__}, but it is {describe(got)}", hint)


def check_shape(name: str, got: Any, expected_shape: Sequence[int], hint: str = "") -> None:
    """Fail unless `got` is a tensor of `expected_shape`; the message gives both shapes."""
    check_type(name, got, torch.Tensor, hint)
    if tuple(got.shape) != tuple(expected_shape):
        _fail(name, f"has shape {tuple(got.shape)}, but the expected shape is {tuple(expected_shape)}", hint)


def check_close(
    name: str, got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4, hint: str = ""
) -> None:
    """Fail unless `got` matches `expected` within tolerance; says where the largest difference is."""
    problem = compare(to_plain(expected), got, atol=atol, rtol=rtol)
    if problem is not None:
        _fail(name, problem, hint)


def check_equal(name: str, got: Any, expected: Any, hint: str = "") -> None:
    """Fail unless `got` equals `expected` exactly (same type, shape, dtype kind and values)."""
    check_close(name, got, expected, atol=0.0, rtol=0.0, hint=hint)


def check_raises(name: str, call: Callable[[], Any], exception: type[BaseException] = ValueError, hint: str = "") -> None:
    """Fail unless `call()` raises `exception` (use it for the bad-input cases of an exercise)."""
    try:
        result = call()
    except exception:
        return
    except Exception as error:
        _fail(name, f"should raise {exception.__name__}, but it raised {type(error).__name__}: {error}", hint)
    _fail(name, f"should raise {exception.__name__}, but it returned {describe(result)}", hint)


def check_runs(name: str, call: Callable[[], Any], hint: str = "",
               exceptions: tuple[type[BaseException], ...] = (ValueError,)) -> Any:
    """Return `call()`; if it raises one of `exceptions`, fail with its message and the hint.

    For an answer that calls the package's layers: their ValueError names the shapes it saw, and
    the hint says where in the answer such shapes come from.
    """
    try:
        return call()
    except exceptions as error:
        _fail(name, f"raised {type(error).__name__}: {error}", hint)


def to_plain(value: Any, depth: int = 0) -> Any:
    """`value` as plain data (tensors, numbers, bool, str, None, tuples and lists of these).

    A tensor is detached and copied to the CPU; any other object becomes a record of its type
    name, so that what is saved can be read back with `torch.load(weights_only=True)`.
    """
    kind = type(value)
    if kind is torch.Tensor or kind is torch.nn.Parameter:
        return value.detach().cpu().clone()
    if value is None or kind in (bool, int, float, str):
        return value
    if kind in (tuple, list) and depth < 4:
        items = [to_plain(item, depth + 1) for item in list(value)[:_MAX_ITEMS]]
        return tuple(items) if kind is tuple else items
    if kind is dict and (RAISED in value or UNSUPPORTED in value):
        return {key: str(item)[:_MAX_MESSAGE] for key, item in value.items()}
    return {UNSUPPORTED: _type_name(value)}


def _clone(value: Any) -> Any:
    if type(value) is torch.Tensor:
        return value.clone()
    if type(value) in (tuple, list):
        return type(value)(_clone(item) for item in value)
    if type(value) is dict:
        return {key: _clone(item) for key, item in value.items()}
    return value


def _call(function: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """function(*args, **kwargs) on copies of the inputs, as plain data; an exception is recorded."""
    try:
        return to_plain(function(*_clone(args), **_clone(kwargs)))
    except Exception as error:
        return {RAISED: _type_name(error), "message": str(error)[:_MAX_MESSAGE]}


Case = tuple[str, tuple, dict]


def check_grading_id(check_id: Any, what: str = "check_id") -> None:
    """Raise ValueError unless the id of a hidden check or question is a plain name (it names a file)."""
    if not check_id or not isinstance(check_id, str) or not check_id.replace("_", "").isalnum():
        raise ValueError(f"{what} must be a non-empty name of letters, digits and _, got {check_id!r}")


def _check_cases(check_id: str, cases: Any) -> None:
    check_grading_id(check_id)
    if not isinstance(cases, list) or not cases:
        raise ValueError(f"cases must be a non-empty list of (label, args, kwargs), got {describe(cases)}")
    for case in cases:
        if not (isinstance(case, tuple) and len(case) == 3 and isinstance(case[0], str)
                and isinstance(case[1], tuple) and isinstance(case[2], dict)):
            raise ValueError(f"each case must be a (label, args tuple, kwargs dict), got {case!r}")


def hidden_check(
    check_id: str,
    answer: Callable[..., Any],
    reference: Callable[..., Any],
    cases: list[Case],
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """Check `answer` against `reference` on `cases`: in place, or, under the grader, out of reach.

    With no grading mode set, both run here and a disagreement raises CheckFailed. In the
    grader's "reference" run (the instructor's notebook, in a fresh kernel) the cases and the
    reference's results are saved. In its "answers" run (a student's notebook) the answer is
    called on the saved cases and its results are saved, for the grader to judge.
    """
    _check_cases(check_id, cases)
    mode = os.environ.get(GRADING_MODE_ENV, "")
    if mode == "answers":
        directory = Path(os.environ[GRADING_DIR_ENV])
        saved = torch.load(directory / "cases" / f"{check_id}.pt", weights_only=True)
        results = [_call(answer, args, kwargs) for _, args, kwargs in saved["cases"]]
        (directory / "answers").mkdir(exist_ok=True)
        torch.save({"answers": results}, directory / "answers" / f"{check_id}.pt")
        return
    if mode not in ("", "reference"):
        raise ValueError(f"{GRADING_MODE_ENV} must be unset, 'reference' or 'answers', got {mode!r}")
    expected = [_call(reference, args, kwargs) for _, args, kwargs in cases]
    problems = []
    for (label, args, kwargs), want in zip(cases, expected, strict=True):
        problem = compare(want, _call(answer, args, kwargs), atol=atol, rtol=rtol)
        if problem is not None:
            problems.append(f"- {label}: the result {problem}")
    if problems:
        raise CheckFailed(f"hidden check {check_id} failed:\n" + "\n".join(problems))
    if mode == "reference":
        directory = Path(os.environ[GRADING_DIR_ENV])
        for part in ("cases", "expected"):
            (directory / part).mkdir(exist_ok=True)
        torch.save({"cases": [_clone(case) for case in cases]}, directory / "cases" / f"{check_id}.pt")
        torch.save(
            {"labels": [label for label, _, _ in cases], "expected": expected, "atol": atol, "rtol": rtol},
            directory / "expected" / f"{check_id}.pt",
        )
