"""Pictures and interactive explorers for the lessons.

`plots` holds the figures every lesson draws (attention heatmaps, a grid of heads, a mask, the
positional encoding); `architecture` draws the encoder-decoder Transformer each lesson opens with,
its lesson's boxes highlighted (`draw_transformer(highlight=...)`); `explorer` holds
`FigureExplorer`, the one class every explorer is; and each lesson's explorers live in the module
named after the package module that lesson builds:

| lesson | module |
| --- | --- |
| 01 | `viz.attention` (one query's attention row, the softmax saturating as d_k grows) |
| 02 | `viz.multihead` (one head of many) |
| 03 | `viz.norm` (a deep stack wired four ways) |
| 04 | `viz.positional` (positions and dimensions of the sinusoidal encoding) |
| 05 | `viz.translation` (the translator's cross-attention) |
| 06 | `viz.ssl` (a digit with a hidden square, filled in) |
| 07 | `viz.transfer` (a linear probe on every layer) |
| 09 | `viz.gpt` (temperature and top-k on the next-token distribution, and samples) |

Notebooks import from the module itself: `from lessons_lib.viz.attention import query_explorer`.
Korean labels and the Korean font are in `lessons_lib.hangul`.
"""
