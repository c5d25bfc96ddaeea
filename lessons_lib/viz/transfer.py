"""Lesson 07 (notebooks/07_transfer_learning.ipynb) explorer: how good each layer's features are for
a new task, measured by a linear probe, for several encoders side by side.

Built like every explorer: `layer_probe_data` (the numbers), `layer_probe_view` (the figure),
`layer_probe_explorer` (a `FigureExplorer`; see `lessons_lib.viz.explorer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from lessons_lib.data.digits import per_class_indices
from lessons_lib.transfer import linear_probe
from lessons_lib.viz.explorer import FigureExplorer

# name -> (train features per layer, test features per layer); each (n, F)
LayerFeatures = Mapping[str, tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]]]


def layer_probe_data(features: LayerFeatures, train_labels: torch.Tensor, test_labels: torch.Tensor,
                     per_class: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Test accuracy of a linear probe on every layer of every encoder, trained on `per_class`
    labelled examples of each class (drawn with `seed`; the same examples for every layer)."""
    rows = per_class_indices(train_labels, per_class, seed=seed)
    accuracies = {}
    for name, (train, test) in features.items():
        if len(train) != len(test):
            raise ValueError(f"{name}: {len(train)} layers of training features but {len(test)} of test")
        accuracies[name] = np.array([
            linear_probe(train_layer[rows], train_labels[rows], test_layer, test_labels).test_accuracy
            for train_layer, test_layer in zip(train, test, strict=True)
        ])
    return accuracies


def layer_probe_view(accuracies: Mapping[str, np.ndarray], title: str = "",
                     chance: float | None = None) -> plt.Figure:
    """Probe accuracy against the layer (0 = the embedding), one line per encoder."""
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    for name, values in accuracies.items():
        ax.plot(np.arange(len(values)), 100 * np.asarray(values), marker="o", label=name)
    if chance is not None:
        ax.axhline(100 * chance, color="gray", linestyle=":", label="chance")
    layers = max(len(values) for values in accuracies.values())
    ax.set_xticks(range(layers), ["embedding"] + [f"layer {i}" for i in range(1, layers)])
    ax.set_ylabel("probe accuracy on the new task (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def layer_probe_explorer(features: LayerFeatures, train_labels: torch.Tensor, test_labels: torch.Tensor,
                         per_class: int = 5, max_per_class: int = 50) -> FigureExplorer:
    """Sliders for the labels per class and the draw of those examples: redraws every layer's probe."""
    num_classes = len(set(train_labels.tolist()))

    def view(per_class: int, draw: int) -> tuple[plt.Figure, dict]:
        accuracies = layer_probe_data(features, train_labels, test_labels, per_class, seed=draw)
        title = f"linear probe with {per_class} labelled examples per class (draw {draw})"
        return layer_probe_view(accuracies, title, chance=1 / num_classes), accuracies

    return FigureExplorer(view, {
        "per_class": widgets.IntSlider(value=per_class, min=1, max=max_per_class, description="labels per class",
                                       style={"description_width": "initial"}),
        "draw": widgets.IntSlider(value=0, min=0, max=9, description="draw"),
    })
