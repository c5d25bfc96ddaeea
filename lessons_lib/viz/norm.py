"""Lesson 03 (notebooks/03_add_and_norm.ipynb) figures and explorer.

`plot_norm_axes` draws the (B, T, C) block of activations twice, with the entries LayerNorm and
BatchNorm each average over to get one mean (`norm_axes_masks` gives them as boolean arrays).

The explorer: activations and gradients through a deep stack, wired four ways (plain, residual,
post-norm, pre-norm). Built like every explorer: `add_norm_stack_data` (the numbers),
`add_norm_stack_view` (the figure), `add_norm_explorer` (a `FigureExplorer`; see
`lessons_lib.viz.explorer`).
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from lessons_lib.norm import ARRANGEMENTS, SUBLAYER_KINDS, random_sublayers, stack_statistics
from lessons_lib.viz.explorer import FigureExplorer


def norm_axes_masks(shape: tuple[int, int, int] = (3, 4, 6), token: tuple[int, int] = (2, 0),
                    channel: int = 3) -> dict[str, np.ndarray]:
    """The (B, T, C) entries behind one mean: of token (b, t) for LayerNorm, of `channel` for BatchNorm."""
    B, T, C = shape
    b, t = token
    if not (0 <= b < B and 0 <= t < T and 0 <= channel < C):
        raise ValueError(f"token={token} and channel={channel} must lie inside the shape (B, T, C)={shape}")
    layer_norm = np.zeros(shape, dtype=bool)
    layer_norm[b, t, :] = True  # one token, all its channels
    batch_norm = np.zeros(shape, dtype=bool)
    batch_norm[:, :, channel] = True  # one channel, every token of every sentence
    return {"LayerNorm": layer_norm, "BatchNorm": batch_norm}


def plot_norm_axes(shape: tuple[int, int, int] = (3, 4, 6), token: tuple[int, int] = (2, 0),
                   channel: int = 3) -> plt.Figure:
    """Two (B, T, C) blocks of activations; in colour, the entries one mean and variance are taken over."""
    masks = norm_axes_masks(shape, token, channel)
    captions = {
        "LayerNorm": f"LayerNorm: one mean per token,\nover its {shape[2]} channels ({shape[0] * shape[1]} means)",
        "BatchNorm": f"BatchNorm: one mean per channel,\nover all {shape[0]}x{shape[1]} tokens ({shape[2]} means)",
    }
    fig = plt.figure(figsize=(10, 4.4))
    for index, (name, mask) in enumerate(masks.items()):
        ax = fig.add_subplot(1, 2, index + 1, projection="3d")
        # voxels are indexed (x, y, z): channels along x, tokens along y, sentences (batch) up z
        cube = np.transpose(mask, (2, 1, 0))  # (B, T, C) -> (C, T, B)
        colours = np.where(cube, "tab:red" if name == "LayerNorm" else "tab:blue", "#dddddd")
        ax.voxels(np.ones_like(cube), facecolors=colours, edgecolor="#555555", linewidth=0.4, alpha=0.9)
        ax.set_xlabel("C: channels")
        ax.set_ylabel("T: tokens")
        ax.set_zlabel("B: sentences")
        for axis, size in ((ax.xaxis, shape[2]), (ax.yaxis, shape[1]), (ax.zaxis, shape[0])):
            axis.set_ticks(np.arange(size) + 0.5, labels=[str(i) for i in range(size)], fontsize=7)
        ax.set_box_aspect((shape[2], shape[1], shape[0]))
        ax.view_init(elev=22, azim=-58)
        ax.set_title(captions[name], fontsize=10)
    return fig


def add_norm_stack_data(
    depth: int = 48, gain: float = 0.8, sublayer: str = "linear", d_model: int = 64, seed: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """Per-layer output std and input-gradient norm (depth,) of each arrangement, on shared sublayers."""
    sublayers = random_sublayers(sublayer, depth, d_model, gain=gain, seed=seed)
    x = torch.randn(8, 16, d_model, generator=torch.Generator().manual_seed(seed + 1))  # (B, T, C)
    stats = {}
    for arrangement in ARRANGEMENTS:
        # the same sublayer weights in every arrangement: only the wiring differs
        output_std, gradient_norm = stack_statistics(sublayers, x, arrangement, seed=seed)
        stats[arrangement] = {
            "activation_std": np.array(output_std),
            "gradient_norm": np.array(gradient_norm),
        }
    return stats


def add_norm_stack_view(stats: dict[str, dict[str, np.ndarray]], title: str = "") -> plt.Figure:
    """Two log-scale panels: each arrangement's activation std and gradient norm, layer by layer."""
    fig, (activations, gradients) = plt.subplots(1, 2, figsize=(11, 3.8))
    for arrangement, series in stats.items():
        for ax, key in ((activations, "activation_std"), (gradients, "gradient_norm")):
            values = series[key]
            layers = np.arange(1, len(values) + 1)
            finite = np.isfinite(values) & (values > 0)
            # float32 overflow (inf, nan) cannot sit on a log axis: say so in the legend instead
            label = arrangement if finite.all() else f"{arrangement} (overflow: not drawn)"
            ax.plot(layers[finite], values[finite], marker=".", label=label)
    activations.set_title("activation std after each layer")
    gradients.set_title("gradient norm reaching each layer's input")
    for ax in (activations, gradients):
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.grid(True, which="major", alpha=0.3)
    activations.axhline(1.0, color="black", linewidth=0.8, linestyle=":")
    activations.legend(fontsize=8)
    gradients.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def add_norm_explorer(
    depth: int = 48, gain: float = 0.8, sublayer: str = "linear"
) -> FigureExplorer:
    """Sliders for depth and sublayer gain, a sublayer dropdown: redraws the four arrangements."""

    def view(depth: int, gain: float, sublayer: str) -> tuple[plt.Figure, dict]:
        stats = add_norm_stack_data(depth=depth, gain=gain, sublayer=sublayer)
        title = f"{depth} {sublayer} sublayers, gain {gain:.2f}"
        return add_norm_stack_view(stats, title=title), stats

    return FigureExplorer(view, {
        "depth": widgets.IntSlider(value=depth, min=2, max=96, step=2, description="depth"),
        "gain": widgets.FloatSlider(value=gain, min=0.25, max=2.0, step=0.05, description="gain"),
        "sublayer": widgets.Dropdown(options=list(SUBLAYER_KINDS), value=sublayer, description="sublayer"),
    })
