"""Lesson 07 (notebooks/07_transfer_learning.ipynb): a small sentiment task the course writes itself.

Short reviews, each positive (1) or negative (0) because of one adjective: "the movie was great",
"what a boring film". The training sentences use one set of adjectives; the test has two parts:

    test_seen     new sentences with the training adjectives
    test_unseen   sentences whose adjective never occurs in training: "the film was excellent"
                  after training on "the movie was great"

A model trained from scratch knows only the words it was trained on, so it has to guess on
test_unseen; a model pre-trained on a lot of text already puts "excellent" near "great". Every
template and noun is shared by both labels, so only the adjective carries the sentiment.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lessons_lib.runtime import check_positive_int

POSITIVE, NEGATIVE = 1, 0
LABEL_NAMES = ("negative", "positive")

TRAIN_ADJECTIVES = {
    POSITIVE: ("great", "good", "wonderful", "enjoyable", "brilliant", "fun"),
    NEGATIVE: ("bad", "awful", "boring", "terrible", "dull", "poor"),
}
# Adjectives that never appear in training; each is one token of the MiniLM tokenizer.
UNSEEN_ADJECTIVES = {
    POSITIVE: ("excellent", "superb", "delightful", "fantastic", "lovely", "amazing", "outstanding", "marvelous"),
    NEGATIVE: ("horrible", "dreadful", "disappointing", "miserable", "pathetic", "unpleasant", "annoying", "stupid"),
}
NOUNS = ("movie", "film", "story", "plot", "ending", "book", "show", "meal", "concert", "game", "song", "trip")
TEMPLATES = (
    "the {noun} was {adjective}",
    "i thought the {noun} was {adjective}",
    "what a {adjective} {noun}",
    "honestly , the {noun} was {adjective}",
    "my friends said the {noun} was {adjective}",
    "the {noun} was really {adjective}",
    "it was a {adjective} {noun}",
    "overall a {adjective} {noun}",
)


@dataclass(frozen=True)
class Review:
    """One sentence and its label (1 positive, 0 negative)."""

    text: str
    label: int


class SentimentData(NamedTuple):
    """Training reviews, and the two test sets: the training adjectives, and unseen ones."""

    train: list[Review]
    test_seen: list[Review]
    test_unseen: list[Review]


def _all_reviews(adjectives: dict[int, Sequence[str]]) -> list[Review]:
    return [Review(template.format(noun=noun, adjective=adjective), label)
            for label, words in sorted(adjectives.items())
            for template, noun, adjective in itertools.product(TEMPLATES, NOUNS, words)]


def make_sentiment_data(num_train: int = 200, num_test: int = 200, seed: int = 0) -> SentimentData:
    """Draw (seeded) `num_train` training reviews, and `num_test` of each test set, half of each label."""
    for name, value in (("num_train", num_train), ("num_test", num_test)):
        check_positive_int(name, value)
    rng = random.Random(seed)
    seen = _all_reviews(TRAIN_ADJECTIVES)
    unseen = _all_reviews(UNSEEN_ADJECTIVES)

    def draw(pool: list[Review], count: int) -> list[Review]:
        by_label = [[r for r in pool if r.label == label] for label in (NEGATIVE, POSITIVE)]
        half = count // 2
        if half > min(len(group) for group in by_label):
            raise ValueError(f"asked for {count} reviews, but a label has only "
                             f"{min(len(group) for group in by_label)} sentences")
        picked = rng.sample(by_label[0], half) + rng.sample(by_label[1], count - half)
        rng.shuffle(picked)
        return picked

    seen = rng.sample(seen, len(seen))  # shuffled, then cut into disjoint train and test sentences
    train_pool, test_pool = seen[: len(seen) // 2], seen[len(seen) // 2 :]
    return SentimentData(draw(train_pool, num_train), draw(test_pool, num_test), draw(unseen, num_test))
