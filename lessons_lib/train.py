"""Lesson 05 (notebooks/05_masked_decoder.ipynb): training a translator and measuring it.

Teacher forcing: the decoder is fed the true target shifted right (SOS, y_1, ..., y_{T-1})
and asked for (y_1, ..., y_T, EOS) at every position at once, in one forward pass. The
causal mask keeps this honest: position t cannot see the answer at t + 1. At test time the
true target is unknown, so the model decodes autoregressively (`greedy_decode`).

Shape legend: B batch, S source length, T target length, V vocab_size, N number of pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from lessons_lib.data.vocab import Vocab, tokenize
from lessons_lib.decoding import greedy_decode
from lessons_lib.runtime import check_positive_int, model_mode
from lessons_lib.transformer import Transformer


@dataclass(frozen=True)
class TrainConfig:
    """Settings of `train_seq2seq`: AdamW, linear warm-up then linear decay, gradient clipping."""

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    label_smoothing: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            check_positive_int(name, getattr(self, name))
        if not isinstance(self.warmup_steps, int) or not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must be an int in [0, steps={self.steps}], got "
                             f"{self.warmup_steps!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0 or self.grad_clip <= 0:
            raise ValueError(f"weight_decay must be >= 0 and grad_clip > 0, got "
                             f"{self.weight_decay} and {self.grad_clip}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


@dataclass(frozen=True)
class TrainResult:
    """What a training run measured: the loss at every step and the time it took."""

    losses: list[float]
    seconds: float

    @property
    def steps_per_second(self) -> float:
        """Optimiser steps per second of wall time."""
        return len(self.losses) / self.seconds


def warmup_then_linear_decay(step: int, warmup_steps: int, steps: int, floor: float = 0.0) -> float:
    """The learning-rate factor of step `step` (0-based): a linear warm-up to 1, then a linear decay to `floor`."""
    if step < warmup_steps:  # warm-up: Adam's early steps are noisy
        return (step + 1) / warmup_steps
    return max(floor, 1.0 - (step - warmup_steps) / max(1, steps - warmup_steps))


def seq2seq_loss(model: Transformer, src: torch.Tensor, tgt: torch.Tensor,
                 label_smoothing: float = 0.0) -> torch.Tensor:
    """Teacher-forced cross-entropy of (B, S) sources and (B, T) SOS ... EOS targets."""
    if tgt.dim() != 2 or tgt.shape[1] < 2:
        raise ValueError(f"tgt must be (B, T) with T >= 2 (SOS ... EOS), got shape {tuple(tgt.shape)}")
    # the decoder reads the target shifted right and predicts it shifted left
    decoder_input, expected = tgt[:, :-1], tgt[:, 1:]  # (B, T) -> (B, T - 1), (B, T - 1)
    logits = model(src, decoder_input)  # (B, T - 1, V)
    return F.cross_entropy(
        logits.flatten(0, 1),  # (B, T - 1, V) -> (B * (T - 1), V)
        expected.flatten(),  # (B, T - 1) -> (B * (T - 1),)
        ignore_index=model.config.pad_id,  # padding is not a word to predict
        label_smoothing=label_smoothing,
    )


def _trim_padding(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Drop the columns that are PAD in every row (a batch of short sentences runs faster)."""
    length = int((ids != pad_id).sum(dim=1).max())
    return ids[:, :length]  # (B, T) -> (B, length)


