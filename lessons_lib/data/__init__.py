"""Offline data sets of the course, one module per data set; nothing is downloaded.

| lesson | module |
| --- | --- |
| 05 | `translation` (the generated English -> Korean sentence pairs), `vocab` (the word-level tokenizer and vocabulary they use) |
| 06, 07 | `digits` (scikit-learn's bundled 8x8 digits, split, as patches) |
| 06, 08, 09 | `text` (Python's documentation as offline prose, a learner's own file, the MiniLM tokenizer) |
| 07 | `sentiment` (generated reviews; test adjectives never seen in training) |
"""
