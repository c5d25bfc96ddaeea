"""Lesson 03 (notebooks/03_add_and_norm.ipynb): residual connections and layer normalization.

LayerNorm, per token, in three steps:
    1. mean and variance over the channels of that token
    2. normalize: (x - mean) / sqrt(var + eps)
    3. affine: weight * x_hat + bias   (gamma and beta, learned)

`SublayerConnection` wires a sublayer into the stream four ways: plain, residual, post-norm,
pre-norm; the Transformer layers of lessons 05, 08 and 09 use it, and the lesson's deep-stack
experiment (`random_sublayers`, `stack_statistics`) measures all four. `block_stack` and
`parameter_gradient_norms` measure Post-LN against Pre-LN on real Transformer layers (self-attention
and feed-forward), as Xiong et al. (2020) did.

Shape legend: B batch, T time, C channels (d_model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from lessons_lib.multihead import MultiHeadAttention
from lessons_lib.runtime import check_positive_int


class LayerNorm(nn.Module):
    """Layer normalization over the last dimension, with the parameters of nn.LayerNorm."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        check_positive_int("d_model", d_model)
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.d_model = d_model
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))  # gamma
        self.bias = nn.Parameter(torch.zeros(d_model))  # beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., C) -> (..., C), each token normalized on its own."""
        _check_channels(x, self.d_model)
        # 1. statistics of each token over its channels: the mean, then the variance as the mean
        #    squared deviation from it (divided by C, as nn.LayerNorm)
        mean = x.mean(dim=-1, keepdim=True)  # (..., C) -> (..., 1)
        centered = x - mean  # (..., C)
        var = (centered * centered).mean(dim=-1, keepdim=True)  # (..., C) -> (..., 1)
        # 2. every token now has mean 0 and variance 1 (a product with rsqrt = 1 / sqrt: its backward
        #    pass is about 3x faster on a CPU than that of x.var and a division, measured in lesson 09)
        x_hat = centered * torch.rsqrt(var + self.eps)  # (..., C)
        # 3. let the model rescale and shift each channel back if that helps
        return self.weight * x_hat + self.bias


def _check_channels(x: torch.Tensor, d_model: int) -> None:
    if x.dim() < 1 or x.shape[-1] != d_model:
        raise ValueError(f"x must end in d_model={d_model} channels (..., {d_model}), got shape {tuple(x.shape)}")


ARRANGEMENTS = ("plain", "residual", "post-norm", "pre-norm")


class SublayerConnection(nn.Module):
    """How a sublayer F joins the stream of tokens x; the arrangement is a parameter.

    plain:     x -> F(x)
    residual:  x -> x + F(x)
    post-norm: x -> LayerNorm(x + F(x))    Add & Norm of the 2017 paper (lesson 05, BERT)
    pre-norm:  x -> x + F(LayerNorm(x))    GPT-2 and later

    `sublayer` is any function (B, T, C) -> (B, T, C), given at call time, so that attention can
    take its keys and mask from the caller: `add_norm(x, lambda h: attention(h, h, h, mask))`.
    An attention sublayer called with need_weights=True returns (out, weights); the connection
    then returns (new x, weights), the weights untouched. Dropout, when set, acts on F's output.
    """

    def __init__(self, d_model: int, arrangement: str = "post-norm", dropout: float = 0.0,
                 eps: float = 1e-5):
        super().__init__()
        if arrangement not in ARRANGEMENTS:
            raise ValueError(f"arrangement must be one of {ARRANGEMENTS}, got {arrangement!r}")
        self.arrangement = arrangement
        self.norm = LayerNorm(d_model, eps=eps) if arrangement in ("post-norm", "pre-norm") else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], Any]) -> Any:
        """(B, T, C) -> (B, T, C); also the sublayer's weights when it returns (out, weights)."""
        out, *weights = _as_tuple(sublayer(self.norm(x) if self.arrangement == "pre-norm" else x))
        _check_same_shape(x, out)
        if self.arrangement == "plain":
            x = out
        elif self.arrangement == "residual":
            x = x + self.dropout(out)
        elif self.arrangement == "post-norm":
            # Add: the signal and its gradient skip the sublayer; Norm: mean 0, variance 1 per token
            x = self.norm(x + self.dropout(out))
        else:  # pre-norm: the residual path itself is never normalized
            x = x + self.dropout(out)
        return (x, *weights) if weights else x


def _as_tuple(out: torch.Tensor | tuple) -> tuple:
    return out if isinstance(out, tuple) else (out,)


