"""Lesson 05's pictures: Korean labels, the causal mask, and the translation explorer."""

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lessons_lib import viz
from lessons_lib.attention import causal_mask
from lessons_lib.data import make_corpus
from lessons_lib.transformer import Transformer, TransformerConfig

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(num_train=800, num_test=50, seed=0)


@pytest.fixture(scope="module")
def model(corpus):
    torch.manual_seed(0)
    config = TransformerConfig.tiny(len(corpus.src_vocab), len(corpus.tgt_vocab))
    return Transformer(config).eval()


@pytest.mark.parametrize("korean, latin", [
    ("나는 집에 간다", "naneun jibe ganda"),
    ("선생님이 학교에서 책을", "seonsaengnimi hakgyoeseo chaegeul"),
    ("<sos> 커피를", "<sos> keopireul"),
])
def test_romanize_korean(korean, latin):
    assert viz.romanize_korean(korean) == latin


def test_hangul_labels_romanize_unless_a_korean_font_is_in_use(monkeypatch):
    monkeypatch.setitem(plt.rcParams, "font.sans-serif", ["DejaVu Sans"])
    monkeypatch.setitem(plt.rcParams, "font.family", ["sans-serif"])
    assert viz.hangul_labels(["나는", "<eos>"]) == ["naneun", "<eos>"]
    monkeypatch.setitem(plt.rcParams, "font.sans-serif", ["NanumGothic", "DejaVu Sans"])
    assert viz.hangul_labels(["나는", "<eos>"]) == ["나는", "<eos>"]


def test_use_korean_font_changes_nothing_when_none_is_installed(monkeypatch):
    monkeypatch.setattr(viz, "korean_font", lambda: None)
    before = list(plt.rcParams["font.sans-serif"])
    assert viz.use_korean_font() is None
    assert plt.rcParams["font.sans-serif"] == before


def test_plot_mask_shows_zero_where_allowed_and_minus_infinity_elsewhere():
    labels = ["<sos>", "나는", "집에", "간다"]
    ax = viz.plot_mask(causal_mask(4), labels, labels)
    shown = ax.images[0].get_array()
    np.testing.assert_array_equal(np.asarray(shown), causal_mask(4).numpy())
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("0") == 10 and texts.count("-inf") == 6
    assert len(ax.get_xticklabels()) == 4


def test_plot_mask_rejects_masks_that_are_not_boolean_matrices():
    with pytest.raises(ValueError, match="2-D boolean"):
        viz.plot_mask(torch.ones(3, 3))
    with pytest.raises(ValueError, match="query_labels has 2 labels for 3"):
        viz.plot_mask(causal_mask(3), ["a", "b"])


def test_translation_data_gives_one_cross_attention_map_per_sentence(model, corpus):
    data = viz.translation_data(model, "I go home", corpus.src_vocab, corpus.tgt_vocab, head=1)
    assert data["source_tokens"] == ["i", "go", "home"]
    assert data["reference"] == "나는 집에 간다"
    assert data["correct"] == (data["translation"] == "나는 집에 간다")
    assert data["weights"].shape == (len(data["target_tokens"]), 3)
    np.testing.assert_allclose(data["weights"].sum(axis=1), 1.0, rtol=1e-5)
    mean = viz.translation_data(model, "I go home", corpus.src_vocab, corpus.tgt_vocab)
    assert mean["head"] is None and mean["layer"] == 0
    with pytest.raises(ValueError, match="head=5"):
        viz.translation_data(model, "I go home", corpus.src_vocab, corpus.tgt_vocab, head=5)


def test_translation_data_of_a_sentence_outside_the_grammar_has_no_reference(model, corpus):
    data = viz.translation_data(model, "home go I", corpus.src_vocab, corpus.tgt_vocab)
    assert data["reference"] is None and data["correct"] is None


def test_translation_view_labels_rows_with_korean_words_and_columns_with_english(model, corpus):
    data = viz.translation_data(model, "I go home", corpus.src_vocab, corpus.tgt_vocab)
    fig = viz.translation_view(data)
    heatmap = fig.axes[0]
    assert [t.get_text() for t in heatmap.get_xticklabels()] == ["i", "go", "home"]
    expected_rows = viz.hangul_labels(data["target_tokens"])
    assert [t.get_text() for t in heatmap.get_yticklabels()] == expected_rows


def test_translation_explorer_renders_and_reports_unknown_words(model, corpus, capsys):
    explorer = viz.translation_explorer(model, corpus.src_vocab, corpus.tgt_vocab)
    assert isinstance(explorer, widgets.interactive)
    assert explorer.result["source_tokens"] == ["i", "go", "home"]
    explorer.children[0].value = "I go hom"  # a typo: the widget says so instead of failing
    assert explorer.result is None
    assert "did you mean home" in capsys.readouterr().out


def test_translation_explorer_head_choice_shows_a_label_and_switches_heads(model, corpus):
    explorer = viz.translation_explorer(model, corpus.src_vocab, corpus.tgt_vocab)
    head = explorer.children[2]
    # a Dropdown whose value is None shows no selection in the browser: "mean" must be a real value
    assert head.label == "mean" and explorer.result["head"] is None
    head.value = 1
    assert explorer.result["head"] == 1
    head.value = "mean"
    assert explorer.result["head"] is None


def test_the_packaged_nanum_gothic_is_found_when_the_system_has_no_korean_font(monkeypatch):
    from matplotlib import font_manager

    from lessons_lib.viz import korean_font

    without_korean = [font for font in font_manager.fontManager.ttflist if "Nanum" not in font.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", without_korean)
    assert korean_font() == "NanumGothic"
    registered = [font.fname for font in font_manager.fontManager.ttflist if font.name == "NanumGothic"]
    assert any("koreanize_matplotlib" in path for path in registered)
