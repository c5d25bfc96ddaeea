"""lessons_lib.data.characters: a character vocabulary that round-trips, a split by position, and
windows whose targets are the inputs shifted by one character."""

import pytest
import torch

from lessons_lib.data.characters import (
    CharVocab,
    evaluation_windows,
    load_char_corpus,
    random_windows,
)
from lessons_lib.data.text import python_docs_text


def test_vocab_round_trips_and_refuses_unknown_characters():
    vocab = CharVocab.from_text("hello world")
    assert vocab.chars == " dehlorw" and vocab.size == 8
    ids = vocab.encode("hello")
    assert ids.dtype == torch.long and ids.tolist() == [3, 2, 4, 4, 5]
    assert vocab.decode(ids) == "hello" and vocab.decode([7, 5]) == "wo"
    with pytest.raises(ValueError, match="outside the vocabulary: 'xz'"):
        vocab.encode("xyz".replace("y", ""))
    with pytest.raises(ValueError, match="ids must be in"):
        vocab.decode([8])
    with pytest.raises(ValueError, match="distinct characters"):
        CharVocab("aa")


def test_python_docs_corpus_is_split_90_10_by_position(tmp_path):
    corpus = load_char_corpus()
    text = python_docs_text()
    assert len(corpus.train) + len(corpus.val) == len(text)
    assert len(corpus.train) == int(0.9 * len(text))
    assert corpus.vocab.decode(corpus.val[:50]) == text[len(corpus.train):len(corpus.train) + 50]
    assert 80 <= corpus.vocab.size <= 110
    own = tmp_path / "own.txt"
    own.write_text("abcabcabcd", encoding="utf-8")
    small = load_char_corpus(own, train_fraction=0.5)
    assert small.vocab.chars == "abcd" and small.vocab.decode(small.val) == "cabcd"


def test_random_windows_are_seeded_and_targets_are_the_next_characters():
    ids = torch.arange(100)
    x, y = random_windows(ids, 4, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 10)
    assert torch.equal(y, x + 1)
    assert torch.equal(x, random_windows(ids, 4, 10, torch.Generator().manual_seed(0))[0])
    with pytest.raises(ValueError, match="longer than context=100"):
        random_windows(ids, 4, 100)


def test_evaluation_windows_cover_the_text_once():
    x, y = evaluation_windows(torch.arange(25), 6)
    assert x.shape == (4, 6) and x.flatten().tolist() == list(range(24)) and torch.equal(y, x + 1)
    assert evaluation_windows(torch.arange(25), 6, max_windows=2)[0].shape == (2, 6)
