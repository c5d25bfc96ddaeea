"""Lesson 05 (notebooks/05_masked_decoder.ipynb) explorer: which English word each Korean word
read (cross-attention) while the trained translator wrote it.

Built like every explorer: `translation_data` (the numbers), `translation_view` (the figure),
`translation_explorer` (a `FigureExplorer`; see `lessons_lib.viz.explorer`). The causal mask
picture, `plot_mask`, is in `lessons_lib.viz.plots`; Korean labels come from `lessons_lib.hangul`.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt

from lessons_lib.data.translation import grammar_pair
from lessons_lib.data.vocab import Vocab, display_words
from lessons_lib.hangul import hangul_labels
from lessons_lib.train import translate
from lessons_lib.transformer import Transformer
from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.plots import plot_attention


def translation_data(model: Transformer, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab,
                     layer: int = -1, head: int | None = None) -> dict:
    """Translate `sentence`; its words, the grammar's reference, and one cross-attention map (T, S).

    `head=None` averages the heads of `layer`. Unknown words raise ValueError.
    """
    result = translate(model, sentence, src_vocab, tgt_vocab)
    num_layers, num_heads = result.cross_attention.shape[:2]
    if not -num_layers <= layer < num_layers:
        raise ValueError(f"layer={layer} is outside the {num_layers} decoder layers")
    if head is not None and not 0 <= head < num_heads:
        raise ValueError(f"head={head} is outside 0..{num_heads - 1}")
    maps = result.cross_attention[layer]  # (L, H, T, S) -> (H, T, S)
    weights = maps.mean(dim=0) if head is None else maps[head]  # (H, T, S) -> (T, S)
    try:
        reference = grammar_pair(sentence).korean
    except ValueError:  # words of the vocabulary, but not a sentence the grammar makes
        reference = None
    return {
        "sentence": sentence,
        "translation": result.text,
        "reference": reference,
        "correct": None if reference is None else result.text == reference,
        "source_tokens": result.source_tokens,
        "target_tokens": result.target_tokens,
        "weights": weights.numpy(),
        "layer": layer % num_layers,
        "head": head,
    }


def translation_view(data: dict) -> plt.Figure:
    """Heatmap of which English word each Korean word read (cross-attention) while translating."""
    fig, ax = plt.subplots(figsize=(0.8 * len(data["source_tokens"]) + 3.0,
                                    0.55 * len(data["target_tokens"]) + 1.8))
    heads = "mean of the heads" if data["head"] is None else f"head {data['head']}"
    plot_attention(data["weights"], hangul_labels(data["target_tokens"]), display_words(data["source_tokens"]),
                   ax=ax, title=f"cross-attention, decoder layer {data['layer']}, {heads}")
    ax.set_xlabel("English word (key, from the encoder)")
    ax.set_ylabel("Korean word being written (query)")
    verdict = {None: "not a sentence of the grammar", True: "matches the grammar",
               False: f"the grammar says: {hangul_labels([data['reference'] or ''])[0]}"}
    fig.suptitle(f"{data['sentence']} -> {hangul_labels([data['translation']])[0]}\n"
                 f"({verdict[data['correct']]})", fontsize=10)
    fig.tight_layout()
    return fig


def translation_explorer(model: Transformer, src_vocab: Vocab, tgt_vocab: Vocab,
                         sentence: str = "I go home") -> FigureExplorer:
    """Type an English sentence; see its translation and which English word each Korean word read.

    An unknown word is not an error of the lesson: the explorer shows the message (which word,
    and what is close) in place of the picture.
    """
    num_layers = len(model.decoder.layers)
    num_heads = model.config.num_heads

    def view(sentence: str, layer: int, head: int | str) -> tuple[plt.Figure, dict]:
        head_index = None if head == "mean" else head
        data = translation_data(model, sentence, src_vocab, tgt_vocab, layer, head_index)
        return translation_view(data), data

    return FigureExplorer(view, {
        "sentence": widgets.Text(value=sentence, description="English", continuous_update=False),
        "layer": widgets.Dropdown(options=list(range(num_layers)), value=num_layers - 1,
                                  description="layer"),
        # not None for "mean": a Dropdown whose value is None shows as no selection at all
        "head": widgets.Dropdown(options=[("mean", "mean")] + [(f"head {h}", h) for h in range(num_heads)],
                                 value="mean", description="head"),
    }, shown_errors=(ValueError,))
