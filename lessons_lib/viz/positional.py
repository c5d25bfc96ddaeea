"""Lesson 04 (notebooks/04_positional_encoding.ipynb) explorer: positions and dimensions of the
sinusoidal encoding.

Built like every explorer: `positional_encoding_data` (the numbers), `positional_encoding_view`
(the figure), `positional_encoding_explorer` (a `FigureExplorer`; see `lessons_lib.viz.explorer`).
The whole-matrix pictures, `plot_positional_encoding` and `plot_position_similarity`, are in
`lessons_lib.viz.plots`.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from lessons_lib.positional import sinusoidal_encoding
from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.plots import plot_positional_encoding


def positional_encoding_data(
    position: int, dimension: int, max_len: int = 64, d_model: int = 64
) -> dict[str, np.ndarray | float | int | str]:
    """One entry of the sinusoidal encoding, with its channel's wave and its position's similarities."""
    if not 0 <= position < max_len:
        raise ValueError(f"position={position} is outside 0..{max_len - 1} (max_len={max_len})")
    if not 0 <= dimension < d_model:
        raise ValueError(f"dimension={dimension} is outside 0..{d_model - 1} (d_model={d_model})")
    encoding = sinusoidal_encoding(max_len, d_model).numpy()  # (max_len, C)
    pair = dimension // 2  # channels 2i and 2i+1 share the frequency 1 / 10000^(2i / d_model)
    frequency = 10000.0 ** (-2 * pair / d_model)
    return {
        "position": position,
        "dimension": dimension,
        "kind": "sin" if dimension % 2 == 0 else "cos",
        "pair": pair,
        "frequency": frequency,
        "wavelength": 2 * np.pi / frequency,  # positions per full turn of this channel's wave
        "value": float(encoding[position, dimension]),
        "encoding": encoding,
        "wave": encoding[:, dimension],  # (max_len,): this channel at every position
        "vector": encoding[position],  # (C,): the vector added to the token at `position`
        "similarity": encoding @ encoding[position],  # (max_len, C) @ (C,) -> (max_len,)
    }


def positional_encoding_view(data: dict[str, np.ndarray | float | int | str]) -> plt.Figure:
    """The encoding with the chosen entry marked, that channel's wave, and that position's similarities."""
    position, dimension = data["position"], data["dimension"]
    fig, (heatmap, wave, similarity) = plt.subplots(
        1, 3, figsize=(14, 3.8), gridspec_kw={"width_ratios": [1.3, 1, 1]}
    )
    plot_positional_encoding(data["encoding"], ax=heatmap, title="PE: rows are positions")
    heatmap.axhline(position, color="gold", linewidth=1.2)
    heatmap.axvline(dimension, color="gold", linewidth=1.2)
    heatmap.plot([dimension], [position], marker="o", markersize=9, markerfacecolor="none",
                 markeredgecolor="black", markeredgewidth=2)
    positions = np.arange(len(data["wave"]))
    wave.plot(positions, data["wave"], marker=".", color="tab:purple")
    wave.plot([position], [data["value"]], marker="o", markersize=10, color="black")
    wave.set_ylim(-1.1, 1.1)
    wave.set_xlabel("position")
    wave.set_title(
        f"channel {dimension} = {data['kind']}(pos x {data['frequency']:.3g})\n"
        f"wavelength {data['wavelength']:.1f} positions; PE[{position}, {dimension}] = {data['value']:.3f}"
    )
    similarity.plot(positions, data["similarity"], marker=".", color="tab:green")
    similarity.axvline(position, color="black", linewidth=0.8, linestyle=":")
    similarity.set_xlabel("position q")
    similarity.set_title(f"PE[{position}] . PE[q]: highest at q = {position}")
    fig.tight_layout()
    return fig


def positional_encoding_explorer(max_len: int = 64, d_model: int = 64) -> FigureExplorer:
    """Position and dimension sliders over the sinusoidal encoding: the entry, its wave, its neighbours."""
    positional_encoding_data(0, 0, max_len, d_model)  # checks the sizes now, not inside the callback

    def view(position: int, dimension: int) -> tuple[plt.Figure, dict]:
        data = positional_encoding_data(position, dimension, max_len, d_model)
        return positional_encoding_view(data), data

    return FigureExplorer(view, {
        "position": widgets.IntSlider(value=max_len // 4, min=0, max=max_len - 1, description="position"),
        "dimension": widgets.IntSlider(value=0, min=0, max=d_model - 1, description="dimension"),
    })
