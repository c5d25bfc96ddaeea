"""The course website (lessons_lib/course/site.py, `make site`): built from executed lessons, checked as files
and in Chromium.

The site is built from the quick runs tests/test_notebooks.py already made (the session's
`executed_lessons_dir`); a lesson that test did not run (this file run alone, or `-k`) is executed
here, once. The browser test needs Debian's Chromium (`bash scripts/ensure_browser.sh`).
"""

from __future__ import annotations

import base64
import filecmp
import functools
import http.server
import re
import threading

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from lessons_lib.course.cli import main
from lessons_lib.course.execute import run_notebook
from lessons_lib.course.site import (
    SiteError,
    build_site,
    check_executed,
    static_outputs,
    static_widgets,
)
from tests.notebook_paths import ROOT, exercise_notebooks, lesson_notebooks

LESSONS = lesson_notebooks()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def _model(name: str, **state) -> dict:
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}


def _widget_notebook(state: dict, model_id: str):
    view = {"model_id": model_id, "version_major": 2, "version_minor": 0}
    cell = new_code_cell("explorer()", outputs=[
        new_output("display_data", data={"application/vnd.jupyter.widget-view+json": view, "text/plain": "VBox(...)"})])
    notebook = new_notebook(cells=[cell])
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": state}}
    return notebook


def test_a_progress_bar_becomes_its_last_line():
    state = {
        "bar": _model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_progress", "IPY_MODEL_right"]),
        "left": _model("HTMLModel", value="training:\u2007100%"),
        "progress": _model("FloatProgressModel", value=6, max=6),
        "right": _model("HTMLModel", value="\u20076/6\u2007[00:01&lt;00:00]"),
    }
    [output] = static_outputs({"model_id": "bar"}, state, "01_self_attention")
    assert output["output_type"] == "stream"
    assert output["text"] == "training: 100% 6/6 [00:01<00:00]\n"


def test_an_explorer_keeps_its_figure_and_says_where_to_move_its_controls():
    image = _model("ImageModel", format="png")
    image["buffers"] = [{"path": ["value"], "encoding": "base64", "data": PNG}]
    state = {
        "box": _model("VBoxModel", children=["IPY_MODEL_controls", "IPY_MODEL_image"]),
        "controls": _model("HBoxModel", children=["IPY_MODEL_query"]),
        "query": _model("DropdownModel", description="query", index=0),
        "image": image,
    }
    notebook = static_widgets(_widget_notebook(state, "box"), "01_self_attention")
    figure, note = notebook.cells[0].outputs
    assert figure["data"] == {"image/png": PNG}
    text = note["data"]["text/markdown"]
    assert "controls: query" in text and "`notebooks/01_self_attention.ipynb` in JupyterLab" in text
    assert "widgets" not in notebook.metadata, "widget state left in would make MyST-NB load scripts from the web"


def test_an_explorer_s_output_widget_is_shown_too():
    printed = new_output("stream", name="stdout", text="softmax at temperature 1.0\n")
    state = {"box": _model("VBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_out"]),
             "slider": _model("FloatSliderModel", description="temperature", value=1.0),
             "out": _model("OutputModel", outputs=[printed])}
    shown, note = static_outputs({"model_id": "box"}, state, "00_start_here")
    assert shown == printed
    assert "controls: temperature" in note["data"]["text/markdown"]


def _executed(tmp_path, lesson_source: str, executed_source: str, outputs=()):
    lesson = tmp_path / "lesson.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# L"), new_code_cell(lesson_source)]), lesson)
    executed = tmp_path / "executed.ipynb"
    injected = new_code_cell("QUICK = True", metadata={"tags": ["injected-parameters"]})
    nbformat.write(new_notebook(cells=[new_markdown_cell("# L"), injected,
                                       new_code_cell(executed_source, outputs=list(outputs))]), executed)
    return lesson, executed


def test_check_executed_accepts_a_run_of_the_same_code(tmp_path):
    check_executed(*_executed(tmp_path, "x = 1", "x = 1"))


@pytest.mark.parametrize("problem", ["missing", "stale", "failed"])
def test_check_executed_refuses_what_would_make_a_wrong_site(tmp_path, problem):
    error = new_output("error", ename="ValueError", evalue="boom", traceback=[])
    lesson, executed = _executed(tmp_path, "x = 1", "x = 2" if problem == "stale" else "x = 1",
                                 [error] if problem == "failed" else [])
    if problem == "missing":
        executed.unlink()
    expected = {"missing": "has not been executed", "stale": "older", "failed": "failed in cell 2"}[problem]
    with pytest.raises(SiteError, match=expected):
        check_executed(lesson, executed)


def test_the_site_command_refuses_without_executed_lessons(tmp_path, capsys):
    assert main(["site", "--executed", str(tmp_path / "none"), "--out", str(tmp_path / "site")]) == 2
    assert "has not been executed" in capsys.readouterr().err


