"""lessons_lib.positional: the sinusoidal table, the modules that add it, bad input."""

import math

import numpy as np
import pytest
import torch

from lessons_lib.positional import (
    LearnedPositionalEmbedding,
    PositionalEncoding,
    sinusoidal_encoding,
)


def _by_the_formula(max_len, d_model):
    table = np.zeros((max_len, d_model))
    for pos in range(max_len):
        for i in range(d_model):
            angle = pos / 10000 ** (2 * (i // 2) / d_model)
            table[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return torch.tensor(table, dtype=torch.float32)


@pytest.mark.parametrize(("max_len", "d_model"), [(50, 16), (7, 5), (1, 2)])
def test_matches_the_formula_element_by_element(max_len, d_model):
    torch.testing.assert_close(sinusoidal_encoding(max_len, d_model), _by_the_formula(max_len, d_model), atol=1e-5, rtol=1e-5)


def test_each_pair_is_a_rotation_of_position_zero():
    pe = sinusoidal_encoding(30, 8)
    # sin^2 + cos^2 = 1 for every (sin, cos) pair at every position
    torch.testing.assert_close(pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2, torch.ones(30, 4))


def test_positional_encoding_adds_the_table():
    module = PositionalEncoding(d_model=8, max_len=20)
    x = torch.randn(2, 6, 8)
    torch.testing.assert_close(module(x), x + sinusoidal_encoding(20, 8)[:6])
    assert "pe" not in dict(module.named_parameters())


def test_learned_embedding_adds_one_trained_vector_per_position():
    torch.manual_seed(0)
    module = LearnedPositionalEmbedding(max_len=10, d_model=4)
    x = torch.zeros(3, 5, 4)
    out = module(x)
    torch.testing.assert_close(out[1], module.embedding.weight[:5])
    out.sum().backward()
    assert module.embedding.weight.grad[:5].abs().sum() > 0
    assert module.embedding.weight.grad[5:].abs().sum() == 0


@pytest.mark.parametrize("module", [PositionalEncoding(8, max_len=4), LearnedPositionalEmbedding(4, 8)])
def test_too_long_or_wrong_shape_raises(module):
    with pytest.raises(ValueError, match="T=5 is longer than max_len=4"):
        module(torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match=r"3-D \(B, T, d_model=8\).*\(5, 8\)"):
        module(torch.randn(5, 8))


@pytest.mark.parametrize(("max_len", "d_model"), [(0, 4), (4, 0), (2.5, 4)])
def test_bad_sizes_raise(max_len, d_model):
    with pytest.raises(ValueError, match="must be a positive int"):
        sinusoidal_encoding(max_len, d_model)
