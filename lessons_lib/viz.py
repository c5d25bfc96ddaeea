"""Pictures and interactive explorers for every lesson.

Plots take an optional matplotlib `ax` and return it, so lessons can arrange them; explorers
are thin ipywidgets wrappers around plain functions (the `*_view` / `*_data` functions below),
which the tests call directly. Under papermill or nbval a widget just renders once, with its
default values; nothing blocks or waits for a user.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import font_manager
from matplotlib.colors import ListedColormap

from lessons_lib.data import Vocab, grammar_pair
from lessons_lib.norm import (
    STACK_ARRANGEMENTS,
    SUBLAYER_KINDS,
    StackLayer,
    random_sublayers,
    stack_statistics,
)
from lessons_lib.positional import sinusoidal_encoding
from lessons_lib.train import translate
from lessons_lib.transformer import Transformer


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
    vmax: float | None = None,
) -> plt.Axes:
    """Heatmap of a (Tq, Tk) attention matrix: rows are queries, columns are keys.

    The colour scale runs from 0 to `vmax` (default: the matrix's own maximum).
    """
    matrix = _as_numpy(weights)
    if matrix.ndim != 2:
        raise ValueError(f"weights must be 2-D (Tq, Tk), got shape {matrix.shape}")
    Tq, Tk = matrix.shape
    for name, labels, expected in (("query_labels", query_labels, Tq), ("key_labels", key_labels, Tk)):
        if labels is not None and len(labels) != expected:
            raise ValueError(f"{name} has {len(labels)} labels for {expected} rows/columns of weights")
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
    matrix = _as_numpy(weights)
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


# Lesson 01 explorers: one query's attention row, and the softmax saturating as d_k grows.


def _entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of non-negative weights, with 0 log 0 = 0."""
    logs = np.log(np.where(weights > 0, weights, 1.0))
    return -(weights * logs).sum(axis=-1)


def attention_row_data(
    weights: torch.Tensor | np.ndarray, values: torch.Tensor | np.ndarray, query_index: int
) -> dict[str, np.ndarray]:
    """One query's weights (Tk,), each key's weighted value (Tk, D), and their sum (D,)."""
    matrix, value_matrix = _as_numpy(weights), _as_numpy(values)
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
    if _as_numpy(weights).shape != (len(tokens), len(tokens)):
        raise ValueError(
            f"self-attention weights must be (T, T) with T = len(tokens) = {len(tokens)}, "
            f"got {_as_numpy(weights).shape}"
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
) -> widgets.interactive:
    """Pick a query token from a dropdown; shows its attention row and weighted sum."""
    attention_row_data(weights, values, 0)  # check the shapes now, not inside the callback

    def show(query_index: int) -> dict[str, np.ndarray]:
        attention_row_view(weights, values, tokens, query_index)
        plt.show()
        return attention_row_data(weights, values, query_index)

    choices = [(f"{i}: {token}", i) for i, token in enumerate(tokens)]
    return widgets.interactive(
        show, query_index=widgets.Dropdown(options=choices, value=0, description="query")
    )


def softmax_saturation_data(
    d_k: int, num_keys: int = 8, seed: int = 0
) -> dict[str, np.ndarray | float]:
    """Softmax of a random query against `num_keys` random keys of width d_k, unscaled and scaled.

    Every entry of the query and keys has variance 1, so the unscaled scores have variance d_k.
    """
    if d_k < 1 or num_keys < 2:
        raise ValueError(f"need d_k >= 1 and num_keys >= 2, got d_k={d_k}, num_keys={num_keys}")
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
        data[f"{name}_entropy"] = float(_entropy(weights))
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
) -> widgets.interactive:
    """A d_k slider: watch the unscaled softmax turn one-hot while the scaled one stays spread."""
    if not d_k_options or min(d_k_options) < 1:
        raise ValueError(f"d_k_options must hold positive ints, got {tuple(d_k_options)}")

    def show(d_k: int) -> dict[str, np.ndarray | float]:
        data = softmax_saturation_data(d_k, num_keys=num_keys, seed=seed)
        softmax_saturation_view(data)
        plt.show()
        return data

    slider = widgets.SelectionSlider(
        options=list(d_k_options), value=d_k_options[0], description="d_k"
    )
    return widgets.interactive(show, d_k=slider)


# Lesson 02 explorer: pick one head of a multi-head attention.


