"""lessons_lib: the helper package of the course "From self-attention to BERT and GPT".

One module per concept, in lesson order:

| lesson | module |
| --- | --- |
| 00 | `doctor` (the environment check: `python -m lessons_lib doctor`) |
| all | `runtime` (seeding, device choice, quick mode, train/eval mode, the metrics file) |
| 01 | `attention` |
| 02 | `multihead` |
| 03 | `norm` |
| 04 | `positional` |
| 05 | `transformer`, `decoding` (greedy decoding), `data.translation` (the English-Korean toy corpus), `data.vocab` (words and ids), `train` (the seeded training loop), `hangul` (Hangul syllables, romanisation, the Korean font) |
| 06 | `ssl` (masking tokens and image patches, the loss on the hidden part, the patch encoder, pre-training), `data.digits`, `data.text` |
| 07 | `transfer` (freezing, the linear probe, a new head, fine-tuning, MiniLM offline), `data.sentiment` |
| all | `viz` (a package: `viz.plots`, `viz.explorer` (`FigureExplorer`), a module of explorers per lesson) |
| all | `glossary` (the English-Korean vocabulary each lesson ends with) |
| all | `selfcheck` (the checks in the exercise notebooks) |
| all | `course` (instructor tooling, a module per job: `python -m lessons_lib.course regenerate / grade / build`) |

Tensors are batch-first, (B, T, C). A boolean mask means True = may attend.
"""

__version__ = "0.1.0"
