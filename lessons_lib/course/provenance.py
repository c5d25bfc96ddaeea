"""The rule that an answer must not be lessons_lib's own, checked in the source and in the kernel.

The hidden tests compare the student's functions with lessons_lib's, so an answer must not be
lessons_lib's. The rule, also stated in the header of every exercise: a question asks for the
functions (or classes) whose `def` its exercise answer cell gives (`Question.answer_names`); it
scores 0, with feedback naming the code, when the student's answer cells up to and including its
own take lessons_lib's object of one of those names. An answer cell's metadata may name more, as
dotted names (`{"lessons_lib": {"not_from_library": ["DecoderLayer.forward"]}}`: 05's
decoder-layer question, whose answer `DecoderLayer.forward(layer, ...)` would otherwise be).
Anything else in lessons_lib may be used: helpers (`attention.padding_mask`), the parts of a
layer the student is handed, and the package's versions of the functions that earlier questions
asked for (02's multi-head answer calls `multihead.split_heads`, 05's decoder mask
`attention.causal_mask`). Two checks, and an answer that fails either scores 0:

- In the source, before anything runs (`answers_taken_from_library`). The cells are read in the
  order they run, the instructor's too (for the names they bind, never judged). An answer takes
  a forbidden name when it imports it from lessons_lib (`from lessons_lib.attention import
  causal_mask`, or a star import of a module that has it); names it as an attribute of a name
  bound to lessons_lib (`attention.causal_mask(T)` after `from lessons_lib import attention`;
  `m.causal_mask` after `import lessons_lib.attention as m` or `m =
  importlib.import_module("lessons_lib.attention")`); names it in a string given to `getattr`,
  `importlib.import_module` or `__import__`, or as the key of a `vars(m)[...]` / `m.__dict__`
  look-up, whatever `m` is; or looks something up in lessons_lib by a name computed at run time
  (`getattr(attention, "causal" + "_mask")`, counted when lessons_lib has something of one of
  the question's names). Strings given to exec, eval or IPython's %magics are read as code. A
  name bound to lessons_lib (by an import anywhere in a cell, or by a top-level assignment) stays
  bound until a top-level assignment, def or class rebinds it; function scopes are not followed.
- In the kernel, after each answer cell (`origins.record_answer_origins`, read back by
  `read_origins`): an answer that is a lessons_lib function or class, wraps one
  (`functools.wraps`, a partial) or reuses its code object scores 0, however it was obtained.

What this does not do: prove authorship. A function that calls lessons_lib's through a module
and a name both built at run time (`getattr(import_module(".".join(parts)), "causal" + "_mask")`
inside its own `def`), or that is a copy of lessons_lib's source, passes the rule; the check in
the kernel runs where the student's code could disable it. The rule stops the easy ways; a
hidden one is plagiarism, for people to judge.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lessons_lib.course.kernel import isolated
from lessons_lib.course.model import MAX_ORIGINS_BYTES, Question, Step
from lessons_lib.origins import LIBRARY

# calls that run a string as code; IPython turns `%time x` into get_ipython().run_line_magic(...)
_CODE_RUNNERS = {"exec", "eval", "compile", "run_cell", "run_line_magic", "run_cell_magic"}


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


def _is_library(module: str) -> bool:
    return module == LIBRARY or module.startswith(LIBRARY + ".")


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _called(func: ast.AST) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _top_level_names(path: Path, methods: bool = False) -> set[str]:
    """The public names a module's source binds at top level (and its classes' methods); never run."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return set()
    names = {n.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
             for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if methods and isinstance(node, ast.ClassDef):
                names.update(m.name for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(a.asname or a.name.split(".")[0] for a in node.names if a.name != "*")
    return {name for name in names if not name.startswith("_")}


@functools.cache
def library_names() -> frozenset[str]:
    """Every name lessons_lib's modules bind at top level, and the methods of their classes."""
    package = Path(__file__).resolve().parents[1]
    return frozenset().union(*(_top_level_names(path, methods=True) for path in package.rglob("*.py")))


def _star_names(module: str) -> set[str]:
    """What `from MODULE import *` binds, read from the module's source; empty if there is none."""
    try:
        return _top_level_names(Path(importlib.util.find_spec(module).origin))
    except Exception:  # no such module, or no source file
        return set()


@dataclass(frozen=True)
class LibraryUse:
    """A place in an answer cell that names something of lessons_lib: its dotted path, where, how."""

    path: str  # "lessons_lib.attention.causal_mask"; "?" for a name computed at run time
    line: int  # in the cell
    code: str  # the code, shortened, for the feedback
    imported: bool  # an import statement, rather than a name or an attribute

    @property
    def parts(self) -> set[str]:
        return set(self.path.split("."))


def _namespace(node: ast.AST) -> ast.expr | None:
    """m, when node is vars(m) or m.__dict__."""
    if isinstance(node, ast.Call) and _called(node.func) == "vars" and node.args:
        return node.args[0]
    return node.value if isinstance(node, ast.Attribute) and node.attr == "__dict__" else None


def _lookup(node: ast.AST) -> tuple[ast.expr | None, ast.expr] | None:
    """(m, key) of a look-up by a name held in a value: getattr(m, key), vars(m)[key], m.__dict__[key]
    or m.__dict__.get(key); (None, key) for import_module(key), __import__(key) and sys.modules[key]."""
    if isinstance(node, ast.Subscript):
        if _called(node.value) == "modules":
            return None, node.slice
        return (_namespace(node.value), node.slice) if _namespace(node.value) is not None else None
    if not isinstance(node, ast.Call) or not node.args:
        return None
    if _called(node.func) in ("import_module", "__import__"):
        return None, node.args[0]
    if _called(node.func) == "getattr" and len(node.args) > 1:
        return node.args[0], node.args[1]
    if _called(node.func) == "get" and _namespace(node.func.value) is not None:
        return _namespace(node.func.value), node.args[0]
    return None


def _resolve(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The dotted lessons_lib path an expression stands for ('?' for a name computed at run time)."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr != "__dict__":
        base = _resolve(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    found = _lookup(node)
    if found is None:
        return None
    where, key = found
    if where is None:
        return _string(key) if _is_library(_string(key) or "") else None
    base = _resolve(where, aliases)
    return f"{base}.{_string(key) or '?'}" if base else None


class _Reader:
    """Reads cells in the order they run, keeping the names bound to lessons_lib from cell to cell."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # name -> the dotted lessons_lib path it stands for
        self.source, self.written = "", [""]

    def scan(self, cell: str) -> list[LibraryUse]:
        """Where one cell names lessons_lib; what it binds carries over to the next cells."""
        parsed = parse_cell(cell)
        if parsed is None:
            return []
        tree, self.source = parsed
        self.written = cell.splitlines() or [""]
        try:
            return self._read(tree, None)
        except RecursionError:  # code nested deeper than the grader reads: treat it as hiding a name
            return [LibraryUse("?", 1, "(code nested too deeply to read)", False)]

    def _use(self, path: str, node: ast.AST, imported: bool) -> LibraryUse:
        line = getattr(node, "lineno", 1)
        code = ast.get_source_segment(self.source, node) or ""
        if "get_ipython()" in code:  # a %magic: show it as written
            code = self.written[min(line, len(self.written)) - 1].strip()
        code = " ".join(code.split()).replace("`", "'")
        return LibraryUse(path, line, code if len(code) <= 80 else code[:77] + "...", imported)

    def _read(self, tree: ast.Module, anchor: ast.AST | None) -> list[LibraryUse]:
        """The uses in a parsed cell, or in a string run as code by the call `anchor`."""
        uses = []
        for statement in tree.body:
            for node in ast.walk(statement):  # 1. imports, in functions too, bind before anything is used
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        name, top = alias.asname or alias.name.split(".")[0], alias.name.split(".")[0]
                        self.aliases.pop(name, None)
                        if _is_library(alias.name):
                            uses.append(self._use(alias.name, anchor or node, True))
                            self.aliases[name] = alias.name if alias.asname else top
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_library(node.module or ""):
                    pairs = [(a.name, a.asname or a.name) for a in node.names if a.name != "*"]
                    if any(a.name == "*" for a in node.names):
                        pairs += [(name, name) for name in sorted(_star_names(node.module))]
                    for name, bound in pairs:
                        uses.append(self._use(f"{node.module}.{name}", anchor or node, True))
                        self.aliases[bound] = f"{node.module}.{name}"
            for node in ast.walk(statement):  # 2. names, attributes and look-ups that reach lessons_lib
                if isinstance(node, ast.Call) and _called(node.func) in _CODE_RUNNERS:
                    for parsed in filter(None, (parse_cell(_string(a)) for a in node.args if _string(a))):
                        uses += self._read(parsed[0], anchor or node)
                if isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
                    path = _resolve(node, self.aliases)
                    if path is None and _lookup(node) and _string(_lookup(node)[1]):
                        path = _string(_lookup(node)[1])  # a name in a string, whatever it is looked up in
                    if path is not None:
                        uses.append(self._use(path, anchor or node, False))
            self._rebind(statement)  # 3. a top-level assignment, def or class replaces the name
        return uses

    def _rebind(self, statement: ast.stmt) -> None:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.aliases.pop(statement.name, None)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            path = _resolve(statement.value, self.aliases)
            for target in statement.targets if isinstance(statement, ast.Assign) else [statement.target]:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store):
                        self.aliases.pop(name.id, None)
                if isinstance(target, ast.Name) and path is not None:
                    self.aliases[target.id] = path
        else:  # if, for, while, with, try: the statements in them bind at top level too
            for child in ast.iter_child_nodes(statement):
                for inner in child.body if isinstance(child, ast.ExceptHandler) else [child]:
                    if isinstance(inner, ast.stmt):
                        self._rebind(inner)


def _taken_note(question: Question, cell_question: str, use: LibraryUse) -> tuple[str, str] | None:
    """(what it takes, the feedback) for one use of lessons_lib, if it takes one of the question's names."""
    names = [name for name in question.answer_names if name in use.parts]
    names += [name for name in question.not_from_library if f".{name}." in f".{use.path}."]
    wanted = " or ".join(f"`{name}`" for name in question.answer_names if name in library_names())
    if not names and not ("?" in use.parts and wanted):
        return None
    where = f"`{use.code}`, line {use.line} of your answer cell"
    where += "" if cell_question == question.id else f" for {cell_question}"
    if names and not _is_library(use.path):  # a string given to getattr(...), whatever it looks in
        return names[0], (f"Your answer looks up `{names[0]}` by a name in a string ({where}), so the "
                          "grader cannot tell it from the course's own implementation in lessons_lib; write "
                          "it yourself and call what you use by its plain name. This question scores 0.")
    if names:
        verb = "imports" if use.imported else "uses"
        return names[0], (f"Your answer {verb} the course's own implementation of `{names[0]}` from "
                          f"lessons_lib ({where}); write it yourself. An answer that takes the function "
                          "it asks for from lessons_lib scores 0, whatever the tests say.")
    return "?", (f"Your answer reaches into lessons_lib by a name the grader cannot read ({where}), so "
                 f"it may take the course's own implementation of {wanted}; write it yourself, and name "
                 "what you use from lessons_lib plainly (like `attention.padding_mask`). This question "
                 "scores 0.")


def answers_taken_from_library(steps: Sequence[Step], questions: Sequence[Question]) -> dict[str, list[str]]:
    """For each question whose answer cells (its own and the earlier ones) take what it asks for
    from lessons_lib, up to three notes that say where; the check in the source described above."""
    reader = _Reader()
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
        notes: dict[tuple[str, str], str] = {}  # the first note for each (answer cell, what it takes)
        for cell_question, use in seen:
            found = _taken_note(by_id[step.question], cell_question, use)
            if found is not None:
                notes.setdefault((cell_question, found[0]), found[1])
        if notes:
            taken[step.question] = list(notes.values())[:3]
    return taken


def origin_probe(question: Question) -> str:
    """The code, run after a question's answer cell, that records which answers are lessons_lib's own."""
    return isolated("from lessons_lib.origins import record_answer_origins\n"
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


def origin_notes(path: Path, question: Question, notes: Sequence[str]) -> list[str]:
    """The notes for the answers that origin_probe found to be lessons_lib's own (its file at path),
    but for those the check in the source already named in `notes`."""
    return [f"Your `{name}` is not your own code: it is the course's own `{origin}` from lessons_lib "
            "(found after your answer cell ran); write it yourself. An answer that takes the function it "
            "asks for from lessons_lib scores 0, whatever the tests say."
            for name, origin in read_origins(path, question).items()
            if not any(f"`{name}`" in note for note in notes)]
