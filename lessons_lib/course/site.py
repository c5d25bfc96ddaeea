"""site: the course as a static website, made from the notebooks `build` executed (Sphinx + MyST-NB).

Nothing runs twice: the pages are the executed notebooks of build/executed/notebooks/, read with
MyST-NB's execution turned off. Every lesson present in notebooks/ becomes a page, in lesson order
(00_start_here is the home page and holds the table of contents), each with its figures and its
glossary as the lesson printed them, a link to download its exercise, and a page listing every
exercise. Sphinx's search box searches them all. The configuration is site/conf.py.

The explorers (ipywidgets) redraw their figure in the notebook's kernel, which a static page has
not got, and the widget library's scripts would come from the internet. So each widget output
becomes what it showed when it was run: the explorer's figure at its first setting, a progress
bar's last line. Under an explorer the page says which controls it has and to open the lesson in
JupyterLab to move them.
"""

from __future__ import annotations

import base64
import copy
import html
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from lessons_lib.course.model import CourseError

MARKER = ".lessons-site"  # in the folders this module writes (and so may delete)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# widget models whose value a learner moves: the names the note under an explorer lists
CONTROL_MODELS = ("SliderModel", "DropdownModel", "ToggleButtonsModel", "RadioButtonsModel", "CheckboxModel",
                  "TextModel", "SelectModel", "SelectionSliderModel", "IntTextModel", "FloatTextModel")


class SiteError(CourseError):
    """The executed notebooks cannot make the site (missing, out of date or failed): run `build` again."""


def lesson_code(notebook) -> list[str]:
    """The sources of a notebook's code cells, without the cell papermill injects."""
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"
            and "injected-parameters" not in cell.metadata.get("tags", [])]


def check_executed(lesson: Path, executed: Path) -> None:
    """Raise SiteError unless `executed` is a complete run of the lesson's current code."""
    import nbformat

    if not executed.is_file():
        raise SiteError(f"{lesson.name} has not been executed ({executed} is missing): "
                        "run `python -m lessons_lib.course build --quick` (make build) first")
    ran = nbformat.read(executed, as_version=4)
    if lesson_code(ran) != lesson_code(nbformat.read(lesson, as_version=4)):
        raise SiteError(f"{executed} was executed from an older {lesson.name}: run the build again (make build)")
    for index, cell in enumerate(ran.cells):
        if any(output.output_type == "error" for output in cell.get("outputs", [])):
            raise SiteError(f"{executed} failed in cell {index}: fix the lesson and run the build again")


def _widget_state(notebook) -> dict:
    return notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})


def _children(model: dict) -> list[str]:
    """The model ids a container widget holds ("IPY_MODEL_<id>" references)."""
    refs = model["state"].get("children", [])
    return [ref.removeprefix("IPY_MODEL_") for ref in refs if isinstance(ref, str)]


def _walk(state: dict, model_id: str) -> list[dict]:
    """The model and every model it contains, depth first, in display order."""
    model = state.get(model_id)
    if model is None:
        return []
    return [model] + [found for child in _children(model) for found in _walk(state, child)]


