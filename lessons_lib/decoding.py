"""Lesson 05 (notebooks/05_masked_decoder.ipynb): autoregressive decoding, one token at a time.

At test time the true target is unknown, so the decoder reads its own output: start from SOS,
pick the most likely next token, append it, run the decoder again, until EOS.

Lesson 09 (notebooks/09_gpt.ipynb) samples the next token instead of always taking the most likely
one: `next_token_probabilities` (temperature, then top-k) and `sample_next_token`.

Shape legend: B batch, S source length, T target length, C channels (d_model), V vocab_size.
"""

from __future__ import annotations

import torch

from lessons_lib.runtime import check_positive_int, model_mode
from lessons_lib.transformer import Transformer


@torch.no_grad()
def greedy_decode(model: Transformer, src: torch.Tensor, sos_id: int, eos_id: int,
                  max_new_tokens: int) -> torch.Tensor:
    """Autoregressive decoding, one most-likely token at a time: (B, S) -> (B, L), L <= max_new_tokens.

    Each row starts from SOS and feeds its own outputs back in. A row stops at its EOS (kept
    in the output) and is padded with PAD afterwards; decoding ends when every row has
    stopped or after `max_new_tokens` tokens. The model runs in eval mode (no dropout); the
    caller's mode comes back afterwards.
    """
    _check_decoding_arguments(model, sos_id, eos_id, max_new_tokens)
    pad_id = model.config.pad_id
    with model_mode(model, training=False):
        memory_mask = model.memory_mask(src)  # (B, 1, 1, S)
        memory = model.encode(src)  # (B, S) -> (B, S, C): the source is read once
        tokens = torch.full((src.shape[0], 1), sos_id, dtype=torch.long, device=src.device)  # (B, 1)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)  # (B,)
        for _ in range(max_new_tokens):
            logits = model.decode(tokens, memory, memory_mask)  # (B, t) -> (B, t, V)
            next_token = logits[:, -1].argmax(dim=-1)  # (B, V) -> (B,): the most likely next word
            next_token = next_token.masked_fill(finished, pad_id)  # stopped rows only get PAD
            tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (B, t) -> (B, t + 1)
            finished |= next_token == eos_id
            if finished.all():
                break
    return tokens[:, 1:]  # drop SOS: (B, 1 + L) -> (B, L)


def _check_decoding_arguments(model: Transformer, sos_id: int, eos_id: int, max_new_tokens: int) -> None:
    if not isinstance(model, Transformer):
        raise ValueError(f"model must be a Transformer, got {type(model).__name__}")
    vocab_size = model.config.tgt_vocab_size
    for name, token in (("sos_id", sos_id), ("eos_id", eos_id)):
        if not 0 <= token < vocab_size:
            raise ValueError(f"{name}={token} is outside the target vocabulary [0, {vocab_size})")
    longest = model.config.max_len - 1  # one position is SOS
    if not isinstance(max_new_tokens, int) or not 1 <= max_new_tokens <= longest:
        raise ValueError(f"max_new_tokens must be an int in [1, {longest}] (the model's max_len "
                         f"minus one, for SOS), got {max_new_tokens!r}")


def check_sampling(temperature: float, top_k: int | None) -> None:
    """Raise ValueError unless temperature >= 0 (0 = greedy) and top_k is None or a positive int."""
    if not isinstance(temperature, int | float) or isinstance(temperature, bool) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None:
        check_positive_int("top_k", top_k)


def next_token_probabilities(logits: torch.Tensor, temperature: float = 1.0,
                             top_k: int | None = None) -> torch.Tensor:
    """(B, V) logits -> (B, V) probabilities: keep the top_k largest logits, divide by temperature, softmax.

    temperature 1 keeps the model's distribution, below 1 sharpens it, above 1 flattens it; 0 is
    greedy (all the probability on the most likely token).
    """
    check_sampling(temperature, top_k)
    if logits.dim() != 2:
        raise ValueError(f"logits must be 2-D (B, V), got shape {tuple(logits.shape)}")
    if top_k is not None and top_k < logits.shape[-1]:
        # 1. top-k: every token below the k-th largest logit gets -inf, so probability 0 (a tie with
        #    the k-th is kept)
        kth_largest = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, V) -> (B, 1)
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    if temperature == 0:
        # greedy: a one-hot distribution on the argmax
        return torch.zeros_like(logits).scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0)
    # 2. temperature: the same ranking, a sharper (T < 1) or flatter (T > 1) distribution
    return torch.softmax(logits / temperature, dim=-1)  # (B, V)


def sample_next_token(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, V) logits -> (B,) token ids drawn from `next_token_probabilities` (argmax when temperature is 0)."""
    if temperature == 0:
        check_sampling(temperature, top_k)
        return logits.argmax(dim=-1)  # greedy: (B, V) -> (B,), whatever top_k is
    probabilities = next_token_probabilities(logits, temperature, top_k)  # (B, V)
    return torch.multinomial(probabilities, num_samples=1, generator=generator)[:, 0]  # (B, 1) -> (B,)
