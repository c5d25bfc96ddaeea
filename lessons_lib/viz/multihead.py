"""Lesson 02 (notebooks/02_multi_head_attention.ipynb) explorer: pick one head of a multi-head attention.

Built like every explorer: `head_data` (the numbers), `head_view` (the figure), `head_explorer`
(a `FigureExplorer`; see `lessons_lib.viz.explorer`).
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.plots import as_numpy, plot_attention, row_entropy


def head_data(weights: torch.Tensor | np.ndarray, head: int) -> dict[str, np.ndarray | int]:
    """One head's (Tq, Tk) weights and every head's mean row entropy (H,), in nats."""
    matrix = as_numpy(weights)
    if matrix.ndim != 3:
        raise ValueError(f"weights must be 3-D (H, Tq, Tk), got shape {matrix.shape}")
    if not 0 <= head < matrix.shape[0]:
        raise ValueError(f"head={head} is outside 0..{matrix.shape[0] - 1}")
    entropy = row_entropy(matrix).mean(axis=-1)  # (H, Tq, Tk) -> (H, Tq) -> (H,)
    return {"head": head, "weights": matrix[head], "entropy": entropy}


def head_view(
    weights: torch.Tensor | np.ndarray,
    head: int,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
) -> plt.Figure:
    """Heatmap of one head, beside every head's mean entropy (low = sharp, log Tk = uniform)."""
    data = head_data(weights, head)
    H, Tk = len(data["entropy"]), data["weights"].shape[1]
    fig, (heatmap, bars) = plt.subplots(1, 2, figsize=(10, 0.5 * data["weights"].shape[0] + 2.6))
    plot_attention(data["weights"], query_labels, key_labels, ax=heatmap, title=f"head {head}")
    colors = ["tab:orange" if h == head else "tab:gray" for h in range(H)]
    bars.bar(range(H), data["entropy"], color=colors)
    bars.axhline(np.log(Tk), color="black", linestyle="--", label=f"uniform: log {Tk}")
    bars.set_xticks(range(H), labels=[f"head {h}" for h in range(H)])
    bars.set_ylim(0, 1.3 * max(np.log(Tk), 0.1))  # room above the uniform line for the legend
    bars.set_ylabel("mean entropy of a row (nats)")
    bars.set_title("how spread out each head is")
    bars.legend(loc="upper left")
    fig.tight_layout()
    return fig


def head_explorer(
    weights: torch.Tensor | np.ndarray,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
) -> FigureExplorer:
    """Pick a head from a dropdown; shows its heatmap and how sharp it is next to the others."""
    H = head_data(weights, 0)["entropy"].shape[0]  # checks the shape now, not inside the callback

    def view(head: int) -> tuple[plt.Figure, dict[str, np.ndarray | int]]:
        return head_view(weights, head, query_labels, key_labels), head_data(weights, head)

    choices = [(f"head {h}", h) for h in range(H)]
    return FigureExplorer(view, {"head": widgets.Dropdown(options=choices, value=0, description="head")})
