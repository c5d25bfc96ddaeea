"""Lesson 09 (notebooks/09_gpt.ipynb): a text as a sequence of characters, for a character-level GPT.

Every distinct character of the text is a token (Python's documentation has about 90), so there
is no tokenizer to learn and no unknown word. The text is split by position: the first 90 % for
training, the last 10 % for validation, so the validation text is prose the model never read.
Training batches are random windows of `context` + 1 characters: the model reads the first
`context` and is scored on each next one.

Shape legend: N characters, B batch, T time (context).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from lessons_lib.data.text import load_text
from lessons_lib.runtime import check_positive_int


@dataclass(frozen=True)
class CharVocab:
    """The characters of a text, sorted; a character's id is its place in `chars`."""

    chars: str

    def __post_init__(self) -> None:
        if not self.chars or len(set(self.chars)) != len(self.chars):
            raise ValueError(f"chars must be a non-empty string of distinct characters, got {self.chars[:40]!r}")

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """Every distinct character of `text`."""
        if not isinstance(text, str) or not text:
            raise ValueError("text must be a non-empty str")
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        """The number of tokens: the vocab_size of a model over this vocabulary."""
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """str -> (N,) token ids (torch.long)."""
        index = {char: i for i, char in enumerate(self.chars)}
        unknown = sorted(set(text) - index.keys())
        if unknown:
            raise ValueError(f"text holds characters outside the vocabulary: {''.join(unknown)[:20]!r}")
        return torch.tensor([index[char] for char in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        """(N,) token ids -> str."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        if any(not 0 <= i < self.size for i in ids):
            raise ValueError(f"ids must be in [0, {self.size}), got min {min(ids)} and max {max(ids)}")
        return "".join(self.chars[i] for i in ids)


@dataclass(frozen=True)
class CharCorpus:
    """A text encoded character by character and split by position into training and validation ids."""

    vocab: CharVocab
    train: torch.Tensor  # (N_train,)
    val: torch.Tensor  # (N_val,)


def load_char_corpus(path: str | os.PathLike | None = None, train_fraction: float = 0.9) -> CharCorpus:
    """Python's documentation (or the text file at `path`), the first `train_fraction` for training."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    text = load_text(path)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)  # (N,)
    cut = int(train_fraction * len(ids))
    return CharCorpus(vocab, ids[:cut], ids[cut:])


def random_windows(ids: torch.Tensor, batch_size: int, context: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """B random windows of the text: inputs (B, T) and targets (B, T), the same characters one step later."""
    check_positive_int("batch_size", batch_size)
    check_positive_int("context", context)
    if ids.dim() != 1 or len(ids) <= context:
        raise ValueError(f"ids must be 1-D and longer than context={context}, got shape {tuple(ids.shape)}")
    starts = torch.randint(len(ids) - context, (batch_size,), generator=generator)  # (B,)
    offsets = torch.arange(context + 1)  # (T + 1,)
    windows = ids[starts[:, None] + offsets]  # (B, 1) + (T + 1,) -> (B, T + 1)
    return windows[:, :-1], windows[:, 1:]  # (B, T) each


def evaluation_windows(ids: torch.Tensor, context: int, max_windows: int | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """The text cut into consecutive, non-overlapping windows: inputs (W, T) and targets (W, T).

    Every character (but the last few) is predicted once, from a left context of 0 to T - 1
    characters; `max_windows` keeps the first ones only (a faster, rougher estimate).
    """
    check_positive_int("context", context)
    windows = (len(ids) - 1) // context
    if windows < 1:
        raise ValueError(f"ids must hold more than context={context} characters, got {len(ids)}")
    if max_windows is not None:
        check_positive_int("max_windows", max_windows)
        windows = min(windows, max_windows)
    used = windows * context
    return ids[:used].view(windows, context), ids[1:used + 1].view(windows, context)  # (W, T) each
