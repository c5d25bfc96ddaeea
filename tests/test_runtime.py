"""lessons_lib.runtime: quick mode, seeding, device choice, the metrics file."""

import json
import re

import pytest
import torch

from lessons_lib.runtime import (
    choose_device,
    model_mode,
    quick_from_env,
    seed_everything,
    start_lesson,
)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("0", False), ("", False), ("No", False)])
def test_quick_from_env(monkeypatch, raw, expected):
    monkeypatch.setenv("LESSONS_QUICK", raw)
    assert quick_from_env() is expected


def test_quick_from_env_default_and_bad_value(monkeypatch):
    monkeypatch.delenv("LESSONS_QUICK", raising=False)
    assert quick_from_env() is False and quick_from_env(default=True) is True
    monkeypatch.setenv("LESSONS_QUICK", "maybe")
    with pytest.raises(ValueError, match="LESSONS_QUICK='maybe'"):
        quick_from_env()


def test_seed_everything_repeats_numbers():
    seed_everything(7)
    first = torch.randn(3)
    seed_everything(7)
    torch.testing.assert_close(torch.randn(3), first)
    with pytest.raises(ValueError, match="seed must be an int"):
        seed_everything("7")


def test_choose_device():
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ValueError, match="DEVICE='gpu0'"):
        choose_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            choose_device("cuda")


def test_lesson_run_writes_metrics_json(tmp_path):
    run = start_lesson("01_self_attention", quick=True, seed=3, device="cpu")
    run.record(accuracy=torch.tensor(0.5), losses=torch.tensor([1.0, 0.5]), note="ok")
    path = run.save(tmp_path)
    written = json.loads(path.read_text())
    assert path.name == "01_self_attention.json"
    assert written["quick"] is True and written["seed"] == 3 and written["device"] == "cpu"
    assert written["metrics"] == {"accuracy": 0.5, "losses": [1.0, 0.5], "note": "ok"}
    assert written["wall_time_s"] >= 0


def test_metrics_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_METRICS_DIR", str(tmp_path / "env"))
    path = start_lesson("x", quick=False, seed=0, device="cpu").save()
    assert path == tmp_path / "env" / "x.json"


def test_record_rejects_values_json_cannot_hold():
    run = start_lesson("x", quick=False, seed=0, device="cpu")
    with pytest.raises(TypeError):
        run.record(model=object())


@pytest.mark.parametrize("bad", [0, -2, 2.0, True, "3", None])
def test_check_positive_int_names_the_argument(bad):
    from lessons_lib.runtime import check_positive_int

    with pytest.raises(ValueError, match=rf"num_layers must be a positive int, got {re.escape(repr(bad))}"):
        check_positive_int("num_layers", bad)
    check_positive_int("num_layers", 3)  # no error


@pytest.mark.parametrize("training", [True, False])
def test_model_mode_sets_the_mode_and_gives_the_callers_back_even_after_an_error(training):
    model = torch.nn.Sequential(torch.nn.Dropout(0.5)).train(not training)
    with model_mode(model, training=training):
        assert model.training is training and model[0].training is training
    assert model.training is (not training)
    with pytest.raises(RuntimeError, match="inside"), model_mode(model, training=training):
        raise RuntimeError("inside")
    assert model.training is (not training) and model[0].training is (not training)