def train_seq2seq(model: Transformer, src: torch.Tensor, tgt: torch.Tensor, config: TrainConfig,
                  progress: bool = True, desc: str = "training") -> TrainResult:
    """Train `model` with teacher forcing on (N, S) sources and (N, T) targets; seeded.

    The run is repeatable: it reseeds torch's global generator with `config.seed` (for the
    dropout masks) and draws the batch order from a generator of its own. The model trains in
    train mode (dropout on); the caller's mode comes back afterwards.
    """
    if src.dim() != 2 or tgt.dim() != 2 or src.shape[0] != tgt.shape[0]:
        raise ValueError(f"src and tgt must be (N, S) and (N, T) with the same N, got "
                         f"{tuple(src.shape)} and {tuple(tgt.shape)}")
    device = next(model.parameters()).device
    pad_id = model.config.pad_id
    torch.manual_seed(config.seed)  # dropout masks
    order = torch.Generator().manual_seed(config.seed)  # batch order
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.98),
                                  weight_decay=config.weight_decay)

    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_then_linear_decay(step, config.warmup_steps, config.steps, floor=0.05))
    losses: list[float] = []
    permutation = torch.randperm(src.shape[0], generator=order)
    position = 0
    started = time.perf_counter()
    bar = tqdm(range(config.steps), desc=desc, disable=not progress)
    with model_mode(model, training=True):
        for step in bar:
            if position + config.batch_size > src.shape[0]:  # a new epoch, a new order
                permutation, position = torch.randperm(src.shape[0], generator=order), 0
            rows = permutation[position : position + config.batch_size]
            position += config.batch_size
            batch_src = _trim_padding(src[rows], pad_id).to(device)  # (B, S)
            batch_tgt = _trim_padding(tgt[rows], pad_id).to(device)  # (B, T)
            loss = seq2seq_loss(model, batch_src, batch_tgt, config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if step % 20 == 0 or step == config.steps - 1:
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return TrainResult(losses=losses, seconds=time.perf_counter() - started)


class TranslationScores(NamedTuple):
    """Exact-match and per-token accuracy of greedy translations, and the predicted ids."""

    exact_match: float
    token_accuracy: float
    predictions: torch.Tensor  # (N, L): PAD after each row's EOS


def evaluate_translation(model: Transformer, src: torch.Tensor, tgt: torch.Tensor, sos_id: int,
                         eos_id: int, batch_size: int = 512) -> TranslationScores:
    """Greedy-decode every (N, S) source and compare with the (N, T) SOS ... EOS references.

    A sentence is an exact match when every token up to and including EOS is right; token
    accuracy counts the reference positions (EOS included) whose token is right.
    """
    if src.dim() != 2 or tgt.dim() != 2 or src.shape[0] != tgt.shape[0]:
        raise ValueError(f"src and tgt must be (N, S) and (N, T) with the same N, got "
                         f"{tuple(src.shape)} and {tuple(tgt.shape)}")
    device = next(model.parameters()).device
    pad_id = model.config.pad_id
    reference = tgt[:, 1:]  # drop SOS: (N, T) -> (N, T - 1)
    max_new_tokens = min(reference.shape[1] + 2, model.config.max_len - 1)  # room to over-generate
    chunks = []
    for start in range(0, src.shape[0], batch_size):
        batch = _trim_padding(src[start : start + batch_size], pad_id).to(device)
        chunks.append(greedy_decode(model, batch, sos_id, eos_id, max_new_tokens).cpu())
    width = max(max(chunk.shape[1] for chunk in chunks), reference.shape[1])
    predictions = torch.cat([F.pad(chunk, (0, width - chunk.shape[1]), value=pad_id)
                             for chunk in chunks])  # (N, width)
    reference = F.pad(reference, (0, width - reference.shape[1]), value=pad_id)  # (N, width)
    correct = predictions == reference  # (N, width)
    real = reference != pad_id  # (N, width)
    return TranslationScores(
        exact_match=correct.all(dim=1).float().mean().item(),
        token_accuracy=(correct & real).sum().item() / real.sum().item(),
        predictions=predictions,
    )


class Translation(NamedTuple):
    """One translated sentence, its words, and the decoder's cross-attention while writing it."""

    text: str
    source_tokens: list[str]
    target_tokens: list[str]  # the translation's words, then EOS if the model wrote it
    cross_attention: torch.Tensor  # (num_layers, H, T, S): target token t reading source word s


def translate(model: Transformer, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab,
              max_new_tokens: int | None = None) -> Translation:
    """Translate one sentence greedily (at most `max_new_tokens` words, default: all the model can hold).

    Unknown words raise ValueError with suggestions.
    """
    device = next(model.parameters()).device
    src = torch.tensor([src_vocab.encode(sentence)], device=device)  # (1, S)
    if max_new_tokens is None:
        max_new_tokens = model.config.max_len - 1  # one position is SOS
    output = greedy_decode(model, src, tgt_vocab.sos_id, tgt_vocab.eos_id, max_new_tokens)[0]  # (L,)
    generated = output.tolist()
    if tgt_vocab.eos_id in generated:  # keep up to and including EOS; the rest is PAD
        generated = generated[: generated.index(tgt_vocab.eos_id) + 1]
    # re-read the translation in one teacher-forced pass to get the attention of each step;
    # with the causal mask it equals the attention the model had while decoding step by step
    decoder_input = torch.tensor([[tgt_vocab.sos_id, *generated[:-1]]], device=device)  # (1, L)
    with model_mode(model, training=False), torch.no_grad():
        _, maps = model(src, decoder_input, need_weights=True)
    cross = torch.stack([w[0] for w in maps.decoder_cross]).cpu()  # layers x (H, T, S) -> (layers, H, T, S)
    return Translation(
        text=tgt_vocab.decode(generated),
        source_tokens=tokenize(sentence),
        target_tokens=[tgt_vocab.itos[t] for t in generated],
        cross_attention=cross,
    )