def head_data(weights: torch.Tensor | np.ndarray, head: int) -> dict[str, np.ndarray | int]:
    """One head's (Tq, Tk) weights and every head's mean row entropy (H,), in nats."""
    matrix = _as_numpy(weights)
    if matrix.ndim != 3:
        raise ValueError(f"weights must be 3-D (H, Tq, Tk), got shape {matrix.shape}")
    if not 0 <= head < matrix.shape[0]:
        raise ValueError(f"head={head} is outside 0..{matrix.shape[0] - 1}")
    entropy = _entropy(matrix).mean(axis=-1)  # (H, Tq, Tk) -> (H, Tq) -> (H,)
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
) -> widgets.interactive:
    """Pick a head from a dropdown; shows its heatmap and how sharp it is next to the others."""
    H = head_data(weights, 0)["entropy"].shape[0]  # checks the shape now, not inside the callback

    def show(head: int) -> dict[str, np.ndarray | int]:
        head_view(weights, head, query_labels, key_labels)
        plt.show()
        return head_data(weights, head)

    choices = [(f"head {h}", h) for h in range(H)]
    dropdown = widgets.Dropdown(options=choices, value=0, description="head")
    return widgets.interactive(show, head=dropdown)


# A figure that follows its controls, for the lesson 03 and 04 explorers.


class FigureExplorer(widgets.VBox):
    """Controls above a picture: each change calls `view(**values) -> (figure, data)` and redraws.

    The figure is rendered to PNG and shown in an Image widget, not captured by an Output widget
    as `widgets.interactive` does. With ipykernel 7, papermill runs of cells holding an Output
    widget were seen to hang now and then (ipykernel#1554; the course pins ipykernel below 7 and
    saw no hang in 25 runs of lessons 01-02 since); an Image widget keeps this explorer clear of
    that path altogether. The last `data` is kept in `result`, and the controls, by name, in
    `controls`.
    """

    def __init__(self, view, controls: dict[str, widgets.ValueWidget], dpi: int = 80):
        self.view = view
        self.controls = controls
        self.dpi = dpi
        self.image = widgets.Image(format="png")
        self.result = None
        super().__init__([widgets.HBox(list(controls.values())), self.image])
        for control in controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, change: dict | None = None) -> None:
        """Call the view with the controls' current values and show its figure."""
        values = {name: control.value for name, control in self.controls.items()}
        figure, self.result = self.view(**values)
        png = io.BytesIO()
        figure.savefig(png, format="png", dpi=self.dpi, bbox_inches="tight")
        plt.close(figure)
        self.image.value = png.getvalue()


# Lesson 03 explorer: activations and gradients through a deep stack, wrapped four ways.


def add_norm_stack_data(
    depth: int = 48, gain: float = 0.8, sublayer: str = "linear", d_model: int = 64, seed: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """Per-layer output std and input-gradient norm (depth,) of each arrangement, on shared sublayers."""
    sublayers = random_sublayers(sublayer, depth, d_model, gain=gain, seed=seed)
    x = torch.randn(8, 16, d_model, generator=torch.Generator().manual_seed(seed + 1))  # (B, T, C)
    stats = {}
    for arrangement in STACK_ARRANGEMENTS:
        # the same sublayer weights in every arrangement: only the wiring differs
        layers = [StackLayer(d_model, module, arrangement) for module in sublayers]
        output_std, gradient_norm = stack_statistics(layers, x, seed=seed)
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


# Lesson 04: pictures of the sinusoidal encoding, and an explorer of positions and dimensions.


def plot_positional_encoding(
    encoding: torch.Tensor | np.ndarray, ax: plt.Axes | None = None, title: str | None = None
) -> plt.Axes:
    """Heatmap of a (max_len, d_model) encoding: one row per position, one column per channel."""
    matrix = _as_numpy(encoding)
    if matrix.ndim != 2:
        raise ValueError(f"encoding must be 2-D (max_len, d_model), got shape {matrix.shape}")
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
    matrix = _as_numpy(encoding)
    if matrix.ndim != 2:
        raise ValueError(f"encoding must be 2-D (max_len, d_model), got shape {matrix.shape}")
    similarity = matrix @ matrix.T  # (max_len, C) @ (C, max_len) -> (max_len, max_len)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    image = ax.imshow(similarity, cmap="viridis", interpolation="nearest")
    ax.set_xlabel("position q")
    ax.set_ylabel("position p")
    ax.set_title(title or "dot product PE[p] . PE[q]")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


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


# Lesson 05: Korean labels, the causal mask, and the translator's cross-attention.

# fonts with Hangul glyphs that learners' machines often have (Linux, Windows, macOS)
_KOREAN_FONTS = ("NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR",
                 "Noto Sans CJK JP", "Source Han Sans KR", "Malgun Gothic", "Apple SD Gothic Neo",
                 "AppleGothic", "UnDotum", "Baekmuk Gulim", "Gulim", "Dotum")
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k",
             "t", "p", "h")
_VOWELS = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u",
           "wo", "we", "wi", "yu", "eu", "ui", "i")
