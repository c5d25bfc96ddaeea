"""An assignment read from its solution notebook, and the answer cells of a submission.

`solutions/NN_name/NN_name.ipynb` is the single source, in nbgrader's format: cell metadata
`nbgrader: {grade, solution, locked, points, grade_id}`, `### BEGIN SOLUTION` / `### END SOLUTION`
in answer cells and `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS` in test cells. A question
is one answer cell (solution) followed by one test cell (grade, with points); the hidden block
ends the test cell. An answer cell's metadata may add lessons_lib names that the answer must not
use (`{"lessons_lib": {"not_from_library": ["DecoderLayer.forward"]}}`, see provenance.py), and
the notebook's metadata may set the cell timeout (`{"lessons_course": {"cell_timeout_s": 30}}`).
A solution whose own answers would score 0 under provenance.py's rule is refused.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import replace
from pathlib import Path

from lessons_lib.course.model import (
    DEFAULT_CELL_TIMEOUT_S,
    HIDDEN_BEGIN,
    HIDDEN_END,
    MAX_ANSWER_BYTES,
    Assignment,
    CourseError,
    InvalidSubmission,
    Question,
    Step,
)
from lessons_lib.course.provenance import answers_taken_from_library, parse_cell

_SOLUTION_BLOCK = re.compile(r"^([ \t]*)#+ *BEGIN SOLUTION.*?#+ *END SOLUTION[^\n]*", re.S | re.M)


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


def without_references(hidden_source: str) -> str:
    """The hidden tests as the student's kernel runs them: no reference function, no reference argument.

    Every `hidden_check(check_id, answer, reference, ...)` gets None for its reference, and the
    definitions and imports that bound the reference names are left out, so that nothing in the
    student's kernel can call the instructor's function in place of the student's.
    """
    tree = ast.parse(hidden_source)
    references: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node.func) == "hidden_check":
            if len(node.args) >= 3:
                references |= _bound_name(node.args[2])
                node.args[2] = ast.Constant(None)
            for keyword in node.keywords:
                if keyword.arg == "reference":
                    references |= _bound_name(keyword.value)
                    keyword.value = ast.Constant(None)
    body = []
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and statement.name in references:
            continue
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            statement.names = [alias for alias in statement.names
                               if (alias.asname or alias.name.partition(".")[0]) not in references]
            if not statement.names:
                continue
        if isinstance(statement, ast.Assign) and all(_names(t) <= references for t in statement.targets):
            continue
        body.append(statement)
    tree.body = body
    return ast.unparse(tree)


def _called(func: ast.AST) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _bound_name(node: ast.AST) -> set[str]:
    # a reference given by name (not `module.function`, whose module the tests may still need)
    return {node.id} if isinstance(node, ast.Name) else set()


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


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


def read_answers(data: bytes) -> tuple[dict[str, str], dict[str, int]]:
    """The code of a submission's answer cells by grade_id, and how often each grade_id appears.

    Nothing else of the submission is trusted: the grader puts these cells into its own copy of
    the solution notebook, so deleted or edited test cells come back. Only these cells count
    towards the size limit: outputs (a scratch cell that printed 20 MB) never cost marks.
    """
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
    size = sum(len(source.encode("utf-8")) for source in answers.values())
    if size > MAX_ANSWER_BYTES:
        raise InvalidSubmission(f"its answer cells hold {size:,} bytes of code, over the limit of {MAX_ANSWER_BYTES:,}")
    return answers, counts


def solution_ids(notebook: dict) -> set[str]:
    """The grade_ids of a notebook's answer (solution) cells."""
    return {meta["grade_id"] for cell in notebook.get("cells", [])
            if isinstance(cell, dict) and isinstance(cell.get("metadata"), dict)
            for meta in [_nbgrader(cell)] if meta.get("solution") and isinstance(meta.get("grade_id"), str)}


def assignment_of(data: bytes, root: Path) -> str | None:
    """The assignment of root/solutions whose answer cells a submitted notebook holds, or None."""
    try:
        found = solution_ids(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return None
    for name in assignment_names(root) if found else []:
        if found & solution_ids(json.loads(find_assignment(root, name).read_text(encoding="utf-8"))):
            return name
    return None


def defined_names(source: str) -> list[str]:
    """The names an answer cell defines at its top level (functions, classes, assignments), in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(statement.name)
        elif isinstance(statement, ast.Assign):
            names += [t.id for t in statement.targets if isinstance(t, ast.Name)]
    return list(dict.fromkeys(names))
