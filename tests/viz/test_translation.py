"""lessons_lib.viz.translation: the lesson 05 explorer of the translator's cross-attention."""

import numpy as np
import pytest

from lessons_lib.hangul import hangul_labels
from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.translation import translation_data, translation_explorer, translation_view


def test_translation_data_gives_one_cross_attention_map_per_sentence(model, corpus):
    data = translation_data(model, "I go home", corpus.src_vocab, corpus.tgt_vocab, head=1)
    assert data["source_tokens"] == ["i", "go", "home"]
    assert data["reference"] == "나는 집에 간다"
    assert data["correct"] == (data["translation"] == "나는 집에 간다")
    assert data["weights"].shape == (len(data["target_tokens"]), 3)
    np.testing.assert_allclose(data["weights"].sum(axis=1), 1.0, rtol=1e-5)
    mean = translation_data(model, "I go home", corpus.src_vocab, corpus.tgt_vocab)
    assert mean["head"] is None and mean["layer"] == 0
    with pytest.raises(ValueError, match="head=5"):
        translation_data(model, "I go home", corpus.src_vocab, corpus.tgt_vocab, head=5)


def test_translation_data_of_a_sentence_outside_the_grammar_has_no_reference(model, corpus):
    data = translation_data(model, "home go I", corpus.src_vocab, corpus.tgt_vocab)
    assert data["reference"] is None and data["correct"] is None


def test_translation_view_labels_rows_with_korean_words_and_columns_with_english(model, corpus):
    data = translation_data(model, "I go home", corpus.src_vocab, corpus.tgt_vocab)
    fig = translation_view(data)
    heatmap = fig.axes[0]
    assert [t.get_text() for t in heatmap.get_xticklabels()] == ["I", "go", "home"], "the pronoun I is written upper-case"
    expected_rows = hangul_labels(data["target_tokens"])
    assert [t.get_text() for t in heatmap.get_yticklabels()] == expected_rows


def test_translation_explorer_renders_and_reports_unknown_words(model, corpus, picture):
    explorer = translation_explorer(model, corpus.src_vocab, corpus.tgt_vocab)
    assert isinstance(explorer, FigureExplorer)
    assert explorer.result["source_tokens"] == ["i", "go", "home"]
    explorer.controls["sentence"].value = "I go hom"  # a typo: the widget says so instead of failing
    assert explorer.result is None
    assert "did you mean home" in explorer.message.value
    assert explorer.image.layout.display == "none", "no picture of the previous sentence is left up"
    explorer.controls["sentence"].value = "I go home"
    assert explorer.message.value == "" and explorer.image.layout.display is None
    assert explorer.result["source_tokens"] == ["i", "go", "home"] and picture(explorer)


def test_translation_explorer_head_choice_shows_a_label_and_switches_heads(model, corpus):
    explorer = translation_explorer(model, corpus.src_vocab, corpus.tgt_vocab)
    head = explorer.controls["head"]
    # a Dropdown whose value is None shows no selection in the browser: "mean" must be a real value
    assert head.label == "mean" and explorer.result["head"] is None
    head.value = 1
    assert explorer.result["head"] == 1
    head.value = "mean"
    assert explorer.result["head"] is None
