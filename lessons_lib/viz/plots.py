"""The figures the lessons draw: attention heatmaps, a grid of heads, a mask, the positional encoding.

Every plot takes an optional matplotlib `ax` (or makes its own figure) and returns what it drew
on, so a lesson can arrange several in one figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap

from lessons_lib.hangul import hangul_labels


def as_numpy(weights: torch.Tensor | np.ndarray) -> np.ndarray:
    """A tensor (any device, any float dtype, with or without grad) or array as a float numpy array."""
    if isinstance(weights, torch.Tensor):
        return weights.detach().cpu().float().numpy()
    return np.asarray(weights, dtype=float)


def row_entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of non-negative weights, with 0 log 0 = 0."""
    logs = np.log(np.where(weights > 0, weights, 1.0))
    return -(weights * logs).sum(axis=-1)


def _check_labels(query_labels, key_labels, shape: tuple[int, int], what: str) -> None:
    for name, labels, expected in (("query_labels", query_labels, shape[0]),
                                   ("key_labels", key_labels, shape[1])):
        if labels is not None and len(labels) != expected:
            raise ValueError(f"{name} has {len(labels)} labels for {expected} rows/columns of {what}")


def plot_attention(
    weights: torch.Tensor | np.ndarray,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
    annotate: bool = True,
    colorbar: bool = True,
    vmax: float | None = None,
) -> plt.Axes:
    """Heatmap of a (Tq, Tk) attention matrix: rows are queries, columns are keys.

    The colour scale runs from 0 to `vmax` (default: the matrix's own maximum).
    """
    matrix = as_numpy(weights)
    if matrix.ndim != 2:
        raise ValueError(f"weights must be 2-D (Tq, Tk), got shape {matrix.shape}")
    Tq, Tk = matrix.shape
    _check_labels(query_labels, key_labels, matrix.shape, "weights")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * Tk + 2.2, 0.6 * Tq + 1.2))
    vmax = max(1e-9, float(matrix.max())) if vmax is None else vmax
    image = ax.imshow(matrix, cmap="viridis", vmin=0.0, vmax=vmax)
    ax.set_xticks(range(Tk), labels=list(key_labels) if key_labels is not None else range(Tk))
    ax.set_yticks(range(Tq), labels=list(query_labels) if query_labels is not None else range(Tq))
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if annotate and Tq * Tk <= 144:
        for i in range(Tq):
            for j in range(Tk):
                value = matrix[i, j]
                color = "black" if value > 0.6 * vmax else "white"
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
    """One heatmap per head of (H, Tq, Tk) weights, in a grid, all on one colour scale.

    One scale (0 to the largest weight of any head) keeps a near-uniform head looking pale
    next to a sharp one.
    """
    matrix = as_numpy(weights)
    if matrix.ndim != 3:
        raise ValueError(f"weights must be 3-D (H, Tq, Tk), got shape {matrix.shape}")
    H = matrix.shape[0]
    ncols = min(ncols, H)
    nrows = -(-H // ncols)
    vmax = max(1e-9, float(matrix.max()))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.2 * ncols + 0.6, 3.0 * nrows), squeeze=False, layout="constrained"
    )
    for h, ax in enumerate(axes.flat):
        if h < H:
            plot_attention(matrix[h], query_labels, key_labels, ax=ax, title=f"head {h}",
                           annotate=False, colorbar=False, vmax=vmax)
        else:
            ax.axis("off")
    fig.colorbar(axes.flat[0].images[0], ax=axes.ravel().tolist(), fraction=0.02, pad=0.02)
    return fig


def plot_mask(
    mask: torch.Tensor | np.ndarray,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """A (Tq, Tk) boolean mask as the matrix added to the logits: 0 where True, -inf where False.

    Korean labels are romanized unless a Korean font is in use (`lessons_lib.hangul`).
    """
    matrix = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if matrix.ndim != 2 or matrix.dtype != bool:
        raise ValueError(f"mask must be a 2-D boolean (Tq, Tk) array, got shape {matrix.shape} "
                         f"and dtype {matrix.dtype}")
    Tq, Tk = matrix.shape
    _check_labels(query_labels, key_labels, matrix.shape, "mask")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * Tk + 1.8, 0.6 * Tq + 1.2))
    allowed_colors = ListedColormap(["lightgray", "mediumseagreen"])  # False, True
    ax.imshow(matrix, cmap=allowed_colors, vmin=0, vmax=1)
    for (i, j), allowed in np.ndenumerate(matrix):
        ax.text(j, i, "0" if allowed else "-inf", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(Tk), labels=hangul_labels(key_labels) if key_labels else range(Tk))
    ax.set_yticks(range(Tq), labels=hangul_labels(query_labels) if query_labels else range(Tq))
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.set_title(title or "mask added to the logits")
    return ax


def _encoding_matrix(encoding: torch.Tensor | np.ndarray) -> np.ndarray:
    matrix = as_numpy(encoding)
    if matrix.ndim != 2:
        raise ValueError(f"encoding must be 2-D (max_len, d_model), got shape {matrix.shape}")
    return matrix


def plot_positional_encoding(
    encoding: torch.Tensor | np.ndarray, ax: plt.Axes | None = None, title: str | None = None
) -> plt.Axes:
    """Heatmap of a (max_len, d_model) encoding: one row per position, one column per channel."""
    matrix = _encoding_matrix(encoding)  # (max_len, C)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1.0, vmax=1.0, aspect="auto", interpolation="nearest")
    ax.set_xlabel("channel (even: sin, odd: cos)")
    ax.set_ylabel("position")
    ax.set_title(title or f"sinusoidal encoding, {matrix.shape[0]} positions x {matrix.shape[1]} channels")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_position_similarity(
    encoding: torch.Tensor | np.ndarray, ax: plt.Axes | None = None, title: str | None = None
) -> plt.Axes:
    """Heatmap of the dot products PE[p] . PE[q] between every pair of positions."""
    matrix = _encoding_matrix(encoding)  # (max_len, C)
    similarity = matrix @ matrix.T  # (max_len, C) @ (C, max_len) -> (max_len, max_len)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    image = ax.imshow(similarity, cmap="viridis", interpolation="nearest")
    ax.set_xlabel("position q")
    ax.set_ylabel("position p")
    ax.set_title(title or "dot product PE[p] . PE[q]")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax
