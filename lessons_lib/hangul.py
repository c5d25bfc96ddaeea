"""Hangul for lesson 05 (notebooks/05_masked_decoder.ipynb): syllable arithmetic, the particles
and verb endings it decides, romanisation, a font.

Every Hangul syllable is one code point, 0xAC00 + (initial * 21 + vowel) * 28 + final, so its
parts are found by division: the final consonant chooses a noun's particle (책을, 커피를) and a
verb's ending (간다, 먹는다), which `lessons_lib.data.translation` builds its sentences with, and
`lessons_lib.viz` draws Korean labels, in a Korean font when there is one, in Latin letters
otherwise.

matplotlib is imported inside the font functions only, so that `lessons_lib.data.translation` (and the
grading tools that import it) do not load it for the syllable arithmetic.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3  # 가 and 힣: the 11,172 syllables
_VOWEL_COUNT, _FINAL_COUNT = 21, 28  # final index 0 means no final consonant
_INITIAL_STEP = _VOWEL_COUNT * _FINAL_COUNT  # 588 code points from one initial to the next
_SILENT_INITIAL = 11  # ㅇ at the start of a syllable has no sound
FINAL_NIEUN, FINAL_RIEUL = 4, 8  # the final-consonant indices of ㄴ and ㄹ

# Revised Romanization of each initial, vowel and final, in code-point order
_INITIALS = ("g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k",
             "t", "p", "h")
_VOWELS = ("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u",
           "wo", "we", "wi", "yu", "eu", "ui", "i")
_FINALS = ("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p",
           "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t")
# a final consonant before a silent initial ㅇ is read as the next syllable's first sound
_FINALS_BEFORE_VOWEL = ("", "g", "kk", "ks", "n", "nj", "n", "d", "r", "lg", "lm", "lb", "ls",
                        "lt", "lp", "r", "m", "b", "ps", "s", "ss", "ng", "j", "ch", "k", "t", "p",
                        "")

# fonts with Hangul glyphs that learners' machines often have (Linux, Windows, macOS)
KOREAN_FONTS = ("NanumGothic", "NanumBarunGothic", "Noto Sans CJK KR", "Noto Sans KR",
                "Noto Sans CJK JP", "Source Han Sans KR", "Malgun Gothic", "Apple SD Gothic Neo",
                "AppleGothic", "UnDotum", "Baekmuk Gulim", "Gulim", "Dotum")


# Syllable arithmetic


def is_syllable(char: str) -> bool:
    """True for one precomposed Hangul syllable (가 .. 힣); False for anything else, "" included."""
    return len(char) == 1 and HANGUL_FIRST <= ord(char) <= HANGUL_LAST


def syllable_parts(char: str) -> tuple[int, int, int]:
    """The (initial, vowel, final) indices of one Hangul syllable: 한 -> (18, 0, 4)."""
    if not is_syllable(char):
        raise ValueError(f"char must be one Hangul syllable, got {char!r}")
    code = ord(char) - HANGUL_FIRST
    return code // _INITIAL_STEP, (code % _INITIAL_STEP) // _FINAL_COUNT, code % _FINAL_COUNT


def final_consonant(word: str) -> int:
    """Index (0 = none) of the final consonant of the last syllable of a Hangul word."""
    if not word or not is_syllable(word[-1]):
        raise ValueError(f"word must end in a Hangul syllable, got {word!r}")
    return syllable_parts(word[-1])[2]


def has_batchim(word: str) -> bool:
    """True when the Korean word ends in a consonant (받침), as 책, 선생님; False for 커피, 나."""
    return final_consonant(word) != 0


# Romanisation


# Korean morphology: the particle that follows a noun, the plain present of a verb


def with_topic_particle(noun: str) -> str:
    """The noun with the topic particle: 은 after a consonant, 는 after a vowel."""
    return noun + ("은" if has_batchim(noun) else "는")


def with_subject_particle(noun: str) -> str:
    """The noun with the subject particle: 이 after a consonant, 가 after a vowel."""
    return noun + ("이" if has_batchim(noun) else "가")


def with_object_particle(noun: str) -> str:
    """The noun with the object particle: 을 after a consonant, 를 after a vowel."""
    return noun + ("을" if has_batchim(noun) else "를")


def plain_present(stem: str) -> str:
    """The plain present (해라체) of a verb stem: 가 -> 간다, 먹 -> 먹는다, 만들 -> 만든다."""
    final = final_consonant(stem)
    last = ord(stem[-1])
    if final == 0:  # vowel stem: ㄴ joins the last syllable (가 -> 간다, 마시 -> 마신다)
        return stem[:-1] + chr(last + FINAL_NIEUN) + "다"
    if final == FINAL_RIEUL:  # ㄹ stem: ㄹ drops before ㄴ (만들 -> 만든다, 팔 -> 판다)
        return stem[:-1] + chr(last - FINAL_RIEUL + FINAL_NIEUN) + "다"
    return stem + "는다"  # other consonant stems (먹 -> 먹는다, 읽 -> 읽는다)


def romanize_korean(text: str) -> str:
    """Hangul -> Latin letters by the Revised Romanization; of its sound changes only linking (책을 -> chaegeul)."""
    syllables = []
    for position, char in enumerate(text):
        if not is_syllable(char):
            syllables.append(char)
            continue
        initial, vowel, final = syllable_parts(char)
        following = text[position + 1 : position + 2]
        silent_next = is_syllable(following) and syllable_parts(following)[0] == _SILENT_INITIAL
        ending = _FINALS_BEFORE_VOWEL[final] if silent_next else _FINALS[final]
        syllables.append(_INITIALS[initial] + _VOWELS[vowel] + ending)
    return "".join(syllables)


def hangul_labels(labels: Sequence[str]) -> list[str]:
    """Labels ready to draw: as they are when a Korean font is in use, romanized otherwise."""
    import matplotlib

    active = set(matplotlib.rcParams["font.sans-serif"]) | set(matplotlib.rcParams["font.family"])
    if active & set(KOREAN_FONTS):
        return list(labels)
    return [romanize_korean(label) for label in labels]


# The Korean font


def _register_packaged_korean_font() -> None:
    """Make the NanumGothic file shipped by the koreanize-matplotlib dependency known to matplotlib.

    The file is found without importing that package, whose import would change rcParams.
    """
    from matplotlib import font_manager

    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return
    path = Path(spec.submodule_search_locations[0]) / "fonts" / "NanumGothic.ttf"
    if path.is_file():
        font_manager.fontManager.addfont(str(path))


def korean_font() -> str | None:
    """The name of an installed font with Hangul glyphs (the packaged NanumGothic at least), or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    if not installed & set(KOREAN_FONTS):
        _register_packaged_korean_font()
        installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in KOREAN_FONTS if name in installed), None)


def use_korean_font() -> str | None:
    """Make an installed Korean font matplotlib's first choice; its name, or None if there is none.

    Without one, the lesson's plots romanize Korean labels (see `hangul_labels`). Korean fonts
    such as NanumGothic have no glyph for the Unicode minus sign (U+2212), which matplotlib puts in
    negative tick labels: with the font in use, ticks get the ASCII hyphen-minus instead.
    """
    import matplotlib

    font = korean_font()
    if font is not None and font not in matplotlib.rcParams["font.sans-serif"]:
        matplotlib.rcParams["font.sans-serif"] = [font, *matplotlib.rcParams["font.sans-serif"]]
        matplotlib.rcParams["font.family"] = ["sans-serif"]
    if font is not None:
        matplotlib.rcParams["axes.unicode_minus"] = False
    return font