@pytest.fixture(scope="module")
def executed(executed_lessons_dir):
    """The lessons' quick runs: those tests/test_notebooks.py made, and any it did not, run here."""
    for path in LESSONS:
        try:
            check_executed(path, executed_lessons_dir / path.name)
        except SiteError:
            run_notebook(path, executed_lessons_dir / path.name, quick=True,
                         metrics_dir=executed_lessons_dir / "metrics", timeout=180)
    return executed_lessons_dir


@pytest.fixture(scope="module")
def site(executed, tmp_path_factory):
    home = build_site(ROOT, executed, tmp_path_factory.mktemp("site") / "site")
    return home.parent


def _page(site, stem: str) -> str:
    return (site / f"{stem}.html").read_text(encoding="utf-8")


def test_the_home_page_is_the_start_page_and_lists_every_lesson_in_order(site):
    assert 'url=00_start_here.html' in (site / "index.html").read_text(encoding="utf-8")
    home = _page(site, "00_start_here")
    nav = home[home.index('class="bd-links'):]
    links = re.findall(r'href="(\d\d_[a-z_]+)\.html"', nav)
    assert list(dict.fromkeys(links)) == [path.stem for path in LESSONS[1:]]
    assert 'href="exercises.html"' in nav


@pytest.mark.parametrize("path", LESSONS[1:], ids=[path.stem for path in LESSONS[1:]])
def test_every_lesson_page_shows_its_figures_glossary_and_explorer_note(site, path):
    page = _page(site, path.stem)
    images = re.findall(r'<img [^>]*src="(_images/[^"]+\.png)"', page)
    assert images, f"{path.stem}: no figure on the page"
    assert all((site / image).stat().st_size > 1000 for image in images)
    glossary = page[page.index("Glossary · 용어"):]
    assert "<table" in glossary and "한국어" in glossary
    assert "Interactive explorer (controls:" in page, "every lesson has an explorer; its page must say how to use it"
    assert "widget-view+json" not in page and "Error displaying widget" not in page


def test_each_exercise_is_a_download_linked_from_its_lesson_and_the_exercises_page(site):
    exercises_page = _page(site, "exercises")
    for exercise in exercise_notebooks():
        [download] = list((site / "_downloads").glob(f"*/{exercise.name}"))
        assert download.read_bytes() == exercise.read_bytes()
        link = f'href="{download.relative_to(site).as_posix()}"'
        assert link in exercises_page and link in _page(site, exercise.parent.name)


def test_the_search_box_and_index_cover_the_lessons(site):
    assert 'action="search.html"' in _page(site, "00_start_here")
    index = (site / "searchindex.js").read_text(encoding="utf-8")
    for path in LESSONS:
        assert f'"{path.stem}"' in index
    assert "softmax" in index


def test_the_site_needs_no_network(site):
    for page in site.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        external = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(https?:[^"]+)"', text)
        assert not external, f"{page.name} loads {external}"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_the_same_notebooks_give_the_same_site(site, executed, tmp_path):
    again = build_site(ROOT, executed, tmp_path / "site").parent
    comparison = filecmp.dircmp(site, again)
    differing = []

    def collect(node, prefix=""):
        differing.extend(prefix + name for name in node.diff_files + node.left_only + node.right_only)
        for name, sub in node.subdirs.items():
            collect(sub, f"{prefix}{name}/")

    collect(comparison)
    assert not differing, f"two builds from the same notebooks differ in {differing[:10]}"


@pytest.fixture(scope="module")
def served(site):
    """The site on http://127.0.0.1:<port>, as a web server would publish it."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_a_browser_sees_the_home_page_and_a_lesson_with_figure_and_glossary(served, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.jupyterlab_driver import launch_chromium

    with sync_playwright() as playwright:
        context = launch_chromium(playwright, tmp_path / "profile")
        try:
            page = context.new_page()
            page.goto(served + "/")
            page.wait_for_url("**/00_start_here.html")
            assert "Start here" in page.title()
            search = page.locator("button.search-button-field:visible").first
            search.click()  # the theme's search box opens; Enter goes to Sphinx's search page
            page.locator("form.bd-search input:visible").fill("glossary")
            page.keyboard.press("Enter")
            page.wait_for_url("**/search.html?q=glossary*")
            page.locator("#search-results li a", has_text="Lesson 01").first.wait_for()
            page.goto(served + "/00_start_here.html")
            page.locator(".bd-sidenav a", has_text="Lesson 01").first.click()
            page.wait_for_url("**/01_self_attention.html")
            figure = page.locator(".cell_output img").first
            figure.scroll_into_view_if_needed()
            assert figure.is_visible()
            assert figure.evaluate("img => img.complete && img.naturalWidth > 100")
            glossary = page.get_by_text("Glossary · 용어")
            glossary.scroll_into_view_if_needed()
            assert glossary.is_visible()
            assert page.locator("table", has_text="셀프 어텐션").is_visible()
            screenshots = ROOT / "test-artifacts" / "screenshots"
            screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshots / "site-01_self_attention.png"))
        finally:
            context.close()
