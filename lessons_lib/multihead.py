"""Lesson 02 (notebooks/02_multi_head_attention.ipynb): multi-head attention.

H heads of width D = d_model / H are computed in one batched matmul: project once with
d_model x d_model matrices, split the channels into heads, attend, merge, project with W_o.

Shape legend: B batch, T time, C channels (d_model), H heads (num_heads), D head_dim.
"""

from __future__ import annotations

import torch
from torch import nn

from lessons_lib.attention import (
    attend,
    check_attention_impl,
    check_tokens,
    scaled_dot_product_attention,
)
from lessons_lib.runtime import check_positive_int


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, T, C) -> (B, H, T, D): the C channels are H groups of D."""
    if x.dim() != 3:
        raise ValueError(f"x must be 3-D (B, T, C), got shape {tuple(x.shape)}")
    B, T, C = x.shape
    if C % num_heads != 0:
        raise ValueError(f"the width C={C} of x is not divisible by num_heads={num_heads}")
    return x.view(B, T, num_heads, C // num_heads).transpose(1, 2)  # (B, T, H, D) -> (B, H, T, D)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, T, D) -> (B, T, C): the inverse of split_heads (concatenate the heads)."""
    if x.dim() != 4:
        raise ValueError(f"x must be 4-D (B, H, T, D), got shape {tuple(x.shape)}")
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)  # (B, H, T, D) -> (B, T, H, D) -> (B, T, C)


def check_head_sizes(d_model: int, num_heads: int, dropout: float = 0.0) -> None:
    """Raise ValueError unless d_model splits into num_heads heads and dropout is in [0, 1)."""
    check_positive_int("d_model", d_model)
    check_positive_int("num_heads", num_heads)
    if d_model % num_heads != 0:
        raise ValueError(
            f"d_model={d_model} is not divisible by num_heads={num_heads}: each head gets "
            f"d_model / num_heads channels, so pick num_heads among the divisors of d_model"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


def _check_inputs(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                  mask: torch.Tensor | None, d_model: int) -> None:
    for name, x in (("query", query), ("key", key), ("value", value)):
        check_tokens(name, x, d_model)
    if not query.shape[0] == key.shape[0] == value.shape[0]:
        raise ValueError(
            f"query, key and value must have the same batch size B; got query "
            f"{tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        )
    if key.shape[1] != value.shape[1]:
        raise ValueError(
            f"key and value must have the same length Tk; got key {tuple(key.shape)} "
            f"and value {tuple(value.shape)}"
        )
    if mask is not None and mask.dim() == 3:
        # (B, Tq, Tk) would broadcast as (1, B, Tq, Tk): one mask per HEAD, silently wrong
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} is 3-D, which is ambiguous against the "
            f"(B, H, Tq, Tk) scores; give (Tq, Tk) for all sentences, or (B, 1, Tq, Tk) "
            f"(mask[:, None]) for one mask per sentence"
        )


class MultiHeadAttention(nn.Module):
    """Multi-head attention with projections W_q, W_k, W_v, W_o, each d_model x d_model.

    `attention_impl` is "hand-written" (lesson 01's scaled_dot_product_attention) or "fused"
    (torch's, faster, equal within 1e-5); need_weights=True always uses the hand-written one,
    the only one that returns the weights.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 attention_impl: str = "hand-written"):
        super().__init__()
        check_head_sizes(d_model, num_heads, dropout)
        check_attention_impl(attention_impl)
        self.attention_impl = attention_impl
        self.d_model = d_model
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        # all heads' projections side by side: one matmul computes every head
        self.W_q = nn.Linear(d_model, d_model, bias=bias)
        self.W_k = nn.Linear(d_model, d_model, bias=bias)
        self.W_v = nn.Linear(d_model, d_model, bias=bias)
        self.W_o = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(B, Tq, C), (B, Tk, C), (B, Tk, C) -> (B, Tq, C).

        `mask` is boolean (True = may attend) and broadcastable to (B, H, Tq, Tk): (Tq, Tk) for
        every sentence alike, or 4-D (B, 1, Tq or 1, Tk) for one mask per sentence (a 2-D (B, Tk)
        padding mask would be read as (Tq, Tk), so give it as mask[:, None, None, :]).
        With need_weights=True, also returns the per-head weights (B, H, Tq, Tk).
        """
        _check_inputs(query, key, value, mask, self.d_model)
        # 1. project, then split the channels into heads
        q = split_heads(self.W_q(query), self.num_heads)  # (B, Tq, C) -> (B, H, Tq, D)
        k = split_heads(self.W_k(key), self.num_heads)  # (B, Tk, C) -> (B, H, Tk, D)
        v = split_heads(self.W_v(value), self.num_heads)  # (B, Tk, C) -> (B, H, Tk, D)
        # 2. every head attends at once: the head axis is just another batch axis
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            out, weights = scaled_dot_product_attention(q, k, v, mask=mask, dropout_p=dropout_p)
        else:
            out = attend(q, k, v, mask=mask, dropout_p=dropout_p, attention_impl=self.attention_impl)
        # 3. concatenate the heads and mix them with W_o
        out = self.W_o(merge_heads(out))  # (B, H, Tq, D) -> (B, Tq, C)
        return (out, weights) if need_weights else out

    @classmethod
    def from_torch(cls, reference: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a torch.nn.MultiheadAttention into a new MultiHeadAttention."""
        if not isinstance(reference, nn.MultiheadAttention):
            raise ValueError(
                f"reference must be a torch.nn.MultiheadAttention, got {type(reference).__name__}"
            )
        if reference.kdim != reference.embed_dim or reference.vdim != reference.embed_dim:
            raise ValueError(
                f"reference has kdim={reference.kdim}, vdim={reference.vdim} different from "
                f"embed_dim={reference.embed_dim}; only equal widths are supported"
            )
        if reference.bias_k is not None or reference.add_zero_attn:
            raise ValueError(
                "reference was built with add_bias_kv=True or add_zero_attn=True, which add "
                "keys this layer does not have"
            )
        has_bias = reference.in_proj_bias is not None
        mha = cls(reference.embed_dim, reference.num_heads, reference.dropout, bias=has_bias)
        d = reference.embed_dim
        with torch.no_grad():
            # with kdim = vdim = embed_dim, torch stores W_q, W_k, W_v stacked in one (3C, C) matrix
            weights = reference.in_proj_weight.split(d)
            biases = reference.in_proj_bias.split(d) if has_bias else (None, None, None)
            for linear, w, b in zip((mha.W_q, mha.W_k, mha.W_v), weights, biases, strict=True):
                linear.weight.copy_(w)
                if b is not None:
                    linear.bias.copy_(b)
            mha.W_o.weight.copy_(reference.out_proj.weight)
            if has_bias:
                mha.W_o.bias.copy_(reference.out_proj.bias)
        return mha
