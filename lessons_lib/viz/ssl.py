"""Lesson 06 (notebooks/06_self_supervised_learning.ipynb) figures and explorer: a digit with a
square hidden, the model's fill-in, the mean-fill baseline and the truth.

Built like every explorer: `inpainting_data` (the numbers), `inpainting_view` (the figure),
`inpainting_explorer` (a `FigureExplorer`; see `lessons_lib.viz.explorer`). `inpainting_grid_view`
draws several digits at once (masked / predicted / true), for the lesson's static figure.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from lessons_lib.data.digits import IMAGE_SIZE, from_patches, to_patches
from lessons_lib.runtime import model_mode
from lessons_lib.ssl import Inpainter, hidden_patch_loss, mask_patches
from lessons_lib.viz.explorer import FigureExplorer

HIDDEN_SHADE = 0.35  # the grey of a hidden pixel in the "input" panel, so it differs from black ink


def block_at(grid_size: int, top: int, left: int, block_size: int) -> torch.Tensor:
    """(grid_size**2,) bool, True = hidden: the block_size x block_size square of patches at (top, left)."""
    if not (0 <= top <= grid_size - block_size and 0 <= left <= grid_size - block_size):
        raise ValueError(f"a {block_size}x{block_size} square at row {top}, column {left} does not fit "
                         f"a {grid_size}x{grid_size} grid")
    grid = torch.zeros(grid_size, grid_size, dtype=torch.bool)
    grid[top : top + block_size, left : left + block_size] = True
    return grid.flatten()


@torch.no_grad()
def fill_in(model: Inpainter, images: torch.Tensor, hidden: torch.Tensor, patch_size: int = 2) -> torch.Tensor:
    """(B, 8, 8) images with the (B, N) hidden patches replaced by the model's prediction; the
    visible pixels are the image's own."""
    device = next(model.parameters()).device
    patches = to_patches(images, patch_size)  # (B, N, P)
    with model_mode(model, training=False):
        predicted = model(mask_patches(patches, hidden).to(device), hidden.to(device)).cpu()  # (B, N, P)
    filled = torch.where(hidden[..., None], predicted, patches)  # keep what the model was shown
    return from_patches(filled, patch_size)


def inpainting_data(model: Inpainter, images: torch.Tensor, mean_patches: torch.Tensor, index: int,
                    top: int, left: int, block_size: int = 2, patch_size: int = 2) -> dict:
    """One digit with a square of patches hidden: the input, the model's and the mean's fill-ins,
    the truth (each 8x8) and the squared error of each fill-in on the hidden pixels."""
    if not 0 <= index < len(images):
        raise ValueError(f"index={index} is outside the {len(images)} images")
    grid_size = IMAGE_SIZE // patch_size
    hidden = block_at(grid_size, top, left, block_size)[None]  # (1, N)
    image = images[index : index + 1]  # (1, 8, 8)
    patches = to_patches(image, patch_size)  # (1, N, P)
    predicted = fill_in(model, image, hidden, patch_size)  # (1, 8, 8)
    mean_filled = from_patches(torch.where(hidden[..., None], mean_patches[None], patches), patch_size)
    shown = from_patches(mask_patches(patches, hidden, fill_value=HIDDEN_SHADE), patch_size)
    return {
        "index": index,
        "hidden_pixels": from_patches(hidden[..., None].expand_as(patches).float(), patch_size)[0].numpy() > 0,
        "input": shown[0].numpy(),
        "model": predicted[0].clamp(0, 1).numpy(),
        "mean_fill": mean_filled[0].numpy(),
        "true": image[0].numpy(),
        "model_error": hidden_patch_loss(to_patches(predicted, patch_size), patches, hidden).item(),
        "mean_fill_error": hidden_patch_loss(to_patches(mean_filled, patch_size), patches, hidden).item(),
    }


def _show(ax: plt.Axes, image: np.ndarray, title: str, hidden: np.ndarray | None = None) -> None:
    ax.imshow(image, cmap="gray_r", vmin=0.0, vmax=1.0)
    if hidden is not None:  # outline the hidden square
        rows, columns = np.nonzero(hidden)
        ax.add_patch(plt.Rectangle((columns.min() - 0.5, rows.min() - 0.5), columns.max() - columns.min() + 1,
                                   rows.max() - rows.min() + 1, fill=False, edgecolor="C3", linewidth=2))
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def inpainting_view(data: dict) -> plt.Figure:
    """Four panels: what the model was shown, its fill-in, the mean fill, the true digit."""
    fig, axes = plt.subplots(1, 4, figsize=(8.4, 2.6))
    hidden = data["hidden_pixels"]
    _show(axes[0], data["input"], "shown (square hidden)", hidden)
    _show(axes[1], data["model"], f"model: error {data['model_error']:.3f}", hidden)
    _show(axes[2], data["mean_fill"], f"mean fill: error {data['mean_fill_error']:.3f}", hidden)
    _show(axes[3], data["true"], "true", hidden)
    fig.suptitle(f"test digit {data['index']}: squared error on the hidden pixels", fontsize=10)
    fig.tight_layout()
    return fig


def inpainting_grid_view(shown: torch.Tensor, predicted: torch.Tensor, true: torch.Tensor,
                         title: str = "") -> plt.Figure:
    """Rows: the masked inputs, the model's fill-ins, the true digits; one column per (8, 8) image."""
    count = len(true)
    fig, axes = plt.subplots(3, count, figsize=(1.1 * count, 3.6), squeeze=False)
    for column in range(count):
        for row, (images, label) in enumerate(((shown, "masked"), (predicted, "predicted"), (true, "true"))):
            ax = axes[row, column]
            ax.imshow(images[column].clamp(0, 1).numpy(), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def inpainting_explorer(model: Inpainter, images: torch.Tensor, mean_patches: torch.Tensor,
                        index: int = 0, block_size: int = 2, patch_size: int = 2) -> FigureExplorer:
    """Pick a test digit and where the hidden square is; see the model's fill-in next to the mean's."""
    last = IMAGE_SIZE // patch_size - block_size

    def view(index: int, row: int, column: int) -> tuple[plt.Figure, dict]:
        data = inpainting_data(model, images, mean_patches, index, row, column, block_size, patch_size)
        return inpainting_view(data), data

    wide = {"description_width": "initial"}  # the whole label, not "square co..."
    return FigureExplorer(view, {
        "index": widgets.IntSlider(value=index, min=0, max=len(images) - 1, description="digit", style=wide),
        "row": widgets.IntSlider(value=0, min=0, max=last, description="square row", style=wide),
        "column": widgets.IntSlider(value=0, min=0, max=last, description="square column", style=wide),
    })
