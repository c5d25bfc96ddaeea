"""Lesson 01 (notebooks/01_self_attention.ipynb) explorers: one query's row, and softmax saturating.

Each explorer is a `FigureExplorer` built from a `*_data` function (the numbers) and a `*_view`
function (the figure); see `lessons_lib.viz.explorer`.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from lessons_lib.runtime import check_positive_int
from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.plots import as_numpy, row_entropy

# One query's attention row: its weights, the weighted values, and their sum.


def attention_row_data(
    weights: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray, query_index: int
) -> dict[str, np.ndarray]:
    """One query's weights (Tk,), each key's weighted value (Tk, D), and their sum (D,)."""
    matrix, value_matrix = as_numpy(weights), as_numpy(values)
    if matrix.ndim != 2 or value_matrix.ndim != 2 or matrix.shape[1] != value_matrix.shape[0]:
        raise ValueError(
            f"weights must be (Tq, Tk) and values (Tk, D) with the same Tk; "
            f"got weights {matrix.shape} and values {value_matrix.shape}"
        )
    if not 0 <= query_index < matrix.shape[0]:
        raise ValueError(f"query_index={query_index} is outside 0..{matrix.shape[0] - 1}")
    row = matrix[query_index]  # (Tq, Tk) -> (Tk,)
    contributions = row[:, None] * value_matrix  # (Tk, 1) * (Tk, D) -> (Tk, D)
    return {"weights": row, "contributions": contributions, "output": contributions.sum(axis=0)}


def attention_row_view(
    weights: torch.Tensor | np.ndarray,
    values: torch.Tensor | np.ndarray,
    tokens: Sequence[str],
    query_index: int,
) -> plt.Figure:
    """Bar chart of one query's attention row, beside its weighted values and their sum."""
    data = attention_row_data(weights, values, query_index)
    if as_numpy(weights).shape != (len(tokens), len(tokens)):
        raise ValueError(
            f"self-attention weights must be (T, T) with T = len(tokens) = {len(tokens)}, "
            f"got {as_numpy(weights).shape}"
        )
    fig, (bars, table) = plt.subplots(1, 2, figsize=(10, 0.5 * len(tokens) + 2.4),
                                      gridspec_kw={"width_ratios": [1, 1.6]})
    bars.bar(range(len(tokens)), data["weights"], color="tab:blue")
    bars.set_xticks(range(len(tokens)), labels=list(tokens))
    bars.set_ylim(0, 1)
    bars.set_ylabel("attention weight")
    bars.set_title(f"query {tokens[query_index]!r}: weights sum to {data['weights'].sum():.2f}")
    rows = np.vstack([data["contributions"], data["output"]])  # (Tk + 1, D)
    limit = max(1e-9, float(np.abs(rows).max()))
    table.imshow(rows, cmap="coolwarm", vmin=-limit, vmax=limit, aspect="auto")
    labels = [f"{w:.2f} x v({t})" for w, t in zip(data["weights"], tokens, strict=True)]
    labels.append("output (sum)")
    table.set_yticks(range(len(labels)), labels=labels)
    table.set_xticks(range(rows.shape[1]))
    table.set_xlabel("channel")
    table.axhline(len(tokens) - 0.5, color="black", linewidth=2)
    table.set_title("weighted values, then their sum")
    if rows.size <= 160:
        for (i, j), value in np.ndenumerate(rows):
            table.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    fig.tight_layout()
    return fig


def query_explorer(
    weights: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray, tokens: Sequence[str]
) -> FigureExplorer:
    """Pick a query token from a dropdown; shows its attention row and weighted sum."""
    attention_row_data(weights, values, 0)  # check the shapes now, not inside the callback

    def view(query_index: int) -> tuple[plt.Figure, dict[str, np.ndarray]]:
        data = attention_row_data(weights, values, query_index)
        return attention_row_view(weights, values, tokens, query_index), data

    choices = [(f"{i}: {token}", i) for i, token in enumerate(tokens)]
    return FigureExplorer(view, {
        "query_index": widgets.Dropdown(options=choices, value=0, description="query"),
    })


# The softmax saturating as d_k grows, without the 1/sqrt(d_k) scale.


def softmax_saturation_data(
    d_k: int, num_keys: int = 8, seed: int = 0
) -> dict[str, np.ndarray | float]:
    """Softmax of a random query against `num_keys` random keys of width d_k, unscaled and scaled.

    Every entry of the query and keys has variance 1, so the unscaled scores have variance d_k.
    """
    check_positive_int("d_k", d_k)
    if num_keys < 2:
        raise ValueError(f"num_keys must be at least 2 to compare weights, got {num_keys!r}")
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(d_k, generator=generator)  # (D,), each entry of variance 1
    keys = torch.randn(num_keys, d_k, generator=generator)  # (Tk, D)
    scores = keys @ query  # (Tk, D) @ (D,) -> (Tk,): variance d_k
    data: dict[str, np.ndarray | float] = {"d_k": d_k}
    for name, logits in (("unscaled", scores), ("scaled", scores / d_k**0.5)):
        weights = torch.softmax(logits, dim=-1).numpy()
        data[f"{name}_scores"] = logits.numpy()
        data[f"{name}_weights"] = weights
        data[f"{name}_max_weight"] = float(weights.max())
        data[f"{name}_entropy"] = float(row_entropy(weights))
    return data


def softmax_saturation_view(data: dict[str, np.ndarray | float]) -> plt.Figure:
    """Two bar charts of softmax weights over the keys: without and with the 1/sqrt(d_k) scale."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
    panels = (("unscaled", "q.k"), ("scaled", "q.k / sqrt(d_k)"))
    for ax, (name, label) in zip(axes, panels, strict=True):
        weights = data[f"{name}_weights"]
        ax.bar(range(len(weights)), weights, color="tab:red" if name == "unscaled" else "tab:green")
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("key")
        ax.set_title(
            f"softmax({label}), d_k={data['d_k']}\nscore std {np.std(data[f'{name}_scores']):.1f}, "
            f"max weight {data[f'{name}_max_weight']:.2f}, entropy {data[f'{name}_entropy']:.2f}"
        )
    axes[0].set_ylabel("attention weight")
    fig.tight_layout()
    return fig


def softmax_saturation_explorer(
    d_k_options: Sequence[int] = (4, 16, 64, 256, 1024), num_keys: int = 8, seed: int = 0
) -> FigureExplorer:
    """A d_k slider: watch the unscaled softmax turn one-hot while the scaled one stays spread."""
    if not d_k_options or min(d_k_options) < 1:
        raise ValueError(f"d_k_options must hold positive ints, got {tuple(d_k_options)}")

    def view(d_k: int) -> tuple[plt.Figure, dict[str, np.ndarray | float]]:
        data = softmax_saturation_data(d_k, num_keys=num_keys, seed=seed)
        return softmax_saturation_view(data), data

    return FigureExplorer(view, {
        "d_k": widgets.SelectionSlider(options=list(d_k_options), value=d_k_options[0], description="d_k"),
    })