def _html_text(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", value)).replace("\u2007", " ").strip()


def static_outputs(view: dict, state: dict, lesson: str) -> list[dict]:
    """What one widget output showed, as plain notebook outputs (see the module docstring)."""
    from nbformat.v4 import new_output

    models = _walk(state, view["model_id"])
    names = [model["model_name"] for model in models]
    if "FloatProgressModel" in names or "IntProgressModel" in names:  # a tqdm progress bar
        texts = [_html_text(model["state"].get("value", "")) for model in models if model["model_name"] == "HTMLModel"]
        return [new_output("stream", name="stdout", text=" ".join(t for t in texts if t) + "\n")]
    shown = []
    for model in models:
        if model["model_name"] == "ImageModel":
            for buffer in model.get("buffers", []):
                if buffer["path"] == ["value"] and buffer["encoding"] == "base64":
                    base64.b64decode(buffer["data"], validate=True)  # a broken image fails the build here
                    shown.append(new_output("display_data", data={"image/png": buffer["data"]}))
        elif model["model_name"] == "OutputModel":
            shown += [copy.deepcopy(output) for output in model["state"].get("outputs", [])]
    controls = [model["state"].get("description") or model["model_name"].removesuffix("Model")
                for model in models if model["model_name"].endswith(CONTROL_MODELS)]
    moves = f" (controls: {', '.join(controls)})" if controls else ""
    note = (f"*Interactive explorer{moves}: this page shows it as it was run. Its figure is redrawn by "
            f"Python as you move the controls, so to use it open `notebooks/{lesson}.ipynb` in JupyterLab "
            "(`make lab`).*")
    return shown + [new_output("display_data", data={"text/markdown": note})]


def static_widgets(notebook, lesson: str):
    """A copy of the notebook with every widget output replaced by static_outputs, and no widget state."""
    notebook = copy.deepcopy(notebook)
    state = _widget_state(notebook)
    for cell in notebook.cells:
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            outputs += static_outputs(view, state, lesson) if view else [output]
        if cell.cell_type == "code":
            cell.outputs = outputs
    notebook.metadata.pop("widgets", None)  # else MyST-NB loads the widget scripts from the internet
    return notebook


def page_notebook(lesson: Path, executed: Path, exercise: Path | None):
    """The executed lesson as a site page: static widgets, the injected cell hidden, a header cell."""
    import nbformat
    from nbformat.v4 import new_markdown_cell

    check_executed(lesson, executed)
    notebook = static_widgets(nbformat.read(executed, as_version=4), lesson.stem)
    quick = notebook.metadata.get("papermill", {}).get("parameters", {}).get("QUICK")
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.metadata["tags"] = [*cell.metadata["tags"], "remove-cell"]
    mode = "quick mode (`QUICK = True`: short runs)" if quick else "full mode"
    lines = [f"*This page is `notebooks/{lesson.name}` as `python -m lessons_lib.course build` ran it, "
             f"in {mode}. To run it yourself, open it in JupyterLab (`make lab`).*"]
    if exercise is not None:
        lines.append(f"*Exercise: {{download}}`{exercise.name} <exercises/{exercise.parent.name}/{exercise.name}>` "
                     "(see [Exercises](exercises.md)).*")
    first_heading = next((i for i, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"), -1)
    # fixed cell ids (nbformat's are random): the same notebooks give the same site
    notebook.cells.insert(first_heading + 1, new_markdown_cell("\n\n".join(lines), id="site-header"))
    return notebook


def exercises_page(exercises: Sequence[Path]) -> str:
    """The Exercises page: how to do them and hand them in, and a download link for each."""
    rows = "\n".join(f"- {{download}}`{path.name} <exercises/{path.parent.name}/{path.name}>`" for path in exercises)
    return (
        "# Exercises\n\n"
        "Each lesson has a graded exercise. Download its notebook, open it in JupyterLab next to the\n"
        "course (`exercises/NN_name/` in the repository), replace each `raise NotImplementedError()`\n"
        "with your code and run the test cell below it: a failing test says what it expected and what\n"
        "your code returned. Hand the notebook in as it is.\n\n" + rows + "\n"
    )


def toctree_cell(docnames: Sequence[str]):
    """The home page's table of contents (hidden on the page, shown as the sidebar)."""
    from nbformat.v4 import new_markdown_cell

    entries = "\n".join(docnames)
    return new_markdown_cell(f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{entries}\n```", id="site-toctree")


def write_source(root: Path, executed_dir: Path, src: Path) -> list[str]:
    """Write the site's Sphinx source into src; return the pages, in order (the home page first)."""
    import nbformat

    lessons = sorted((root / "notebooks").glob("*.ipynb"))
    if not lessons or lessons[0].stem != "00_start_here":
        raise SiteError(f"{root / 'notebooks'} must hold 00_start_here.ipynb, the home page")
    exercises = sorted((root / "exercises").glob("*/*.ipynb"))
    by_lesson = {path.parent.name: path for path in exercises}
    _clear(src, MARKER)
    (src / "exercises").mkdir(parents=True)
    (src / MARKER).write_text("written by lessons_lib.course.site; rewritten on every build\n", encoding="utf-8")
    for path in exercises:
        (src / "exercises" / path.parent.name).mkdir()
        shutil.copy2(path, src / "exercises" / path.parent.name / path.name)
    (src / "exercises.md").write_text(exercises_page(exercises), encoding="utf-8")
    docnames = [path.stem for path in lessons] + ["exercises"]
    for path in lessons:
        page = page_notebook(path, executed_dir / path.name, by_lesson.get(path.stem))
        if path.stem == "00_start_here":
            page.cells.append(toctree_cell(docnames[1:]))
        nbformat.write(page, src / path.name)
    return docnames


def _clear(folder: Path, marker: str) -> None:
    """Delete a folder this module wrote before (it holds `marker`); refuse any other non-empty folder."""
    if folder.is_dir() and any(folder.iterdir()) and not (folder / marker).is_file():
        raise SiteError(f"{folder} holds files that no site build wrote: give an empty or new folder")
    if folder.exists():
        shutil.rmtree(folder)


def build_site(root: Path, executed_dir: Path, out_dir: Path, src: Path | None = None) -> Path:
    """Write the source (default out_dir/../site-src) and run Sphinx with site/conf.py; returns the home page."""
    from sphinx.cmd.build import build_main

    src = src or out_dir.parent / "site-src"
    doctrees = out_dir.parent / "site-doctrees"
    _clear(out_dir, MARKER)  # a full rebuild every time: the same input, the same site
    _clear(doctrees, "environment.pickle")
    write_source(root, executed_dir, src)
    status = build_main(["-b", "html", "-q", "-W", "-c", str(root / "site"), "-d", str(doctrees), str(src), str(out_dir)])
    if status != 0:
        raise SiteError(f"Sphinx failed (exit {status}); its messages are above")
    # Sphinx's record for incremental builds holds a hash of where it ran; the site rebuilds in full
    (out_dir / ".buildinfo").unlink()
    (out_dir / MARKER).write_text("written by lessons_lib.course.site; rewritten on every build\n", encoding="utf-8")
    return out_dir / "index.html"
