"""lessons_lib.hangul: syllable arithmetic, romanisation, and the Korean font."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

from lessons_lib import hangul
from lessons_lib.hangul import (
    final_consonant,
    hangul_labels,
    has_batchim,
    is_syllable,
    korean_font,
    romanize_korean,
    syllable_parts,
    use_korean_font,
)

matplotlib.use("Agg")


# Syllable arithmetic


@pytest.mark.parametrize("char, parts", [
    ("가", (0, 0, 0)),  # the first syllable: ㄱ + ㅏ, no final
    ("한", (18, 0, 4)),  # ㅎ + ㅏ + ㄴ
    ("글", (0, 18, 8)),  # ㄱ + ㅡ + ㄹ
    ("힣", (18, 20, 27)),  # the last syllable
])
def test_syllable_parts_divide_the_code_point(char, parts):
    assert syllable_parts(char) == parts
    initial, vowel, final = parts
    assert chr(0xAC00 + (initial * 21 + vowel) * 28 + final) == char


def test_is_syllable_and_syllable_parts_refuse_what_is_not_one_syllable():
    assert is_syllable("한") and not is_syllable("a") and not is_syllable("") and not is_syllable("한글")
    assert not is_syllable("ㄱ"), "a lone jamo is not a syllable"
    with pytest.raises(ValueError, match="one Hangul syllable"):
        syllable_parts("a")


def test_final_consonant_reads_the_last_syllable():
    assert final_consonant("책") == 1  # ㄱ
    assert final_consonant("만들") == hangul.FINAL_RIEUL
    assert final_consonant("선생님") == 16  # ㅁ
    assert final_consonant("커피") == 0
    assert has_batchim("선생님") and not has_batchim("나")
    with pytest.raises(ValueError, match="must end in a Hangul syllable"):
        final_consonant("")


# Romanisation


@pytest.mark.parametrize("korean, latin", [
    ("나는 집에 간다", "naneun jibe ganda"),
    ("선생님이 학교에서 책을", "seonsaengnimi hakgyoeseo chaegeul"),
    ("<sos> 커피를", "<sos> keopireul"),
])
def test_romanize_korean(korean, latin):
    assert romanize_korean(korean) == latin


def test_hangul_labels_romanize_unless_a_korean_font_is_in_use(monkeypatch):
    monkeypatch.setitem(plt.rcParams, "font.sans-serif", ["DejaVu Sans"])
    monkeypatch.setitem(plt.rcParams, "font.family", ["sans-serif"])
    assert hangul_labels(["나는", "<eos>"]) == ["naneun", "<eos>"]
    monkeypatch.setitem(plt.rcParams, "font.sans-serif", ["NanumGothic", "DejaVu Sans"])
    assert hangul_labels(["나는", "<eos>"]) == ["나는", "<eos>"]


# The Korean font


def test_use_korean_font_changes_nothing_when_none_is_installed(monkeypatch):
    monkeypatch.setattr(hangul, "korean_font", lambda: None)
    before = list(plt.rcParams["font.sans-serif"])
    assert use_korean_font() is None
    assert plt.rcParams["font.sans-serif"] == before


def test_use_korean_font_puts_the_font_first(monkeypatch):
    monkeypatch.setattr(hangul, "korean_font", lambda: "NanumGothic")
    monkeypatch.setitem(plt.rcParams, "font.sans-serif", ["DejaVu Sans"])
    monkeypatch.setitem(plt.rcParams, "font.family", ["serif"])
    assert use_korean_font() == "NanumGothic"
    assert plt.rcParams["font.sans-serif"] == ["NanumGothic", "DejaVu Sans"]
    assert plt.rcParams["font.family"] == ["sans-serif"]
    assert hangul_labels(["나는"]) == ["나는"]


def test_the_packaged_nanum_gothic_is_found_when_the_system_has_no_korean_font(monkeypatch):
    from matplotlib import font_manager

    without_korean = [font for font in font_manager.fontManager.ttflist if "Nanum" not in font.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", without_korean)
    assert korean_font() == "NanumGothic"
    registered = [font.fname for font in font_manager.fontManager.ttflist if font.name == "NanumGothic"]
    assert any("koreanize_matplotlib" in path for path in registered)


def test_the_data_module_uses_these_functions_and_loads_no_matplotlib():
    import subprocess
    import sys

    code = ("import sys, lessons_lib.data.translation, lessons_lib.hangul as h; "
            "assert lessons_lib.data.translation.has_batchim is h.has_batchim; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "the syllable arithmetic must not import matplotlib"


@pytest.mark.parametrize("word, expected", [("책", True), ("선생님", True), ("빵", True),
                                            ("커피", False), ("나", False), ("학교", False)])
def test_has_batchim_reads_the_final_consonant(word, expected):
    assert has_batchim(word) is expected
