"""Where an answer comes from: the grader's probe, in the student's kernel, that an answer is not
lessons_lib's own function (the in-kernel half of lessons_lib.course.provenance).

The grader calls `record_answer_origins` after each answer cell: it saves, as plain data, which of
the functions the question asks for are in fact lessons_lib's own (the same object, a wrapper of
it, or a copy of its code), so that an answer taken from the package scores 0.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lessons_lib.selfcheck import GRADING_DIR_ENV, GRADING_MODE_ENV, check_grading_id

#: The package whose own functions an answer must not be (lessons_lib itself).
LIBRARY = __name__.partition(".")[0]
#: The folder, under the grading directory, where `record_answer_origins` writes.
ORIGINS_DIR = "origins"


def _from_library(value: Any) -> bool:
    module = value.__dict__.get("__module__") if isinstance(value, type) else value.__module__
    return isinstance(module, str) and (module == LIBRARY or module.startswith(LIBRARY + "."))


def _library_code() -> tuple[dict[int, str], dict[int, str]]:
    """The functions and classes defined in the loaded lessons_lib modules, methods included.

    Returns two maps to their dotted names: one by the id of the object, one by the id of a
    function's code object (so that a copy made with types.FunctionType is recognised too).
    """
    objects: dict[int, str] = {}
    codes: dict[int, str] = {}

    def add(value: Any) -> None:
        if type(value) in (staticmethod, classmethod):
            value = value.__func__
        if type(value) is types.FunctionType and _from_library(value):
            name = f"{value.__module__}.{value.__qualname__}"
            objects.setdefault(id(value), name)
            codes.setdefault(id(value.__code__), name)
        elif isinstance(value, type) and _from_library(value):
            objects.setdefault(id(value), f"{value.__dict__['__module__']}.{value.__qualname__}")

    for module_name, module in list(sys.modules.items()):
        if module_name != LIBRARY and not module_name.startswith(LIBRARY + "."):
            continue
        try:
            members = list(vars(module).values())
        except TypeError:  # not a module any more
            continue
        for value in members:
            add(value)
            if isinstance(value, type) and _from_library(value):
                for member in list(vars(value).values()):
                    add(member)
    return objects, codes


def _unwrap(value: Any, depth: int = 8) -> list[Any]:
    """value, and what it wraps: functools.wraps' __wrapped__, a partial's func, a method's function.

    Attributes are read with inspect.getattr_static, so no code of the student's objects runs.
    """
    chain = [value]
    for _ in range(depth):
        kind = type(value)
        if kind is functools.partial:
            value = value.func
        elif kind in (types.MethodType, staticmethod, classmethod):
            value = value.__func__
        else:
            try:
                value = inspect.getattr_static(value, "__wrapped__", None)
            except Exception:  # an object whose type cannot be inspected
                value = None
            if value is None:
                break
        chain.append(value)
    return chain


def library_origin(value: Any) -> str | None:
    """The dotted name of the lessons_lib function or class that `value` is, wraps or copies; else None.

    Only functions and classes defined in lessons_lib modules that are loaded count, and only
    the object itself, what it wraps (`__wrapped__`, a partial, a bound method) or a function
    made from one of their code objects: a function the student wrote, even one that calls
    lessons_lib, has code of its own (the grader reads calls in the source instead).
    """
    objects, codes = _library_code()
    for item in _unwrap(value):
        if id(item) in objects:
            return objects[id(item)]
        if type(item) is types.FunctionType and id(item.__code__) in codes:
            return codes[id(item.__code__)]
    return None


def record_answer_origins(question_id: str, names: Sequence[str], namespace: Mapping[str, Any]) -> None:
    """Under the grader, save which of `names` in `namespace` are lessons_lib's own code.

    The grader runs this right after a question's answer cell, with the names of the functions
    the question asks for. It writes {name: dotted name of the lessons_lib original} as JSON
    under the grading directory; the grader reads it back as plain data. Outside the grader's
    answers run it does nothing.
    """
    check_grading_id(question_id, "question_id")
    if os.environ.get(GRADING_MODE_ENV, "") != "answers":
        return
    found = {}
    for name in names:
        if type(name) is str and name in namespace:
            origin = library_origin(namespace[name])
            if origin is not None:
                found[name] = origin
    directory = Path(os.environ[GRADING_DIR_ENV]) / ORIGINS_DIR
    directory.mkdir(exist_ok=True)
    (directory / f"{question_id}.json").write_text(json.dumps(found), encoding="utf-8")
