"""Instructor tooling for every lesson: regenerate the exercises, grade submissions, build the course.

    python -m lessons_lib.course regenerate [--check]
    python -m lessons_lib.course grade SUBMISSION... --assignment NAME --out DIR [--timeout S] [--jobs N]
                                       [--gradebook DB]
    python -m lessons_lib.course build [--quick] [--out DIR] [NOTEBOOK ...]

`solutions/NN_name/NN_name.ipynb` is the single source, in nbgrader's format: cell metadata
`nbgrader: {grade, solution, locked, points, grade_id}`, `### BEGIN SOLUTION` / `### END SOLUTION`
in answer cells and `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS` in test cells. A question
is one answer cell (solution) followed by one test cell (grade, with points). `regenerate` runs
nbgrader's own generate_assignment (configured by course/nbgrader_config.py) to write exercises/.

`grade` does not trust the submitted notebook beyond its answer cells. For each submission it
takes the answer cells by grade_id, puts them into a fresh copy of the instructor's notebook (so
deleted or edited test cells come back), and runs that in a new kernel, cell by cell, each with a
timeout after which the kernel is killed (a loop that swallows KeyboardInterrupt cannot outlive
it) and the earlier cells are replayed in a new kernel, so the remaining questions are still graded.
Outputs are capped. The hidden tests (`lessons_lib.selfcheck.hidden_check`) only record what the
student's functions return on inputs that a first, pristine run of the instructor's notebook
produced, together with the expected results; the comparison happens here, in the grader's own
process, on data read back with `torch.load(weights_only=True)`: no patched assertion helper and
no object that claims to equal everything can reach it. A question scores its points when its
visible tests pass and every hidden case agrees; otherwise 0, and the feedback says why without
showing any hidden test code. The submitted file is only read, never written, moved or deleted.

The hidden tests compare the student's functions with lessons_lib's, so an answer must not be
lessons_lib's. The rule, also stated in the header of every exercise: a question asks for the
functions (or classes) whose `def` its exercise answer cell gives (`Question.answer_names`); it
scores 0, with feedback naming the code, when the student's answer cells up to and including its
own import, name or look up lessons_lib's object of one of those names (`from lessons_lib.attention
import causal_mask`; `attention.causal_mask(T)` inside the student's own `def causal_mask`;
`getattr(module, "causal_mask")` on an alias of lessons_lib), or reach into lessons_lib by a name
computed at run time (`getattr(attention, "causal" + "_mask")`). An answer cell's metadata may name
more, as dotted names (`{"lessons_lib": {"not_from_library": ["DecoderLayer.forward"]}}`: 05's
decoder-layer question, whose answer `DecoderLayer.forward(layer, ...)` would otherwise be). Anything else in lessons_lib may
be used: helpers (`attention.padding_mask`), the parts of a layer the student is handed, and the
package's versions of the functions that earlier questions asked for (02's multi-head answer calls
`multihead.split_heads`, 05's decoder mask `attention.causal_mask`). This is read in the source
(`answers_taken_from_library`), following aliases from cell to cell and strings given to exec, and
checked again in the kernel after each answer cell (`selfcheck.record_answer_origins`): an answer
that is a lessons_lib function or class, wraps one (`functools.wraps`, a partial) or reuses its code
object scores 0 too, however it was obtained. A solution whose own answers break the rule is refused.

nbgrader's own `autograde` also works on solutions/ (see course/nbgrader_config.py), but it runs
the tests in the student's kernel after the student's code: there, a submission that patches the
assertion helpers passes (tests/fixtures/grading/.../fail_monkeypatched_asserts.ipynb scores 6/6
under nbgrader 0.9.6 and 1/6 here).

`grade --gradebook DB` also records the scores in nbgrader's gradebook, the SQLite file DB
(course/nbgrader_config.py's is build/nbgrader/gradebook.db), through nbgrader's own API and as its
generate_assignment and autograde record them: the assignment, its notebook with a grade cell per
question (max_score = points) and a solution cell per answer, each student, a submission, and each
question's score as auto_score. formgrader and `nbgrader export` then show the numbers of grades.csv.
A submission's student id is STUDENT in nbgrader's layout `.../STUDENT/ASSIGNMENT/ASSIGNMENT.ipynb`
(`submitted/kim_minji/01_self_attention/01_self_attention.ipynb`: the parent folder is the
assignment and the file keeps the exercise's name), else the file's name without .ipynb
(`kim_minji.ipynb`, `inbox/01_self_attention/kim_minji.ipynb`). Two submissions of one student are
refused before anything is graded or written; grading a student again updates the same rows.

What this does not do: sandbox the student's code. It runs as the grader's user, so a
deliberately malicious submission could touch other files, and code that inspects its own
process can read the hidden inputs (not change the verdict); grade untrusted work in a container.
Nor does it prove authorship: a function that calls lessons_lib's through a name built at run time
and bound outside lessons_lib's aliases, or that is a copy of lessons_lib's source, passes the rule
above; the check in the kernel runs where the student's code could disable it. The rule stops the
easy ways; a hidden one is plagiarism, for people to judge.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import functools
import importlib.util
import json
import os
import queue
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lessons_lib.selfcheck import GRADING_DIR_ENV, GRADING_MODE_ENV, LIBRARY, ORIGINS_DIR, compare

ROOT = Path(__file__).resolve().parents[1]

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"

DEFAULT_CELL_TIMEOUT_S = 30.0  # when neither --timeout nor the notebook's metadata says otherwise
CONTEXT_TIMEOUT_S = 120.0  # the instructor's own cells (imports, set-up) never run student code
KERNEL_START_TIMEOUT_S = 60.0
OUTPUT_LIMIT = 2_000  # characters of a cell's output kept for the feedback
ERROR_LIMIT = 1_500  # characters of an error message kept for the feedback
MAX_SUBMISSION_BYTES = 20 * 2**20
MAX_ANSWERS_BYTES = 64 * 2**20
MAX_ORIGINS_BYTES = 64 * 2**10

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class CourseError(Exception):
    """A problem with the course itself (a solution notebook, the command line), not a submission."""


class InvalidSubmission(Exception):
    """A submission that cannot be graded at all (not JSON, not a notebook, unreadable)."""


# ---------------------------------------------------------------------------------------------
# The assignment: questions and the steps that run them, read from the instructor's notebook


@dataclass(frozen=True)
class Question:
    """One graded question: its test cell's grade_id, its points, its answer cell's grade_id and
    the names of the functions (or classes) that the answer cell asks the student to write."""

    id: str
    points: float
    answer_id: str
    answer_names: tuple[str, ...] = ()
    # more lessons_lib names the answer may not use, from the answer cell's metadata
    # {"lessons_lib": {"not_from_library": [...]}}: e.g. the class whose method is the answer
    not_from_library: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One piece of code the grader runs: a context cell, an answer, or a test's visible or hidden part."""

    kind: str  # "context", "answer", "visible", "hidden" or "origin" (the grader's own probe)
    source: str
    question: str = ""


@dataclass(frozen=True)
class Assignment:
    """A solution notebook read as questions and steps."""

    name: str
    path: Path
    questions: tuple[Question, ...]
    steps: tuple[Step, ...]
    timeout_s: float

    @property
    def max_total(self) -> float:
        """The sum of the questions' points."""
        return sum(question.points for question in self.questions)


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def split_hidden(source: str, where: str = "test cell") -> tuple[str, str]:
    """A test cell's source as (visible part, hidden part); the hidden block must come last."""
    visible, hidden, state = [], [], "visible"
    for line in source.splitlines():
        if HIDDEN_BEGIN in line:
            if state != "visible":
                raise CourseError(f"{where}: a second '{HIDDEN_BEGIN}'; use one hidden block per test cell")
            state = "hidden"
        elif HIDDEN_END in line:
            if state != "hidden":
                raise CourseError(f"{where}: '{HIDDEN_END}' without '{HIDDEN_BEGIN}'")
            state = "after"
        elif state == "hidden":
            hidden.append(line)
        elif state == "after" and line.strip():
            raise CourseError(f"{where}: code after '{HIDDEN_END}'; the hidden block must end the cell")
        elif state == "visible":
            visible.append(line)
    if state == "hidden":
        raise CourseError(f"{where}: '{HIDDEN_BEGIN}' is never closed by '{HIDDEN_END}'")
    return "\n".join(visible), "\n".join(hidden)


