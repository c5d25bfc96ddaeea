"""Lesson 01 (notebooks/01_self_attention.ipynb): scaled dot-product self-attention.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

Shape legend: B batch, T time (Tq queries, Tk keys), C channels (d_model), D head_dim.
Mask convention, for the whole course: a boolean mask, True = may attend.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib.runtime import check_positive_int


def check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0) -> None:
    """Raise ValueError unless q, k, v are (..., T, D) tensors that can attend and dropout_p is in [0, 1)."""
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(
            f"q, k and v must be at least 2-D (..., T, D); got q {tuple(q.shape)}, "
            f"k {tuple(k.shape)}, v {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same width d_k to be compared by a dot product; "
            f"got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions Tk; got k {tuple(k.shape)} "
            f"and v {tuple(v.shape)}"
        )
    try:
        # compared first: one torch.broadcast_shapes call costs about what a cached generation step spends attending
        if not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
            torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the batch dimensions of q, k and v (all but the last two) must match or broadcast; "
            f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
        ) from None
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")


def check_mask(mask: torch.Tensor | None, scores: torch.Tensor) -> None:
    """Raise ValueError unless `mask` is boolean, on the scores' device and broadcastable to them."""
    if mask is None:
        return
    scores_shape = scores.shape
    if mask.dtype != torch.bool:
        raise ValueError(
            f"mask must be a boolean tensor (True = may attend), got dtype {mask.dtype}; "
            "build it with causal_mask(T) or padding_mask(tokens, pad_id)"
        )
    try:
        broadcast = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        broadcast = None
    if broadcast != scores_shape:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} cannot be broadcast to the attention scores "
            f"of shape {tuple(scores_shape)} (..., Tq, Tk)"
        )
    if mask.device != scores.device:
        raise ValueError(f"mask is on {mask.device} but q and k are on {scores.device}: use mask.to(q.device)")


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d_k)) v for (..., T, D) tensors; returns (out, weights).

    A position whose mask is False gets the logit -inf, so its weight is exactly 0.
    A query that may attend to nothing gets all-zero weights (and a zero output), not NaN.
    """
    check_qkv(q, k, v, dropout_p)
    d_k = q.shape[-1]
    # 1. similarity of every query with every key, scaled so its variance stays near 1
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., Tq, D) @ (..., D, Tk) -> (..., Tq, Tk)
    if mask is not None:
        check_mask(mask, scores)
        # 2. forbidden positions get -inf, so exp(-inf) = 0 after the softmax
        scores = scores.masked_fill(~mask, float("-inf"))
    # 3. each row becomes a probability distribution over the keys
    weights = torch.softmax(scores, dim=-1)  # (..., Tq, Tk)
    if mask is not None:
        # a fully masked row is softmax(-inf, ..., -inf) = NaN; it attends to nothing instead
        weights = weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    # 4. the output of each query is the weighted sum of the values
    out = weights @ v  # (..., Tq, Tk) @ (..., Tk, Dv) -> (..., Tq, Dv)
    return out, weights


ATTENTION_IMPLS = ("hand-written", "fused")


def check_attention_impl(attention_impl: str) -> None:
    """Raise ValueError unless attention_impl names one of ATTENTION_IMPLS."""
    if attention_impl not in ATTENTION_IMPLS:
        raise ValueError(f"attention_impl must be one of {ATTENTION_IMPLS}, got {attention_impl!r}")


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
           dropout_p: float = 0.0, attention_impl: str = "hand-written") -> torch.Tensor:
    """The output of scaled_dot_product_attention, computed by the chosen implementation.

    "hand-written" is the function above (the one the lessons teach); "fused" is
    torch.nn.functional.scaled_dot_product_attention, which never builds the weights as a
    separate tensor and is faster. Same mask convention (True = may attend), same result within
    1e-5 (tests/test_attention.py); a query that may attend to nothing gets zeros in both.
    """
    check_attention_impl(attention_impl)
    if attention_impl == "hand-written":
        return scaled_dot_product_attention(q, k, v, mask=mask, dropout_p=dropout_p)[0]
    check_qkv(q, k, v, dropout_p)
    if mask is not None:
        batch = q.shape[:-2] if q.shape[:-2] == k.shape[:-2] else torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
        scores_shape = (*batch, q.shape[-2], k.shape[-2])  # (..., Tq, Tk), never materialised
        check_mask(mask, q.new_empty(()).expand(scores_shape))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) boolean lower-triangular mask: position t may attend to positions 0..t."""
    check_positive_int("T", T)
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, T) token ids -> (B, 1, 1, T) mask that is False on padding keys."""
    if tokens.dim() != 2:
        raise ValueError(f"tokens must be 2-D (B, T), got shape {tuple(tokens.shape)}")
    return (tokens != pad_id)[:, None, None, :]  # (B, T) -> (B, 1, 1, T)


def check_tokens(name: str, x: torch.Tensor, d_model: int) -> None:
    """Raise ValueError, naming the argument, unless x is a (B, T, d_model) batch of token vectors."""
    if x.dim() != 3 or x.shape[-1] != d_model:
        raise ValueError(f"{name} must be 3-D (B, T, d_model={d_model}), got shape {tuple(x.shape)}")


class SelfAttention(nn.Module):
    """One attention head: W_q, W_k, W_v project the same tokens, then attend to each other."""

    def __init__(self, d_model: int, d_k: int | None = None, bias: bool = False):
        super().__init__()
        d_k = d_model if d_k is None else d_k
        check_positive_int("d_model", d_model)
        check_positive_int("d_k", d_k)
        self.d_model = d_model
        self.d_k = d_k
        # query, key and value are three different uses of the same token vectors
        self.W_q = nn.Linear(d_model, d_k, bias=bias)
        self.W_k = nn.Linear(d_model, d_k, bias=bias)
        self.W_v = nn.Linear(d_model, d_k, bias=bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, need_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(B, T, d_model) -> (B, T, d_k); with need_weights, also the (B, T, T) weights."""
        check_tokens("x", x, self.d_model)
        q, k, v = self.W_q(x), self.W_k(x), self.W_v(x)  # each (B, T, d_k)
        out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
        return (out, weights) if need_weights else out
