"""lessons_lib.data.vocab: words to ids and back, special tokens first, clear errors, padding."""

import pytest
import torch

from lessons_lib.data.vocab import EOS, PAD, SOS, UNK, Vocab, display_words, pad_batch, tokenize


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("I go home.") == ["i", "go", "home"]
    assert tokenize("나는  집에 간다!") == ["나는", "집에", "간다"]


def test_vocab_puts_special_tokens_first_and_round_trips():
    vocab = Vocab.build(["I go home", "we go to school"])
    assert vocab.itos[:4] == [PAD, SOS, EOS, UNK]
    assert (vocab.pad_id, vocab.sos_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    ids = vocab.encode("We go home", add_sos=True, add_eos=True)
    assert ids[0] == vocab.sos_id and ids[-1] == vocab.eos_id
    assert vocab.decode(ids + [vocab.pad_id, vocab.stoi["school"]]) == "we go home"  # stops at EOS


def test_unknown_words_raise_a_clear_error_or_become_unk():
    vocab = Vocab.build(["I go home"], name="English vocabulary")
    with pytest.raises(ValueError, match=r"not in the English vocabulary .*'hom' \(did you mean home"):
        vocab.encode("I go hom")
    assert vocab.encode("I go hom", strict=False)[-1] == vocab.unk_id
    with pytest.raises(ValueError, match="no words"):
        vocab.encode(" . ")
    with pytest.raises(ValueError, match="outside"):
        vocab.decode([99])


def test_pad_batch_right_pads():
    batch = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert batch.dtype == torch.long
    assert batch.tolist() == [[5, 6, 7], [8, 0, 0]]


def test_display_words_writes_the_pronoun_i_upper_case_and_nothing_else_changes():
    assert display_words(tokenize("I think i like it")) == ["I", "think", "I", "like", "it"]
    assert display_words(["is", "in", "<eos>"]) == ["is", "in", "<eos>"]