def load_assignment(path: Path) -> Assignment:
    """Read a solution notebook as questions and steps, checking its nbgrader metadata."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    steps: list[Step] = []
    questions: list[Question] = []
    pending: tuple[int, str, tuple[str, ...]] | None = None  # (index in steps, grade_id, not_from_library)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id", "")
        where = f"{path.name}, cell {index} ({grade_id or 'no grade_id'})"
        if meta.get("grade") and meta.get("solution"):
            raise CourseError(f"{where}: a cell that is both answer and test is graded by hand; not supported")
        if meta.get("solution"):
            if pending is not None:
                raise CourseError(f"{where}: two answer cells in a row; each needs its own test cell")
            not_from_library = tuple(cell.metadata.get("lessons_lib", {}).get("not_from_library", ()))
            pending = (len(steps), grade_id, not_from_library)
            steps.append(Step("answer", cell.source))
        elif meta.get("grade"):
            if pending is None:
                raise CourseError(f"{where}: a test cell with no answer cell before it")
            points = float(meta.get("points", 0))
            if not grade_id or points <= 0:
                raise CourseError(f"{where}: a test cell needs a grade_id and positive points")
            visible, hidden = split_hidden(cell.source, where)
            if not hidden.strip():
                raise CourseError(
                    f"{where}: no '{HIDDEN_BEGIN}' block; without hidden_check the score of this "
                    "question would rest on tests that run in the student's kernel"
                )
            answer_step, answer_id, not_from_library = pending
            steps[answer_step] = replace(steps[answer_step], question=grade_id)
            questions.append(Question(grade_id, points, answer_id, answer_names(steps[answer_step].source),
                                      not_from_library))
            steps.append(Step("visible", visible, grade_id))
            steps.append(Step("hidden", hidden, grade_id))
            pending = None
        else:
            steps.append(Step("context", cell.source))
    if pending is not None:
        raise CourseError(f"{path.name}: the answer cell {pending[1]} has no test cell after it")
    if not questions:
        raise CourseError(f"{path.name}: no questions (no cell with nbgrader metadata grade: true)")
    ids = [q.id for q in questions] + [q.answer_id for q in questions]
    if len(set(ids)) != len(ids):
        raise CourseError(f"{path.name}: grade_ids must be unique, got {ids}")
    taken = answers_taken_from_library(steps, questions)
    if taken:
        question_id, notes = next(iter(taken.items()))
        raise CourseError(f"{path.name}: the solution of {question_id} would score 0: {notes[0]}")
    timeout = notebook.metadata.get("lessons_course", {}).get("cell_timeout_s", DEFAULT_CELL_TIMEOUT_S)
    return Assignment(path.parent.name, path, tuple(questions), tuple(steps), float(timeout))


def assignment_names(root: Path) -> list[str]:
    """The assignments under root/solutions/, in order."""
    return sorted(p.name for p in (root / "solutions").glob("*") if (p / f"{p.name}.ipynb").is_file())


def find_assignment(root: Path, name: str) -> Path:
    """root/solutions/NAME/NAME.ipynb, or a CourseError listing the assignments there are."""
    path = root / "solutions" / name / f"{name}.ipynb"
    if not path.is_file():
        raise CourseError(f"no assignment {name!r}: expected {path}; there are {assignment_names(root)}")
    return path


# ---------------------------------------------------------------------------------------------
# Answers taken from lessons_lib: read in the source of the answer cells, before anything runs

_SOLUTION_BLOCK = re.compile(r"^([ \t]*)#+ *BEGIN SOLUTION.*?#+ *END SOLUTION[^\n]*", re.S | re.M)
_IMPORTERS = {"import_module", "__import__"}  # importlib.import_module("..."), __import__("...")
# calls that run a string as code; IPython turns `%time x` into get_ipython().run_line_magic(...)
_CODE_RUNNERS = {"exec", "eval", "compile", "run_cell", "run_line_magic", "run_cell_magic"}
_UNREADABLE = {"?", "*", "__dict__"}  # a name computed at run time, a star import, a namespace


def parse_cell(source: str) -> tuple[ast.Module, str] | None:
    """A notebook cell as Python (IPython's %magics and !commands turned into calls), and that code.

    None when it is not Python: such a cell fails in the kernel too, and so defines nothing.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except Exception:  # not IPython syntax either; ast.parse decides
        pass
    try:
        return ast.parse(source), source
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def answer_names(solution_source: str) -> tuple[str, ...]:
    """The functions and classes an answer cell asks for: the ones its exercise version defines.

    The exercise version is the solution's cell with each solution block removed (what nbgrader
    gives the student: the `def` line and docstring, then `raise NotImplementedError()`). A cell
    whose whole code is one solution block asks for whatever the solution defines.
    """
    stub = _SOLUTION_BLOCK.sub(lambda match: f"{match.group(1)}pass", solution_source)
    for source in (stub, solution_source):
        parsed = parse_cell(source)
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        names = tuple(node.name for node in parsed[0].body if isinstance(node, kinds)) if parsed else ()
        if names:
            return names
    return ()


@dataclass(frozen=True)
class LibraryUse:
    """A place in an answer cell that names something of lessons_lib: its dotted path, where, how."""

    path: str  # "lessons_lib.attention.causal_mask"; a part "?" is a name computed at run time
    line: int  # in the cell
    code: str  # the code, shortened, for the feedback
    imported: bool  # an import statement, rather than a name or an attribute

    @property
    def parts(self) -> set[str]:
        """The names after `lessons_lib` in the path."""
        return set(self.path.split(".")[1:])

    @property
    def unreadable(self) -> bool:
        """Whether the grader cannot tell which lessons_lib name this is (getattr with a computed name...)."""
        return bool(self.parts & _UNREADABLE)


def _is_library(module: str) -> bool:
    return module == LIBRARY or module.startswith(LIBRARY + ".")


def _constant_str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _called_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _star_names(module: str) -> dict[str, bool] | None:
    """What `from MODULE import *` binds, read from the module's source (never run); None if unreadable.

    Each name maps to whether it is lessons_lib's own (defined there or imported from lessons_lib),
    not something the module imported from elsewhere (torch, math).
    """
    try:
        spec = importlib.util.find_spec(module)
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    except Exception:  # no such module, no source file, not Python
        return None
    names: dict[str, bool] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = True
        elif isinstance(node, ast.Import):
            names.update({a.asname or a.name.split(".")[0]: _is_library(a.name) for a in node.names})
        elif isinstance(node, ast.ImportFrom):
            own = node.level > 0 or _is_library(node.module or "")
            names.update({a.asname or a.name: own for a in node.names if a.name != "*"})
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == "__all__" and node.value is not None:
                    try:
                        return dict.fromkeys(map(str, ast.literal_eval(node.value)), True)
                    except ValueError:
                        return None
                names.update({n.id: True for n in ast.walk(target) if isinstance(n, ast.Name)})
    return {name: own for name, own in names.items() if not name.startswith("_")}


class LibraryUses(ast.NodeVisitor):
    """Reads cells in the order they run and collects, for each, where it names lessons_lib.

    It follows the names bound to lessons_lib and its contents from cell to cell (`from lessons_lib
    import attention`, `a = attention`, `m = importlib.import_module("lessons_lib.attention")`,
    `sys.modules["lessons_lib.attention"]`), so `attention.causal_mask`, `getattr(m, "causal_mask")`
    or `vars(m)["causal_mask"]` all read as lessons_lib.attention.causal_mask. A parameter hides an
    outer name of the same name; a name assigned anything else stops being an alias. Strings given
    to exec, eval or IPython's run_* are read as code too.
    """

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # name -> the dotted lessons_lib path it stands for
        self.uses: list[LibraryUse] = []
        self.source = ""  # the cell as Python
        self.written: list[str] = []  # the cell's lines as written, %magics and all
        self.anchor: ast.AST | None = None  # the exec(...) whose string is being read

    def scan(self, source: str) -> list[LibraryUse]:
        """The uses of lessons_lib in one cell; the names it binds carry over to the next cells."""
        self.uses = []
        parsed = parse_cell(source)
        if parsed is None:
            return []
        tree, self.source = parsed
        self.written = source.splitlines()
        try:
            self.visit(tree)
        except RecursionError:  # code nested deeper than the grader reads: treat it as hiding a name
            self.uses.append(LibraryUse(f"{LIBRARY}.?", 1, "(code nested too deeply to read)", False))
        return self.uses

    # -- what an expression stands for

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted lessons_lib path that an expression evaluates to, when it is one; else None."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript):
            key = _constant_str(node.slice)
            if _called_name(node.value) == "modules" and key is not None:
                return key if _is_library(key) else None  # sys.modules["lessons_lib.attention"]
            base = self.resolve(node.value)
            if base and base.endswith(".__dict__"):
                return f"{base[: -len('.__dict__')]}.{key if key is not None else '?'}"
            return None
        if isinstance(node, ast.Call):
            name = _called_name(node.func)
            if name in _IMPORTERS and node.args:
                module = _constant_str(node.args[0])
                return module if module is not None and _is_library(module) else None
            if name in ("getattr", "vars") and node.args:
                base = self.resolve(node.args[0])
                if base is None:
                    return None
                if name == "vars":
                    return f"{base}.__dict__"
                attr = _constant_str(node.args[1]) if len(node.args) > 1 else None
                return f"{base}.{attr if attr is not None else '?'}"
        return None

    def _record(self, path: str, node: ast.AST, imported: bool) -> None:
        where = self.anchor or node
        line = getattr(where, "lineno", 1)
        code = ast.get_source_segment(self.source, where) or ""
        if "get_ipython()" in code and line <= len(self.written):  # a %magic: show it as written
            code = self.written[line - 1].strip()
        code = " ".join(code.split()).replace("`", "'")
        code = code if len(code) <= 80 else code[:77] + "..."
        self.uses.append(LibraryUse(path, line, code, imported))

    # -- bindings

    def _bind(self, name: str, path: str | None) -> None:
        if path is None:
            self.aliases.pop(name, None)
        else:
            self.aliases[name] = path

    def _bind_target(self, target: ast.AST, value: ast.AST | None) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, self.resolve(value) if value is not None else None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
            if values is not None and len(values) != len(target.elts):
                values = None
            for index, element in enumerate(target.elts):
                self._bind_target(element, values[index] if values is not None else None)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, None)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _is_library(alias.name):
                self._record(alias.name, node, imported=True)
                self._bind(alias.asname or alias.name.split(".")[0],
                           alias.name if alias.asname else alias.name.split(".")[0])
            else:
                self._bind(alias.asname or alias.name.split(".")[0], None)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        library = node.level == 0 and _is_library(module)
        for alias in node.names:
            if alias.name == "*":
                names = _star_names(module) if library else None
                if library and names is None:
                    self._record(f"{module}.*", node, imported=True)
                for name, own in (names or {}).items():
                    if own:
                        self._record(f"{module}.{name}", node, imported=True)
                    self._bind(name, f"{module}.{name}" if own else None)
                continue
            if library:
                self._record(f"{module}.{alias.name}", node, imported=True)
            self._bind(alias.asname or alias.name, f"{module}.{alias.name}" if library else None)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._visit_target(target)
            self._bind_target(target, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self._visit_target(node.target)
        self._bind_target(node.target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        self._visit_target(node.target)
        self._bind_target(node.target, None)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind_target(node.target, node.value)

    def _visit_target(self, target: ast.AST) -> None:
        """The expressions inside an assignment's target (x.attr = ..., d[key] = ...), not its names."""
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            self.visit(target.value)
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
        elif isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
            for child in ast.iter_child_nodes(target):
                self._visit_target(child)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        arguments = node.args
        for default in [*arguments.defaults, *arguments.kw_defaults]:
            if default is not None:
                self.visit(default)
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.visit(decorator)
        parameters = [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
        parameters += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
        body = [node.body] if isinstance(node, ast.Lambda) else node.body
        self._visit_scope(body, hidden=parameters)

    def _visit_scope(self, body: list[ast.AST], hidden: Sequence[str] = ()) -> None:
        """Visit a function's or class's body: what it binds stays inside, unless declared global."""
        outer = dict(self.aliases)
        for name in hidden:
            self.aliases.pop(name, None)
        for statement in body:
            self.visit(statement)
        declared = {name for statement in body for node in ast.walk(statement)
                    if isinstance(node, ast.Global) for name in node.names}
        inner, self.aliases = self.aliases, outer
        for name in declared:
            self._bind(name, inner.get(name))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_function(node)
        self._bind(node.name, None)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_function(node)
        self._bind(node.name, None)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_function(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in [*node.decorator_list, *node.bases, *node.keywords]:
            self.visit(child)
        self._visit_scope(node.body)
        self._bind(node.name, None)

    # -- uses

    def _visit_expression(self, node: ast.expr) -> None:
        if isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
            path = self.resolve(node)
            if path is not None:
                self._record(path, node, imported=False)
                return
        self.generic_visit(node)

    visit_Name = visit_Attribute = visit_Subscript = _visit_expression

    def visit_Call(self, node: ast.Call) -> None:
        path = self.resolve(node)
        if path is not None:
            self._record(path, node, imported=False)
            for argument in [*node.args[1:], *node.keywords]:  # getattr's default, say
                self.visit(argument)
            return
        if _called_name(node.func) in _CODE_RUNNERS:
            for argument in node.args:
                code = _constant_str(argument)
                parsed = parse_cell(code) if code is not None else None
                if parsed is not None:  # what it finds is shown as this call, in the cell's code
                    anchor, self.anchor = self.anchor, self.anchor or node
                    try:
                        self.visit(parsed[0])
                    finally:
                        self.anchor = anchor
        self.generic_visit(node)


@functools.cache
def library_names() -> frozenset[str]:
    """The names lessons_lib's modules define at top level (functions, classes, assignments) and
    the methods of their classes, read from the source."""
    names: set[str] = set()
    for path in Path(__file__).parent.glob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                if isinstance(node, ast.ClassDef):
                    names.update(m.name for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return frozenset(names)


def _names_path(dotted: str, path: str) -> bool:
    """Whether a lessons_lib `path` names `dotted` ("DecoderLayer.forward"), its names one after the other."""
    return f".{dotted}." in f"{path}."


def _taken_note(question: Question, cell_question: str, use: LibraryUse) -> tuple[str, str] | None:
    """(what it takes, the feedback) for one use of lessons_lib, if it takes one of the question's functions.

    A lookup the grader cannot read counts only when lessons_lib has something of one of those names.
    """
    names = [name for name in question.answer_names if name in use.parts]
    names += [name for name in question.not_from_library if _names_path(name, use.path)]
    if not names and not (use.unreadable and set(question.answer_names) & library_names()):
        return None
    where = f"`{use.code}`, line {use.line} of your answer cell"
    where += "" if cell_question == question.id else f" for {cell_question}"
    if names:
        verb = "imports" if use.imported else "uses"
        return names[0], (f"Your answer {verb} the course's own implementation of `{names[0]}` from "
                          f"lessons_lib ({where}); write it yourself. An answer that takes the function "
                          "it asks for from lessons_lib scores 0, whatever the tests say.")
    wanted = " or ".join(f"`{name}`" for name in question.answer_names if name in library_names())
    return "?", (f"Your answer reaches into lessons_lib by a name the grader cannot read ({where}), so "
                 f"it may take the course's own implementation of {wanted}; write it yourself, and name "
                 "what you use from lessons_lib plainly (like `attention.padding_mask`). This question "
                 "scores 0.")


def answers_taken_from_library(steps: Sequence[Step], questions: Sequence[Question]) -> dict[str, list[str]]:
    """For each question whose answer takes what it asks for from lessons_lib, the notes that say where.

    The rule: the answer cells up to and including a question's own must not import, name or look
    up lessons_lib's function (or class) of the same name as one the question asks for (its
    `answer_names`), nor reach into lessons_lib by a name computed at run time. Everything else in
    lessons_lib may be used, the package's versions of earlier questions' functions included.
    The instructor's cells are read too, for the names they bind, but never judged.
    """
    reader = LibraryUses()
    by_id = {question.id: question for question in questions}
    seen: list[tuple[str, LibraryUse]] = []  # (question of the answer cell, use), every answer cell so far
    taken: dict[str, list[str]] = {}
    for step in steps:
        if step.kind not in ("context", "answer", "visible"):
            continue  # hidden tests run in a copy of the namespace: they bind nothing
        uses = reader.scan(step.source)
        if step.kind != "answer" or step.question not in by_id:
            continue
        seen.extend((step.question, use) for use in uses)
        question = by_id[step.question]
        notes: dict[tuple[str, str], str] = {}  # the first note for each (answer cell, what it takes)
        for cell_question, use in seen:
            found = _taken_note(question, cell_question, use)
            if found is not None:
                notes.setdefault((cell_question, found[0]), found[1])
        if notes:
            taken[question.id] = list(notes.values())[:3]
    return taken


def origin_probe(question: Question) -> str:
    """The code, run after a question's answer cell, that records which answers are lessons_lib's own."""
    return isolated("from lessons_lib.selfcheck import record_answer_origins\n"
                    f"record_answer_origins({question.id!r}, {list(question.answer_names)!r}, globals())")


def read_origins(path: Path, question: Question) -> dict[str, str]:
    """What origin_probe recorded for a question, as {answer name: lessons_lib name}; {} if unreadable.

    The file comes from the student's kernel, so it is read as plain data and only names of the
    question's functions and lessons_lib paths made of plain identifiers are kept.
    """
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ORIGINS_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if type(data) is not dict:
        return {}
    return {name: origin for name, origin in data.items()
            if name in question.answer_names and type(origin) is str and len(origin) < 200
            and _is_library(origin) and all(part.isidentifier() for part in origin.split("."))}


# ---------------------------------------------------------------------------------------------
# regenerate: exercises/ from solutions/, through nbgrader's generate_assignment


def generate_exercises(root: Path, destination: Path) -> list[Path]:
    """Run nbgrader's generate_assignment on every assignment into destination; returns the files."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import SaveCells
    from traitlets.config.loader import PyFileConfigLoader

    names = assignment_names(root)
    for name in names:
        load_assignment(root / "solutions" / name / f"{name}.ipynb")  # fail early on bad metadata
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root / "course")).load_config()
    with tempfile.TemporaryDirectory(prefix="lessons-regenerate-") as course:
        shutil.copytree(root / "solutions", Path(course) / "source",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        config.CourseDirectory.root = course
        config.CourseDirectory.source_directory = "source"
        config.CourseDirectory.release_directory = "release"
        # generate_assignment without its gradebook: a throwaway database would add nothing here
        config.GenerateAssignment.no_database = True
        default = GenerateAssignment.class_traits()["preprocessors"].default()
        config.GenerateAssignment.preprocessors = [p for p in default if p is not SaveCells]
        for name in names:
            coursedir = CourseDirectory(config=config)
            coursedir.assignment_id = name
            converter = GenerateAssignment(coursedir=coursedir, config=config)
            converter.force = True
            converter.log.setLevel("ERROR")
            converter.start()
        release = Path(course) / "release"
        written = []
        for source in sorted(p for p in release.rglob("*") if p.is_file()):
            target = destination / source.relative_to(release)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            written.append(target)
    return written


def regenerate(root: Path, check: bool = False) -> list[str]:
    """Bring exercises/ up to date with solutions/; with check, only list what is out of date.

    Returns the paths (relative to root) that differ: written, or, with check, to be written.
    """
    exercises = root / "exercises"
    with tempfile.TemporaryDirectory(prefix="lessons-exercises-") as fresh:
        generated = {p.relative_to(fresh): p.read_bytes() for p in generate_exercises(root, Path(fresh))}
    current = {
        p.relative_to(exercises): p
        for p in exercises.rglob("*")
        if p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in p.parts)
    } if exercises.is_dir() else {}
    changed = [rel for rel, data in generated.items() if rel not in current or current[rel].read_bytes() != data]
    stale = [rel for rel in current if rel not in generated]
    if not check:
        for rel in changed:
            (exercises / rel).parent.mkdir(parents=True, exist_ok=True)
            (exercises / rel).write_bytes(generated[rel])
        for rel in stale:
            (exercises / rel).unlink()
    return sorted(str(Path("exercises") / rel) for rel in changed + stale)


# ---------------------------------------------------------------------------------------------
# Running code in a kernel: one cell at a time, with a timeout that kills


@dataclass
class CellRun:
    """What running one step gave: status "ok", "error", "timeout", "died" or "skipped"."""

    status: str
    error: str = ""
    traceback: str = ""
    output: str = ""
    output_chars: int = 0


class _CappedText:
    """The first `limit` characters of a stream of text, and how long the stream was."""

    def __init__(self, limit: int):
        self.limit, self.parts, self.kept, self.total = limit, [], 0, 0

    def add(self, text: str) -> None:
        if self.kept < self.limit:
            part = text[: self.limit - self.kept]
            self.parts.append(part)
            self.kept += len(part)
        self.total += len(text)

    def text(self) -> str:
        return "".join(self.parts)


class Kernel:
    """A fresh Python kernel whose output goes nowhere but to the grader, killed when done."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        # the kernel's own stdout/stderr (not the cells' output) could flood the grader's terminal
        self.manager.start_kernel(cwd=str(cwd), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = self.manager.client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=KERNEL_START_TIMEOUT_S)
        except RuntimeError:
            self.close()
            raise

    def run(self, code: str, timeout: float) -> CellRun:
        """Execute code; stop waiting (the caller must then close the kernel) after timeout seconds."""
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        output = _CappedText(OUTPUT_LIMIT)
        error = traceback = ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return CellRun("timeout", output=output.text(), output_chars=output.total)
            try:
                msg = self.client.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.manager.is_alive():
                    return CellRun("died", output=output.text(), output_chars=output.total)
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                output.add(str(content.get("text", "")))
            elif kind == "error":
                error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"[:ERROR_LIMIT]
                traceback = _ANSI.sub("", "\n".join(content.get("traceback", [])))[-ERROR_LIMIT:]
            elif kind == "status" and content.get("execution_state") == "idle":
                status = "error" if error else "ok"
                return CellRun(status, error, traceback, output.text(), output.total)

    def close(self) -> None:
        """Kill the kernel (and whatever it started) at once."""
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def execute_steps(steps: Sequence[Step], cwd: Path, env: dict[str, str], timeout: float) -> list[CellRun]:
    """Run the steps in order in one kernel; after a timeout or a crash, go on in a new kernel.

    The new kernel first replays the context and answer steps that ran before, so that later
    questions find the imports and functions they need; the step that hung is not replayed.
    """
    runs: list[CellRun] = []
    kernel: Kernel | None = None
    try:
        for index, step in enumerate(steps):
            if step.kind == "hidden" and runs[-1].status in ("timeout", "died"):
                # the function already hung (or killed the kernel) on the visible tests
                runs.append(CellRun("skipped", "your function did not return from a visible test"))
                continue
            if kernel is None:
                kernel = Kernel(cwd, env)
                if not _replay(kernel, steps[:index], runs, timeout):
                    reason = "the cells before it could not be run again after a timeout"
                    runs.extend(CellRun("skipped", reason) for _ in steps[index:])
                    break
            runs.append(kernel.run(step.source, _limit(step, timeout)))
            if runs[-1].status in ("timeout", "died"):
                kernel.close()
                kernel = None
    finally:
        if kernel is not None:
            kernel.close()
    return runs


def _replay(kernel: Kernel, steps: Sequence[Step], runs: Sequence[CellRun], timeout: float) -> bool:
    """Run again the context and answer steps that finished; False if one of them hangs now."""
    for step, run in zip(steps, runs, strict=True):
        if step.kind in ("context", "answer") and run.status in ("ok", "error"):
            if kernel.run(step.source, _limit(step, timeout)).status in ("timeout", "died"):
                return False
    return True


def _limit(step: Step, timeout: float) -> float:
    """The time a step may take: the cell timeout, or more for the instructor's context cells."""
    return max(timeout, CONTEXT_TIMEOUT_S) if step.kind == "context" else timeout


def _kernel_env(mode: str, grading_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LESSONS_GRADING")}
    env.update({GRADING_MODE_ENV: mode, GRADING_DIR_ENV: str(grading_dir), "MPLBACKEND": "Agg"})
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _copy_assignment_files(assignment: Assignment, workdir: Path) -> None:
    """Data files next to the solution notebook, so that relative paths work (never notebooks)."""
    for path in assignment.path.parent.iterdir():
        if path.is_file() and path.suffix != ".ipynb":
            shutil.copyfile(path, workdir / path.name)


# ---------------------------------------------------------------------------------------------
# The reference run: the instructor's notebook, alone in a fresh kernel


@dataclass(frozen=True)
class Reference:
    """What the pristine run of the solution produced: hidden inputs, expected results, ownership."""

    cases: dict[str, bytes]  # check id -> the saved inputs, copied to every submission
    expected: dict[str, dict]  # check id -> {"labels", "expected", "atol", "rtol"}
    checks: dict[str, tuple[str, ...]]  # question id -> its check ids


def _owner(check_id: str, question_ids: Sequence[str]) -> str | None:
    owners = [q for q in question_ids if check_id == q or check_id.startswith(q + "_")]
    return max(owners, key=len) if owners else None


def run_reference(assignment: Assignment, timeout: float) -> Reference:
    """Run the solution notebook in reference mode; every step must pass and every question own a check."""
    import torch

    with tempfile.TemporaryDirectory(prefix="lessons-reference-") as workdir:
        work = Path(workdir)
        _copy_assignment_files(assignment, work)
        grading = work / ".grading"
        grading.mkdir()
        runs = execute_steps(assignment.steps, work, _kernel_env("reference", grading), timeout)
        for step, run in zip(assignment.steps, runs, strict=True):
            if run.status != "ok":
                where = f"the {step.kind} step of {step.question}" if step.question else "a context cell"
                detail = run.error or f"{run.status} (timeout {timeout:g} s)"
                raise CourseError(f"{assignment.path} fails its own tests in {where}: {detail}\n{run.traceback}")
        cases = {p.stem: p.read_bytes() for p in sorted((grading / "cases").glob("*.pt"))}
        expected = {
            p.stem: torch.load(p, weights_only=True) for p in sorted((grading / "expected").glob("*.pt"))
        }
    ids = [q.id for q in assignment.questions]
    checks: dict[str, list[str]] = {q: [] for q in ids}
    for check_id in expected:
        owner = _owner(check_id, ids)
        if owner is None:
            raise CourseError(f"{assignment.path}: hidden_check id {check_id!r} does not start with a question id {ids}")
        checks[owner].append(check_id)
    for question_id, owned in checks.items():
        if not owned:
            raise CourseError(f"{assignment.path}: question {question_id} ran no hidden_check")
    return Reference(cases, expected, {q: tuple(c) for q, c in checks.items()})


# ---------------------------------------------------------------------------------------------
# Grading one submission


@dataclass
class QuestionResult:
    """A question's score and what the student should know about it."""

    id: str
    points: float
    score: float
    notes: list[str] = field(default_factory=list)


@dataclass
class SubmissionResult:
    """The grade of one submitted notebook."""

    submission: str
    questions: list[QuestionResult]
    problem: str = ""  # why the whole notebook could not be graded, if it could not
    grader_error: bool = False  # the grader failed (not the student): the row is not a grade

    @property
    def total(self) -> float:
        """The sum of the question scores."""
        return sum(question.score for question in self.questions)


def read_answers(data: bytes) -> tuple[dict[str, str], dict[str, int]]:
    """The code of the submission's answer cells by grade_id, and how often each grade_id appears."""
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidSubmission(f"the file is not valid notebook JSON ({error})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise InvalidSubmission("the file is JSON but not a Jupyter notebook (it has no list of cells)")
    answers: dict[str, str] = {}
    counts: dict[str, int] = {}
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code" or not isinstance(cell.get("metadata"), dict):
            continue
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        if not meta.get("solution") or not isinstance(grade_id, str):
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            continue
        answers[grade_id] = source  # a duplicated cell: the last copy is graded
        counts[grade_id] = counts.get(grade_id, 0) + 1
    return answers, counts


def _read_submission(path: Path) -> bytes:
    try:
        info = os.stat(path)
    except OSError as error:
        raise InvalidSubmission(f"the file cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InvalidSubmission("this is not a regular file")
    if info.st_size > MAX_SUBMISSION_BYTES:
        raise InvalidSubmission(f"the file is {info.st_size:,} bytes, over the limit of {MAX_SUBMISSION_BYTES:,}")
    with open(path, "rb") as handle:  # read only: the submission is never written
        return handle.read(MAX_SUBMISSION_BYTES + 1)


def _load_answers_file(path: Path) -> Any:
    import torch

    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_ANSWERS_BYTES:
        return None
    try:
        saved = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:
        return None
    answers = saved.get("answers") if type(saved) is dict else None
    return answers if type(answers) is list else None


def _judge_check(check_id: str, reference: Reference, answers_dir: Path) -> list[str]:
    expected = reference.expected[check_id]
    answers = _load_answers_file(answers_dir / f"{check_id}.pt")
    if answers is None or len(answers) != len(expected["expected"]):
        return ["The hidden tests found no results of your function to check."]
    failed: dict[str, list[str]] = {}  # problem -> the labels of the cases that have it
    for label, want, got in zip(expected["labels"], expected["expected"], answers, strict=True):
        try:
            problem = compare(want, got, atol=expected["atol"], rtol=expected["rtol"])
        except Exception as error:  # an odd tensor (sparse, meta) that cannot be compared
            problem = f"could not be compared ({type(error).__name__})"
        if problem is not None:
            failed.setdefault(problem, []).append(label)
    notes = []
    for problem, labels in failed.items():
        named = ", ".join(f"'{label}'" for label in labels[:3]) + (", ..." if len(labels) > 3 else "")
        which = f"Hidden test {named}" if len(labels) == 1 else f"{len(labels)} hidden tests ({named})"
        notes.append(f"{which}: the result {problem}.")
    return notes[:5] + ([f"... and {len(notes) - 5} more kinds of failure."] if len(notes) > 5 else [])


def _step_note(run: CellRun, step: Step, timeout: float) -> str | None:
    if step.kind == "origin":  # the grader's probe: its result is read from its file, not its run
        return None
    what = {
        "answer": "Your answer cell",
        "visible": "A visible test",
        "hidden": "The hidden tests",
    }[step.kind]
    if run.status == "ok":
        return None
    if run.status == "timeout":
        if step.kind == "answer":
            return (f"Your answer cell was still running after {timeout:g} s, so the grader stopped it "
                    "(look for a loop that never ends); it was left out when grading the rest.")
        return (f"{what} called your function, which was still running after {timeout:g} s, "
                "so the grader stopped it (look for a loop that never ends).")
    if run.status == "died":
        return f"{what} stopped the Python kernel (for example with exit() or os._exit())."
    if run.status == "skipped":
        return f"{what} were not run: {run.error}." if step.kind == "hidden" else f"{what} was not run: {run.error}."
    if step.kind == "answer":
        note = f"Your answer cell raised {run.error}"
        return note + (f"\n\n```\n{run.traceback}\n```" if run.traceback else "")
    if step.kind == "visible" and run.error.startswith("NotImplementedError"):
        return "Not answered yet: your function still raises NotImplementedError()."
    if step.kind == "visible":
        return f"A visible test failed: {run.error}"
    return f"The hidden tests could not use your answer: {run.error}"


def judge_question(
    question: Question,
    steps: Sequence[Step],
    runs: Sequence[CellRun],
    reference: Reference,
    answers_dir: Path,
    timeout: float,
    taken: Sequence[str] = (),
) -> QuestionResult:
    """Score one question from its steps' runs and the hidden results, judged here.

    `taken` are the notes saying that the answer takes what it asks for from lessons_lib: then
    the question scores 0, and those notes come first.
    """
    notes: list[str] = []
    passed = True
    unanswered = False
    for step, run in zip(steps, runs, strict=True):
        if step.question != question.id or step.kind == "origin":
            continue
        note = _step_note(run, step, timeout)
        unanswered = unanswered or (step.kind == "visible" and run.error.startswith("NotImplementedError"))
        if note:
            notes.append(note)
        if step.kind == "answer" and run.output_chars > OUTPUT_LIMIT:
            notes.append(f"Your answer cell printed {run.output_chars:,} characters; "
                         f"the grader kept only the first {OUTPUT_LIMIT:,}.")
        if step.kind != "answer" and run.status != "ok":
            passed = False
    hidden_ran = all(run.status == "ok" for step, run in zip(steps, runs, strict=True)
                     if step.question == question.id and step.kind == "hidden")
    for check_id in reference.checks[question.id]:
        problems = _judge_check(check_id, reference, answers_dir)
        if hidden_ran and not unanswered:
            notes.extend(problems)
        passed = passed and not problems
    if taken:
        return QuestionResult(question.id, question.points, 0.0, [*taken, *notes])
    if passed:
        notes.append("All tests passed.")
    return QuestionResult(question.id, question.points, question.points if passed else 0.0, notes)


def isolated(source: str) -> str:
    """Code that runs source in a copy of the notebook's namespace: nothing it defines leaks out.

    Hidden tests define helpers (reference functions, inputs); later answer cells must not find them.
    """
    return f"exec(compile({source!r}, '<hidden tests>', 'exec'), dict(globals()))"


def _zero(submission: str, assignment: Assignment, problem: str, grader_error: bool = False) -> SubmissionResult:
    questions = [QuestionResult(q.id, q.points, 0.0) for q in assignment.questions]
    return SubmissionResult(submission, questions, problem, grader_error)


def grade_submission(submission: str, assignment: Assignment, reference: Reference, timeout: float) -> SubmissionResult:
    """Grade one submitted notebook (the path as given); never raises for a bad submission."""
    try:
        answers, counts = read_answers(_read_submission(Path(submission)))
    except InvalidSubmission as problem:
        return _zero(submission, assignment, f"This notebook could not be graded: {problem}.")
    steps = []
    missing = set()
    for step in assignment.steps:
        if step.kind == "answer":
            question = next(q for q in assignment.questions if q.id == step.question)
            if question.answer_id not in answers:
                missing.add(step.question)
            steps.append(replace(step, source=answers.get(question.answer_id, "")))
            if question.answer_names:
                steps.append(Step("origin", origin_probe(question), question.id))
            continue
        if step.kind == "hidden":
            step = replace(step, source=isolated(step.source))
        steps.append(step)
    taken = answers_taken_from_library(steps, assignment.questions)
    with tempfile.TemporaryDirectory(prefix="lessons-grade-") as workdir:
        work = Path(workdir)
        _copy_assignment_files(assignment, work)
        grading = work / ".grading"
        (grading / "cases").mkdir(parents=True)
        for check_id, data in reference.cases.items():
            (grading / "cases" / f"{check_id}.pt").write_bytes(data)
        runs = execute_steps(steps, work, _kernel_env("answers", grading), timeout)
        for question in assignment.questions:  # the answers that are lessons_lib's own objects
            notes = taken.setdefault(question.id, [])
            for name, origin in read_origins(grading / ORIGINS_DIR / f"{question.id}.json", question).items():
                if not any(f"`{name}`" in note for note in notes):  # not already found in the source
                    notes.append(f"Your `{name}` is not your own code: it is the course's own `{origin}` "
                                 "from lessons_lib (found after your answer cell ran); write it yourself. "
                                 "An answer that takes the function it asks for from lessons_lib scores "
                                 "0, whatever the tests say.")
        results = [judge_question(q, steps, runs, reference, grading / "answers", timeout, taken[q.id])
                   for q in assignment.questions]
    for result, question in zip(results, assignment.questions, strict=True):
        if question.id in missing:
            result.notes.insert(0, f"Your notebook has no answer cell for this question (grade_id "
                                   f"{question.answer_id}): it was deleted, or replaced by a new cell. "
                                   "Write the answer in the answer cell of the exercise notebook.")
        elif counts.get(question.answer_id, 0) > 1:
            result.notes.insert(0, f"Your notebook has {counts[question.answer_id]} copies of the answer "
                                   "cell of this question; the last one was graded.")
    return SubmissionResult(submission, results)


# ---------------------------------------------------------------------------------------------
# Reports: grades.csv and one feedback file per submission


def _number(value: float) -> str:
    return f"{value:g}"


def feedback_markdown(result: SubmissionResult, assignment: Assignment) -> str:
    """The feedback for one submission: score per question and what failed, never hidden test code."""
    lines = [
        f"# Feedback: {assignment.name}",
        "",
        f"Submission: `{result.submission}`",
        "",
        f"**Score: {_number(result.total)} / {_number(assignment.max_total)}**",
        "",
    ]
    if result.problem:
        lines += [result.problem, ""]
    for question in result.questions:
        lines += [f"## {question.id}: {_number(question.score)} / {_number(question.points)}", ""]
        lines += [f"- {note}" for note in question.notes] or ["- Not graded."]
        lines.append("")
    return "\n".join(lines)


def feedback_names(submissions: Sequence[str]) -> list[str]:
    """A distinct, file-system-safe feedback file name for every submission path."""
    paths = [Path(os.path.abspath(s)) for s in submissions]
    common = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path()
    names, seen = [], set()
    for path in paths:
        stem = "__".join(path.relative_to(common).with_suffix("").parts)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "submission"
        name, counter = stem, 1
        while name.lower() in seen:
            counter += 1
            name = f"{stem}-{counter}"
        seen.add(name.lower())
        names.append(f"{name}.md")
    return names


def write_reports(results: Sequence[SubmissionResult], assignment: Assignment, out_dir: Path) -> Path:
    """Write out_dir/grades.csv and out_dir/feedback/*.md; returns the CSV's path."""
    feedback_dir = out_dir / "feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    names = feedback_names([r.submission for r in results])
    csv_path = out_dir / "grades.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", "total", "max_total", *(q.id for q in assignment.questions), "feedback"])
        for result, name in zip(results, names, strict=True):
            scores = [_number(q.score) for q in result.questions]
            writer.writerow([result.submission, _number(result.total), _number(assignment.max_total),
                             *scores, f"feedback/{name}"])
            (feedback_dir / name).write_text(feedback_markdown(result, assignment), encoding="utf-8")
    return csv_path


def expand_submissions(arguments: Sequence[str]) -> list[str]:
    """The submissions named: files as given, and every *.ipynb under a named folder."""
    submissions = []
    for argument in arguments:
        if os.path.isdir(argument):
            found = sorted(p for p in Path(argument).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            submissions.extend(str(p) for p in found)
        else:
            submissions.append(argument)
    return submissions


def grade(
    submissions: Sequence[str],
    assignment: Assignment,
    out_dir: Path,
    timeout: float | None = None,
    jobs: int = 1,
    progress: bool | None = None,
) -> list[SubmissionResult]:
    """Grade the submissions against the assignment; writes grades.csv and the feedback files."""
    from tqdm.auto import tqdm

    if jobs < 1:
        raise CourseError(f"--jobs must be at least 1, got {jobs}")
    timeout = assignment.timeout_s if timeout is None else timeout
    if timeout <= 0:
        raise CourseError(f"--timeout must be positive, got {timeout}")
    outputs = {(out_dir / "grades.csv").resolve()} | {
        (out_dir / "feedback" / name).resolve() for name in feedback_names(submissions)
    }
    clash = [s for s in submissions if Path(s).resolve() in outputs]
    if clash:
        raise CourseError(f"--out {out_dir} would overwrite the submissions {clash}; pick another folder")
    reference = run_reference(assignment, timeout)

    def one(submission: str) -> SubmissionResult:
        try:
            return grade_submission(submission, assignment, reference, timeout)
        except Exception as error:  # a fault of the grader or the machine, reported, not hidden
            problem = f"The grader failed on this notebook ({type(error).__name__}: {error}); it was not graded."
            return _zero(submission, assignment, problem, grader_error=True)

    results: dict[int, SubmissionResult] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, s): i for i, s in enumerate(submissions)}
        # progress=None: a bar only when stderr is a terminal (tqdm's own rule)
        bar = tqdm(as_completed(futures), total=len(futures), desc=f"grading {assignment.name}",
                   unit="notebook", disable=None if progress is None else not progress)
        for future in bar:
            results[futures[future]] = future.result()
    ordered = [results[i] for i in range(len(submissions))]
    write_reports(ordered, assignment, out_dir)
    return ordered


# ---------------------------------------------------------------------------------------------
# nbgrader's gradebook: the same scores, for formgrader and `nbgrader export`

# the tables every nbgrader gradebook has; an SQLite file with other tables is someone else's
GRADEBOOK_TABLES = frozenset({"assignment", "notebook", "grade_cells", "solution_cells", "student",
                              "submitted_assignment", "submitted_notebook", "grade"})


def student_id(submission: str, assignment: Assignment) -> str:
    """The nbgrader student id of a submission: STUDENT in nbgrader's own layout, else the file's stem.

    nbgrader's layout is `.../STUDENT/ASSIGNMENT/NOTEBOOK.ipynb` (`submitted/kim_minji/01_self_attention/
    01_self_attention.ipynb`): the parent folder is the assignment and the file keeps the exercise's
    name. A file that keeps the exercise's name in any other folder is named by that folder, as an LMS
    download lays it out (`inbox/kim_minji/01_self_attention.ipynb`). Any other file is named after its
    student (`kim_minji.ipynb`, `01_self_attention/kim_minji.ipynb`).
    """
    path = Path(os.path.abspath(submission))
    if path.name == assignment.path.name:
        if path.parent.name == assignment.name and path.parent.parent.name:
            return path.parent.parent.name
        if path.parent.name:
            return path.parent.name
    return path.stem


def student_ids(submissions: Sequence[str], assignment: Assignment) -> list[str]:
    """The student id of every submission; a CourseError naming them when two belong to one student."""
    ids = [student_id(submission, assignment) for submission in submissions]
    by_student: dict[str, list[str]] = {}
    for submission, student in zip(submissions, ids, strict=True):
        by_student.setdefault(student, []).append(submission)
    clashes = [f"{student!r} ({', '.join(found)})" for student, found in by_student.items() if len(found) > 1]
    if clashes:
        raise CourseError(
            f"--gradebook: more than one submission for the student {'; '.join(clashes)}. A student's id is "
            f"STUDENT in nbgrader's layout .../STUDENT/{assignment.name}/{assignment.path.name}, else the "
            "file's name without .ipynb; give each student one notebook. Nothing was graded or written."
        )
    return ids


def _alembic() -> str | None:
    """The `alembic` command, which nbgrader runs to create a gradebook: the one beside this Python first."""
    return shutil.which("alembic", path=str(Path(sys.executable).parent)) or shutil.which("alembic")


def _sqlite_tables(path: Path) -> set[str]:
    """The tables of an SQLite file, read without writing; a CourseError if it is not SQLite."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as error:
        raise CourseError(f"--gradebook {path} is not an SQLite database ({error})") from None


@contextlib.contextmanager
def _open_gradebook(path: Path) -> Iterator[Any]:
    """nbgrader's Gradebook on the SQLite file at path, created if missing, as nbgrader's commands open it.

    nbgrader's commands open it with CourseDirectory.course_id, "" unless configured (course/ does not).
    A new gradebook is stamped by running `alembic`, which is not on the PATH when the virtual
    environment is not activated: the one beside this Python is put first while it runs.
    """
    from nbgrader.api import Gradebook

    saved_path = os.environ.get("PATH", "")
    alembic = _alembic()
    if alembic is not None:
        os.environ["PATH"] = os.pathsep.join([str(Path(alembic).parent), saved_path])
    try:
        gradebook = Gradebook(f"sqlite:///{os.path.abspath(path)}", course_id="")
    except FileNotFoundError as error:
        raise CourseError(f"nbgrader needs the `alembic` command to create a gradebook ({error}); "
                          "install lessons-lib[instructor]") from None
    finally:
        os.environ["PATH"] = saved_path
    with gradebook:
        yield gradebook


def _recorded_questions(gradebook: Any, assignment: Assignment) -> tuple[bool, int] | None:
    """For the assignment's notebook in the gradebook: whether its graded and answer cells differ
    from the solution's questions, and how many submissions the assignment has; None if it is not there."""
    from nbgrader.api import MissingEntry

    try:
        notebook = gradebook.find_notebook(assignment.path.stem, assignment.name)
    except MissingEntry:
        return None
    differs = ({cell.name for cell in notebook.grade_cells} != {q.id for q in assignment.questions}
               or {cell.name for cell in notebook.solution_cells} != {q.answer_id for q in assignment.questions}
               or bool(notebook.task_cells))
    return differs, len(gradebook.find_assignment(assignment.name).submissions)


def check_gradebook(path: Path, assignment: Assignment, submissions: Sequence[str]) -> list[str]:
    """The student id of every submission, once sure that write_gradebook can record them; writes nothing.

    A CourseError when two submissions belong to one student, when path is a submission or an SQLite
    file that is not nbgrader's gradebook, or when the gradebook's notebook of the assignment has
    other questions than the solution and already has submissions (nbgrader refuses that too).
    """
    ids = student_ids(submissions, assignment)
    if any(Path(submission).resolve() == path.resolve() for submission in submissions):
        raise CourseError(f"--gradebook {path} is one of the submissions; pick another file")
    if path.exists():
        tables = _sqlite_tables(path)
        if tables and not GRADEBOOK_TABLES <= tables:
            raise CourseError(f"--gradebook {path} is an SQLite database but not nbgrader's gradebook "
                              f"(its tables are {sorted(tables)})")
        if tables:
            with _open_gradebook(path) as gradebook:
                recorded = _recorded_questions(gradebook, assignment)
            if recorded is not None and recorded[0] and recorded[1]:
                raise CourseError(
                    f"--gradebook {path}: its notebook {assignment.name}/{assignment.path.stem} has other "
                    f"questions than {assignment.path}, and {recorded[1]} submission(s); remove the "
                    f"assignment (`nbgrader db assignment remove {assignment.name} --force`) or pick another file"
                )
    elif _alembic() is None:
        raise CourseError("nbgrader needs the `alembic` command to create a gradebook; install lessons-lib[instructor]")
    return ids


def write_gradebook(results: Sequence[SubmissionResult], assignment: Assignment, path: Path) -> dict[str, str]:
    """Record the results in nbgrader's gradebook (an SQLite file, created if missing); returns
    {submission: student id} of the submissions recorded.

    It records what nbgrader's generate_assignment and autograde would: the assignment, its notebook
    with one grade cell per question (max_score = points) and one solution cell per answer cell,
    each student, a submission per student, and each question's score as the grade's auto_score.
    Recording a student again updates the same rows. A manual score given in formgrader still
    takes precedence over auto_score, as in nbgrader, and the grade is marked for review. A
    submission the grader failed on (grader_error) is not a grade and is left out; one that could not
    be read (invalid JSON) is recorded with 0 points, as in grades.csv. Checks first (check_gradebook):
    when it refuses, nothing is written.
    """
    from nbgrader.api import InvalidEntry, MissingEntry
    from sqlalchemy.exc import SQLAlchemyError

    ids = check_gradebook(path, assignment, [result.submission for result in results])
    path.parent.mkdir(parents=True, exist_ok=True)
    name, notebook = assignment.name, assignment.path.stem
    recorded: dict[str, str] = {}
    try:
        with _open_gradebook(path) as gradebook:
            # 1. the assignment and its notebook, as generate_assignment's SaveCells records them
            found = _recorded_questions(gradebook, assignment)
            if found is not None and found[0]:  # other questions, no submissions (checked): start afresh
                gradebook.remove_notebook(notebook, name)
            gradebook.update_or_create_assignment(name)
            try:
                gradebook.find_notebook(notebook, name)
            except MissingEntry:
                kernelspec = json.loads(assignment.path.read_text(encoding="utf-8"))["metadata"].get("kernelspec", {})
                gradebook.add_notebook(notebook, name, kernelspec=json.dumps(kernelspec))
            for question in assignment.questions:
                gradebook.update_or_create_grade_cell(question.id, notebook, name, max_score=question.points,
                                                      cell_type="code")
                gradebook.update_or_create_solution_cell(question.answer_id, notebook, name)
            # 2. each student's submission and scores, as autograde's SaveAutoGrades records them
            for result, student in zip(results, ids, strict=True):
                if result.grader_error:
                    continue
                gradebook.update_or_create_student(student)
                with warnings.catch_warnings():  # nbgrader 0.9.6's add_submission under SQLAlchemy 2
                    # warns that it links rows before adding them to the session; the rows are right
                    warnings.filterwarnings("ignore", r"Object of type <Submitted(Assignment|Notebook)> not in session")
                    gradebook.update_or_create_submission(name, student)
                for question in result.questions:
                    grade = gradebook.find_grade(question.id, notebook, name, student)
                    grade.auto_score = question.score
                    grade.needs_manual_grade = grade.manual_score is not None
                gradebook.db.commit()
                recorded[result.submission] = student
    except (InvalidEntry, MissingEntry, SQLAlchemyError) as error:
        raise CourseError(f"--gradebook {path}: nbgrader could not record the scores ({error})") from None
    return recorded


# ---------------------------------------------------------------------------------------------
# build: execute every notebook, render HTML, tabulate wall time and metrics


@dataclass(frozen=True)
class BuildResult:
    """One notebook of a build: where it went, whether it ran, how long, what it measured."""

    notebook: str
    status: str
    wall_time_s: float
    metrics: dict


def default_build_notebooks(root: Path) -> list[Path]:
    """The lessons (notebooks/*.ipynb), then the solutions, in order."""
    return sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "solutions").glob("*/*.ipynb"))


def _has_parameters_cell(path: Path) -> bool:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    return any("parameters" in cell.metadata.get("tags", []) for cell in notebook.cells)


def build_notebook(path: Path, root: Path, out_dir: Path, quick: bool, timeout: float | None) -> BuildResult:
    """Execute one notebook with papermill into out_dir/executed, render it to out_dir/html."""
    import papermill
    from nbconvert import HTMLExporter

    path = path.resolve()
    rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    executed = out_dir / "executed" / rel
    html = (out_dir / "html" / rel).with_suffix(".html")
    metrics_dir = out_dir / "metrics"
    metrics_file = metrics_dir / f"{path.stem}.json"
    for target in (executed, html, metrics_file):
        target.parent.mkdir(parents=True, exist_ok=True)
    metrics_file.unlink(missing_ok=True)
    parameters = {"QUICK": quick, "METRICS_DIR": str(metrics_dir)} if _has_parameters_cell(path) else {}
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path), str(executed), parameters=parameters, kernel_name="python3", cwd=str(path.parent),
            progress_bar=False, log_output=False, execution_timeout=timeout,
        )
        status = "ok"
    except Exception as error:  # the table reports it; the other notebooks still run
        status = f"failed: {type(error).__name__}"
    wall = time.perf_counter() - started
    if executed.is_file():
        body, _ = HTMLExporter().from_filename(str(executed))
        html.write_text(body, encoding="utf-8")
    metrics = json.loads(metrics_file.read_text())["metrics"] if metrics_file.is_file() else {}
    return BuildResult(str(rel), status, wall, metrics)


def _metrics_summary(metrics: dict, width: int = 70) -> str:
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
             if isinstance(v, (int, float, str, bool))]
    text = ", ".join(parts) or "-"
    return text if len(text) <= width else text[: width - 3] + "..."


