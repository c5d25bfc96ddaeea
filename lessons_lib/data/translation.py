"""Lesson 05 (notebooks/05_masked_decoder.ipynb): the English -> Korean toy translation corpus.

The project generates the sentences itself, grammatical by construction. English is
subject-verb-object, Korean is subject-object-verb, and Korean marks each noun's role with a
particle whose form depends on whether the noun ends in a consonant (batchim, 받침):

    the teacher reads a book at school in the morning
    선생님이  아침에  학교에서  책을  읽는다
    (subject) (time)  (place)   (object) (verb)

    topic       은 after a consonant, 는 after a vowel     (나는, 그들은: pronoun subjects)
    subject     이 after a consonant, 가 after a vowel     (선생님이, 친구가: noun subjects)
    object      을 after a consonant, 를 after a vowel     (책을, 커피를)
    destination 에                                         (집에 간다)
    place       에서 (where the action happens)            (학교에서 읽는다)
    time        에, or nothing for 매일 (every day) and 오늘 (today)

Verbs are in the plain present (해라체): 간다, 먹는다, 읽는다, 마신다.
Tokens are words: English words, and Korean space-separated words (어절): "나는 집에 간다".
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from lessons_lib.data.vocab import Vocab, pad_batch, tokenize
from lessons_lib.hangul import (
    plain_present,
    with_object_particle,
    with_subject_particle,
    with_topic_particle,
)
from lessons_lib.runtime import check_positive_int

# ---------------------------------------------------------------------------------------------
# The grammar: every table below is (English, Korean) and every sentence is built from them.
# ---------------------------------------------------------------------------------------------


class Subject(NamedTuple):
    """A sentence subject: its English words, Korean noun, whether the English verb takes -s."""

    english: str
    korean: str
    third_singular: bool
    pronoun: bool  # pronouns take the topic particle (나는), nouns the subject particle (선생님이)
    adult: bool = True


SUBJECTS = (
    Subject("I", "나", False, True),
    Subject("you", "너", False, True),
    Subject("we", "우리", False, True),
    Subject("they", "그들", False, True),
    Subject("he", "그", True, True),
    Subject("she", "그녀", True, True),
    Subject("my friend", "내 친구", True, False),
    Subject("my friends", "내 친구들", False, False),
    Subject("the teacher", "선생님", True, False),
    Subject("the student", "학생", True, False),
    Subject("the students", "학생들", False, False),
    Subject("the doctor", "의사", True, False),
    Subject("the nurse", "간호사", True, False),
    Subject("the cook", "요리사", True, False),
    Subject("the farmer", "농부", True, False),
    Subject("the man", "남자", True, False),
    Subject("the woman", "여자", True, False),
    Subject("the child", "아이", True, False, adult=False),
    Subject("the children", "아이들", False, False, adult=False),
    Subject("the boy", "소년", True, False, adult=False),
    Subject("the girl", "소녀", True, False, adult=False),
)

# places where an action happens (Korean 에서) and destinations of go/come (Korean 에)
PLACES = {
    "home": ("at home", "집"),
    "school": ("at school", "학교"),
    "park": ("in the park", "공원"),
    "library": ("at the library", "도서관"),
    "cafe": ("at the cafe", "카페"),
    "restaurant": ("at the restaurant", "식당"),
    "kitchen": ("in the kitchen", "부엌"),
    "office": ("at the office", "사무실"),
    "classroom": ("in the classroom", "교실"),
    "market": ("at the market", "시장"),
    "store": ("at the store", "가게"),
    "station": ("at the station", "역"),
    "hospital": ("at the hospital", "병원"),
    "living_room": ("in the living room", "거실"),
    "bedroom": ("in the bedroom", "침실"),
    "pool": ("at the pool", "수영장"),
    "sea": ("in the sea", "바다"),
}
DESTINATIONS = {
    "home": ("home", "집"),  # "go home", not "go to home"
    "school": ("to school", "학교"),
    "park": ("to the park", "공원"),
    "library": ("to the library", "도서관"),
    "cafe": ("to the cafe", "카페"),
    "restaurant": ("to the restaurant", "식당"),
    "office": ("to the office", "사무실"),
    "market": ("to the market", "시장"),
    "store": ("to the store", "가게"),
    "station": ("to the station", "역"),
    "hospital": ("to the hospital", "병원"),
}
# time phrases: Korean adds 에, except for 매일 (every day) and 오늘 (today), which take none
TIMES = (
    ("in the morning", "아침에"),
    ("in the afternoon", "오후에"),
    ("in the evening", "저녁에"),
    ("at night", "밤에"),
    ("on Monday", "월요일에"),
    ("on Tuesday", "화요일에"),
    ("on Wednesday", "수요일에"),
    ("on Thursday", "목요일에"),
    ("on Friday", "금요일에"),
    ("on Saturday", "토요일에"),
    ("on Sunday", "일요일에"),
    ("on weekends", "주말에"),
    ("every day", "매일"),
    ("today", "오늘"),
)


class Verb(NamedTuple):
    """A verb: English base and -s forms, Korean stem, what it takes, and where it happens."""

    base: str
    third_singular: str
    stem: str
    objects: tuple[tuple[str, str], ...]  # (English object, Korean noun); empty if intransitive
    places: tuple[str, ...]  # keys of PLACES (action verbs) or DESTINATIONS (go/come)
    motion: bool = False  # True: the place is a destination (에) and is required
    adults_only: bool = False


_FOODS = (("bread", "빵"), ("rice", "밥"), ("an apple", "사과"), ("noodles", "국수"),
          ("kimchi", "김치"), ("a sandwich", "샌드위치"), ("cake", "케이크"))
_DRINKS = (("coffee", "커피"), ("tea", "차"), ("water", "물"), ("milk", "우유"), ("juice", "주스"))
_SCHOOL_COURSES = (("English", "영어"), ("Korean", "한국어"), ("math", "수학"),
                      ("history", "역사"), ("science", "과학"), ("music", "음악"))
_GOODS = (("bread", "빵"), ("apples", "사과"), ("flowers", "꽃"), ("fruit", "과일"),
          ("vegetables", "채소"), ("fish", "생선"))

VERBS = (
    Verb("go", "goes", "가", (), tuple(DESTINATIONS), motion=True),
    Verb("come", "comes", "오", (), ("home", "school", "library", "cafe", "office", "hospital"),
         motion=True),
    Verb("eat", "eats", "먹", _FOODS,
         ("home", "school", "park", "restaurant", "kitchen", "cafe", "office")),
    Verb("drink", "drinks", "마시", _DRINKS,
         ("home", "school", "park", "restaurant", "kitchen", "cafe", "office")),
    Verb("read", "reads", "읽",
         (("a book", "책"), ("the newspaper", "신문"), ("a letter", "편지"),
          ("a magazine", "잡지"), ("a novel", "소설")),
         ("home", "school", "park", "library", "cafe", "classroom", "office")),
    Verb("write", "writes", "쓰",
         (("a letter", "편지"), ("a poem", "시"), ("a report", "보고서"), ("a story", "이야기"),
          ("an email", "이메일")),
         ("home", "school", "library", "cafe", "classroom", "office")),
    Verb("buy", "buys", "사", _GOODS + (("shoes", "신발"), ("a bag", "가방"), ("a book", "책")),
         ("market", "store")),
    Verb("sell", "sells", "팔", _GOODS, ("market", "store")),
    Verb("watch", "watches", "보",
         (("a movie", "영화"), ("TV", "텔레비전"), ("the news", "뉴스")),
         ("home", "living_room")),
    Verb("meet", "meets", "만나",
         (("a friend", "친구"), ("my friend", "내 친구"), ("friends", "친구들"),
          ("the teacher", "선생님"), ("the doctor", "의사")),
         ("school", "park", "library", "cafe", "restaurant", "station")),
    Verb("study", "studies", "공부하", _SCHOOL_COURSES,
         ("home", "school", "library", "cafe", "classroom")),
    Verb("learn", "learns", "배우", _SCHOOL_COURSES, ("home", "school", "classroom")),
    Verb("make", "makes", "만들",
         (("bread", "빵"), ("a cake", "케이크"), ("kimchi", "김치"), ("a sandwich", "샌드위치"),
          ("noodles", "국수")),
         ("home", "kitchen", "restaurant")),
    Verb("clean", "cleans", "청소하",
         (("the room", "방"), ("the kitchen", "부엌"), ("the classroom", "교실"),
          ("the house", "집")),
         ()),
    Verb("wait for", "waits for", "기다리",
         (("the bus", "버스"), ("the train", "기차"), ("a friend", "친구"),
          ("the teacher", "선생님")),
         ("school", "park", "cafe", "station")),
    # "play" is 한다 for sports and 친다 for instruments: two Korean verbs, one English verb
    Verb("play", "plays", "하",
         (("soccer", "축구"), ("basketball", "농구"), ("baseball", "야구"), ("tennis", "테니스")),
         ("school", "park")),
    Verb("play", "plays", "치", (("the piano", "피아노"), ("the guitar", "기타")),
         ("home", "school", "living_room")),
    Verb("sleep", "sleeps", "자", (), ("home", "bedroom", "living_room")),
    Verb("work", "works", "일하", (),
         ("home", "hospital", "office", "restaurant", "market", "store", "library", "school"),
         adults_only=True),
    Verb("run", "runs", "달리", (), ("park", "school")),
    Verb("swim", "swims", "수영하", (), ("pool", "sea")),
)


class Pair(NamedTuple):
    """One English sentence and its Korean translation."""

    english: str
    korean: str


def make_pair(subj: Subject, verb: Verb, object_index: int | None,
              place: str | None, time_index: int | None) -> Pair:
    """Build one sentence pair from the grammar: SVO [place] [time] -> S [time] [place] O V."""
    if place is not None and place not in verb.places:
        raise ValueError(f"place {place!r} is not one of the places of {verb.base!r}: {verb.places}")
    if verb.motion and place is None:
        raise ValueError(f"{verb.base!r} needs a destination, one of {verb.places}")
    place_english = place_korean = None
    if place is not None:
        # a destination takes 에 ("to school" -> 학교에), the place of an action 에서
        table, particle = (DESTINATIONS, "에") if verb.motion else (PLACES, "에서")
        place_english, noun = table[place]
        place_korean = noun + particle
    english = [subj.english, verb.third_singular if subj.third_singular else verb.base]
    korean = [with_topic_particle(subj.korean) if subj.pronoun else with_subject_particle(subj.korean)]
    if time_index is not None:
        korean.append(TIMES[time_index][1])
    if place_korean is not None:
        korean.append(place_korean)
    if verb.motion:  # "go home", "go to school": the destination follows the verb
        english.append(place_english)
    if object_index is not None:
        object_english, object_korean = verb.objects[object_index]
        english.append(object_english)
        korean.append(with_object_particle(object_korean))
    if place_english is not None and not verb.motion:  # "reads a book at school"
        english.append(place_english)
    if time_index is not None:
        english.append(TIMES[time_index][0])
    korean.append(plain_present(verb.stem))  # the verb comes last in Korean
    return Pair(" ".join(english), " ".join(korean))


def _choices(verb: Verb) -> tuple[list, list]:
    objects = list(range(len(verb.objects))) or [None]
    places = list(verb.places) if verb.motion else [None, *verb.places]
    return objects, places


def _subjects_of(verb: Verb) -> list[Subject]:
    return [subj for subj in SUBJECTS if subj.adult or not verb.adults_only]


def count_sentences() -> int:
    """How many different sentences the grammar can make."""
    total = 0
    for verb in VERBS:
        objects, places = _choices(verb)
        total += len(_subjects_of(verb)) * len(objects) * len(places) * (len(TIMES) + 1)
    return total


@functools.cache
def _every_pair() -> dict[str, Pair]:
    """Every sentence of the grammar, keyed by its normalized English (built once, ~0.3 s)."""
    pairs = {}
    for verb in VERBS:
        objects, places = _choices(verb)
        for subj in _subjects_of(verb):
            for object_index in objects:
                for place in places:
                    for time_index in [None, *range(len(TIMES))]:
                        pair = make_pair(subj, verb, object_index, place, time_index)
                        pairs[_key(pair.english)] = pair
    return pairs


def _key(english: str) -> str:
    return " ".join(tokenize(english))


def grammar_pair(english: str) -> Pair:
    """The grammar's pair for an English sentence it can make; ValueError otherwise."""
    pair = _every_pair().get(_key(english))
    if pair is None:
        raise ValueError(
            f"{english!r} is not a sentence of the toy grammar (subject, verb, object, then an "
            f"optional place and time, such as 'my friend drinks coffee in the morning')"
        )
    return pair


