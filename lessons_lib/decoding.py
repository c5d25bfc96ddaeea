"""Lesson 05 (notebooks/05_masked_decoder.ipynb): autoregressive decoding, one token at a time.

At test time the true target is unknown, so the decoder reads its own output: start from SOS,
pick the most likely next token, append it, run the decoder again, until EOS.

Shape legend: B batch, S source length, T target length, C channels (d_model), V vocab_size.
"""

from __future__ import annotations

import torch

from lessons_lib.runtime import model_mode
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
