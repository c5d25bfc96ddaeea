"""lessons_lib.multihead: heads, parity with nn.MultiheadAttention (copied weights), bad input."""

import pytest
import torch
from torch import nn

from lessons_lib.attention import causal_mask
from lessons_lib.multihead import MultiHeadAttention, merge_heads, split_heads

D_MODEL, HEADS = 16, 4


@pytest.fixture
def pair():
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True).eval()
    # torch initialises the biases to 0: give them values so their copy is tested too
    with torch.no_grad():
        reference.in_proj_bias.normal_()
        reference.out_proj.bias.normal_()
    return reference, MultiHeadAttention.from_torch(reference).eval()


def test_split_then_merge_is_identity_and_groups_channels():
    x = torch.arange(2 * 3 * 8, dtype=torch.float32).view(2, 3, 8)
    heads = split_heads(x, num_heads=2)
    assert heads.shape == (2, 2, 3, 4)
    torch.testing.assert_close(heads[:, 1], x[..., 4:])  # head 1 holds channels 4..7
    torch.testing.assert_close(merge_heads(heads), x)


def test_self_attention_parity(pair):
    reference, ours = pair
    x = torch.randn(3, 6, D_MODEL)
    expected, expected_weights = reference(x, x, x, average_attn_weights=False)
    out, weights = ours(x, x, x, need_weights=True)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, expected_weights, atol=1e-5, rtol=1e-5)


def test_cross_attention_parity_with_different_lengths(pair):
    reference, ours = pair
    query, memory = torch.randn(2, 4, D_MODEL), torch.randn(2, 9, D_MODEL)
    expected, _ = reference(query, memory, memory)
    out = ours(query, memory, memory)
    assert out.shape == (2, 4, D_MODEL)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_causal_mask_parity(pair):
    reference, ours = pair
    x = torch.randn(2, 5, D_MODEL)
    allowed = causal_mask(5)
    # torch's boolean attn_mask means the opposite: True = may NOT attend
    expected, _ = reference(x, x, x, attn_mask=~allowed)
    torch.testing.assert_close(ours(x, x, x, mask=allowed), expected, atol=1e-5, rtol=1e-5)


def test_key_padding_mask_parity(pair):
    reference, ours = pair
    query, memory = torch.randn(2, 3, D_MODEL), torch.randn(2, 6, D_MODEL)
    key_is_padding = torch.tensor([[False] * 4 + [True] * 2, [False] * 6])
    expected, _ = reference(query, memory, memory, key_padding_mask=key_is_padding)
    mask = (~key_is_padding)[:, None, None, :]  # (B, Tk) -> (B, 1, 1, Tk)
    torch.testing.assert_close(ours(query, memory, memory, mask=mask), expected, atol=1e-5, rtol=1e-5)


def test_parity_without_bias():
    torch.manual_seed(1)
    no_bias = nn.MultiheadAttention(D_MODEL, HEADS, bias=False, batch_first=True)
    x = torch.randn(2, 5, D_MODEL)
    torch.testing.assert_close(MultiHeadAttention.from_torch(no_bias)(x, x, x), no_bias(x, x, x)[0], atol=1e-5, rtol=1e-5)


def test_same_parameter_count_as_one_wide_head():
    mha = MultiHeadAttention(D_MODEL, HEADS)
    one_head = MultiHeadAttention(D_MODEL, 1)
    assert sum(p.numel() for p in mha.parameters()) == sum(p.numel() for p in one_head.parameters())
    assert sum(p.numel() for p in mha.parameters()) == 4 * (D_MODEL * D_MODEL + D_MODEL)


def test_dropout_only_in_training():
    torch.manual_seed(0)
    mha = MultiHeadAttention(D_MODEL, HEADS, dropout=0.5)
    x = torch.randn(2, 5, D_MODEL)
    mha.eval()
    torch.testing.assert_close(mha(x, x, x), mha(x, x, x))
    mha.train()
    assert not torch.allclose(mha(x, x, x), mha(x, x, x))


