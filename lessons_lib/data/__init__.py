"""Offline data sets of the course, one module per data set; nothing is downloaded.

| lesson | module |
| --- | --- |
| 05 | `translation` (the generated English -> Korean sentence pairs), `vocab` (the word-level tokenizer and vocabulary they use) |
"""
