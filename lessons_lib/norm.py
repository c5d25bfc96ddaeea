"""Lesson 03 (notebooks/03_add_and_norm.ipynb): residual connections and layer normalisation.

LayerNorm, per token, in three steps:
    1. mean and variance over the channels of that token
    2. normalise: (x - mean) / sqrt(var + eps)
    3. affine: weight * x_hat + bias   (gamma and beta, learned)

Shape legend: B batch, T time, C channels (d_model).
"""

from __future__ import annotations

import torch
from torch import nn


class LayerNorm(nn.Module):
    """Layer normalisation over the last dimension, with the parameters of nn.LayerNorm."""

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        if d < 1:
            raise ValueError(f"d must be a positive int, got {d}")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.d = d
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))  # gamma
        self.bias = nn.Parameter(torch.zeros(d))  # beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., C) -> (..., C), each token normalised on its own."""
        if x.dim() < 1 or x.shape[-1] != self.d:
            raise ValueError(f"x must end in d={self.d} channels (..., {self.d}), got shape {tuple(x.shape)}")
        # 1. statistics of each token over its channels (biased variance, as nn.LayerNorm)
        mean = x.mean(dim=-1, keepdim=True)  # (..., C) -> (..., 1)
        var = x.var(dim=-1, unbiased=False, keepdim=True)  # (..., C) -> (..., 1)
        # 2. every token now has mean 0 and variance 1
        x_hat = (x - mean) / torch.sqrt(var + self.eps)  # (..., C)
        # 3. let the model rescale and shift each channel back if that helps
        return self.weight * x_hat + self.bias


class AddNorm(nn.Module):
    """Post-norm sublayer connection of the original Transformer: LayerNorm(x + Dropout(sublayer(x)))."""

    def __init__(self, d_model: int, dropout: float = 0.0, eps: float = 1e-5):
        super().__init__()
        self.norm = LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, sublayer_out: torch.Tensor) -> torch.Tensor:
        """(B, T, C), (B, T, C) -> (B, T, C)."""
        if x.shape != sublayer_out.shape:
            raise ValueError(
                f"x and sublayer_out must have the same shape to be added; got "
                f"{tuple(x.shape)} and {tuple(sublayer_out.shape)}"
            )
        # Add: the residual path lets the signal and its gradient skip the sublayer
        # Norm: keeps every token's activations at mean 0, variance 1 however deep the stack
        return self.norm(x + self.dropout(sublayer_out))


class ResidualBlock(nn.Module):
    """A sublayer wrapped with a residual connection, post-norm or pre-norm.

    post-norm (the 2017 paper):  x -> LayerNorm(x + sublayer(x))
    pre-norm  (GPT-2 and later): x -> x + sublayer(LayerNorm(x))
    """

    def __init__(self, d_model: int, sublayer: nn.Module, norm_first: bool = False, dropout: float = 0.0):
        super().__init__()
        self.sublayer = sublayer
        self.norm = LayerNorm(d_model)
        self.norm_first = norm_first
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        if self.norm_first:
            return x + self.dropout(self.sublayer(self.norm(x)))
        return self.norm(x + self.dropout(self.sublayer(x)))
