"""The benchmark suite: `python -m benchmarks` (run.py) times every comparison module and the notebooks."""
