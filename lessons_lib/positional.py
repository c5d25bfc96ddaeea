"""Lesson 04 (notebooks/04_positional_encoding.ipynb): telling attention where each token is.

Self-attention is permutation-equivariant: shuffle the tokens and the outputs shuffle the same
way. Adding a position-dependent vector to each token breaks that symmetry.

    PE[pos, 2i]   = sin(pos / 10000^(2i / d_model))
    PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))

Shape legend: B batch, T time, C channels (d_model).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lessons_lib.runtime import check_positive_int


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """(max_len, d_model) matrix of sines (even channels) and cosines (odd channels)."""
    check_positive_int("max_len", max_len)
    check_positive_int("d_model", d_model)
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    # wavelengths grow geometrically across the channel pairs, from 2*pi to 10000^((C-2)/C) * 2*pi
    even = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(C/2),)
    inv_freq = torch.exp(-math.log(10000.0) * even / d_model)  # 1 / 10000^(2i/d_model)
    angles = position * inv_freq  # (max_len, 1) * (ceil(C/2),) -> (max_len, ceil(C/2))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d_model // 2])  # an odd d_model has one sine more
    return pe


def _check_length(x: torch.Tensor, d_model: int, max_len: int) -> None:
    if x.dim() != 3 or x.shape[-1] != d_model:
        raise ValueError(f"x must be 3-D (B, T, d_model={d_model}), got shape {tuple(x.shape)}")
    if x.shape[1] > max_len:
        raise ValueError(f"sequence length T={x.shape[1]} is longer than max_len={max_len}")


class PositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal encoding to (B, T, d_model) embeddings, then dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.d_model = d_model
        self.max_len = max_len
        self.dropout = nn.Dropout(dropout)
        # a buffer, not a parameter: it moves with .to(device) but is never trained
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        _check_length(x, self.d_model, self.max_len)
        return self.dropout(x + self.pe[: x.shape[1]])  # (B, T, C) + (T, C)


class LearnedPositionalEmbedding(nn.Module):
    """Adds a trained vector per position (as BERT and GPT do) to (B, T, d_model) embeddings."""

    def __init__(self, d_model: int, max_len: int = 512):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("max_len", max_len)
        self.d_model = d_model
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        _check_length(x, self.d_model, self.max_len)
        positions = torch.arange(x.shape[1], device=x.device)  # (T,)
        return x + self.embedding(positions)  # (B, T, C) + (T, C)
