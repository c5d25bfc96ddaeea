"""Lesson 09 (notebooks/09_gpt.ipynb): training a GPT by next-token prediction.

The labels are made from the text itself (lesson 06's idea): the target at every position is the
next token. `train_gpt` draws random windows of the text (`data.characters.random_windows`) and runs
AdamW with a linear warm-up and then a cosine decay of the learning rate; `evaluate_gpt` measures the
mean cross-entropy, in nats per token, over consecutive windows of held-out text.

Shape legend: B batch, T time (the context, max_len), V vocab_size, W windows.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from lessons_lib.data.characters import evaluation_windows, random_windows
from lessons_lib.gpt import GPT
from lessons_lib.runtime import check_positive_int, model_mode
from lessons_lib.train import TrainResult


def next_token_loss(model: GPT, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per token) of the model's prediction of y (B, T) from x (B, T)."""
    logits = model(x)  # (B, T) -> (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())  # (B*T, V) against (B*T,)


@dataclass(frozen=True)
class GPTTrainConfig:
    """Settings of `train_gpt`: AdamW, linear warm-up then cosine decay, gradient clipping."""

    steps: int = 700
    batch_size: int = 32
    lr: float = 4e-3
    warmup_steps: int = 50
    final_lr_fraction: float = 0.1  # the cosine ends at lr * final_lr_fraction
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            check_positive_int(name, getattr(self, name))
        if not isinstance(self.warmup_steps, int) or not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must be an int in [0, steps={self.steps}], got {self.warmup_steps!r}")
        if not self.lr > 0 or not 0 <= self.final_lr_fraction <= 1:
            raise ValueError(f"lr must be positive and final_lr_fraction in [0, 1], got {self.lr} and "
                             f"{self.final_lr_fraction}")
        if self.weight_decay < 0 or self.grad_clip <= 0:
            raise ValueError(f"weight_decay must be >= 0 and grad_clip > 0, got {self.weight_decay} and "
                             f"{self.grad_clip}")

    def lr_at(self, step: int) -> float:
        """The learning rate of step `step` (0-based): linear warm-up, then cosine down to the final fraction."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)  # 0 -> 1
        cosine = 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))  # 1 -> 0
        return self.lr * (self.final_lr_fraction + (1 - self.final_lr_fraction) * cosine)


def train_gpt(model: GPT, train_ids: torch.Tensor, config: GPTTrainConfig, desc: str = "training GPT"
              ) -> TrainResult:
    """Train on random windows of `train_ids` (1-D) for config.steps steps, with a progress bar.

    AdamW decays the weight matrices and embeddings only (not biases nor LayerNorms, as GPT-2).
    """
    device = next(model.parameters()).device
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": matrices, "weight_decay": config.weight_decay},
                                   {"params": others, "weight_decay": 0.0}], lr=config.lr, betas=(0.9, 0.99))
    generator = torch.Generator().manual_seed(config.seed)
    losses = []
    started = time.perf_counter()
    with model_mode(model, training=True):
        for step in (bar := tqdm(range(config.steps), desc=desc)):
            for group in optimizer.param_groups:
                group["lr"] = config.lr_at(step)
            x, y = random_windows(train_ids, config.batch_size, model.config.max_len, generator)  # (B, T) each
            loss = next_token_loss(model, x.to(device), y.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            losses.append(loss.item())
            if step % 25 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return TrainResult(losses, time.perf_counter() - started)


@torch.no_grad()
def evaluate_gpt(model: GPT, ids: torch.Tensor, batch_size: int = 64, max_windows: int | None = None) -> float:
    """Mean next-token cross-entropy (nats per token) over consecutive windows of `ids` (`evaluation_windows`)."""
    device = next(model.parameters()).device
    inputs, targets = evaluation_windows(ids, model.config.max_len, max_windows)  # (W, T) each
    total = 0.0
    with model_mode(model, training=False):
        for start in range(0, len(inputs), batch_size):
            x, y = inputs[start:start + batch_size].to(device), targets[start:start + batch_size].to(device)
            total += next_token_loss(model, x, y).item() * len(x)
    return total / len(inputs)
