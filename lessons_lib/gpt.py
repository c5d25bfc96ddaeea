"""Lesson 09 (notebooks/09_gpt.ipynb): GPT, a decoder-only Transformer trained to predict the next token.

GPT is lesson 05's decoder without the encoder and its cross-attention: a stack of masked
self-attention and feed-forward layers, read left to right. One class per box of the figure:

    embeddings:  x = token_embedding[idx] + position_embedding[0..T-1]   (learned positions, lesson 04)
    block (x N): x = x + MaskedSelfAttention(LayerNorm(x))                1. pre-norm (lesson 03)
                 x = x + FeedForward(LayerNorm(x))                        2. GELU, as GPT-2
    output:      logits = LayerNorm(x) @ token_embedding^T               3. final norm, tied weights

The layers are the course's own: `LayerNorm` (lesson 03), `MultiHeadAttention` and `attend` (lessons
01-02), `FeedForward` (lesson 05). `GPT.from_hf` loads the weights of Hugging Face's
`GPT2LMHeadModel`, whose logits it then matches within 1e-4 (tests/test_gpt.py).

`GPT.generate` keeps a KV cache: every layer stores the keys and values of the tokens read so
far, so each new token is projected alone and attends to the stored ones, instead of the whole
text being run again.

Shape legend: B batch, T time (tokens given now), P past tokens (in the cache), C channels
(d_model), H heads, D head_dim, V vocab_size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib.attention import attend, causal_mask, check_attention_impl
from lessons_lib.decoding import check_sampling, sample_next_token
from lessons_lib.multihead import MultiHeadAttention, check_head_sizes, merge_heads, split_heads
from lessons_lib.norm import LayerNorm
from lessons_lib.runtime import check_positive_int, model_mode
from lessons_lib.transformer import FeedForward, copy_norm


class LayerKVCache:
    """One layer's keys and values of the tokens read so far: everything its attention needs of the past.

    Buffers of the context length, (B, H, max_len, D), of which the first `length` positions are
    filled. New keys and values are written after them: nothing already stored is copied again.
    """

    def __init__(self, batch_size: int, num_heads: int, max_len: int, head_dim: int,
                 device: torch.device | None = None, dtype: torch.dtype = torch.float32):
        self.keys = torch.zeros(batch_size, num_heads, max_len, head_dim, device=device, dtype=dtype)
        self.values = torch.zeros_like(self.keys)  # (B, H, max_len, D)
        self.length = 0  # P: the tokens stored

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store (B, H, T, D) keys and values after the P stored ones; return all of them, (B, H, P + T, D)."""
        end = self.length + k.shape[2]
        if end > self.keys.shape[2]:
            raise ValueError(f"the cache holds {self.keys.shape[2]} positions; {self.length} are used and "
                             f"{k.shape[2]} more do not fit")
        self.keys[:, :, self.length:end] = k
        self.values[:, :, self.length:end] = v
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]


