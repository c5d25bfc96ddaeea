"""lessons_lib.data.text: Python's documentation as offline prose, or a learner's own file."""

import pytest

from lessons_lib.data.text import (
    load_text,
    python_docs_text,
    sentence_documents,
    split_documents,
    split_sentences,
    train_wordpiece,
    words,
)


def test_python_docs_are_long_english_and_always_the_same():
    text = python_docs_text()
    assert len(text) > 200_000 and text == python_docs_text()
    assert words(text)[:0] == [] and "the" in set(words(text[:5000]))


def test_load_text_reads_a_file_or_the_docs(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("Don't panic. The answer is 42!", encoding="utf-8")
    assert words(load_text(path)) == ["don't", "panic", "the", "answer", "is"]
    assert load_text(None) == python_docs_text()
    with pytest.raises(ValueError, match="no text file"):
        load_text(tmp_path / "missing.txt")


def test_the_minilm_tokenizer_is_bert_s_uncased_wordpiece():
    from lessons_lib.data.text import minilm_tokenizer

    tokenizer = minilm_tokenizer()
    assert tokenizer.vocab_size == 30522
    assert (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.mask_token_id) == (101, 102, 103)
    assert tokenizer.tokenize("The film was EXCELLENT") == ["the", "film", "was", "excellent"]


def test_split_documents_cuts_at_underlined_headings():
    text = "Intro line.\n\nFirst\n*****\n\nBody one.\n\nSecond part\n===========\n\nBody two."
    assert split_documents(text) == ["Intro line.", "Body one.", "Body two."]


def test_split_sentences_keeps_prose_and_leaves_out_code_and_grammar():
    document = ("The loop runs once per item. Then it stops, as\nexpected.\n\n   for i in range(3):\n"
                "       print(i)\n\n>>> x = 1\n\n   stmt ::= \"for\" target\n\n* A list item is prose too.")
    assert split_sentences(document) == ["The loop runs once per item.", "Then it stops, as expected.",
                                         "A list item is prose too."]


def test_python_docs_give_about_two_hundred_documents_of_sentences():
    documents = sentence_documents(python_docs_text())
    assert 150 <= len(documents) <= 300 and all(len(d) >= 2 for d in documents)
    assert sum(len(d) for d in documents) > 2500
    with pytest.raises(ValueError, match="min_sentences must be at least 1"):
        sentence_documents("x", min_sentences=0)


def test_train_wordpiece_is_deterministic_and_puts_the_special_tokens_first():
    sentences = [s for document in sentence_documents(python_docs_text())[:40] for s in document]
    first, second = train_wordpiece(sentences, 600), train_wordpiece(sentences, 600)
    assert first.get_vocab() == second.get_vocab() and first.get_vocab_size() == 600
    assert [first.token_to_id(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 1, 2, 3, 4]
    assert first.decode(first.encode("The statement is executed.").ids) == "the statement is executed."
    with pytest.raises(ValueError, match="vocab_size must exceed"):
        train_wordpiece(sentences, 5)
