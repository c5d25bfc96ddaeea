"""Lesson 03 (notebooks/03_add_and_norm.ipynb): residual connections and layer normalisation.

LayerNorm, per token, in three steps:
    1. mean and variance over the channels of that token
    2. normalise: (x - mean) / sqrt(var + eps)
    3. affine: weight * x_hat + bias   (gamma and beta, learned)

The lesson's deep-stack experiment (`StackLayer`, `random_sublayers`, `stack_statistics`)
wraps the same random sublayers four ways: plain, residual, post-norm, pre-norm.

Shape legend: B batch, T time, C channels (d_model).
"""

from __future__ import annotations

import torch
from torch import nn

from lessons_lib.multihead import MultiHeadAttention
from lessons_lib.runtime import check_positive_int


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


# The deep-stack experiment of lesson 03: the same random sublayers, wrapped four ways, to see
# what the residual path and the norm do to activations and gradients as depth grows.

STACK_ARRANGEMENTS = ("plain", "residual", "post-norm", "pre-norm")
SUBLAYER_KINDS = ("linear", "attention")


class StackLayer(nn.Module):
    """One layer of a deep stack: a sublayer F wrapped as plain, residual, post-norm or pre-norm.

    plain:     x -> F(x)
    residual:  x -> x + F(x)
    post-norm: x -> LayerNorm(x + F(x))
    pre-norm:  x -> x + F(LayerNorm(x))
    """

    def __init__(self, d_model: int, sublayer: nn.Module, arrangement: str):
        super().__init__()
        if arrangement not in STACK_ARRANGEMENTS:
            raise ValueError(f"arrangement must be one of {STACK_ARRANGEMENTS}, got {arrangement!r}")
        self.sublayer = sublayer
        self.arrangement = arrangement
        self.norm = LayerNorm(d_model) if arrangement in ("post-norm", "pre-norm") else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        if self.arrangement == "plain":
            return self.sublayer(x)
        if self.arrangement == "residual":
            return x + self.sublayer(x)
        if self.arrangement == "post-norm":
            return self.norm(x + self.sublayer(x))
        return x + self.sublayer(self.norm(x))


class SelfAttentionSublayer(nn.Module):
    """Multi-head self-attention as a one-input sublayer: x -> MultiHeadAttention(x, x, x)."""

    def __init__(self, attention: nn.Module):
        super().__init__()
        self.attention = attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        return self.attention(x, x, x)


def random_sublayers(
    kind: str, depth: int, d_model: int, gain: float = 1.0, seed: int = 0
) -> list[nn.Module]:
    """`depth` seeded random sublayers ("linear" maps or "attention") whose output scale is set by `gain`.

    A linear sublayer has weights drawn from N(0, gain^2 / d_model), so it multiplies the length of
    a vector by about `gain`. An attention sublayer (4 heads) draws W_q, W_k, W_v from N(0, 1 / d_model)
    and its output projection W_o from N(0, gain^2 / d_model).
    """
    if kind not in SUBLAYER_KINDS:
        raise ValueError(f"kind must be one of {SUBLAYER_KINDS}, got {kind!r}")
    check_positive_int("depth", depth)
    if kind == "attention" and d_model % 4 != 0:
        raise ValueError(f"d_model={d_model} must be divisible by the 4 heads of an attention sublayer")
    if gain <= 0:
        raise ValueError(f"gain must be positive, got {gain}")
    generator = torch.Generator().manual_seed(seed)
    std = d_model**-0.5

    def draw() -> torch.Tensor:
        return torch.randn(d_model, d_model, generator=generator) * std  # (C, C)

    sublayers: list[nn.Module] = []
    with torch.no_grad():
        for _ in range(depth):
            if kind == "linear":
                linear = nn.Linear(d_model, d_model, bias=False)
                linear.weight.copy_(gain * draw())
                sublayers.append(linear)
            else:
                attention = MultiHeadAttention(d_model, num_heads=4, bias=False)
                for projection in (attention.W_q, attention.W_k, attention.W_v):
                    projection.weight.copy_(draw())
                attention.W_o.weight.copy_(gain * draw())
                sublayers.append(SelfAttentionSublayer(attention))
    return sublayers


def stack_statistics(
    layers: list[nn.Module] | nn.ModuleList, x: torch.Tensor, seed: int = 0
) -> tuple[list[float], list[float]]:
    """Run x through the layers; return each layer's output std and the gradient norm at its input.

    The loss is a fixed random projection of the last output with a gradient of norm 1, so the
    gradient norms measure only how the stack amplifies or shrinks the backward signal.
    """
    if len(layers) == 0:
        raise ValueError("layers must hold at least one layer, got none")
    if x.dim() != 3:
        raise ValueError(f"x must be 3-D (B, T, C), got shape {tuple(x.shape)}")
    h = x.detach().clone().requires_grad_(True)
    layer_inputs, output_std = [], []
    with torch.enable_grad():
        for layer in layers:
            layer_inputs.append(h)
            h = layer(h)  # (B, T, C) -> (B, T, C)
            output_std.append(h.detach().std().item())
        generator = torch.Generator().manual_seed(seed)
        probe = torch.randn(h.shape, generator=generator).to(h.device)  # (B, T, C)
        loss = (h * probe / probe.norm()).sum()  # d loss / d h = probe / |probe|, of norm 1
        # gradients with respect to the activations only: the layers' .grad fields stay untouched
        gradients = torch.autograd.grad(loss, layer_inputs)
    return output_std, [gradient.norm().item() for gradient in gradients]