KVCache = list[LayerKVCache]  # one per layer


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a GPT; `tiny` is a preset that trains in seconds on a CPU."""

    vocab_size: int
    max_len: int = 128  # the context length: positions 0 .. max_len - 1
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 4
    d_ff: int = 512  # 4 * d_model, as GPT-2
    dropout: float = 0.0
    eps: float = 1e-5
    attention_impl: str = "fused"  # or "hand-written" (lesson 01's function); equal within 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_len", "d_model", "num_heads", "num_layers", "d_ff"):
            check_positive_int(name, getattr(self, name))
        check_head_sizes(self.d_model, self.num_heads, self.dropout)
        check_attention_impl(self.attention_impl)
        if not self.eps > 0:
            raise ValueError(f"eps must be positive, got {self.eps}")

    @classmethod
    def tiny(cls, vocab_size: int) -> GPTConfig:
        """Two layers, d_model 32, two heads, context 32: for tests and first experiments."""
        return cls(vocab_size, max_len=32, d_model=32, num_heads=2, num_layers=2, d_ff=128)


class MaskedSelfAttention(MultiHeadAttention):
    """Lesson 02's multi-head attention (W_q, W_k, W_v, W_o) as causal self-attention with a KV cache.

    Given T new tokens and the cached keys and values of P earlier ones, it projects the new
    tokens only, appends their keys and values to the cache, and lets each new token attend to
    every earlier position and itself (lesson 05's causal mask).
    """

    def forward(self, x: torch.Tensor, cache: LayerKVCache | None = None) -> torch.Tensor:
        """(B, T, C) new tokens, after the P tokens in `cache` (if any) -> (B, T, C)."""
        # 1. project the new tokens only, then split the channels into heads
        q = split_heads(self.W_q(x), self.num_heads)  # (B, T, C) -> (B, H, T, D)
        k = split_heads(self.W_k(x), self.num_heads)  # (B, T, C) -> (B, H, T, D)
        v = split_heads(self.W_v(x), self.num_heads)  # (B, T, C) -> (B, H, T, D)
        # 2. the cache: earlier tokens' keys and values are reused, never recomputed
        if cache is not None:
            k, v = cache.append(k, v)  # (B, H, T, D) -> (B, H, P + T, D), the new ones last
        # 3. new token i sits at position P + i: it may attend to positions 0 .. P + i
        mask = new_token_mask(x.shape[1], k.shape[2], x.device)  # (T, P + T) or None
        dropout_p = self.dropout if self.training else 0.0
        out = attend(q, k, v, mask=mask, dropout_p=dropout_p, attention_impl=self.attention_impl)
        return self.W_o(merge_heads(out))  # (B, H, T, D) -> (B, T, C)


def new_token_mask(T: int, total: int, device: torch.device | None = None) -> torch.Tensor | None:
    """(T, total) causal mask of the last T of `total` positions; None when T = 1 (one new token sees all)."""
    if T == 1:
        return None
    return causal_mask(total, device=device)[total - T:]  # (total, total) -> (T, total)


class Block(nn.Module):
    """One GPT layer, pre-norm: x + attention(LayerNorm(x)), then x + feed-forward(LayerNorm(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm_1 = LayerNorm(config.d_model, eps=config.eps)
        self.attention = MaskedSelfAttention(config.d_model, config.num_heads, dropout=config.dropout,
                                             attention_impl=config.attention_impl)
        self.norm_2 = LayerNorm(config.d_model, eps=config.eps)
        self.feed_forward = FeedForward(config.d_model, config.d_ff, dropout=config.dropout,
                                        activation="gelu-tanh")
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: LayerKVCache | None = None) -> torch.Tensor:
        """(B, T, C) -> (B, T, C); with a cache, this layer's keys and values are stored in it."""
        # 1. masked self-attention on the normalized stream; the stream itself is never normalized
        x = x + self.dropout(self.attention(self.norm_1(x), cache))
        # 2. each token on its own through the feed-forward network
        x = x + self.dropout(self.feed_forward(self.norm_2(x)))
        return x


class GPT(nn.Module):
    """Decoder-only Transformer: token ids (B, T) in, next-token logits (B, T, V) out."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise ValueError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.max_len, config.d_model)  # learned, as GPT-2
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.final_norm = LayerNorm(config.d_model, eps=config.eps)  # pre-norm needs one at the end
        self.reset_parameters()

    def reset_parameters(self, std: float = 0.02) -> None:
        """GPT-2's initialisation: weights and embeddings N(0, std^2), biases 0, LayerNorms 1 and 0;
        the projections that write into the residual stream (W_o, W_2) get std / sqrt(2 num_layers),
        so the stream's variance does not grow with depth (Radford et al., 2019)."""
        residual_std = std / math.sqrt(2 * self.config.num_layers)
        for name, parameter in self.named_parameters():
            if name.endswith(("W_o.weight", "W_2.weight")):
                nn.init.normal_(parameter, std=residual_std)
            elif name.endswith("weight") and parameter.dim() == 2:  # linear layers and embeddings
                nn.init.normal_(parameter, std=std)
            elif "norm" in name:
                nn.init.ones_(parameter) if name.endswith("weight") else nn.init.zeros_(parameter)
            else:
                nn.init.zeros_(parameter)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """(B, T) token ids -> (B, T, V) logits; position t is scored for the token at t + 1.

        With a `cache` (`new_cache`) holding P earlier tokens, idx are the next T tokens: they sit at
        positions P .. P + T - 1, attend to the stored keys and values, and are stored in turn.
        """
        past_len = 0 if cache is None else cache[0].length
        self._check_idx(idx, past_len)
        positions = torch.arange(past_len, past_len + idx.shape[1], device=idx.device)  # (T,)
        # 1. what each token is, plus where it is
        x = self.dropout(self.token_embedding(idx) + self.position_embedding(positions))  # (B, T, C)
        # 2. the blocks, each with its own layer of the cache
        for layer, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[layer])  # (B, T, C)
        # 3. final LayerNorm, then the output layer tied to the token embedding: a token's score is
        #    the dot product of the last hidden state with that token's own embedding
        return F.linear(self.final_norm(x), self.token_embedding.weight)  # (B, T, C) -> (B, T, V)

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty KV cache for `batch_size` sequences: one LayerKVCache per block.

        It is for generation, under torch.no_grad: its buffers are written in place, which autograd
        could not differentiate through.
        """
        config, weight = self.config, self.token_embedding.weight
        return [LayerKVCache(batch_size, config.num_heads, config.max_len, config.d_model // config.num_heads,
                             device=weight.device, dtype=weight.dtype) for _ in self.blocks]

    def _check_idx(self, idx: torch.Tensor, past_len: int) -> None:
        if idx.dim() != 2 or idx.dtype != torch.long or idx.shape[1] == 0:
            raise ValueError(f"idx must be a (B, T) tensor of token ids (torch.long, T >= 1), got "
                             f"shape {tuple(idx.shape)} and dtype {idx.dtype}")
        if past_len + idx.shape[1] > self.config.max_len:
            raise ValueError(f"{past_len} cached + {idx.shape[1]} new tokens exceed the context length "
                             f"max_len={self.config.max_len}: crop idx to its last max_len tokens")
        if idx.numel() and not 0 <= int(idx.min()) <= int(idx.max()) < self.config.vocab_size:
            raise ValueError(f"idx holds ids outside the vocabulary [0, {self.config.vocab_size}): "
                             f"min {int(idx.min())}, max {int(idx.max())}")

    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, T) prompt -> (B, T + max_new_tokens): the prompt and the tokens sampled after it.

        temperature 0 is greedy decoding; top_k keeps only the k most likely tokens (`decoding`).
        With use_cache, each step runs the new token alone against the cached keys and values.
        When the text outgrows the context (max_len), the model reads its last max_len tokens:
        positions are absolute, so the cache is rebuilt from that window, and, full again, at every
        later step: past the context the cache gives no speed-up.
        """
        check_positive_int("max_new_tokens", max_new_tokens)
        check_sampling(temperature, top_k)
        max_len = self.config.max_len
        # inference mode: like no_grad, and it also skips autograd's bookkeeping of every tensor made
        # (about 7 % of a cached step here); the result is cloned outside it, a tensor like any other
        with torch.inference_mode(), model_mode(self, training=False):
            cache = None
            for _ in range(max_new_tokens):
                if not use_cache:
                    logits = self(idx[:, -max_len:])  # the whole window, every step: (B, T', V)
                elif cache is None or cache[0].length == max_len:
                    # first step, or the window slides: every position changes, so read it afresh
                    # (once the text is past the context, this happens at every step)
                    cache = self.new_cache(idx.shape[0])
                    logits = self(idx[:, -max_len:], cache)  # (B, T', V)
                else:
                    logits = self(idx[:, -1:], cache)  # only the newest token: (B, 1, V)
                next_token = sample_next_token(logits[:, -1], temperature, top_k, generator)  # (B,)
                idx = torch.cat([idx, next_token[:, None]], dim=1)  # (B, T) -> (B, T + 1)
        return idx.clone()

    @classmethod
    def from_hf(cls, reference: nn.Module, attention_impl: str = "fused") -> GPT:
        """Copy the weights of a transformers.GPT2LMHeadModel into a new GPT (the names of its
        checkpoint live here only)."""
        hf_config = _check_hf_gpt2(reference)
        d_model = hf_config.n_embd
        config = GPTConfig(vocab_size=hf_config.vocab_size, max_len=hf_config.n_positions,
                           d_model=d_model, num_heads=hf_config.n_head, num_layers=hf_config.n_layer,
                           d_ff=hf_config.n_inner or 4 * d_model, dropout=0.0,
                           eps=hf_config.layer_norm_epsilon, attention_impl=attention_impl)
        model = cls(config).to(reference.transformer.wte.weight.device)  # on the reference's device
        source = reference.transformer
        with torch.no_grad():
            model.token_embedding.weight.copy_(source.wte.weight)
            model.position_embedding.weight.copy_(source.wpe.weight)
            for block, hf_block in zip(model.blocks, source.h, strict=True):
                copy_norm(block.norm_1, hf_block.ln_1)
                copy_norm(block.norm_2, hf_block.ln_2)
                # GPT-2's Conv1D computes x @ W + b with W of shape (in, out): nn.Linear wants W^T.
                # Its c_attn holds W_q, W_k, W_v side by side in one (C, 3C) matrix.
                weights = hf_block.attn.c_attn.weight.split(d_model, dim=1)  # 3 x (C, C)
                biases = hf_block.attn.c_attn.bias.split(d_model)  # 3 x (C,)
                attention = block.attention
                for linear, w, b in zip((attention.W_q, attention.W_k, attention.W_v), weights, biases,
                                        strict=True):
                    _copy_linear(linear, w, b)
                _copy_linear(attention.W_o, hf_block.attn.c_proj.weight, hf_block.attn.c_proj.bias)
                _copy_linear(block.feed_forward.W_1, hf_block.mlp.c_fc.weight, hf_block.mlp.c_fc.bias)
                _copy_linear(block.feed_forward.W_2, hf_block.mlp.c_proj.weight, hf_block.mlp.c_proj.bias)
            copy_norm(model.final_norm, source.ln_f)
        return model


def _copy_linear(linear: nn.Linear, conv1d_weight: torch.Tensor, bias: torch.Tensor) -> None:
    linear.weight.copy_(conv1d_weight.T)  # (in, out) -> (out, in)
    linear.bias.copy_(bias)


def _check_hf_gpt2(reference: nn.Module):
    """The config of a GPT2LMHeadModel this GPT can copy exactly; ValueError for anything else."""
    from transformers import GPT2LMHeadModel

    if not isinstance(reference, GPT2LMHeadModel):
        raise ValueError(f"reference must be a transformers.GPT2LMHeadModel, got {type(reference).__name__}")
    config = reference.config
    if config.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(f"reference uses activation {config.activation_function!r}; this GPT has GPT-2's "
                         "tanh GELU ('gelu_new')")
    if (not config.scale_attn_weights or config.scale_attn_by_inverse_layer_idx
            or config.reorder_and_upcast_attn):
        raise ValueError("reference must scale attention by 1/sqrt(head_dim) only, as GPT-2 does "
                         "(scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False)")
    if reference.lm_head.weight.data_ptr() != reference.transformer.wte.weight.data_ptr():
        raise ValueError("reference's output layer is not tied to its token embedding (tie_word_embeddings)")
    return config

