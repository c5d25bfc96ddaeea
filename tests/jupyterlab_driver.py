"""Drive a real JupyterLab in Debian's Chromium, for tests/test_browser.py.

`start_lab` starts a JupyterLab server on 127.0.0.1 (a free port, a random token, autosave off,
settings and workspaces in a temporary folder); `launch_chromium` starts the system Chromium
through Playwright's Python API (never a browser build of Playwright's own); `LessonPage`
opens one notebook, runs all its cells from the Run menu and inspects what the browser shows.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

# JupyterLab user settings for the test: never write the notebook back (autosave off), put every
# cell in the page (windowing off, so selectors see all outputs), and make no requests outside.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}

# What the browser shows instead of a widget: the widget manager's error, or (with the widget
# extension missing) the widget's plain-text repr, such as "IntSlider(value=3)".
WIDGET_FAILURE_TEXTS = ("Error displaying widget", "Loading widget...")
WIDGET_AS_TEXT = re.compile(r"^\s*\w+\((value|children|options|outputs)=")
# Controls the test moves; everything else in a widget's cell is "what the control changes".
CONTROLS = ".widget-slider, .widget-dropdown"
# Error outputs are stderr-styled like progress bars; a traceback is what tells them apart.
ERROR_WORDS = ("Traceback (most recent call last)", "Error: ")
PROMPTS = ".jp-CodeCell .jp-InputPrompt"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab server started by `start_lab`."""

    process: subprocess.Popen
    url: str
    token: str
    root: Path
    log_path: Path

    def api(self, method: str, path: str) -> object:
        """Call the server's REST API (`/api/...`) and return the decoded JSON (None when empty)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel the server runs, so the next notebook starts on a quiet machine."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log, to show when something fails."""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Stop the server and its kernels: SIGTERM, then SIGKILL to its process group."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # kernels left behind, if any
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


def start_lab(root: Path, workdir: Path, env: dict[str, str], timeout: float = 120.0) -> LabServer:
    """Start JupyterLab serving `root`, with its settings, runtime files and log under `workdir`."""
    settings = workdir / "lab-settings"
    for relative, values in LAB_SETTINGS.items():
        path = settings / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    server_env = {
        **env,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(workdir / "jupyter-runtime"),
    }
    port, token = free_port(), secrets.token_hex(16)
    log_path = workdir / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root; JupyterLab refuses that unless told
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LabServer(process, f"http://127.0.0.1:{port}", token, root, log_path)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}")
        try:
            server.api("GET", "/api/status")
            return server
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{server.log_tail()}") from None
            time.sleep(0.5)


def chromium_path() -> str:
    """The system Chromium on PATH, or an error that says how to install it."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("no `chromium` on PATH: run `bash scripts/ensure_browser.sh` (installs Debian's chromium)")
    return path


def launch_chromium(playwright, profile_dir: Path):
    """A headless Chromium context with a fresh profile in `profile_dir`."""
    return playwright.chromium.launch_persistent_context(
        str(profile_dir),
        executable_path=chromium_path(),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900},
    )


# The text a cell's input prompt shows: "[ ]:" never ran, "[*]:" running or queued, "[7]:" ran.
_PROMPTS_JS = f"() => [...document.querySelectorAll('{PROMPTS}')].map(p => p.textContent.trim())"

# What a control changes: its cell's outputs with every control taken out (a slider's own
# readout changes when it moves; that alone is not a response).
_RESPONSE_JS = """(control) => {
    const outputs = control.closest('.jp-Cell').querySelector('.jp-Cell-outputWrapper').cloneNode(true);
    outputs.querySelectorAll('CONTROLS').forEach(node => node.remove());
    return outputs.innerHTML;
}""".replace("CONTROLS", CONTROLS)

# Scroll the notebook to its top and return where its last cell ends, in page pixels.
_SCROLL_TO_TOP_JS = """() => {
    const notebook = document.querySelector('.jp-NotebookPanel-notebook');
    [notebook, ...notebook.querySelectorAll('.jp-WindowedPanel-outer')].forEach(node => { node.scrollTop = 0; });
    const cells = notebook.querySelectorAll('.jp-Cell');
    return cells[cells.length - 1].getBoundingClientRect().bottom;
}"""


@dataclass
class ControlResult:
    """One control moved in the browser: its kind, its value before and after, and whether its cell's output changed."""

    index: int
    kind: str
    before: str
    after: str
    responded: bool


