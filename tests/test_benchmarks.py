"""The benchmark suite's logic (benchmarks/): interleaving, the results file, the skip path, memory sampling.

No assertion here is about speed: the suite measures, the tests check what it does with the measures.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

from benchmarks import modules
from benchmarks.notebook_times import NotebookRun, PeakRSS, measure_notebook, notebooks_markdown
from benchmarks.run import ModuleResult, main, results_markdown, run_module, verdict
from benchmarks.timing import Comparison, compare, interleaved_medians

MACHINE = {"cores": "2", "torch": "2.13.0", "device": "cpu"}


def test_the_sides_take_turns_after_the_warmup():
    calls = []
    medians = interleaved_medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                  repeats=3, warmup=2)
    assert calls == ["a", "b"] * 5
    assert set(medians) == {"a", "b"} and all(value >= 0 for value in medians.values())


def test_compare_labels_the_sides_and_the_ratio_is_ours_over_reference():
    row = compare("sum", ("python sum", lambda: sum(range(100))), ("builtin", lambda: 4950), repeats=3, warmup=0,
                  note="why")
    assert (row.name, row.ours, row.reference, row.note) == ("sum", "python sum", "builtin", "why")
    assert Comparison("x", "a", "b", ours_s=3.0, reference_s=2.0).ratio == 1.5


@pytest.mark.parametrize("repeats, warmup", [(0, 1), (3, -1)])
def test_compare_refuses_no_repeats_or_a_negative_warmup(repeats, warmup):
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        compare("x", ("a", lambda: None), ("b", lambda: None), repeats=repeats, warmup=warmup)


def test_verdict_says_by_how_much_a_side_is_slower():
    assert verdict(Comparison("x", "a", "b", 1.05, 1.0)) == "as fast or faster"
    assert verdict(Comparison("x", "a", "b", 0.5, 1.0)) == "as fast or faster"
    assert verdict(Comparison("x", "a", "b", 2.5, 1.0)) == "150 % slower"


def _missing(name):
    raise ModuleNotFoundError(f"No module named '{name}'", name=name)


def test_a_module_that_is_not_importable_is_skipped_with_its_name():
    result = run_module("benchmarks.bert_vs_hf", quick=True, importer=lambda name: _missing("lessons_lib.bert"))
    assert result.comparisons == [] and not result.failed
    assert "lessons_lib.bert is not importable yet" in result.skipped


def test_a_module_that_fails_is_reported_not_skipped():
    class Broken:
        @staticmethod
        def comparisons(quick):
            raise RuntimeError("shapes differ")

    result = run_module("benchmarks.broken", quick=True, importer=lambda name: Broken)
    assert result.failed == "RuntimeError: shapes differ" and not result.skipped


def test_results_markdown_has_the_machine_the_rows_and_the_skipped_modules():
    rows = [Comparison("attention fused", "fused", "F.sdpa", 0.002, 0.001, note="argument checks")]
    text = results_markdown(MACHINE, quick=True, notebooks_table=None, results=[
        ModuleResult("benchmarks.modules", rows),
        ModuleResult("benchmarks.gpt_vs_hf", skipped="lessons_lib.gpt is not importable yet"),
    ])
    assert "- cores: 2" in text and "- torch: 2.13.0" in text and "- device: cpu" in text
    assert "| attention fused | fused | F.sdpa | 2.00 | 1.00 | 2.00 | 100 % slower | argument checks |" in text
    assert "Skipped: lessons_lib.gpt is not importable yet." in text
    assert "Not measured in this run" in text


def test_notebooks_markdown_totals_each_mode_against_its_budget():
    runs = [NotebookRun("01_a", "quick", 50.0, 500 * 1024**2), NotebookRun("02_b", "quick", 80.0, 4 * 1024**3),
            NotebookRun("01_a", "full", 100.0, 600 * 1024**2),
            NotebookRun("02_b", "full", 200.0, 700 * 1024**2, status="failed: PapermillExecutionError")]
    text = notebooks_markdown(runs)
    assert "| 01_a | 50.0 | 500 | 100.0 | 600 |" in text
    assert "| 02_b | 80.0 | 4096 | 200.0 (failed: PapermillExecutionError) | 700 |" in text
    assert "- quick: 130.0 s in total (OVER the 120 s budget); largest peak 4096 MiB (OVER the 3 GiB budget); 0 failed" in text
    assert "- full: 300.0 s in total (within the 900 s budget); largest peak 700 MiB (within the 3 GiB budget); 1 failed" in text


def test_main_writes_results_md_with_a_real_module_and_a_missing_one(tmp_path, monkeypatch):
    (tmp_path / "cheap_bench.py").write_text(textwrap.dedent("""
        from benchmarks.timing import compare

        def comparisons(quick=False):
            return [compare("sorting", ("sorted", lambda: sorted(range(50))), ("list", lambda: list(range(50))),
                            repeats=3 if quick else 5, warmup=1, note="a test")]
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BENCH_DEVICE", raising=False)
    out = tmp_path / "results.md"
    status = main(["--quick", "--device", "cpu", "--no-notebooks", "--modules", "cheap_bench", "no_such_bench",
                   "--out", str(out)])
    text = out.read_text()
    assert status == 0
    assert "| sorting | sorted | list |" in text and "a test |" in text
    assert "Skipped: no_such_bench is not importable yet" in text
    assert f"- torch: {torch.__version__}" in text


def test_peak_rss_sees_the_memory_of_a_child_process():
    with PeakRSS() as memory:
        subprocess.run([sys.executable, "-c", "import time; block = bytearray(300 * 1024**2); time.sleep(1.0)"],
                       check=True)
    assert memory.peak_bytes >= 250 * 1024**2


def test_measure_notebook_records_the_kernel_s_memory(tmp_path):
    notebook = tmp_path / "99_tiny.ipynb"
    parameters = new_code_cell("QUICK = False\nMETRICS_DIR = None", metadata={"tags": ["parameters"]})
    write = new_code_cell("import json, pathlib\n"
                          "pathlib.Path(METRICS_DIR).mkdir(parents=True, exist_ok=True)\n"
                          "pathlib.Path(METRICS_DIR, '99_tiny.json').write_text(json.dumps({'quick': QUICK}))")
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(new_notebook(cells=[parameters, write], metadata=kernel), notebook)
    run = measure_notebook(notebook, quick=True, workdir=tmp_path / "work")
    assert (run.notebook, run.mode, run.status) == ("99_tiny", "quick", "ok")
    assert run.peak_rss_bytes > 20 * 1024**2, "a Python kernel alone holds more than 20 MiB"


def test_the_module_comparisons_run_and_check_parity_at_a_tiny_size(one_torch_thread):
    size = (2, 8, 16, 2)  # (B, T, C, H)
    rows = modules.attention_at(size, quick=True, device=torch.device("cpu"))
    rows += modules.layer_comparisons(size, quick=True, device=torch.device("cpu"))
    names = [row.name for row in rows]
    assert len(names) == len(set(names)) == 4 + 6
    assert all(row.ours_s > 0 and row.reference_s > 0 for row in rows)
    assert any(row.reference == "nn.TransformerDecoderLayer" for row in rows)


def test_with_attention_impl_switches_every_attention_inside():
    layer = modules.with_attention_impl(modules.DecoderLayer(16, 2, 32), "fused")
    assert layer.self_attention.attention_impl == layer.cross_attention.attention_impl == "fused"
