"""Lesson 08 (notebooks/08_bert.ipynb) explorer: the attention maps of a BERT's heads, sentence by sentence.

Built like every explorer: `sentence_attention` (the numbers, from `Bert` with need_weights=True),
`attention_map_view` (the figure), `attention_map_explorer` (a `FigureExplorer`; see
`lessons_lib.viz.explorer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from lessons_lib.bert import Bert
from lessons_lib.runtime import model_mode
from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.plots import plot_attention


class SentenceAttention(NamedTuple):
    """One sentence's tokens and every attention map a BERT computed for it."""

    tokens: list[str]  # T tokens, [CLS] and [SEP] included
    weights: np.ndarray  # (L, H, T, T): layer, head, query, key


@torch.no_grad()
def sentence_attention(model: Bert, tokenizer, sentences: Sequence[str]) -> list[SentenceAttention]:
    """Run each sentence alone through `model` (no padding) and keep its attention maps."""
    if isinstance(sentences, str) or not sentences:
        raise ValueError("sentences must be a non-empty list of strings")
    device = next(model.parameters()).device
    maps = []
    with model_mode(model, training=False):
        for sentence in sentences:
            batch = tokenizer([sentence], return_tensors="pt")
            _, weights = model(batch["input_ids"].to(device), batch["token_type_ids"].to(device),
                               need_weights=True)  # a list of L tensors (1, H, T, T)
            stacked = torch.cat(weights).cpu().numpy()  # (L, H, T, T)
            maps.append(SentenceAttention(tokenizer.convert_ids_to_tokens(batch["input_ids"][0]), stacked))
    return maps


def attention_map_data(maps: Sequence[SentenceAttention], sentence: int, layer: int, head: int) -> dict:
    """One head's (T, T) map for one sentence, and where each token looks most (besides itself)."""
    if not 0 <= sentence < len(maps):
        raise ValueError(f"sentence={sentence} is outside 0..{len(maps) - 1}")
    tokens, weights = maps[sentence]
    L, H = weights.shape[:2]
    if not (0 <= layer < L and 0 <= head < H):
        raise ValueError(f"layer={layer} and head={head} must be in 0..{L - 1} and 0..{H - 1}")
    matrix = weights[layer, head]  # (T, T)
    others = matrix - np.diag(np.diag(matrix))  # (T, T) without each token's weight on itself
    return {"tokens": tokens, "weights": matrix,
            "looks_at": [tokens[j] for j in others.argmax(axis=1)],
            "on_cls_sep": float(matrix[:, [0, len(tokens) - 1]].sum(axis=1).mean())}


def attention_map_view(data: dict, title: str = "") -> plt.Figure:
    """Heatmap of one head's map: row = the token that reads, column = the token it reads."""
    T = len(data["tokens"])
    fig, ax = plt.subplots(figsize=(0.42 * T + 2.8, 0.38 * T + 1.6))
    plot_attention(data["weights"], data["tokens"], data["tokens"], ax=ax, title=title, annotate=T <= 10,
                   vmax=1.0)
    fig.tight_layout()
    return fig


def attention_map_explorer(maps: Sequence[SentenceAttention], sentence: int = 0, layer: int = 0,
                           head: int = 0) -> FigureExplorer:
    """Pick a sentence, a layer and a head; shows that head's attention map and a summary of it."""
    L, H = maps[0].weights.shape[:2]

    def view(sentence: int, layer: int, head: int) -> tuple[plt.Figure, dict]:
        data = attention_map_data(maps, sentence, layer, head)
        title = (f"layer {layer}, head {head}: {data['on_cls_sep']:.0%} of the attention "
                 "on [CLS] and [SEP]")
        return attention_map_view(data, title), data

    sentences = [(" ".join(m.tokens[1:-1])[:40], index) for index, m in enumerate(maps)]
    return FigureExplorer(view, {
        "sentence": widgets.Dropdown(options=sentences, value=sentence, description="sentence"),
        "layer": widgets.IntSlider(value=layer, min=0, max=L - 1, description="layer (from 0)",
                                   style={"description_width": "initial"}),
        "head": widgets.IntSlider(value=head, min=0, max=H - 1, description="head (from 0)",
                                  style={"description_width": "initial"}),
    }, shown_errors=(ValueError,))
