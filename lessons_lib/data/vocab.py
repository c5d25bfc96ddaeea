"""Words and ids: the word-level tokenizer and vocabulary the course's own data sets use.

Lesson 05's translation pairs build one `Vocab` per language. Special tokens come first, with
the same ids in every vocabulary: PAD 0, SOS 1, EOS 2, UNK 3.

Shape legend: N number of sequences, T_max the longest.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

import torch

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, SOS, EOS, UNK)  # ids 0, 1, 2, 3 in every Vocab

_PUNCTUATION = re.compile(r"[.,!?;:\"]")


def tokenize(text: str) -> list[str]:
    """Lower-case, drop punctuation, split on spaces: "I go home." -> ["i", "go", "home"]."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    return _PUNCTUATION.sub(" ", text.lower()).split()


def display_words(words: Iterable[str]) -> list[str]:
    """Words as a reader writes them, for labels: the tokenizer's lower-case "i" back to "I"."""
    return ["I" if word == "i" else word for word in words]


class Vocab:
    """Word-level vocabulary: PAD, SOS, EOS, UNK (ids 0-3), then the words in sorted order."""

    def __init__(self, words: Iterable[str], name: str = "vocabulary"):
        words = sorted(set(words) - set(SPECIAL_TOKENS))
        self.name = name
        self.itos: list[str] = [*SPECIAL_TOKENS, *words]
        self.stoi: dict[str, int] = {word: index for index, word in enumerate(self.itos)}
        self.pad_id, self.sos_id, self.eos_id, self.unk_id = (self.stoi[t] for t in SPECIAL_TOKENS)

    @classmethod
    def build(cls, sentences: Iterable[str], name: str = "vocabulary") -> Vocab:
        """The vocabulary of every word in `sentences`."""
        return cls((word for sentence in sentences for word in tokenize(sentence)), name=name)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    @property
    def words(self) -> list[str]:
        """The words, without the special tokens."""
        return self.itos[len(SPECIAL_TOKENS):]

    def encode(self, sentence: str, add_sos: bool = False, add_eos: bool = False,
               strict: bool = True) -> list[int]:
        """Token ids of a sentence; an unknown word raises ValueError (strict) or becomes UNK."""
        words = tokenize(sentence)
        if not words:
            raise ValueError(f"sentence {sentence!r} has no words")
        unknown = [word for word in words if word not in self.stoi]
        if unknown and strict:
            hints = []
            for word in unknown:
                close = difflib.get_close_matches(word, self.words, n=3)
                hints.append(f"{word!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
            raise ValueError(
                f"sentence {sentence!r} has words that are not in the {self.name} "
                f"({len(self.words)} words): {'; '.join(hints)}"
            )
        ids = [self.stoi.get(word, self.unk_id) for word in words]
        return [self.sos_id] * add_sos + ids + [self.eos_id] * add_eos

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Words of a list of ids, up to the first EOS, without PAD and SOS."""
        words = []
        for index in ids:
            index = int(index)
            if not 0 <= index < len(self.itos):
                raise ValueError(f"id {index} is outside the {self.name} of size {len(self.itos)}")
            if index == self.eos_id:
                break
            if index not in (self.pad_id, self.sos_id):
                words.append(self.itos[index])
        return words

    def decode(self, ids: Iterable[int]) -> str:
        """The sentence of a list of ids, up to the first EOS."""
        return " ".join(self.tokens(ids))


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    """Lists of ids of different lengths -> (N, T_max) LongTensor, right-padded with `pad_id`."""
    if not sequences:
        raise ValueError("sequences is empty")
    longest = max(len(sequence) for sequence in sequences)
    batch = torch.full((len(sequences), longest), pad_id, dtype=torch.long)  # (N, T_max)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return batch


