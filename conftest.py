"""Shared test settings: every notebook run from pytest is a quick run, writing its metrics aside.

At the root, so that `pytest notebooks/X.ipynb` run alone gets them too.
"""

import os
import tempfile

# nbval runs the notebooks in kernels started by this process: they inherit these variables.
os.environ.setdefault("LESSONS_QUICK", "1")
os.environ.setdefault("LESSONS_METRICS_DIR", tempfile.mkdtemp(prefix="lessons-metrics-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
