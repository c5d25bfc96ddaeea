"""The encoder-decoder Transformer of "Attention Is All You Need" (2017, its Figure 1), drawn from
code, with the boxes a lesson is about highlighted. Every lesson 01-09 opens with it.

    draw_transformer(highlight="add & norm", title="Lesson 03: Add & Norm")

`highlight` takes box names, group names, or a mix. The names (also in `BOXES` and `GROUPS`):

| name | what it is | lesson |
| --- | --- | --- |
| `input embedding`, `output embedding` | token ids -> vectors, source and target side | 05 |
| `encoder positional encoding`, `decoder positional encoding` | the position vector added to each token | 04 |
| `encoder self-attention` | multi-head self-attention over the source | 01, 02 |
| `decoder self-attention` | masked multi-head self-attention over the target so far | 01, 02, 05 |
| `cross-attention` | encoder-decoder attention: decoder queries, memory keys and values | 05 |
| `encoder feed-forward`, `decoder feed-forward` | the position-wise feed-forward network | 05 |
| `encoder add & norm 1`, `encoder add & norm 2` | residual connection + LayerNorm around each encoder sublayer | 03 |
| `decoder add & norm 1` .. `decoder add & norm 3` | the same around each decoder sublayer | 03 |
| `encoder`, `decoder` | the frame of each stack, repeated N times | 05, 08 (encoder), 09 (decoder) |
| `memory` | the encoder's output, read by every decoder layer's cross-attention | 05 |
| `linear`, `softmax` | the final projection to one score per target word, and its softmax | 05, 09 |

Groups: `attention` (the three attentions), `add & norm` (all five), `feed-forward` (both),
`embedding` (both), `positional encoding` (both).

Each drawn patch carries its box name as its matplotlib `gid` (`patch.get_gid()`), so tests and
lessons can find a box in the figure.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from lessons_lib.hangul import korean_font, romanize_korean

# name -> what the box is (the table above, for help() and the tests)
BOXES: dict[str, str] = {
    "input embedding": "source token ids -> vectors (times sqrt(d_model))",
    "output embedding": "target token ids -> vectors (times sqrt(d_model))",
    "encoder positional encoding": "a position vector added to each source token",
    "decoder positional encoding": "a position vector added to each target token",
    "encoder self-attention": "multi-head self-attention over the source sentence",
    "encoder add & norm 1": "residual connection and LayerNorm around the encoder's attention",
    "encoder feed-forward": "position-wise feed-forward network of the encoder layer",
    "encoder add & norm 2": "residual connection and LayerNorm around the encoder's feed-forward",
    "decoder self-attention": "masked (causal) multi-head self-attention over the target so far",
    "decoder add & norm 1": "residual connection and LayerNorm around the masked self-attention",
    "cross-attention": "encoder-decoder attention: queries from the decoder, keys and values from the memory",
    "decoder add & norm 2": "residual connection and LayerNorm around the cross-attention",
    "decoder feed-forward": "position-wise feed-forward network of the decoder layer",
    "decoder add & norm 3": "residual connection and LayerNorm around the decoder's feed-forward",
    "encoder": "the encoder layer, repeated N times",
    "decoder": "the decoder layer, repeated N times",
    "memory": "the encoder's output, one vector per source word, read by every decoder layer",
    "linear": "the final linear layer: one score (logit) per target word",
    "softmax": "turns the scores into next-word probabilities",
}

GROUPS: dict[str, tuple[str, ...]] = {
    "attention": ("encoder self-attention", "decoder self-attention", "cross-attention"),
    "add & norm": ("encoder add & norm 1", "encoder add & norm 2", "decoder add & norm 1",
                   "decoder add & norm 2", "decoder add & norm 3"),
    "feed-forward": ("encoder feed-forward", "decoder feed-forward"),
    "embedding": ("input embedding", "output embedding"),
    "positional encoding": ("encoder positional encoding", "decoder positional encoding"),
}

# The two columns and the size of a box, in the figure's own units (x 0..12, y 0..11.75)
_ENCODER_X, _DECODER_X = 3.7, 8.5
_BOX_W, _TALL, _SHORT = 3.0, 0.72, 0.46
LIMITS = (-0.2, 12.2, -0.1, 11.75)

# box name -> (centre x, centre y, width, height, kind); kind picks the colour, as in the paper
_LAYOUT: dict[str, tuple[float, float, float, float, str]] = {
    "input embedding": (_ENCODER_X, 1.15, _BOX_W, _SHORT, "embedding"),
    "encoder positional encoding": (1.05, 2.05, 1.75, _SHORT, "positions"),
    "encoder self-attention": (_ENCODER_X, 3.25, _BOX_W, _TALL, "attention"),
    "encoder add & norm 1": (_ENCODER_X, 4.2, _BOX_W, _SHORT, "add & norm"),
    "encoder feed-forward": (_ENCODER_X, 5.15, _BOX_W, _TALL, "feed-forward"),
    "encoder add & norm 2": (_ENCODER_X, 6.1, _BOX_W, _SHORT, "add & norm"),
    "output embedding": (_DECODER_X, 1.15, _BOX_W, _SHORT, "embedding"),
    "decoder positional encoding": (11.15, 2.05, 1.75, _SHORT, "positions"),
    "decoder self-attention": (_DECODER_X, 3.25, _BOX_W, _TALL, "attention"),
    "decoder add & norm 1": (_DECODER_X, 4.2, _BOX_W, _SHORT, "add & norm"),
    "cross-attention": (_DECODER_X, 5.15, _BOX_W, _TALL, "attention"),
    "decoder add & norm 2": (_DECODER_X, 6.1, _BOX_W, _SHORT, "add & norm"),
    "decoder feed-forward": (_DECODER_X, 7.05, _BOX_W, _TALL, "feed-forward"),
    "decoder add & norm 3": (_DECODER_X, 8.0, _BOX_W, _SHORT, "add & norm"),
    "linear": (_DECODER_X, 9.55, _BOX_W, _SHORT, "linear"),
    "softmax": (_DECODER_X, 10.4, _BOX_W, _SHORT, "softmax"),
    "encoder": (_ENCODER_X, 4.6, _BOX_W + 1.0, 4.0, "frame"),
    "decoder": (_DECODER_X, 5.6, _BOX_W + 1.0, 6.0, "frame"),
}

# the boxes inside each stack's frame: not faded when the whole stack is highlighted
STACKS = {
    stack: tuple(name for name in _LAYOUT if name.startswith(f"{stack} ") and "positional" not in name)
    + (("cross-attention",) if stack == "decoder" else ())
    for stack in ("encoder", "decoder")
}

_LABELS = {
    "input embedding": "input embedding",
    "output embedding": "output embedding",
    "encoder positional encoding": "positional\nencoding",
    "decoder positional encoding": "positional\nencoding",
    "encoder self-attention": "multi-head\nself-attention",
    "decoder self-attention": "masked multi-head\nself-attention",
    "cross-attention": "multi-head\ncross-attention",
    "encoder feed-forward": "feed-forward",
    "decoder feed-forward": "feed-forward",
    "linear": "linear",
    "softmax": "softmax",
}

_COLOURS = {
    "embedding": "#f4cccc", "positions": "#ffffff", "attention": "#fce5cd", "add & norm": "#fff2b3",
    "feed-forward": "#cfe2f3", "linear": "#d9d2e9", "softmax": "#d9ead3", "frame": "#f3f3f3",
}
_HIGHLIGHT_EDGE = "#d62728"
_FADED_ALPHA = 0.35


def resolve_highlight(highlight: str | Iterable[str] | None) -> set[str]:
    """The box names that `highlight` (box or group names, one or many) stands for."""
    if highlight is None:
        return set()
    names = [highlight] if isinstance(highlight, str) else list(highlight)
    boxes: set[str] = set()
    for name in names:
        if name in GROUPS:
            boxes.update(GROUPS[name])
        elif name in BOXES:
            boxes.add(name)
        else:
            raise ValueError(f"highlight names an unknown box {name!r}; the boxes are "
                             f"{sorted(BOXES)} and the groups {sorted(GROUPS)}")
    return boxes


def transformer_layout() -> dict[str, tuple[float, float, float, float]]:
    """Every drawn box (the `memory` arrow excluded) as (left, bottom, width, height) in figure units."""
    return {name: (x - w / 2, y - h / 2, w, h) for name, (x, y, w, h, _) in _LAYOUT.items()}


def _target_text(target: str) -> tuple[str, dict]:
    """The target sentence and the font to draw it in: Korean if a Korean font exists, else romanized."""
    if not any("\uac00" <= char <= "\ud7a3" for char in target):
        return target, {}
    font = korean_font()
    if font is None:
        return romanize_korean(target), {}
    return target, {"fontfamily": [font, "sans-serif"]}


def _arrow(ax: plt.Axes, start, end, highlighted: bool = False, gid: str | None = None, **style) -> None:
    colour = _HIGHLIGHT_EDGE if highlighted else "#444444"
    patch = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, linewidth=2.4 if highlighted else 1.0,
                            color=colour, shrinkA=0, shrinkB=0, **style)
    patch.set_gid(gid)
    ax.add_patch(patch)


def _residual(ax: plt.Axes, column_x: float, below_y: float, add_norm: str) -> None:
    """The skip connection: from below a sublayer, around its left side, into its Add & Norm."""
    x_left = column_x - _BOX_W / 2 - 0.25
    _, y, _, _, _ = _LAYOUT[add_norm]
    ax.plot([column_x, x_left, x_left], [below_y, below_y, y], color="#444444", linewidth=1.0)
    _arrow(ax, (x_left, y), (column_x - _BOX_W / 2, y))


def draw_transformer(
    highlight: str | Iterable[str] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
    source: str = "I go home",
    target: str = "<sos> 나는 집에",
) -> plt.Axes:
    """The encoder-decoder Transformer, its `highlight`ed boxes in full colour with a red edge.

    `highlight` is a box name, a group name, or a list of them (see the module's table); every
    other box is drawn faded when something is highlighted. `source` and `target` label the inputs
    (the target is the decoder's input, shifted right: it starts with <sos>).
    """
    chosen = resolve_highlight(highlight)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.2, 7.0))
    ax.set_xlim(*LIMITS[:2])
    ax.set_ylim(*LIMITS[2:])
    ax.set_aspect("equal")
    ax.axis("off")

    inside_lit_stack = {box for stack in ("encoder", "decoder") if stack in chosen for box in STACKS[stack]}

    def faded(name: str) -> bool:
        return bool(chosen) and name not in chosen and name not in inside_lit_stack

    # the two stacks first, behind their boxes
    for name, side in (("encoder", -1), ("decoder", 1)):
        x, y, w, h, kind = _LAYOUT[name]
        lit = name in chosen
        frame = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05,rounding_size=0.25",
                               facecolor=_COLOURS[kind], edgecolor=_HIGHLIGHT_EDGE if lit else "#888888",
                               linewidth=3.0 if lit else 1.0, alpha=_FADED_ALPHA if faded(name) else 1.0)
        frame.set_gid(name)
        ax.add_patch(frame)
        ax.text(x + side * (w / 2 + 0.15), y, "N×", ha="left" if side > 0 else "right", va="center",
                fontsize=12, color=_HIGHLIGHT_EDGE if lit else "black")
        ax.text(x - w / 2 + 0.1, y + h / 2 + 0.1, name, ha="left", va="bottom", fontsize=8, style="italic",
                color=_HIGHLIGHT_EDGE if lit else "#555555")

    # the boxes
    for name, (x, y, w, h, kind) in _LAYOUT.items():
        if kind == "frame":
            continue
        lit = name in chosen
        box = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.1",
                             facecolor=_COLOURS[kind], edgecolor=_HIGHLIGHT_EDGE if lit else "#333333",
                             linewidth=3.0 if lit else 1.0, alpha=_FADED_ALPHA if faded(name) else 1.0)
        box.set_gid(name)
        ax.add_patch(box)
        label = _LABELS.get(name, "add & norm")
        ax.text(x, y, label, ha="center", va="center", fontsize=7.5 if "\n" in label else 8.5,
                alpha=0.5 if faded(name) else 1.0)

    # the flow upwards in each column, with the position vector added on the way in
    for column_x, _, positions, first, add_norms in (
        (_ENCODER_X, "input embedding", "encoder positional encoding", "encoder self-attention",
         ("encoder add & norm 1", "encoder add & norm 2")),
        (_DECODER_X, "output embedding", "decoder positional encoding", "decoder self-attention",
         ("decoder add & norm 1", "decoder add & norm 2", "decoder add & norm 3")),
    ):
        plus_y = _LAYOUT[positions][1]
        _arrow(ax, (column_x, 0.62), (column_x, 1.15 - _SHORT / 2))
        _arrow(ax, (column_x, 1.15 + _SHORT / 2), (column_x, plus_y - 0.17))
        ax.add_patch(Circle((column_x, plus_y), 0.17, facecolor="white", edgecolor="#333333"))
        ax.text(column_x, plus_y, "+", ha="center", va="center", fontsize=10)
        pe_x, _, pe_w, _, _ = _LAYOUT[positions]
        edge = pe_x + pe_w / 2 if pe_x < column_x else pe_x - pe_w / 2
        _arrow(ax, (edge, plus_y), (column_x + (-0.17 if pe_x < column_x else 0.17), plus_y))
        _arrow(ax, (column_x, plus_y + 0.17), (column_x, _LAYOUT[first][1] - _TALL / 2))
        # each sublayer feeds its Add & Norm, which feeds the next sublayer; each has a skip
        names = [n for n in _LAYOUT if _LAYOUT[n][0] == column_x and _LAYOUT[n][4] != "frame"
                 and _LAYOUT[n][1] > plus_y and n not in ("linear", "softmax")]
        for lower, upper in zip(names, names[1:], strict=False):
            _arrow(ax, (column_x, _LAYOUT[lower][1] + _LAYOUT[lower][3] / 2),
                   (column_x, _LAYOUT[upper][1] - _LAYOUT[upper][3] / 2))
        for add_norm in add_norms:
            below = names[names.index(add_norm) - 1]
            _residual(ax, column_x, _LAYOUT[below][1] - _LAYOUT[below][3] / 2 - 0.13, add_norm)

    # the memory: out of the top of the encoder, into every decoder layer's cross-attention
    lit = "memory" in chosen
    top = _LAYOUT["encoder add & norm 2"][1] + _SHORT / 2
    cross_y = _LAYOUT["cross-attention"][1]
    route_x = (_ENCODER_X + (_BOX_W + 1.0) / 2 + _DECODER_X - (_BOX_W + 1.0) / 2) / 2
    colour = _HIGHLIGHT_EDGE if lit else "#444444"
    width = 2.4 if lit else 1.0
    ax.plot([_ENCODER_X, _ENCODER_X, route_x, route_x], [top, 7.55, 7.55, cross_y], color=colour,
            linewidth=width, alpha=_FADED_ALPHA if faded("memory") else 1.0, gid="memory")
    _arrow(ax, (route_x, cross_y), (_DECODER_X - _BOX_W / 2, cross_y), highlighted=lit)
    ax.text((_ENCODER_X + route_x) / 2, 7.65, "memory (keys, values)", ha="center", va="bottom", fontsize=8,
            color=colour)

    # above the decoder: linear, softmax, the probabilities of the next word
    _arrow(ax, (_DECODER_X, _LAYOUT["decoder add & norm 3"][1] + _SHORT / 2), (_DECODER_X, 9.55 - _SHORT / 2))
    _arrow(ax, (_DECODER_X, 9.55 + _SHORT / 2), (_DECODER_X, 10.4 - _SHORT / 2))
    _arrow(ax, (_DECODER_X, 10.4 + _SHORT / 2), (_DECODER_X, 11.15))
    ax.text(_DECODER_X, 11.2, "probabilities of the next word", ha="center", va="bottom", fontsize=8.5)

    # the inputs
    ax.text(_ENCODER_X, 0.5, f"inputs: {source}", ha="center", va="top", fontsize=8.5)
    target_text, font = _target_text(target)
    ax.text(_DECODER_X, 0.5, f"outputs, shifted right: {target_text}", ha="center", va="top", fontsize=8.5,
            **font)
    if title:
        ax.set_title(title, fontsize=11)
    return ax