def generate_pairs(num_pairs: int, seed: int = 0, p_place: float = 0.5,
                   p_time: float = 0.5) -> list[Pair]:
    """`num_pairs` different sentence pairs, drawn from the grammar; the same list for a seed.

    A verb is drawn uniformly, then its subject and object; an optional place phrase is added
    with probability `p_place` (always, for go/come) and a time phrase with probability `p_time`.
    """
    if not isinstance(num_pairs, int) or not 1 <= num_pairs <= count_sentences() // 4:
        raise ValueError(
            f"num_pairs must be an int in [1, {count_sentences() // 4}] (a quarter of the "
            f"{count_sentences()} sentences the grammar can make), got {num_pairs!r}"
        )
    for name, p in (("p_place", p_place), ("p_time", p_time)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
    rng = random.Random(seed)
    pairs: dict[str, Pair] = {}  # keyed by English: every sentence is drawn at most once
    # p_place = 0 or p_time = 0 leaves fewer sentences reachable than count_sentences(): give up
    # with a clear error rather than draw for ever
    max_draws = 100 * num_pairs
    for _ in range(max_draws):
        if len(pairs) == num_pairs:
            break
        verb = rng.choice(VERBS)
        subj = rng.choice(_subjects_of(verb))
        object_index = rng.choice(_choices(verb)[0])
        if verb.motion:
            place = rng.choice(verb.places)
        else:
            place = rng.choice(verb.places) if verb.places and rng.random() < p_place else None
        time_index = rng.randrange(len(TIMES)) if rng.random() < p_time else None
        pair = make_pair(subj, verb, object_index, place, time_index)
        pairs.setdefault(_key(pair.english), pair)
    if len(pairs) < num_pairs:
        raise ValueError(
            f"num_pairs={num_pairs} is more than the grammar gives with p_place={p_place} and "
            f"p_time={p_time}: {max_draws} draws found {len(pairs)} different sentences; ask for "
            f"fewer pairs or allow more place and time phrases"
        )
    return list(pairs.values())


@dataclass(frozen=True)
class TranslationCorpus:
    """Train and test sentence pairs, split by sentence, and the two vocabularies."""

    train: list[Pair]
    test: list[Pair]
    src_vocab: Vocab
    tgt_vocab: Vocab

    def encode(self, pairs: Sequence[Pair]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pairs -> (src (N, S), tgt (N, T)): English ids; SOS + Korean ids + EOS, PAD-padded."""
        src = pad_batch([self.src_vocab.encode(p.english) for p in pairs], self.src_vocab.pad_id)
        tgt = pad_batch([self.tgt_vocab.encode(p.korean, add_sos=True, add_eos=True)
                         for p in pairs], self.tgt_vocab.pad_id)
        return src, tgt


def make_corpus(num_train: int = 6000, num_test: int = 1000, seed: int = 0,
                held_out: Sequence[str] = ()) -> TranslationCorpus:
    """Generate pairs and split them by sentence: no test sentence appears in training.

    The English sentences in `held_out` are put in the test set (and kept out of training).
    Test sentences with a word that training never shows are dropped, so every test word has
    been learned; at the default sizes none is.
    """
    check_positive_int("num_train", num_train)
    check_positive_int("num_test", num_test)
    held_out_by_key = {_key(english): grammar_pair(english) for english in held_out}
    held_out_pairs, held_out_keys = list(held_out_by_key.values()), set(held_out_by_key)
    if len(held_out_keys) > num_test:
        raise ValueError(f"held_out has {len(held_out_keys)} sentences, more than num_test={num_test}")
    num_pairs = num_train + num_test + len(held_out_keys)
    if num_pairs > count_sentences() // 4:  # generate_pairs' cap, which keeps its draws quick
        raise ValueError(
            f"num_train + num_test + the held-out sentences = {num_pairs} is more than the corpus "
            f"generator draws from the grammar ({count_sentences() // 4} pairs at most)"
        )
    drawn = generate_pairs(num_pairs, seed=seed)
    pairs = [pair for pair in drawn if _key(pair.english) not in held_out_keys]
    num_drawn_test = num_test - len(held_out_pairs)
    test_candidates = held_out_pairs + pairs[:num_drawn_test]
    train = pairs[num_drawn_test : num_drawn_test + num_train]
    src_vocab = Vocab.build((p.english for p in train), name="English vocabulary")
    tgt_vocab = Vocab.build((p.korean for p in train), name="Korean vocabulary")
    test = [p for p in test_candidates
            if all(w in src_vocab for w in tokenize(p.english))
            and all(w in tgt_vocab for w in tokenize(p.korean))]
    return TranslationCorpus(train=train, test=test, src_vocab=src_vocab, tgt_vocab=tgt_vocab)
