"""Shared test settings: every notebook run from pytest is a quick run, writing its metrics aside.

At the root, so that `pytest notebooks/X.ipynb` run alone gets them too.
"""

import os
import tempfile
from pathlib import Path

import pytest
import torch

# nbval runs the notebooks in kernels started by this process: they inherit these variables.
os.environ.setdefault("LESSONS_QUICK", "1")
os.environ.setdefault("LESSONS_METRICS_DIR", tempfile.mkdtemp(prefix="lessons-metrics-"))
# lesson 06 saves its pre-trained encoder here and lesson 07 loads it: aside too, not in notebooks/
os.environ.setdefault("LESSONS_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="lessons-checkpoints-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a test module's tiny tensors on one thread, then restore the thread count.

    Two threads on a busy 2-core machine wait on each other (measured: 40x slower for lesson 03's
    small stacks).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def executed_lessons_dir(tmp_path_factory) -> Path:
    """Where tests/test_notebooks.py keeps its quick runs of the lessons; tests/test_site.py builds the
    website from them, so the suite executes each lesson once for both."""
    return tmp_path_factory.mktemp("executed-lessons")
