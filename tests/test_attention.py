"""lessons_lib.attention: the formula, the mask convention, parity with torch, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from lessons_lib.attention import (
    ATTENTION_IMPLS,
    SelfAttention,
    attend,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)


def _qkv(B=2, H=3, Tq=5, Tk=7, D=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, Tq, D, generator=g)
    k = torch.randn(B, H, Tk, D, generator=g)
    v = torch.randn(B, H, Tk, D, generator=g)
    return q, k, v


def test_matches_the_formula_written_out():
    q, k, v = _qkv()
    out, weights = scaled_dot_product_attention(q, k, v)
    expected_weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(out, expected_weights @ v)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))


def test_parity_with_torch_without_mask():
    q, k, v = _qkv(seed=1)
    out, _ = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=1e-5)


def test_parity_with_torch_with_causal_mask():
    q, k, v = _qkv(Tq=6, Tk=6, seed=2)
    mask = causal_mask(6)
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-5, rtol=1e-5)
    # future positions get exactly zero weight
    assert torch.all(weights[..., ~mask] == 0)


def test_parity_with_torch_with_padding_mask():
    q, k, v = _qkv(Tk=7, seed=3)
    tokens = torch.tensor([[5, 6, 7, 8, 9, 0, 0], [5, 6, 7, 8, 9, 10, 11]])
    mask = padding_mask(tokens, pad_id=0)  # (B, 1, 1, Tk)
    assert mask.shape == (2, 1, 1, 7)
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-5, rtol=1e-5)
    assert torch.all(weights[0, :, :, 5:] == 0)


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = _qkv(B=1, H=1, Tq=3, Tk=4)
    mask = torch.tensor([[True, True, False, False], [False, False, False, False], [True, True, True, True]])
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert not torch.isnan(out).any() and not torch.isnan(weights).any()
    assert torch.all(weights[..., 1, :] == 0) and torch.all(out[..., 1, :] == 0)
    torch.testing.assert_close(weights[..., 0, :].sum(), torch.tensor(1.0))


def test_gradients_flow_and_are_finite_with_mask():
    q, k, v = (t.requires_grad_() for t in _qkv(Tq=4, Tk=4))
    out, _ = scaled_dot_product_attention(q, k, v, mask=causal_mask(4))
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_dropout_zeroes_some_weights_only_when_asked():
    q, k, v = _qkv()
    torch.manual_seed(0)
    _, dropped = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    _, kept = scaled_dot_product_attention(q, k, v)
    assert (dropped == 0).float().mean() > 0.3
    assert (kept > 0).all()


def test_causal_mask_is_lower_triangular():
    mask = causal_mask(4)
    assert mask.dtype == torch.bool
    assert mask.tolist() == [
        [True, False, False, False],
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, True],
    ]


def test_self_attention_module_uses_the_function():
    torch.manual_seed(0)
    attention = SelfAttention(d_model=6, d_k=4)
    x = torch.randn(2, 3, 6)
    out, weights = attention(x, need_weights=True)
    expected, expected_weights = scaled_dot_product_attention(attention.W_q(x), attention.W_k(x), attention.W_v(x))
    assert out.shape == (2, 3, 4) and weights.shape == (2, 3, 3)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(attention(x), expected)


@pytest.mark.parametrize(
    ("q_shape", "k_shape", "v_shape", "words"),
    [
        ((2, 5, 8), (2, 5, 6), (2, 5, 6), ["q and k", "(2, 5, 8)", "(2, 5, 6)"]),
        ((2, 5, 8), (2, 5, 8), (2, 4, 8), ["k and v", "(2, 4, 8)"]),
        ((8,), (5, 8), (5, 8), ["at least 2-D", "(8,)"]),
        ((2, 5, 8), (3, 5, 8), (3, 5, 8), ["batch dimensions", "(2, 5, 8)", "(3, 5, 8)"]),
    ],
)
def test_bad_shapes_raise_value_error_naming_them(q_shape, k_shape, v_shape, words):
    with pytest.raises(ValueError) as error:
        scaled_dot_product_attention(torch.randn(q_shape), torch.randn(k_shape), torch.randn(v_shape))
    for word in words:
        assert word in str(error.value)


def test_mask_of_wrong_shape_raises_value_error_naming_both_shapes():
    q, k, v = _qkv(Tq=5, Tk=7)
    with pytest.raises(ValueError, match=r"mask of shape \(5, 5\).*\(2, 3, 5, 7\)"):
        scaled_dot_product_attention(q, k, v, mask=causal_mask(5))


def test_non_boolean_mask_raises_value_error():
    q, k, v = _qkv(Tq=4, Tk=4)
    with pytest.raises(ValueError, match="boolean"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 4))


def test_self_attention_rejects_2d_input():
    with pytest.raises(ValueError, match=r"x must be 3-D .*\(5, 6\)"):
        SelfAttention(d_model=6)(torch.randn(5, 6))


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_causal_mask_rejects_bad_length(bad):
    with pytest.raises(ValueError, match="T must be a positive int"):
        causal_mask(bad)


def test_gradients_through_a_fully_masked_row_are_finite():
    q, k, v = (t.requires_grad_() for t in _qkv(B=1, H=1, Tq=2, Tk=3))
    mask = torch.tensor([[True, False, True], [False, False, False]])
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
    assert torch.all(q.grad[..., 1, :] == 0)  # the query that sees nothing learns nothing


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_self_attention_sizes_must_be_positive_ints(bad):
    with pytest.raises(ValueError, match="must be a positive int"):
        SelfAttention(d_model=bad)


@pytest.mark.parametrize("mask_kind", ["none", "causal", "padding", "fully masked row"])
def test_fused_path_equals_the_hand_written_one_in_outputs_and_gradients(mask_kind):
    torch.manual_seed(0)
    B, H, T, D = 3, 4, 7, 8
    masks = {
        "none": None,
        "causal": causal_mask(T),
        "padding": torch.arange(T)[None, None, None, :] < torch.tensor([7, 5, 2])[:, None, None, None],
        "fully masked row": causal_mask(T) & (torch.arange(T)[:, None] != 3),
    }
    results = {}
    for impl in ATTENTION_IMPLS:
        q, k, v = (torch.randn(B, H, T, D, generator=torch.Generator().manual_seed(i)).requires_grad_()
                   for i in range(3))
        out = attend(q, k, v, mask=masks[mask_kind], attention_impl=impl)
        (out * torch.linspace(-1, 1, D)).sum().backward()
        results[impl] = (out, q.grad, k.grad, v.grad)
    for ours, fused in zip(results["hand-written"], results["fused"], strict=True):
        torch.testing.assert_close(fused, ours, atol=1e-5, rtol=0)
    assert results["hand-written"][0].abs().sum() > 0


def test_fused_path_checks_its_arguments_like_the_hand_written_one():
    q = torch.randn(2, 5, 4)
    with pytest.raises(ValueError, match="attention_impl must be one of"):
        attend(q, q, q, attention_impl="flash")
    with pytest.raises(ValueError, match="cannot be broadcast"):
        attend(q, q, q, mask=torch.ones(3, 3, dtype=torch.bool), attention_impl="fused")
    with pytest.raises(ValueError, match="boolean"):
        attend(q, q, q, mask=torch.ones(5, 5), attention_impl="fused")
