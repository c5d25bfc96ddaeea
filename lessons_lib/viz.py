"""Pictures and interactive explorers for every lesson.

Plots take an optional matplotlib `ax` and return it, so lessons can arrange them; explorers
are thin ipywidgets wrappers around plain functions (the `*_view` / `*_data` functions below),
which the tests call directly. Under papermill or nbval a widget just renders once, with its
default values; nothing blocks or waits for a user.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def _as_numpy(weights: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(weights, torch.Tensor):
        return weights.detach().cpu().float().numpy()
    return np.asarray(weights, dtype=float)


def plot_attention(
    weights: torch.Tensor | np.ndarray,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
    annotate: bool = True,
    colorbar: bool = True,
) -> plt.Axes:
    """Heatmap of a (Tq, Tk) attention matrix: rows are queries, columns are keys."""
    matrix = _as_numpy(weights)
    if matrix.ndim != 2:
        raise ValueError(f"weights must be 2-D (Tq, Tk), got shape {matrix.shape}")
    Tq, Tk = matrix.shape
    for name, labels, expected in (("query_labels", query_labels, Tq), ("key_labels", key_labels, Tk)):
        if labels is not None and len(labels) != expected:
            raise ValueError(f"{name} has {len(labels)} labels for {expected} rows/columns of weights")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * Tk + 2.2, 0.6 * Tq + 1.2))
    image = ax.imshow(matrix, cmap="viridis", vmin=0.0, vmax=max(1e-9, float(matrix.max())))
    ax.set_xticks(range(Tk), labels=list(key_labels) if key_labels is not None else range(Tk))
    ax.set_yticks(range(Tq), labels=list(query_labels) if query_labels is not None else range(Tq))
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if annotate and Tq * Tk <= 144:
        for i in range(Tq):
            for j in range(Tk):
                value = matrix[i, j]
                color = "black" if value > 0.6 * matrix.max() else "white"
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color=color)
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_heads(
    weights: torch.Tensor | np.ndarray,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    ncols: int = 4,
) -> plt.Figure:
    """One heatmap per head of (H, Tq, Tk) weights, in a grid."""
    matrix = _as_numpy(weights)
    if matrix.ndim != 3:
        raise ValueError(f"weights must be 3-D (H, Tq, Tk), got shape {matrix.shape}")
    H = matrix.shape[0]
    ncols = min(ncols, H)
    nrows = -(-H // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows), squeeze=False)
    for h, ax in enumerate(axes.flat):
        if h < H:
            plot_attention(matrix[h], query_labels, key_labels, ax=ax, title=f"head {h}",
                           annotate=False, colorbar=False)
        else:
            ax.axis("off")
    fig.tight_layout()
    return fig