class LessonPage:
    """One notebook opened in JupyterLab in a browser tab."""

    def __init__(self, context, server: LabServer, name: str):
        self.server = server
        self.name = name
        self.page = context.new_page()

    def open(self, timeout_s: float = 120.0) -> None:
        """Open the notebook and wait until its kernel is idle."""
        self.page.goto(f"{self.server.url}/lab/tree/{self.name}?reset&token={self.server.token}")
        self.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
        self.wait_for_idle(timeout_s)
        open_tab = self.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if open_tab.count():
            open_tab.first.click()  # fold the file browser away, so the notebook gets the width

    def wait_for_idle(self, timeout_s: float) -> None:
        """Wait until the status bar says the kernel is Idle."""
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('#jp-main-statusbar *')]"
            ".some(node => node.children.length === 0 && /\\bIdle\\b/.test(node.textContent))",
            timeout=timeout_s * 1000,
        )

    def prompts(self) -> list[str]:
        """The input prompt of every code cell, in order."""
        return self.page.evaluate(_PROMPTS_JS)

    def run_all(self, timeout_s: float) -> None:
        """Click a cell, then Run > Run All Cells, and wait until every cell has run or one failed."""
        self.page.locator(".jp-Notebook .jp-Cell").first.click()
        self.page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(r"^Run$")).click()
        self.page.locator('[data-command="runmenu:run-all"]').click()
        # The run has started once some prompt leaves "[ ]:"; it is over when none is "[*]:".
        self.page.wait_for_function(f"() => ({_PROMPTS_JS})().some(p => p !== '[ ]:')", timeout=60_000)
        deadline = time.monotonic() + timeout_s
        while any(prompt == "[*]:" for prompt in self.prompts()):
            dialogs = self.page.locator(".jp-Dialog").all_inner_texts()
            if dialogs:  # e.g. "The kernel appears to have died": nothing will finish now
                raise RuntimeError(f"{self.name}: JupyterLab shows a dialog while running: {dialogs}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: cells still running after {timeout_s:.0f} s: {self.prompts()}")
            time.sleep(0.5)
        self.wait_for_idle(60)

    def error_outputs(self) -> list[str]:
        """The text of every output that is an error (a traceback), not mere stderr such as a progress bar."""
        texts = self.page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
        return [text for text in texts if any(word in text for word in ERROR_WORDS)]

    def widget_problems(self) -> list[str]:
        """Outputs where a widget should be but is not: the widget manager's error, or the widget as text."""
        deadline = time.monotonic() + 15  # give views still "Loading widget..." a moment
        while time.monotonic() < deadline and any(
            "Loading widget..." in text for text in self.page.locator(".jp-OutputArea-output").all_inner_texts()
        ):
            time.sleep(0.5)
        problems = []
        for text in self.page.locator(".jp-OutputArea-output").all_inner_texts():
            if any(failure in text for failure in WIDGET_FAILURE_TEXTS) or WIDGET_AS_TEXT.match(text):
                problems.append(text.strip()[:200])
        return problems

    def widget_count(self) -> int:
        """How many widgets rendered as widgets (outputs holding a live widget view)."""
        return self.page.locator(".jp-OutputArea-output > .jupyter-widgets").count()

    def controls(self):
        """Every slider and dropdown in the outputs, as a Playwright locator."""
        return self.page.locator(f".jp-OutputArea-output {CONTROLS}")

    def _value(self, control, kind: str) -> str:
        if kind == "slider":  # the handle's aria value is there even when the readout is hidden
            handle = control.locator(".noUi-handle").first
            return handle.get_attribute("aria-valuetext") or handle.get_attribute("aria-valuenow") or ""
        return control.locator("select").input_value()

    def _nudge(self, control, kind: str, key: str) -> None:
        if kind == "slider":
            handle = control.locator(".noUi-handle").first
            handle.focus()
            for _ in range(3):
                handle.press(key)
        else:
            select = control.locator("select")
            current = select.input_value()
            values = [option.get_attribute("value") for option in select.locator("option").all()]
            others = [i for i, value in enumerate(values) if value != current]
            if others:
                select.select_option(index=others[0])

    def move_control(self, index: int, timeout_s: float = 60.0) -> ControlResult:
        """Move control `index` (slider: arrow keys; dropdown: another option) and see whether its output changed."""
        control = self.controls().nth(index)
        control.scroll_into_view_if_needed()
        kind = "slider" if "widget-slider" in (control.get_attribute("class") or "") else "dropdown"
        response = control.element_handle()  # keeps pointing at this control while outputs re-render
        before_value, before = self._value(control, kind), response.evaluate(_RESPONSE_JS)
        self._nudge(control, kind, "ArrowRight")
        if self._value(control, kind) == before_value and kind == "slider":
            self._nudge(control, kind, "ArrowLeft")  # it was already at its maximum
        after_value = self._value(control, kind)
        deadline = time.monotonic() + timeout_s
        while response.evaluate(_RESPONSE_JS) == before and time.monotonic() < deadline:
            time.sleep(0.25)
        self.wait_for_idle(timeout_s)
        time.sleep(0.5)  # let the last output message render
        after = response.evaluate(_RESPONSE_JS)
        return ControlResult(index, kind, before_value, after_value, responded=after != before and bool(after.strip()))

    def screenshot(self, path: Path) -> None:
        """Save the whole notebook, top to bottom, as one PNG (the window grows to fit it)."""
        bottom = self.page.evaluate(_SCROLL_TO_TOP_JS)
        self.page.set_viewport_size({"width": 1280, "height": min(int(bottom) + 80, 16000)})
        self.page.evaluate(_SCROLL_TO_TOP_JS)
        time.sleep(0.5)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))

    def screenshot_cell_of(self, index: int, path: Path) -> None:
        """Save the cell that holds control `index` (the widget and what it drew) as a PNG."""
        cell = self.controls().nth(index).element_handle().evaluate_handle("c => c.closest('.jp-Cell')").as_element()
        path.parent.mkdir(parents=True, exist_ok=True)
        cell.screenshot(path=str(path))

    def close(self) -> None:
        """Close the tab (without saving: autosave is off and nothing asks to save)."""
        self.page.close()
