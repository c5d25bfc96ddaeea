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


@pytest.mark.parametrize("offset", [1, 5, 17])
def test_moving_k_positions_rotates_each_sin_cos_pair_by_the_same_angle(offset):
    pe = sinusoidal_encoding(64, 8).double()
    sin, cos = pe[:, 0::2], pe[:, 1::2]  # (T, 4) each: one (sin, cos) pair per frequency
    inv_freq = torch.exp(-math.log(10000.0) * torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    angle = offset * inv_freq  # (4,): the rotation of each pair, the same at every position
    # (sin(a + b), cos(a + b)) = (sin a cos b + cos a sin b, cos a cos b - sin a sin b)
    moved_sin = sin[:-offset] * torch.cos(angle) + cos[:-offset] * torch.sin(angle)
    moved_cos = cos[:-offset] * torch.cos(angle) - sin[:-offset] * torch.sin(angle)
    torch.testing.assert_close(moved_sin, sin[offset:], atol=1e-5, rtol=0)
    torch.testing.assert_close(moved_cos, cos[offset:], atol=1e-5, rtol=0)


def test_positional_encoding_adds_the_table():
    module = PositionalEncoding(d_model=8, max_len=20)
    x = torch.randn(2, 6, 8)
    torch.testing.assert_close(module(x), x + sinusoidal_encoding(20, 8)[:6])
    assert "pe" not in dict(module.named_parameters())


def test_learned_embedding_adds_one_trained_vector_per_position():
    torch.manual_seed(0)
    module = LearnedPositionalEmbedding(d_model=4, max_len=10)
    x = torch.zeros(3, 5, 4)
    out = module(x)
    torch.testing.assert_close(out[1], module.embedding.weight[:5])
    out.sum().backward()
    assert module.embedding.weight.grad[:5].abs().sum() > 0
    assert module.embedding.weight.grad[5:].abs().sum() == 0


@pytest.mark.parametrize("module", [PositionalEncoding(8, max_len=4), LearnedPositionalEmbedding(8, max_len=4)])
def test_too_long_or_wrong_shape_raises(module):
    with pytest.raises(ValueError, match="T=5 is longer than max_len=4"):
        module(torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match=r"3-D \(B, T, d_model=8\).*\(5, 8\)"):
        module(torch.randn(5, 8))


@pytest.mark.parametrize(("max_len", "d_model"), [(0, 4), (4, 0), (2.5, 4)])
def test_bad_sizes_raise(max_len, d_model):
    with pytest.raises(ValueError, match="must be a positive int"):
        sinusoidal_encoding(max_len, d_model)
