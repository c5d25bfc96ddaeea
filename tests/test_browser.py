"""The real-browser test: every lesson runs in JupyterLab, in Chromium, with widgets that render and respond.

Run it alone with `pytest -m browser`. It needs Debian's Chromium (`bash scripts/ensure_browser.sh`)
and the `playwright` package (the test extra); it never downloads a browser of Playwright's own.
The server serves a temporary copy of notebooks/, with LESSONS_QUICK=1 and the metrics written to
a temporary folder, so nothing a lesson does in the browser writes into the repository.
Screenshots go to test-artifacts/screenshots/<lesson>.png.
"""

from __future__ import annotations

import os
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.jupyterlab_driver import LessonPage, launch_chromium, start_lab
from tests.notebook_paths import ROOT, lesson_notebooks

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# A quick run of the longest lesson, on a busy 2-core CPU, with room to spare.
LESSON_TIMEOUT_S = 900
LESSONS = lesson_notebooks()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a temporary copy of notebooks/, stopped (with its kernels) at the end."""
    work = tmp_path_factory.mktemp("browser")
    root = work / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}  # plots must show inline
    env["LESSONS_QUICK"] = "1"
    env["LESSONS_METRICS_DIR"] = str(work / "metrics")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    server = start_lab(root, work, env)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    """Debian's Chromium, headless, driven by Playwright, with a fresh profile."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise RuntimeError("the browser test needs the playwright package: pip install -e '.[test]'") from error
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"))
        try:
            yield context
        finally:
            context.close()


@pytest.mark.parametrize("path", LESSONS, ids=[path.stem for path in LESSONS])
def test_lesson_runs_in_jupyterlab_and_its_widgets_respond(path, lab, browser):
    for old in SCREENSHOTS.glob(f"{path.stem}*.png"):
        old.unlink()
    page = LessonPage(browser, lab, path.name)
    try:
        page.open()
        page.run_all(LESSON_TIMEOUT_S)
        errors = page.error_outputs()
        assert not errors, f"{path.name} shows an error:\n" + "\n\n".join(errors)
        not_run = [index for index, prompt in enumerate(page.prompts()) if not prompt.strip("[]:").isdigit()]
        assert not not_run, f"{path.name}: code cells {not_run} did not run (prompts {page.prompts()})"
        problems = page.widget_problems()
        assert not problems, f"{path.name}: widgets that did not render: {problems}"
        assert page.widget_count() >= 1, f"{path.name} shows no widget: every lesson has at least one explorer"
        count = page.controls().count()
        assert count >= 1, f"{path.name} has no slider or dropdown to move"
        moved = []
        for index in range(count):
            moved.append(page.move_control(index))
            page.screenshot_cell_of(index, SCREENSHOTS / f"{path.stem}-widget-{index}.png")
        stuck = [result for result in moved if result.before == result.after]
        assert not stuck, f"{path.name}: controls that did not move: {stuck}"
        dead = [result for result in moved if not result.responded]
        assert not dead, f"{path.name}: controls whose output did not change when moved: {dead}"
        metrics = lab.root.parent / "metrics" / f"{path.stem}.json"
        assert metrics.is_file(), f"{path.name} ran to the end but wrote no {metrics.name}"
    finally:
        page.screenshot(SCREENSHOTS / f"{path.stem}.png")
        page.close()
        lab.shutdown_kernels()


def test_the_driver_sees_errors_broken_widgets_and_dead_controls(lab, browser):
    """The checks above can fail: a notebook with each fault, written into the server's temporary root."""
    cells = [
        new_code_cell(
            "import ipywidgets as widgets\n"
            "@widgets.interact(x=widgets.IntSlider(value=3, min=0, max=10))\n"
            "def square(x):\n"
            "    print(x * x)"
        ),
        new_code_cell(
            "from IPython.display import display\n"
            "view = {'model_id': 'no-such-model', 'version_major': 2, 'version_minor': 0}\n"
            "display({'application/vnd.jupyter.widget-view+json': view, 'text/plain': 'IntSlider(value=1)'}, raw=True)"
        ),
        new_code_cell("widgets.Dropdown(options=['a', 'b'])  # changes nothing"),
        new_code_cell("raise ValueError('boom')"),
        new_code_cell("print('never reached')"),
    ]
    notebook = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nbformat.write(notebook, lab.root / "faults.ipynb")
    page = LessonPage(browser, lab, "faults.ipynb")
    try:
        page.open()
        page.run_all(120)
        assert page.prompts()[-1] == "[ ]:" and page.prompts()[-2] == "[4]:"
        [error] = page.error_outputs()
        assert "ValueError" in error and "boom" in error
        assert page.widget_problems() == ["Error displaying widget: model not found"]
        assert page.controls().count() == 2
        slider, dropdown = page.move_control(0), page.move_control(1, timeout_s=5)
        assert (slider.kind, slider.before, slider.after, slider.responded) == ("slider", "3", "6", True)
        assert (dropdown.kind, dropdown.before, dropdown.after, dropdown.responded) == ("dropdown", "a", "b", False)
    finally:
        page.close()
        lab.shutdown_kernels()


def test_nothing_was_written_into_the_repository():
    """JupyterLab served a copy: after the runs above, the committed lessons still have no outputs."""
    for path in LESSONS:
        notebook = nbformat.read(path, as_version=4)
        assert all(not cell.get("outputs") for cell in notebook.cells), f"{path.name} now has outputs"