_FINALS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p",
           "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t")
# a final consonant before a silent initial ㅇ is read as the next syllable's first sound
_FINALS_BEFORE_VOWEL = ("", "g", "kk", "ks", "n", "nj", "n", "d", "r", "lg", "lm", "lb", "ls",
                        "lt", "lp", "r", "m", "b", "ps", "s", "ss", "ng", "j", "ch", "k", "t", "p",
                        "")


def _register_packaged_korean_font() -> None:
    """Make the NanumGothic file shipped by the koreanize-matplotlib dependency known to matplotlib.

    The file is found without importing that package, whose import would change rcParams.
    """
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return
    path = Path(spec.submodule_search_locations[0]) / "fonts" / "NanumGothic.ttf"
    if path.is_file():
        font_manager.fontManager.addfont(str(path))


def korean_font() -> str | None:
    """The name of an installed font with Hangul glyphs (the packaged NanumGothic at least), or None."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    if not installed & set(_KOREAN_FONTS):
        _register_packaged_korean_font()
        installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in _KOREAN_FONTS if name in installed), None)


def use_korean_font() -> str | None:
    """Make an installed Korean font matplotlib's first choice; its name, or None if there is none.

    Without one, the lesson's plots romanize Korean labels (see `hangul_labels`).
    """
    font = korean_font()
    if font is not None and font not in plt.rcParams["font.sans-serif"]:
        plt.rcParams["font.sans-serif"] = [font, *plt.rcParams["font.sans-serif"]]
        plt.rcParams["font.family"] = ["sans-serif"]
    return font


def romanize_korean(text: str) -> str:
    """Hangul -> Latin letters by the Revised Romanization; of its sound changes only linking (책을 -> chaegeul)."""
    syllables = []
    for position, char in enumerate(text):
        code = ord(char) - _HANGUL_FIRST
        if not 0 <= code <= _HANGUL_LAST - _HANGUL_FIRST:
            syllables.append(char)
            continue
        initial, vowel, final = code // 588, (code % 588) // 28, code % 28
        following = text[position + 1] if position + 1 < len(text) else ""
        silent_next = (_HANGUL_FIRST <= ord(following) <= _HANGUL_LAST
                       if following else False) and (ord(following) - _HANGUL_FIRST) // 588 == 11
        ending = _FINALS_BEFORE_VOWEL[final] if silent_next else _FINALS[final]
        syllables.append(_INITIALS[initial] + _VOWELS[vowel] + ending)
    return "".join(syllables)


def hangul_labels(labels: Sequence[str]) -> list[str]:
    """Labels ready to draw: as they are when a Korean font is in use, romanized otherwise."""
    active = set(plt.rcParams["font.sans-serif"]) | set(plt.rcParams["font.family"])
    if active & set(_KOREAN_FONTS):
        return list(labels)
    return [romanize_korean(label) for label in labels]


def plot_mask(
    mask: torch.Tensor | np.ndarray,
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """A (Tq, Tk) boolean mask as the matrix added to the logits: 0 where True, -inf where False."""
    matrix = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if matrix.ndim != 2 or matrix.dtype != bool:
        raise ValueError(f"mask must be a 2-D boolean (Tq, Tk) array, got shape {matrix.shape} "
                         f"and dtype {matrix.dtype}")
    Tq, Tk = matrix.shape
    for name, labels, expected in (("query_labels", query_labels, Tq), ("key_labels", key_labels, Tk)):
        if labels is not None and len(labels) != expected:
            raise ValueError(f"{name} has {len(labels)} labels for {expected} rows/columns of mask")
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
    plot_attention(data["weights"], hangul_labels(data["target_tokens"]), data["source_tokens"],
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
                         sentence: str = "I go home") -> widgets.interactive:
    """Type an English sentence; see its translation and which English word each Korean word read."""
    num_layers = len(model.decoder.layers)
    num_heads = model.config.num_heads

    def show(sentence: str, layer: int, head: int | str) -> dict | None:
        try:
            head_index = None if head == "mean" else head
            data = translation_data(model, sentence, src_vocab, tgt_vocab, layer, head_index)
        except ValueError as error:  # an unknown word: say which, and what is close
            print(error)
            return None
        fig = translation_view(data)
        plt.show()
        plt.close(fig)
        return data

    return widgets.interactive(
        show,
        sentence=widgets.Text(value=sentence, description="English", continuous_update=False),
        layer=widgets.Dropdown(options=list(range(num_layers)), value=num_layers - 1,
                               description="layer"),
        # not None for "mean": a Dropdown whose value is None shows as no selection at all
        head=widgets.Dropdown(options=[("mean", "mean")] + [(f"head {h}", h) for h in range(num_heads)],
                              value="mean", description="head"),
    )
