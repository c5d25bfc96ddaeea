"""lessons_lib.data.sentiment: balanced, seeded reviews; the unseen adjectives never occur in training."""

from lessons_lib.data.sentiment import (
    NEGATIVE,
    POSITIVE,
    TRAIN_ADJECTIVES,
    UNSEEN_ADJECTIVES,
    make_sentiment_data,
)
from lessons_lib.data.text import words


def test_sizes_and_balanced_labels():
    data = make_sentiment_data(num_train=100, num_test=60, seed=0)
    assert [len(part) for part in data] == [100, 60, 60]
    for part in data:
        assert sum(review.label for review in part) == len(part) // 2


def test_each_review_holds_one_adjective_of_its_label():
    data = make_sentiment_data(seed=0)
    for part, adjectives in ((data.train, TRAIN_ADJECTIVES), (data.test_seen, TRAIN_ADJECTIVES),
                             (data.test_unseen, UNSEEN_ADJECTIVES)):
        for review in part:
            found = [(label, word) for label, group in adjectives.items() for word in group if word in words(review.text)]
            assert len(found) == 1 and found[0][0] == review.label, review


def test_unseen_words_never_occur_in_training_and_test_sentences_are_new():
    data = make_sentiment_data(seed=0)
    training_words = {word for review in data.train for word in words(review.text)}
    unseen = set(UNSEEN_ADJECTIVES[POSITIVE] + UNSEEN_ADJECTIVES[NEGATIVE])
    assert not training_words & unseen
    assert not {r.text for r in data.train} & {r.text for r in data.test_seen}


def test_seeded():
    assert make_sentiment_data(seed=3) == make_sentiment_data(seed=3)
    assert make_sentiment_data(seed=3) != make_sentiment_data(seed=4)
