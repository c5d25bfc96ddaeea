"""A class on a real JupyterHub, end to end, in Chromium: the demo class of hub/ (`make hub`).

The instructor releases 01_self_attention with the course's command line; two students log in to
the hub in the browser, fetch it from nbgrader's Assignment List, one answers it and one hands in
the blank exercise, both submit; the instructor collects, grades in the sandbox (into nbgrader's
gradebook) and returns the feedback; each student fetches and opens their own feedback, and
cannot open the other's. Marked `browser`: it needs Debian's Chromium (scripts/ensure_browser.sh).
Every process it starts is stopped, and everything it writes is in its temporary folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.course.shared import gradebook_totals
from tests.jupyterlab_driver import free_port, launch_chromium
from tests.notebook_paths import ROOT

pytestmark = pytest.mark.browser

ASSIGNMENT = "01_self_attention"
COURSE_ID = "attention101"
PASSWORD = "demo-class-password"
CORRECT = ROOT / "tests" / "fixtures" / "grading" / ASSIGNMENT / "pass_reference.ipynb"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """`hub/demo.py` on a free port with a class folder in a temporary folder; stopped at the end."""
    work = tmp_path_factory.mktemp("hub")
    class_dir, port = work / "class", free_port()
    log = open(work / "hub.log", "w")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "hub" / "demo.py"), "--port", str(port), "--class-dir", str(class_dir),
         "--password", PASSWORD],
        cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{url}/hub/api", timeout=2):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("the hub stopped: " + (work / "hub.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        else:
            raise RuntimeError("the hub did not answer in 120 s: " + (work / "hub.log").read_text()[-3000:])
        yield {"url": url, "class_dir": class_dir, "work": work, "start_s": time.perf_counter() - started,
               "log": work / "hub.log"}
    finally:
        os.killpg(process.pid, 15)  # the hub, its proxy and every user's server
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        log.close()


def _course(*arguments: str) -> None:
    """The instructor's command, as README gives it."""
    done = subprocess.run([sys.executable, "-m", "lessons_lib.course", *arguments], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def _log_in(playwright, hub, name: str, profile: Path):
    context = launch_chromium(playwright, profile)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{hub['url']}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{name}/lab**")
    page.wait_for_selector(".jp-LabShell")
    return context, page


def _assignment_list(page):
    page.click(".lm-MenuBar-itemLabel:has-text('Nbgrader')")
    page.click(".lm-Menu-itemLabel:has-text('Assignment List')")
    page.wait_for_selector("#released_assignments_list")


def _save_answer(page, hub, name: str, notebook: Path) -> None:
    """The student's edit: their fetched notebook replaced by an answered one, through their server's API."""
    xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf")
    path = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    response = page.request.put(
        f"{hub['url']}/user/{name}/api/contents/{path}",
        data=json.dumps({"type": "notebook", "format": "json", "content": json.loads(notebook.read_text())}),
        headers={"X-XSRFToken": xsrf, "Content-Type": "application/json"},
    )
    assert response.ok, response.text()


def test_a_class_from_release_to_feedback(hub):
    from playwright.sync_api import sync_playwright

    class_dir = hub["class_dir"]
    exchange = ["--exchange", str(class_dir / "exchange"), "--course-id", COURSE_ID]
    instructor = class_dir / "instructor"
    started = time.perf_counter()
    _course("release", ASSIGNMENT, *exchange)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    students = {"alice": CORRECT, "bob": None}  # bob hands in the blank exercise
    with sync_playwright() as playwright:
        sessions = {name: _log_in(playwright, hub, name, hub["work"] / f"profile-{name}") for name in students}
        for name, answer in students.items():
            page = sessions[name][1]
            _assignment_list(page)
            page.click("#released_assignments_list button:has-text('Fetch')")
            page.wait_for_selector("#fetched_assignments_list button:has-text('Submit')")
            home_copy = class_dir / "home" / name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
            assert "raise NotImplementedError()" in home_copy.read_text(encoding="utf-8")
            if answer is not None:
                _save_answer(page, hub, name, answer)
            page.click("#fetched_assignments_list button:has-text('Submit')")
            page.wait_for_selector("#submitted_assignments_list .item_status:has-text('Fetch Feedback')")
        _course("collect", ASSIGNMENT, *exchange, "--class-dir", str(instructor))
        _course("grade", str(instructor / "submitted"), "--assignment", ASSIGNMENT, "--out",
                str(instructor / "graded" / ASSIGNMENT), "--gradebook", str(instructor / "gradebook.db"))
        _course("return-feedback", ASSIGNMENT, *exchange, "--class-dir", str(instructor))
        feedback_urls = {}
        for name in students:
            page = sessions[name][1]
            page.click("#submitted_assignments_list button:has-text('Fetch Feedback')")
            page.wait_for_selector("#submitted_assignments_list :text('view feedback')")
            # the student's server serves the feedback file that nbgrader fetched into their home
            (fetched,) = (class_dir / "home" / name / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")
            relative = fetched.relative_to(class_dir / "home" / name).as_posix()
            feedback_urls[name] = f"{hub['url']}/user/{name}/files/{urllib.parse.quote(relative)}"
        for name in students:
            context, page = sessions[name]
            other = next(n for n in students if n != name)
            shown = context.new_page()
            shown.goto(feedback_urls[name])
            text = shown.inner_text("body")
            assert f"Student: {name}" in text and f"Student: {other}" not in text
            assert ("Score: 6 / 6" if name == "alice" else "Score: 0 / 6") in text
            shown.screenshot(path=str(SCREENSHOTS / f"hub-feedback-{name}.png"))
            # the other student's feedback is not reachable from this account: the hub refuses
            # this student's cookie on the other's server
            stranger = context.new_page()
            response = stranger.goto(feedback_urls[other])
            assert f"Student: {other}" not in stranger.inner_text("body")
            assert response is None or response.status >= 400 or "/hub/" in stranger.url
        for context, _ in sessions.values():
            context.close()
    seconds = time.perf_counter() - started
    totals = gradebook_totals(instructor / "gradebook.db")
    assert totals == {"alice": 6, "bob": 0}
    print(f"hub start {hub['start_s']:.1f} s; release to feedback for two students {seconds:.1f} s")
