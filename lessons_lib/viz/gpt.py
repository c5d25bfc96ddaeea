"""Lesson 09 (notebooks/09_gpt.ipynb) explorer: how temperature and top-k reshape a GPT's next-token
distribution, and what the samples drawn from it read like.

Built like every explorer: `sampling_data` (the numbers), `sampling_view` (the figure),
`sampling_explorer` (a `FigureExplorer`; see `lessons_lib.viz.explorer`).
"""

from __future__ import annotations

import textwrap

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from lessons_lib.data.characters import CharVocab
from lessons_lib.decoding import next_token_probabilities
from lessons_lib.gpt import GPT
from lessons_lib.runtime import model_mode
from lessons_lib.viz.explorer import FigureExplorer


def sampling_data(model: GPT, vocab: CharVocab, prompt: str, temperature: float, top_k: int,
                  num_samples: int = 3, length: int = 80, seed: int = 0) -> dict:
    """The next-character probabilities after `prompt` (temperature, then top-k) and `num_samples`
    seeded continuations of `length` characters drawn with the same settings."""
    if not prompt:
        raise ValueError("prompt must hold at least one character")
    device = next(model.parameters()).device
    idx = vocab.encode(prompt)[None, -model.config.max_len:].to(device)  # (1, T); ValueError if unknown
    with torch.no_grad(), model_mode(model, training=False):
        logits = model(idx)[:, -1]  # (1, V): the scores of the character after the prompt
    probabilities = next_token_probabilities(logits, temperature, top_k)[0].cpu().numpy()  # (V,)
    generator = torch.Generator(device=device).manual_seed(seed)
    samples = model.generate(idx.repeat(num_samples, 1), length, temperature=temperature, top_k=top_k,
                             generator=generator)[:, idx.shape[1]:]  # (num_samples, length)
    return {"prompt": prompt, "temperature": temperature, "top_k": top_k, "probabilities": probabilities,
            "chars": vocab.chars, "samples": [vocab.decode(row) for row in samples]}


def _shown(char: str) -> str:
    return {" ": "␣", "\n": "\\n", "\t": "\\t"}.get(char, char)


def sampling_view(data: dict, shown: int = 24) -> plt.Figure:
    """The `shown` most likely next characters as bars, and the samples below them."""
    probabilities = data["probabilities"]
    order = np.argsort(-probabilities, kind="stable")[:shown]
    fig, (bars, text) = plt.subplots(2, 1, figsize=(8, 5.2), gridspec_kw={"height_ratios": [1.2, 1]})
    bars.bar(range(len(order)), probabilities[order], color="tab:blue")
    bars.set_xticks(range(len(order)), [_shown(data["chars"][i]) for i in order])
    bars.set_ylim(0, 1)
    bars.set_ylabel("probability")
    kept = int((probabilities > 0).sum())
    bars.set_title(f"next character after {data['prompt'][-30:]!r}: temperature {data['temperature']:.2f}, "
                   f"top-k {data['top_k']} ({kept} characters possible)", fontsize=9)
    text.axis("off")
    lines = []
    for i, sample in enumerate(data["samples"], start=1):
        wrapped = textwrap.wrap(sample.replace("\n", "⏎"), 90) or [""]
        lines.append(f"sample {i}: " + "\n          ".join(wrapped[:2]))
    text.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=8)
    fig.tight_layout()
    return fig


def sampling_explorer(model: GPT, vocab: CharVocab, prompt: str = "The ", temperature: float = 1.0,
                      top_k: int | None = None, length: int = 80) -> FigureExplorer:
    """Temperature and top-k sliders, a prompt box and a seed: redraws the distribution and the samples."""
    top_k = vocab.size if top_k is None else top_k

    def view(prompt: str, temperature: float, top_k: int, seed: int) -> tuple[plt.Figure, dict]:
        data = sampling_data(model, vocab, prompt, temperature, top_k, length=length, seed=seed)
        return sampling_view(data), data

    style = {"description_width": "initial"}
    return FigureExplorer(view, {
        "prompt": widgets.Text(value=prompt, description="prompt", continuous_update=False),
        "temperature": widgets.FloatSlider(value=temperature, min=0.0, max=2.0, step=0.1,
                                           description="temperature", style=style),
        "top_k": widgets.IntSlider(value=top_k, min=1, max=vocab.size, description="top-k", style=style),
        "seed": widgets.IntSlider(value=0, min=0, max=9, description="seed"),
    }, shown_errors=(ValueError,))
