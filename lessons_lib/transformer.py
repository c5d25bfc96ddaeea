"""Lesson 05 (notebooks/05_masked_decoder.ipynb): the encoder-decoder Transformer, post-norm.

The model of "Attention Is All You Need" (2017), one class per box of its figure:

    encoder layer:  x = AddNorm(x, SelfAttention(x, x, x, memory_mask))          1. self-attention
                    x = AddNorm(x, FeedForward(x))                               2. feed-forward
    decoder layer:  y = AddNorm(y, MaskedSelfAttention(y, y, y, tgt_mask))       1. masked (causal)
                    y = AddNorm(y, CrossAttention(y, memory, memory, memory_mask))  2. enc-dec
                    y = AddNorm(y, FeedForward(y))                               3. feed-forward
    Transformer:    embeddings (std d_model^-1/2) * sqrt(d_model) + sinusoidal positions
                    -> encoder (x N) -> memory
                    -> decoder (x N) -> final linear (logits; the softmax lives in the loss and
                    in decoding)

AddNorm is `norm.SublayerConnection` in its post-norm arrangement: LayerNorm(x + sublayer(x)).
`memory_mask` hides the source's padding: the encoder's keys, then the memory's positions.

Masks are boolean, True = may attend, broadcastable to (B, H, Tq, Tk). A masked logit is set
to -inf before the softmax, so its weight is exactly 0.

Shape legend: B batch, S source length, T target length, C channels (d_model), H heads,
D head_dim, V vocab_size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib.attention import causal_mask, check_attention_impl, padding_mask
from lessons_lib.multihead import MultiHeadAttention, check_head_sizes
from lessons_lib.norm import LayerNorm, SublayerConnection
from lessons_lib.positional import PositionalEncoding
from lessons_lib.runtime import check_positive_int


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of an encoder-decoder Transformer; `tiny` is a preset that trains in seconds on a CPU."""

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    d_ff: int = 256
    max_len: int = 32
    dropout: float = 0.1
    pad_id: int = 0
    attention_impl: str = "fused"  # or "hand-written" (lesson 01's function); equal within 1e-5

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "num_heads",
                     "num_encoder_layers", "num_decoder_layers", "d_ff", "max_len"):
            check_positive_int(name, getattr(self, name))
        check_head_sizes(self.d_model, self.num_heads, self.dropout)
        check_attention_impl(self.attention_impl)
        smallest = min(self.src_vocab_size, self.tgt_vocab_size)
        if not 0 <= self.pad_id < smallest:
            raise ValueError(
                f"pad_id={self.pad_id} must be an id of both vocabularies (sizes "
                f"{self.src_vocab_size} and {self.tgt_vocab_size})"
            )

    @classmethod
    def tiny(cls, src_vocab_size: int, tgt_vocab_size: int, pad_id: int = 0) -> TransformerConfig:
        """One layer each side, d_model 32, two heads: for tests and first experiments."""
        return cls(src_vocab_size, tgt_vocab_size, d_model=32, num_heads=2, num_encoder_layers=1,
                   num_decoder_layers=1, d_ff=64, max_len=32, dropout=0.0, pad_id=pad_id)


ACTIVATIONS = {
    "relu": torch.relu,  # the 2017 paper (lesson 05)
    # BERT's GELU, x * Phi(x) with Phi the standard normal CDF: a smooth ReLU that lets a little
    # of a negative input through (Hendrycks & Gimpel, 2016)
    "gelu": F.gelu,
    # GPT-2's GELU, x * Phi(x) with the normal CDF Phi approximated through tanh (Hendrycks & Gimpel)
    "gelu-tanh": lambda x: F.gelu(x, approximate="tanh"),
}


