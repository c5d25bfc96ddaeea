"""lessons_lib.data.translation: the English -> Korean toy corpus is grammatical, seeded, and split by sentence."""

import pytest

from lessons_lib.data import translation as data
from lessons_lib.data.translation import count_sentences, generate_pairs, grammar_pair, make_corpus
from lessons_lib.data.vocab import tokenize
from lessons_lib.hangul import has_batchim

# ----- the grammar ------------------------------------------------------------------------------


@pytest.mark.parametrize("english, korean", [
    ("I go home", "나는 집에 간다"),
    ("the teacher reads a book at school", "선생님이 학교에서 책을 읽는다"),
    ("my friend drinks coffee in the morning", "내 친구가 아침에 커피를 마신다"),
    ("they play the piano at home every day", "그들은 매일 집에서 피아노를 친다"),
    ("she plays soccer in the park on Sunday", "그녀는 일요일에 공원에서 축구를 한다"),
    ("the children come to school today", "아이들이 오늘 학교에 온다"),
    ("he waits for the bus at the station", "그는 역에서 버스를 기다린다"),
])
def test_grammar_pairs(english, korean):
    assert grammar_pair(english).korean == korean
    assert grammar_pair(english.lower() + ".").korean == korean  # case and full stop do not matter


def test_grammar_pair_refuses_sentences_the_grammar_does_not_make():
    with pytest.raises(ValueError, match="not a sentence of the toy grammar"):
        grammar_pair("home go I")
    with pytest.raises(ValueError, match="not a sentence"):
        grammar_pair("the child works at the hospital")  # children do not work in this grammar


def test_every_english_sentence_has_exactly_one_translation():
    # a duplicate English sentence would have collapsed two grammar paths into one entry
    assert len(data._every_pair()) == count_sentences() > 100_000


def test_generated_sentences_are_well_formed():
    for english, korean in generate_pairs(2000, seed=1):
        english_words, korean_words = english.split(), korean.split()
        assert korean_words[-1].endswith("다")  # the verb comes last in Korean
        for word in korean_words:
            if word.endswith(("을", "를")) and len(word) > 1:  # object particle agrees
                assert has_batchim(word[:-1]) == word.endswith("을"), korean
        first = korean_words[0] if korean_words[0] != "내" else korean_words[1]
        assert first[-1] in "은는이가", korean  # the subject comes first, with its particle
        assert has_batchim(first[:-1]) == (first[-1] in "은이"), korean
        # the English verb agrees with its subject: he goes, they go
        subj = max((s for s in data.SUBJECTS if english.startswith(s.english + " ")),
                   key=lambda s: len(s.english))
        verb = english_words[len(subj.english.split())]
        assert verb.endswith("s") == subj.third_singular, english


def test_generate_pairs_is_deterministic_for_a_seed():
    assert generate_pairs(500, seed=3) == generate_pairs(500, seed=3)
    assert generate_pairs(500, seed=3) != generate_pairs(500, seed=4)
    assert len({p.english for p in generate_pairs(500, seed=3)}) == 500


def test_generate_pairs_rejects_impossible_requests():
    with pytest.raises(ValueError, match="num_pairs"):
        generate_pairs(count_sentences())
    with pytest.raises(ValueError, match="p_time"):
        generate_pairs(10, p_time=1.5)


# ----- the corpus --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(num_train=3000, num_test=500, seed=0, held_out=["I go home"])


def test_train_and_test_sentences_are_disjoint(corpus):
    train = {tuple(tokenize(p.english)) for p in corpus.train}
    test = {tuple(tokenize(p.english)) for p in corpus.test}
    assert len(train) == len(corpus.train) == 3000
    assert len(test) == len(corpus.test) == 500
    assert not train & test


def test_held_out_sentences_are_tested_never_trained(corpus):
    assert ("I go home", "나는 집에 간다") in corpus.test
    assert all(p.english != "I go home" for p in corpus.train)


def test_every_test_word_was_seen_in_training(corpus):
    for english, korean in corpus.test:
        corpus.src_vocab.encode(english)  # strict: raises on a word training never showed
        corpus.tgt_vocab.encode(korean)


def test_make_corpus_is_deterministic_and_sizes_the_vocabularies(corpus):
    again = make_corpus(num_train=3000, num_test=500, seed=0, held_out=["I go home"])
    assert again.train == corpus.train and again.test == corpus.test
    assert 100 < len(corpus.src_vocab) < 300 and 100 < len(corpus.tgt_vocab) < 300


def test_corpus_encode_adds_sos_and_eos_to_targets_only(corpus):
    src, tgt = corpus.encode(corpus.test[:1])
    assert corpus.src_vocab.decode(src[0]) == "i go home"
    assert tgt[0].tolist() == corpus.tgt_vocab.encode("나는 집에 간다", add_sos=True, add_eos=True)


def test_make_corpus_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_test"):
        make_corpus(num_train=10, num_test=0)
    with pytest.raises(ValueError, match="held_out has 2 sentences"):
        make_corpus(num_train=10, num_test=1, held_out=["I go home", "we go home"])
    with pytest.raises(ValueError, match="not a sentence"):
        make_corpus(num_train=10, num_test=1, held_out=["go home"])


def test_make_pair_rejects_places_the_verb_does_not_take():
    go = next(verb for verb in data.VERBS if verb.base == "go")
    swim = next(verb for verb in data.VERBS if verb.base == "swim")
    me = data.SUBJECTS[0]
    assert data.make_pair(me, go, None, "home", None) == ("I go home", "나는 집에 간다")
    with pytest.raises(ValueError, match="needs a destination"):
        data.make_pair(me, go, None, None, None)
    with pytest.raises(ValueError, match="'library' is not one of the places of 'swim'"):
        data.make_pair(me, swim, None, "library", None)


def test_asking_for_more_sentences_than_the_settings_reach_raises_instead_of_looping():
    from lessons_lib.data.translation import generate_pairs, make_corpus

    # without place and time phrases the grammar reaches 2,033 sentences
    assert len(generate_pairs(2000, p_place=0.0, p_time=0.0)) == 2000
    with pytest.raises(ValueError, match=r"num_pairs=3000 .* found 2033 different sentences"):
        generate_pairs(3000, p_place=0.0, p_time=0.0)
    with pytest.raises(ValueError, match=r"num_train \+ num_test \+ the held-out sentences = 41000"):
        make_corpus(num_train=40000, num_test=1000)
