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
    plain_present,
    romanize_korean,
    syllable_parts,
    use_korean_font,
    with_object_particle,
    with_subject_particle,
    with_topic_particle,
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
    monkeypatch.setitem(plt.rcParams, "axes.unicode_minus", True)
    assert use_korean_font() == "NanumGothic"
    assert plt.rcParams["font.sans-serif"] == ["NanumGothic", "DejaVu Sans"]
    assert plt.rcParams["font.family"] == ["sans-serif"]
    assert hangul_labels(["나는"]) == ["나는"]
    assert plt.rcParams["axes.unicode_minus"] is False, "the font has no U+2212 for negative ticks"


def test_with_the_korean_font_a_negative_tick_draws_without_a_missing_glyph_warning(recwarn):
    import matplotlib

    if hangul.korean_font() is None:
        pytest.skip("no Korean font here, not even the packaged one")
    with matplotlib.rc_context():
        use_korean_font()
        fig, ax = plt.subplots()
        ax.plot([-2.0, 2.0], [-1.0, 1.0])
        fig.canvas.draw()
        plt.close(fig)
    assert not [w for w in recwarn if "missing from font" in str(w.message)], [str(w.message) for w in recwarn]


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
            "assert lessons_lib.data.translation.with_object_particle is h.with_object_particle; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "the syllable arithmetic must not import matplotlib"


@pytest.mark.parametrize("word, expected", [("책", True), ("선생님", True), ("빵", True),
                                            ("커피", False), ("나", False), ("학교", False)])
def test_has_batchim_reads_the_final_consonant(word, expected):
    assert has_batchim(word) is expected


# ----- Korean morphology: particles and the plain present ------------------------------------


def test_particles_follow_the_final_consonant():
    assert [with_topic_particle(w) for w in ("나", "그들", "우리", "선생님")] == ["나는", "그들은", "우리는", "선생님은"]
    assert [with_subject_particle(w) for w in ("선생님", "친구", "학생", "의사")] == ["선생님이", "친구가", "학생이", "의사가"]
    assert [with_object_particle(w) for w in ("책", "커피", "물", "사과")] == ["책을", "커피를", "물을", "사과를"]


@pytest.mark.parametrize("stem, expected", [
    ("가", "간다"), ("오", "온다"), ("마시", "마신다"), ("쓰", "쓴다"), ("공부하", "공부한다"),
    ("먹", "먹는다"), ("읽", "읽는다"), ("만들", "만든다"), ("팔", "판다"),
])
def test_plain_present(stem, expected):
    assert plain_present(stem) == expected


def test_morphology_rejects_words_that_are_not_hangul():
    with pytest.raises(ValueError, match="Hangul"):
        plain_present("book")
    with pytest.raises(ValueError, match="Hangul"):
        with_object_particle("book")