class FeedForward(nn.Module):
    """Position-wise feed-forward network: W_2 act(W_1 x + b_1) + b_2, each token on its own.

    `activation` is "relu" (the 2017 paper, lesson 05), "gelu" (BERT, lesson 08) or "gelu-tanh"
    (GPT-2, lesson 09).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, bias: bool = True,
                 activation: str = "relu"):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("d_ff", d_ff)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.W_1 = nn.Linear(d_model, d_ff, bias=bias)
        self.W_2 = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        hidden = ACTIVATIONS[self.activation](self.W_1(x))  # (B, T, C) -> (B, T, d_ff)
        return self.W_2(self.dropout(hidden))  # (B, T, d_ff) -> (B, T, C)


def _check_torch_layer(reference: nn.Module, expected: type) -> None:
    if not isinstance(reference, expected):
        raise ValueError(f"reference must be a torch.nn.{expected.__name__}, got "
                         f"{type(reference).__name__}")
    if not reference.self_attn.batch_first:
        raise ValueError("reference must be built with batch_first=True (tensors are (B, T, C))")
    if reference.norm_first:
        raise ValueError("reference must be post-norm (norm_first=False), as in the 2017 paper")
    if not (reference.activation is F.relu or isinstance(reference.activation, nn.ReLU)):
        raise ValueError(f"reference must use the ReLU activation, got {reference.activation}")


def copy_norm(norm: LayerNorm, reference: nn.LayerNorm) -> None:
    """Copy a torch (or Hugging Face) LayerNorm's eps, weight and bias into the course's LayerNorm."""
    norm.eps = reference.eps
    norm.weight.copy_(reference.weight)
    if reference.bias is not None:
        norm.bias.copy_(reference.bias)


def _copy_feed_forward(feed_forward: FeedForward, reference: nn.Module) -> None:
    for ours, theirs in ((feed_forward.W_1, reference.linear1), (feed_forward.W_2, reference.linear2)):
        ours.weight.copy_(theirs.weight)
        if theirs.bias is not None:
            ours.bias.copy_(theirs.bias)


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each joined to the stream by Add & Norm.

    `arrangement` is "post-norm" (the 2017 paper, Post-LN; lesson 05, BERT) or "pre-norm" (Pre-LN,
    GPT-2; lesson 03 compares the two on stacks of these layers).
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
                 eps: float = 1e-5, bias: bool = True, arrangement: str = "post-norm",
                 attention_impl: str = "hand-written", activation: str = "relu"):
        super().__init__()
        if arrangement not in ("post-norm", "pre-norm"):
            raise ValueError(f"arrangement must be 'post-norm' or 'pre-norm', got {arrangement!r}")
        self.self_attention = MultiHeadAttention(d_model, num_heads, dropout=dropout, bias=bias,
                                                 attention_impl=attention_impl)
        self.add_norm_1 = SublayerConnection(d_model, arrangement, dropout=dropout, eps=eps)
        self.feed_forward = FeedForward(d_model, d_ff, dropout=dropout, bias=bias, activation=activation)
        self.add_norm_2 = SublayerConnection(d_model, arrangement, dropout=dropout, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                need_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(B, S, C) -> (B, S, C); with need_weights, also the (B, H, S, S) attention weights."""
        # 1. every source token looks at every (non-padding) source token
        x = self.add_norm_1(x, lambda h: self.self_attention(h, h, h, mask=mask, need_weights=need_weights))
        if need_weights:
            x, weights = x
        # 2. then each token is transformed on its own
        x = self.add_norm_2(x, self.feed_forward)
        return (x, weights) if need_weights else x

    @classmethod
    def from_torch(cls, reference: nn.TransformerEncoderLayer) -> EncoderLayer:
        """Copy the weights of a batch_first, post-norm, ReLU torch.nn.TransformerEncoderLayer."""
        _check_torch_layer(reference, nn.TransformerEncoderLayer)
        attention = MultiHeadAttention.from_torch(reference.self_attn)
        layer = cls(attention.d_model, attention.num_heads, reference.linear1.out_features,
                    dropout=reference.dropout.p, eps=reference.norm1.eps,
                    bias=reference.linear1.bias is not None)
        layer.self_attention = attention
        with torch.no_grad():
            copy_norm(layer.add_norm_1.norm, reference.norm1)
            copy_norm(layer.add_norm_2.norm, reference.norm2)
            _copy_feed_forward(layer.feed_forward, reference)
        return layer


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder attention, feed-forward; each with Add & Norm."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.0,
                 eps: float = 1e-5, bias: bool = True, attention_impl: str = "hand-written"):
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, num_heads, dropout=dropout, bias=bias,
                                                 attention_impl=attention_impl)
        self.add_norm_1 = SublayerConnection(d_model, "post-norm", dropout=dropout, eps=eps)
        self.cross_attention = MultiHeadAttention(d_model, num_heads, dropout=dropout, bias=bias,
                                                  attention_impl=attention_impl)
        self.add_norm_2 = SublayerConnection(d_model, "post-norm", dropout=dropout, eps=eps)
        self.feed_forward = FeedForward(d_model, d_ff, dropout=dropout, bias=bias)
        self.add_norm_3 = SublayerConnection(d_model, "post-norm", dropout=dropout, eps=eps)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, C), memory (B, S, C) -> (B, T, C).

        With need_weights, also the self-attention (B, H, T, T) and the cross-attention
        (B, H, T, S) weights.
        """
        # 1. masked self-attention: with the causal tgt_mask, token t sees tokens 0..t only
        x = self.add_norm_1(
            x, lambda h: self.self_attention(h, h, h, mask=tgt_mask, need_weights=need_weights))
        if need_weights:
            x, self_weights = x
        # 2. encoder-decoder attention: queries from the decoder, keys and values from the
        #    encoder's output (the memory), so each target token picks the source words it needs
        x = self.add_norm_2(
            x, lambda h: self.cross_attention(h, memory, memory, mask=memory_mask, need_weights=need_weights))
        if need_weights:
            x, cross_weights = x
        # 3. position-wise feed-forward
        x = self.add_norm_3(x, self.feed_forward)
        return (x, self_weights, cross_weights) if need_weights else x

    @classmethod
    def from_torch(cls, reference: nn.TransformerDecoderLayer) -> DecoderLayer:
        """Copy the weights of a batch_first, post-norm, ReLU torch.nn.TransformerDecoderLayer."""
        _check_torch_layer(reference, nn.TransformerDecoderLayer)
        self_attention = MultiHeadAttention.from_torch(reference.self_attn)
        layer = cls(self_attention.d_model, self_attention.num_heads,
                    reference.linear1.out_features, dropout=reference.dropout.p,
                    eps=reference.norm1.eps, bias=reference.linear1.bias is not None)
        layer.self_attention = self_attention
        layer.cross_attention = MultiHeadAttention.from_torch(reference.multihead_attn)
        with torch.no_grad():
            copy_norm(layer.add_norm_1.norm, reference.norm1)
            copy_norm(layer.add_norm_2.norm, reference.norm2)
            copy_norm(layer.add_norm_3.norm, reference.norm3)
            _copy_feed_forward(layer.feed_forward, reference)
        return layer


class Encoder(nn.Module):
    """A stack of `num_layers` EncoderLayers (post-norm: no final LayerNorm)."""

    def __init__(self, num_layers: int, d_model: int, num_heads: int, d_ff: int,
                 dropout: float = 0.0, attention_impl: str = "hand-written"):
        super().__init__()
        check_positive_int("num_layers", num_layers)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, num_heads, d_ff, dropout, attention_impl=attention_impl)
            for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                need_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, list]:
        """(B, S, C) -> (B, S, C); with need_weights, also a list of (B, H, S, S), one per layer."""
        all_weights = []
        for layer in self.layers:
            x = layer(x, mask=mask, need_weights=need_weights)
            if need_weights:
                x, weights = x
                all_weights.append(weights)
        return (x, all_weights) if need_weights else x


class Decoder(nn.Module):
    """A stack of `num_layers` DecoderLayers, all reading the same encoder memory."""

    def __init__(self, num_layers: int, d_model: int, num_heads: int, d_ff: int,
                 dropout: float = 0.0, attention_impl: str = "hand-written"):
        super().__init__()
        check_positive_int("num_layers", num_layers)
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, num_heads, d_ff, dropout, attention_impl=attention_impl)
            for _ in range(num_layers)
        )

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list, list]:
        """(B, T, C), memory (B, S, C) -> (B, T, C).

        With need_weights, also the lists (one entry per layer) of self-attention
        (B, H, T, T) and cross-attention (B, H, T, S) weights.
        """
        self_weights, cross_weights = [], []
        for layer in self.layers:
            x = layer(x, memory, tgt_mask, memory_mask, need_weights=need_weights)
            if need_weights:
                x, self_w, cross_w = x
                self_weights.append(self_w)
                cross_weights.append(cross_w)
        return (x, self_weights, cross_weights) if need_weights else x


def init_embedding(embedding: nn.Embedding, d_model: int) -> None:
    """Draw an embedding table from N(0, 1 / d_model), the padding row (if any) kept at zero."""
    with torch.no_grad():
        nn.init.normal_(embedding.weight, std=d_model**-0.5)
        if embedding.padding_idx is not None:
            embedding.weight[embedding.padding_idx].zero_()


class AttentionMaps(NamedTuple):
    """Every attention map of one forward pass: lists with one (B, H, Tq, Tk) tensor per layer."""

    encoder_self: list[torch.Tensor]  # (B, H, S, S)
    decoder_self: list[torch.Tensor]  # (B, H, T, T), zero above the diagonal
    decoder_cross: list[torch.Tensor]  # (B, H, T, S): which source word each target token reads


class Transformer(nn.Module):
    """The encoder-decoder Transformer: source ids and target ids in, next-token logits out."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise ValueError(f"config must be a TransformerConfig, got {type(config).__name__}")
        self.config = config
        c = config
        self.src_embedding = nn.Embedding(c.src_vocab_size, c.d_model, padding_idx=c.pad_id)
        self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, c.d_model, padding_idx=c.pad_id)
        # entries of std d_model^-1/2 (the scale of the paper's embeddings, which share their
        # weights with the final linear layer): times sqrt(d_model) they have std 1, the size of
        # the positions (RMS 0.71). nn.Embedding's own N(0, 1) would make tokens 11x the positions
        # at d_model = 64 (lesson 05 measures both).
        for embedding in (self.src_embedding, self.tgt_embedding):
            init_embedding(embedding, c.d_model)
        self.positional = PositionalEncoding(c.d_model, max_len=c.max_len, dropout=c.dropout)
        self.encoder = Encoder(c.num_encoder_layers, c.d_model, c.num_heads, c.d_ff, c.dropout,
                               attention_impl=c.attention_impl)
        self.decoder = Decoder(c.num_decoder_layers, c.d_model, c.num_heads, c.d_ff, c.dropout,
                               attention_impl=c.attention_impl)
        # the final linear layer: one score (logit) per target word; softmax turns them into
        # probabilities in the loss (cross-entropy) and when decoding
        self.output_projection = nn.Linear(c.d_model, c.tgt_vocab_size)

    def _check_ids(self, name: str, ids: torch.Tensor, vocab_size: int) -> None:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"{name} must be a 2-D (B, T) LongTensor of token ids, got shape "
                             f"{tuple(ids.shape)} and dtype {ids.dtype}")
        if ids.shape[1] > self.config.max_len:
            raise ValueError(f"{name} has length {ids.shape[1]}, longer than max_len="
                             f"{self.config.max_len}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError(f"{name} holds ids in [{int(ids.min())}, {int(ids.max())}], outside "
                             f"the vocabulary [0, {vocab_size})")

    def memory_mask(self, src: torch.Tensor) -> torch.Tensor:
        """(B, S) ids -> (B, 1, 1, S): every query may attend to the real (non-PAD) source words.

        The encoder's self-attention and the decoder's cross-attention (over the memory) use it.
        """
        return padding_mask(src, self.config.pad_id)

    def tgt_mask(self, tgt: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, 1, T, T): causal (no peeking at later tokens) and no PAD keys."""
        causal = causal_mask(tgt.shape[1], device=tgt.device)  # (T, T)
        return causal & padding_mask(tgt, self.config.pad_id)  # (T, T) & (B, 1, 1, T) -> (B, 1, T, T)

    def _embed(self, embedding: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
        # the paper multiplies the embeddings by sqrt(d_model): with entries of std d_model^-1/2
        # (init_embedding) the tokens then have std 1, on the scale of the positions they are added to
        x = embedding(ids) * math.sqrt(self.config.d_model)  # (B, T) -> (B, T, C)
        return self.positional(x)  # (B, T, C)

    def encode(self, src: torch.Tensor, need_weights: bool = False
               ) -> torch.Tensor | tuple[torch.Tensor, list]:
        """(B, S) source ids -> memory (B, S, C); with need_weights, also the encoder weights."""
        self._check_ids("src", src, self.config.src_vocab_size)
        return self.encoder(self._embed(self.src_embedding, src), self.memory_mask(src),
                            need_weights=need_weights)

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor,
               need_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, list, list]:
        """(B, T) target ids, memory (B, S, C) -> logits (B, T, V) for the next token at each t."""
        self._check_ids("tgt", tgt, self.config.tgt_vocab_size)
        out = self.decoder(self._embed(self.tgt_embedding, tgt), memory, self.tgt_mask(tgt),
                           memory_mask, need_weights=need_weights)
        if not need_weights:
            return self.output_projection(out)  # (B, T, C) -> (B, T, V)
        out, self_weights, cross_weights = out
        return self.output_projection(out), self_weights, cross_weights  # (B, T, C) -> (B, T, V)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor, need_weights: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, AttentionMaps]:
        """(B, S) source ids, (B, T) target ids (starting with SOS) -> logits (B, T, V).

        The logits at position t score the target token t + 1. With need_weights, also
        every attention map (AttentionMaps).
        """
        _check_same_batch(src, tgt)
        if not need_weights:
            return self.decode(tgt, self.encode(src), self.memory_mask(src))
        memory, encoder_weights = self.encode(src, need_weights=True)
        logits, self_weights, cross_weights = self.decode(tgt, memory, self.memory_mask(src),
                                                          need_weights=True)
        return logits, AttentionMaps(encoder_weights, self_weights, cross_weights)


def _check_same_batch(src: torch.Tensor, tgt: torch.Tensor) -> None:
    if src.dim() == 2 and tgt.dim() == 2 and src.shape[0] != tgt.shape[0]:
        raise ValueError(f"src and tgt must have the same batch size B, got src "
                         f"{tuple(src.shape)} and tgt {tuple(tgt.shape)}")
