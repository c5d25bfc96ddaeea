"""lessons_lib.glossary: one vocabulary, every lesson's terms defined, rendered as a table."""

import pytest

from lessons_lib.glossary import LESSON_TERMS, TERMS, glossary_markdown
from tests.notebook_paths import lesson_notebooks


def test_every_lesson_term_is_defined_once_with_korean():
    for lesson, names in LESSON_TERMS.items():
        assert len(names) == len(set(names)), lesson
        for name in names:
            assert TERMS[name].korean and TERMS[name].meaning
    koreans = [term.korean for term in TERMS.values()]
    assert len(koreans) == len(set(koreans)), "one Korean name must not stand for two terms"


def test_markdown_table_has_a_row_per_term():
    text = glossary_markdown("03_add_and_norm")
    assert "| layer normalization | 층 정규화 |" in text
    assert text.count("\n| ") == 1 + 1 + len(LESSON_TERMS["03_add_and_norm"])


def test_unknown_lesson_names_the_choices():
    with pytest.raises(ValueError, match="01_self_attention"):
        glossary_markdown("10_something")


@pytest.mark.parametrize("path", [p for p in lesson_notebooks() if p.stem in LESSON_TERMS], ids=lambda p: p.stem)
def test_each_lesson_ends_with_its_glossary(path):
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    last_code = [cell for cell in notebook.cells if cell.cell_type == "code"][-1]
    assert f'show_glossary("{path.stem}")' in last_code.source
