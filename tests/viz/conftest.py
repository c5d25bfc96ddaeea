"""Shared fixtures of the lessons_lib.viz tests."""

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

from lessons_lib.data.translation import make_corpus
from lessons_lib.transformer import Transformer, TransformerConfig

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def picture():
    """What an explorer shows, as bytes (the Image widget hands its value back as a memoryview)."""

    def read(explorer):
        return bytes(explorer.image.value)

    return read


@pytest.fixture(scope="session")
def corpus():
    return make_corpus(num_train=800, num_test=50, seed=0)


@pytest.fixture(scope="session")
def model(corpus):
    """An untrained tiny translator (one layer each side, two heads), seeded."""
    torch.manual_seed(0)
    config = TransformerConfig.tiny(len(corpus.src_vocab), len(corpus.tgt_vocab))
    return Transformer(config).eval()