def build_table(results: Sequence[BuildResult]) -> str:
    """A plain-text table: notebook, status, wall time, metrics."""
    rows = [("notebook", "status", "wall s", "metrics")]
    rows += [(r.notebook, r.status, f"{r.wall_time_s:.1f}", _metrics_summary(r.metrics)) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build(paths: Sequence[Path], root: Path, out_dir: Path, quick: bool, timeout: float | None,
          report: Callable[[str], None] = _to_stderr) -> list[BuildResult]:
    """Execute and render every notebook in paths, reporting each as it starts (on stderr)."""
    results = []
    for path in paths:
        report(f"running {path} ...")
        results.append(build_notebook(Path(path), root, out_dir, quick, timeout))
    return results


# ---------------------------------------------------------------------------------------------
# The command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lessons_lib.course", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the course checkout (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)

    regen = commands.add_parser("regenerate", help="write exercises/ from solutions/ with nbgrader")
    regen.add_argument("--check", action="store_true", help="write nothing; exit 1 and name what is out of date")

    grade_cmd = commands.add_parser("grade", help="grade submitted notebooks: grades.csv and feedback/")
    grade_cmd.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="notebooks, or folders of them")
    grade_cmd.add_argument("--assignment", required=True, help="the name of a folder in solutions/")
    grade_cmd.add_argument("--out", required=True, type=Path, help="folder for grades.csv and feedback/")
    grade_cmd.add_argument("--timeout", type=float, help="seconds per cell (default: the notebook's, else 30)")
    grade_cmd.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default: 1)")
    grade_cmd.add_argument("--gradebook", type=Path, metavar="DB",
                           help="also record the scores in nbgrader's gradebook, an SQLite file "
                                "(course/nbgrader_config.py's is build/nbgrader/gradebook.db)")

    build_cmd = commands.add_parser("build", help="execute every notebook, render HTML, tabulate metrics")
    build_cmd.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/ then solutions/")
    build_cmd.add_argument("--quick", action="store_true", help="run the lessons with QUICK=True")
    build_cmd.add_argument("--out", type=Path, help="output folder (default: ROOT/build)")
    build_cmd.add_argument("--timeout", type=float, help="seconds per cell (default: no limit)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_request:
        return int(exit_request.code or 0)
    root = args.root.resolve()
    try:
        if args.command == "regenerate":
            changed = regenerate(root, check=args.check)
            if args.check and changed:
                print("exercises/ is out of date; run `python -m lessons_lib.course regenerate`:", file=sys.stderr)
                for rel in changed:
                    print(f"  {rel}", file=sys.stderr)
                return 1
            verb = "up to date" if not changed else f"wrote {len(changed)} file(s)"
            print(f"exercises/: {verb}")
            for rel in [] if args.check else changed:
                print(f"  {rel}")
            return 0
        if args.command == "grade":
            assignment = load_assignment(find_assignment(root, args.assignment))
            submissions = expand_submissions(args.submissions)
            if not submissions:
                raise CourseError(f"no notebooks found in {args.submissions}")
            if args.gradebook is not None:  # refuse before grading, not after
                check_gradebook(args.gradebook, assignment, submissions)
            results = grade(submissions, assignment, args.out, args.timeout, args.jobs)
            for result in results:
                if result.problem:
                    print(f"warning: {result.submission}: {result.problem}", file=sys.stderr)
            failed = [r.submission for r in results if r.grader_error]
            mean = sum(r.total for r in results) / len(results)
            print(f"graded {len(results)} notebook(s) of {assignment.name}: mean "
                  f"{mean:.2f} / {_number(assignment.max_total)}; see {args.out / 'grades.csv'}")
            if args.gradebook is not None:
                recorded = write_gradebook(results, assignment, args.gradebook)
                left_out = f" (not the {len(failed)} the grader failed on)" if failed else ""
                print(f"recorded {len(recorded)} student(s) in nbgrader's gradebook {args.gradebook}{left_out}")
            return 1 if failed else 0
        paths = args.notebooks or default_build_notebooks(root)
        out_dir = args.out or root / "build"
        results = build(paths, root, out_dir, args.quick, args.timeout)
        print(build_table(results))
        return 0 if all(r.status == "ok" for r in results) else 1
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
