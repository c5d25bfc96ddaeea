"""Running a notebook's code in a fresh kernel, one step at a time, with a timeout that kills.

Each step (a cell, or a test's visible or hidden part) runs with a timeout after which the kernel
is killed (a loop that swallows KeyboardInterrupt cannot outlive it); the earlier context and
answer steps are then replayed in a new kernel, so the remaining questions are still graded.
Outputs are capped. The kernel's environment tells `lessons_lib.selfcheck` which run this is
("reference" or "answers") and where to write; hidden tests run in a copy of the notebook's
namespace (`isolated`), so nothing they define is left for later answer cells.

What this does not do: sandbox the student's code. It runs as the grader's user, so a
deliberately malicious submission could touch other files, and code that inspects its own
process can read the hidden inputs (not change the verdict); grade untrusted work in a container.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lessons_lib.course.model import (
    CONTEXT_TIMEOUT_S,
    ERROR_LIMIT,
    KERNEL_START_TIMEOUT_S,
    OUTPUT_LIMIT,
    Assignment,
    Step,
)
from lessons_lib.selfcheck import GRADING_DIR_ENV, GRADING_MODE_ENV

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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


def isolated(source: str) -> str:
    """Code that runs source in a copy of the notebook's namespace: nothing it defines leaks out.

    Hidden tests define helpers (reference functions, inputs); later answer cells must not find them.
    """
    return f"exec(compile({source!r}, '<hidden tests>', 'exec'), dict(globals()))"


def kernel_env(mode: str, grading_dir: Path) -> dict[str, str]:
    """The grader's environment for a kernel of the given selfcheck mode ("reference" or "answers")."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LESSONS_GRADING")}
    env.update({GRADING_MODE_ENV: mode, GRADING_DIR_ENV: str(grading_dir), "MPLBACKEND": "Agg"})
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def copy_assignment_files(assignment: Assignment, workdir: Path) -> None:
    """Data files next to the solution notebook, so that relative paths work (never notebooks)."""
    for path in assignment.path.parent.iterdir():
        if path.is_file() and path.suffix != ".ipynb":
            shutil.copyfile(path, workdir / path.name)