def _check_same_shape(x: torch.Tensor, out: torch.Tensor) -> None:
    if x.shape != out.shape:
        raise ValueError(f"the sublayer must keep the shape of x to be added to it; got x "
                         f"{tuple(x.shape)} and sublayer output {tuple(out.shape)}")


# The deep-stack experiment of lesson 03: the same random sublayers, wired four ways, to see
# what the residual path and the norm do to activations and gradients as depth grows.

SUBLAYER_KINDS = ("linear", "attention")


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
    sublayers: Sequence[Callable[[torch.Tensor], torch.Tensor]], x: torch.Tensor, arrangement: str,
    seed: int = 0,
) -> tuple[list[float], list[float]]:
    """Run x through the sublayers, each wired by `arrangement` (a `SublayerConnection` of its own).

    Returns each layer's output std and the gradient norm at its input. The loss is a fixed random
    projection of the last output with a gradient of norm 1, so the gradient norms measure only
    how the stack amplifies or shrinks the backward signal.
    """
    if len(sublayers) == 0:
        raise ValueError("sublayers must hold at least one sublayer, got none")
    if x.dim() != 3:
        raise ValueError(f"x must be 3-D (B, T, C), got shape {tuple(x.shape)}")
    connections = [SublayerConnection(x.shape[-1], arrangement).to(x.device) for _ in sublayers]
    h = x.detach().clone().requires_grad_(True)
    layer_inputs, output_std = [], []
    with torch.enable_grad():
        for connection, sublayer in zip(connections, sublayers, strict=True):
            layer_inputs.append(h)
            h = connection(h, sublayer)  # (B, T, C) -> (B, T, C)
            output_std.append(h.detach().std().item())
        generator = torch.Generator().manual_seed(seed)
        probe = torch.randn(h.shape, generator=generator).to(h.device)  # (B, T, C)
        loss = (h * probe / probe.norm()).sum()  # d loss / d h = probe / |probe|, of norm 1
        # gradients with respect to the activations only: the layers' .grad fields stay untouched
        gradients = torch.autograd.grad(loss, layer_inputs)
    return output_std, [gradient.norm().item() for gradient in gradients]


# Post-LN against Pre-LN on real layers (Xiong et al., 2020, "On Layer Normalization in the
# Transformer Architecture"): the gradients of the layers' parameters at initialisation.


def block_stack(arrangement: str, depth: int, d_model: int = 64, num_heads: int = 4, d_ff: int = 256,
                seed: int = 0) -> nn.Sequential:
    """`depth` seeded Transformer layers (lesson 05's EncoderLayer: self-attention, then feed-forward,
    each joined by `arrangement`), Xavier-initialised as in the paper and nn.Transformer.

    A "pre-norm" stack ends with a final LayerNorm (the residual stream is never normalized
    inside it); a "post-norm" stack needs none, its last Add & Norm already normalizes.
    """
    from lessons_lib.transformer import EncoderLayer  # lesson 05's module, which imports this one

    check_positive_int("depth", depth)
    torch.manual_seed(seed)
    blocks: list[nn.Module] = [EncoderLayer(d_model, num_heads, d_ff, arrangement=arrangement)
                               for _ in range(depth)]
    for parameter in nn.ModuleList(blocks).parameters():
        if parameter.dim() > 1:  # weight matrices; biases stay 0, LayerNorms at gamma 1, beta 0
            nn.init.xavier_uniform_(parameter)
    if arrangement == "pre-norm":
        blocks.append(LayerNorm(d_model))
    return nn.Sequential(*blocks)


def parameter_gradient_norms(arrangement: str, depth: int, d_model: int = 64, num_heads: int = 4,
                             d_ff: int = 256, seed: int = 0) -> list[float]:
    """The norm of dLoss/dW_2 of each block's feed-forward network, first block first.

    W_2 is the feed-forward network's second weight matrix, the parameter Xiong et al. (2020)
    bound. The loss is a fixed random projection of the stack's output with a gradient of norm 1
    (as in `stack_statistics`), on a seeded random batch (8 sentences of 16 tokens).
    """
    stack = block_stack(arrangement, depth, d_model, num_heads, d_ff, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(8, 16, d_model, generator=generator)  # (B, T, C)
    with torch.enable_grad():
        out = stack(x)  # (B, T, C)
        probe = torch.randn(out.shape, generator=generator)  # (B, T, C)
        loss = (out * probe / probe.norm()).sum()
        weights = [layer.feed_forward.W_2.weight for layer in stack[:depth]]  # not the final LayerNorm
        gradients = torch.autograd.grad(loss, weights)
    return [gradient.norm().item() for gradient in gradients]