def test_d_model_not_divisible_raises_naming_both_numbers():
    with pytest.raises(ValueError, match=r"d_model=10 is not divisible by num_heads=3"):
        MultiHeadAttention(10, 3)


@pytest.mark.parametrize(
    ("query", "key", "pattern"),
    [
        (torch.randn(5, D_MODEL), torch.randn(5, D_MODEL), r"query must be 3-D .*\(5, 16\)"),
        (torch.randn(2, 5, 8), torch.randn(2, 5, 8), r"query must be 3-D \(B, T, d_model=16\), got shape \(2, 5, 8\)"),
        (torch.randn(2, 5, D_MODEL), torch.randn(3, 5, D_MODEL), r"same batch size"),
    ],
)
def test_bad_inputs_raise_value_error_with_shapes(query, key, pattern):
    mha = MultiHeadAttention(D_MODEL, HEADS)
    with pytest.raises(ValueError, match=pattern):
        mha(query, key, key)


def test_mask_of_wrong_shape_raises_value_error():
    mha = MultiHeadAttention(D_MODEL, HEADS)
    x = torch.randn(2, 5, D_MODEL)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\) cannot be broadcast .*\(2, 4, 5, 5\)"):
        mha(x, x, x, mask=causal_mask(4))


def test_from_torch_rejects_other_modules():
    with pytest.raises(ValueError, match="torch.nn.MultiheadAttention"):
        MultiHeadAttention.from_torch(nn.Linear(4, 4))


def test_a_3d_mask_is_refused_because_it_would_broadcast_over_heads():
    mha = MultiHeadAttention(D_MODEL, num_heads=2)
    x = torch.randn(2, 5, D_MODEL)
    per_sentence = causal_mask(5).expand(2, 5, 5)  # (B, Tq, Tk) with B == H: no broadcast error
    with pytest.raises(ValueError, match=r"3-D, which is ambiguous .*mask\[:, None\]"):
        mha(x, x, x, mask=per_sentence)
    torch.testing.assert_close(mha(x, x, x, mask=per_sentence[:, None]), mha(x, x, x, mask=causal_mask(5)))


def test_from_torch_refuses_extra_keys_it_cannot_copy():
    for extra in ({"add_bias_kv": True}, {"add_zero_attn": True}):
        with pytest.raises(ValueError, match="add_bias_kv=True or add_zero_attn=True"):
            MultiHeadAttention.from_torch(nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True, **extra))


@pytest.mark.parametrize(("d_model", "num_heads", "message"), [
    (16, 2.0, "num_heads must be a positive int, got 2.0"),
    (0, 1, "d_model must be a positive int, got 0"),
    (True, 1, "d_model must be a positive int, got True"),
])
def test_sizes_must_be_positive_ints(d_model, num_heads, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(d_model, num_heads)


def test_the_fused_path_gives_the_same_outputs_and_gradients_as_the_taught_one(pair):
    reference, taught = pair
    fused = MultiHeadAttention.from_torch(reference).eval()
    fused.attention_impl = "fused"
    x = torch.randn(2, 6, D_MODEL)
    pad = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])[:, None, None, :]
    for mask in (None, causal_mask(6), pad):
        outs = [mha(x, x, x, mask=mask) for mha in (taught, fused)]
        torch.testing.assert_close(outs[1], outs[0], atol=1e-5, rtol=0)
    for mha in (taught, fused):
        mha.zero_grad()
        mha(x, x, x, mask=pad).square().sum().backward()
    for (name, p_taught), p_fused in zip(taught.named_parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(p_fused.grad, p_taught.grad, atol=1e-5, rtol=1e-5, msg=name)
    # the weights exist only in the hand-written path, so asking for them uses it
    out, weights = fused(x, x, x, mask=pad, need_weights=True)
    assert weights.shape == (2, HEADS, 6, 6) and weights[1, :, :, 4:].abs().max() == 0


def test_an_unknown_attention_impl_is_refused():
    with pytest.raises(ValueError, match="attention_impl must be one of"):
        MultiHeadAttention(D_MODEL, HEADS, attention_impl="flash")
