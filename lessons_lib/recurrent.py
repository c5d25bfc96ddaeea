"""Lesson 01 (notebooks/01_self_attention.ipynb), section 0: why attention. The RNN encoder-decoder
that came before it, and the two problems the lecture starts from, measured.

An RNN encoder reads a sentence one word at a time, updating its hidden state vector:

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b)        (torch.nn.RNN)

and hands its decoder the last state h_T, the *context vector*: the whole sentence in `hidden`
numbers, however long the sentence is (the bottleneck). The gradient from h_T back to the first
word crosses T - 1 steps, one Jacobian each (the long-term dependency problem). Self-attention
connects every output to every word in one step.

Both measurements use untrained layers as PyTorch initializes them, seeded.

Shape legend: N sentences, B batch, T length (words), C channels (d_model), H hidden.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib.attention import SelfAttention
from lessons_lib.runtime import check_positive_int

KINDS = ("rnn", "self-attention")


def first_word_recall(length: int, vocab_size: int = 20, d_model: int = 32, hidden: int = 64,
                      num_sentences: int = 3000, seed: int = 0) -> dict[str, float]:
    """How well a linear read-out recovers the first word of random sentences from an RNN's states.

    Returns the held-out accuracy (chance: 1 / vocab_size) of a least-squares linear read-out of
    the first word from the context vector h_T ("context") and from the first state h_1
    ("first state": what a decoder that may attend to every encoder state can reach). The read-out
    is fitted on two thirds of the sentences and tested on the rest.
    """
    for name, value in (("length", length), ("vocab_size", vocab_size), ("d_model", d_model),
                        ("hidden", hidden), ("num_sentences", num_sentences)):
        check_positive_int(name, value)
    if num_sentences < 3:
        raise ValueError(f"num_sentences must be at least 3 (fit on 2/3, test on 1/3), got {num_sentences}")
    torch.manual_seed(seed)
    embedding, rnn = nn.Embedding(vocab_size, d_model), nn.RNN(d_model, hidden, batch_first=True)
    words = torch.randint(0, vocab_size, (num_sentences, length), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        states, _ = rnn(embedding(words))  # (N, T) -> (N, T, C) -> (N, T, H)
    split = num_sentences * 2 // 3

    def read_out(features: torch.Tensor) -> float:
        # least squares from the features (and a constant) to the one-hot first word
        inputs = torch.cat([features, torch.ones(num_sentences, 1)], dim=1)  # (N, H + 1)
        targets = F.one_hot(words[:, 0], vocab_size).float()  # (N, V)
        solution = torch.linalg.lstsq(inputs[:split], targets[:split]).solution  # (H + 1, V)
        predicted = (inputs[split:] @ solution).argmax(dim=1)  # (N - split,)
        return (predicted == words[split:, 0]).float().mean().item()

    return {"context": read_out(states[:, -1]), "first state": read_out(states[:, 0])}


def gradient_to_first_word(kind: str, length: int, d_model: int = 32, hidden: int = 64, batch: int = 64,
                           seed: int = 0) -> float:
    """The mean norm of d(output at the last position)/d(first word's vector), through `kind`.

    "rnn": the output is the last hidden state h_T of a tanh `nn.RNN`; "self-attention": the last
    position's output of a `SelfAttention` layer. The output is projected on a fixed random unit
    vector, so the number is the size of the gradient one scalar loss sends back to word 1.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    check_positive_int("length", length)
    check_positive_int("batch", batch)
    torch.manual_seed(seed)
    layer = nn.RNN(d_model, hidden, batch_first=True) if kind == "rnn" else SelfAttention(d_model)
    generator = torch.Generator().manual_seed(seed + 1)
    words = torch.randn(batch, length, d_model, generator=generator).requires_grad_(True)  # (B, T, C)
    with torch.enable_grad():
        if kind == "rnn":
            out = layer(words)[0][:, -1]  # (B, T, C) -> (B, T, H) -> (B, H): h_T
        else:
            out = layer(words)[:, -1]  # (B, T, C) -> (B, T, C) -> (B, C): the last position
        probe = torch.randn(out.shape[-1], generator=generator)
        (out @ (probe / probe.norm())).sum().backward()
    return words.grad[:, 0].norm(dim=-1).mean().item()  # (B, T, C) -> (B, C) -> (B,) -> mean
