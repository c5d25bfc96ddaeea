"""lessons_lib.norm (lesson 03): LayerNorm by its three steps, parity with nn.LayerNorm, the four
wirings of a sublayer (SublayerConnection), and the deep-stack experiment."""

import math

import pytest
import torch
from torch import nn

from lessons_lib.norm import (
    ARRANGEMENTS,
    LayerNorm,
    SelfAttentionSublayer,
    SublayerConnection,
    block_stack,
    parameter_gradient_norms,
    random_sublayers,
    stack_statistics,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_parity_with_torch_layer_norm_with_copied_weights():
    torch.manual_seed(0)
    reference = nn.LayerNorm(12, eps=1e-5)
    with torch.no_grad():
        reference.weight.normal_()
        reference.bias.normal_()
    ours = LayerNorm(12)
    ours.load_state_dict(reference.state_dict())  # same parameter names: weight (gamma), bias (beta)
    x = torch.randn(3, 5, 12) * 4 + 2
    torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)


def test_gradients_match_torch():
    torch.manual_seed(1)
    reference, ours = nn.LayerNorm(8), LayerNorm(8)
    x1 = torch.randn(4, 8, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    (reference(x1) ** 3).sum().backward()
    (ours(x2) ** 3).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.weight.grad, reference.weight.grad, atol=1e-5, rtol=1e-5)


def test_each_token_gets_mean_zero_variance_one():
    x = torch.randn(2, 7, 16) * 10 - 3
    y = LayerNorm(16)(x)
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 7), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(2, 7), atol=1e-3, rtol=0)


def test_a_token_does_not_depend_on_the_rest_of_the_batch():
    x = torch.randn(4, 3, 8)
    norm = LayerNorm(8)
    torch.testing.assert_close(norm(x)[:1], norm(x[:1]))


class Scale(nn.Module):
    """x -> factor * x: a sublayer whose effect on activations and gradients is known exactly."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return self.factor * x


def _tokens(seed=0, shape=(4, 6, 32)):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
def test_sublayer_connection_follows_its_formula(arrangement):
    torch.manual_seed(0)
    sublayer = nn.Linear(32, 32)
    x = _tokens()
    norm = LayerNorm(32)  # fresh: gamma 1, beta 0, like the connection's own
    expected = {
        "plain": lambda: sublayer(x),
        "residual": lambda: x + sublayer(x),
        "post-norm": lambda: norm(x + sublayer(x)),
        "pre-norm": lambda: x + sublayer(norm(x)),
    }[arrangement]()
    torch.testing.assert_close(SublayerConnection(32, arrangement)(x, sublayer), expected)


def test_sublayer_connection_has_a_norm_only_when_it_normalizes():
    counts = {a: sum(p.numel() for p in SublayerConnection(8, a).parameters()) for a in ARRANGEMENTS}
    assert counts == {"plain": 0, "residual": 0, "post-norm": 16, "pre-norm": 16}


def test_sublayer_connection_rejects_an_unknown_arrangement_and_a_shape_change():
    with pytest.raises(ValueError, match="arrangement.*'sideways'"):
        SublayerConnection(8, "sideways")
    with pytest.raises(ValueError, match=r"\(2, 3, 8\) and sublayer output \(2, 4, 8\)"):
        SublayerConnection(8)(torch.randn(2, 3, 8), lambda h: torch.randn(2, 4, 8))


def test_post_norm_is_layer_norm_of_the_sum_with_dropout_on_the_sublayer_only():
    torch.manual_seed(2)
    add_norm = SublayerConnection(8, "post-norm", dropout=0.5).train()
    x, sub = torch.randn(2, 3, 8), torch.randn(2, 3, 8)
    torch.manual_seed(4)
    out = add_norm(x, lambda h: sub)
    torch.manual_seed(4)
    dropped = nn.functional.dropout(sub, 0.5)
    torch.testing.assert_close(out, add_norm.norm(x + dropped))


def test_attention_weights_pass_through_the_connection_untouched():
    weights = torch.rand(2, 4, 3, 3)
    for arrangement in ARRANGEMENTS:
        x = torch.randn(2, 3, 8)
        out, passed = SublayerConnection(8, arrangement)(x, lambda h: (2 * h, weights))
        assert passed is weights and out.shape == x.shape


def test_random_sublayers_are_seeded():
    first = random_sublayers("linear", 3, 16, gain=0.8, seed=5)
    again = random_sublayers("linear", 3, 16, gain=0.8, seed=5)
    other = random_sublayers("linear", 3, 16, gain=0.8, seed=6)
    for a, b in zip(first, again, strict=True):
        torch.testing.assert_close(a.weight, b.weight)
    assert not torch.allclose(first[0].weight, other[0].weight)
    assert not torch.allclose(first[0].weight, first[1].weight), "each layer draws its own weights"


@pytest.mark.parametrize("gain", [0.5, 1.0, 1.5])
def test_linear_sublayer_scales_a_vector_by_about_the_gain(gain):
    (sublayer,) = random_sublayers("linear", 1, 256, gain=gain, seed=0)
    assert sublayer.bias is None
    assert sublayer.weight.std().item() == pytest.approx(gain / math.sqrt(256), rel=0.02)
    x = _tokens(seed=1, shape=(64, 8, 256))  # not seed 0: that stream drew the weights
    with torch.no_grad():
        ratio = sublayer(x).std() / x.std()
    assert ratio.item() == pytest.approx(gain, rel=0.05)


def test_attention_sublayers_are_self_attention_with_the_gain_on_the_output_projection():
    sublayers = random_sublayers("attention", 2, 64, gain=1.5, seed=0)
    assert all(isinstance(s, SelfAttentionSublayer) for s in sublayers)
    attention = sublayers[0].attention
    assert attention.num_heads == 4 and attention.W_q.bias is None
    assert attention.W_o.weight.std().item() == pytest.approx(1.5 / 8, rel=0.05)
    assert attention.W_v.weight.std().item() == pytest.approx(1 / 8, rel=0.05)
    x = _tokens(seed=1, shape=(2, 5, 64))
    with torch.no_grad():
        torch.testing.assert_close(sublayers[0](x), attention(x, x, x))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kind": "conv"}, "kind"),
        ({"depth": 0}, "depth"),
        ({"gain": 0.0}, "gain"),
        ({"kind": "attention", "d_model": 30}, "d_model=30"),
    ],
)
def test_random_sublayers_reject_bad_arguments(kwargs, message):
    arguments = {"kind": "linear", "depth": 2, "d_model": 32, "gain": 1.0} | kwargs
    with pytest.raises(ValueError, match=message):
        random_sublayers(**arguments)


def test_stack_statistics_through_identity_layers():
    x = _tokens()
    output_std, gradient_norm = stack_statistics([nn.Identity()] * 3, x, "plain")
    assert output_std == pytest.approx([x.std().item()] * 3, rel=1e-6)
    assert gradient_norm == pytest.approx([1.0] * 3, rel=1e-5), "the loss gradient has norm 1"


def test_stack_statistics_follows_known_scalings():
    # layer l multiplies by 2: outputs grow as 2^l, the gradient at layer l's input is 2^(L - l + 1)
    x = _tokens()
    output_std, gradient_norm = stack_statistics([Scale(2.0)] * 4, x, "plain")
    assert output_std == pytest.approx([x.std().item() * 2**k for k in (1, 2, 3, 4)], rel=1e-5)
    assert gradient_norm == pytest.approx([16.0, 8.0, 4.0, 2.0], rel=1e-5)


def test_stack_statistics_leaves_parameter_gradients_alone():
    sublayers = random_sublayers("linear", 3, 32, seed=0)
    stack_statistics(sublayers, _tokens(), "pre-norm")
    assert all(p.grad is None for sublayer in sublayers for p in sublayer.parameters())


def test_stack_statistics_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one sublayer"):
        stack_statistics([], _tokens(), "plain")
    with pytest.raises(ValueError, match=r"3-D \(B, T, C\).*\(6, 32\)"):
        stack_statistics([nn.Identity()], torch.zeros(6, 32), "plain")
    with pytest.raises(ValueError, match="arrangement"):
        stack_statistics([nn.Identity()], _tokens(), "sideways")


def test_the_lesson_predictions_hold_for_linear_sublayers():
    """Lesson 03's table: std after L layers is g^L, (1+g^2)^(L/2), 1 and sqrt(1 + L g^2)."""
    depth, gain, d_model = 24, 0.8, 64
    sublayers = random_sublayers("linear", depth, d_model, gain=gain, seed=0)
    x = _tokens(seed=1, shape=(8, 16, d_model))
    predicted = {
        "plain": gain**depth,
        "residual": (1 + gain**2) ** (depth / 2),
        "post-norm": 1.0,
        "pre-norm": math.sqrt(1 + depth * gain**2),
    }
    tolerance = {"plain": 3.0, "residual": 3.0, "post-norm": 1.001, "pre-norm": 1.15}
    ratios = {}
    for arrangement in ARRANGEMENTS:
        output_std, gradient_norm = stack_statistics(sublayers, x, arrangement)
        measured = output_std[-1]
        assert abs(math.log(measured / predicted[arrangement])) <= math.log(tolerance[arrangement]), (
            arrangement, measured, predicted[arrangement])
        ratios[arrangement] = gradient_norm[0] / gradient_norm[-1]
    assert ratios["plain"] < 1e-1 and ratios["residual"] > 10.0, ratios  # vanishing, exploding
    assert 0.5 < ratios["post-norm"] < 2.0 and 1.0 < ratios["pre-norm"] < 10.0, ratios


def test_wrong_width_and_bad_sizes_raise_value_errors_naming_them():
    with pytest.raises(ValueError, match=r"d_model=8 .*\(2, 3, 5\)"):
        LayerNorm(8)(torch.randn(2, 3, 5))
    for bad in (True, 0, 2.5):
        with pytest.raises(ValueError, match="d_model must be a positive int"):
            LayerNorm(bad)
    with pytest.raises(ValueError, match="eps must be positive"):
        LayerNorm(8, eps=0.0)


# Post-LN against Pre-LN on real layers (Xiong et al., 2020)


def test_a_pre_norm_layer_normalizes_only_what_enters_each_sublayer():
    from lessons_lib.transformer import EncoderLayer

    layer = block_stack("pre-norm", 1, d_model=16, num_heads=2, d_ff=32, seed=3)[0]
    assert isinstance(layer, EncoderLayer)
    x = torch.randn(2, 5, 16)
    norm_1, norm_2 = layer.add_norm_1.norm, layer.add_norm_2.norm
    h = norm_1(x)
    y = x + layer.self_attention(h, h, h)  # (B, T, C): the residual stream itself is never normalized
    torch.testing.assert_close(layer(x), y + layer.feed_forward(norm_2(y)))
    with pytest.raises(ValueError, match="'post-norm' or 'pre-norm', got 'residual'"):
        EncoderLayer(16, 2, 32, arrangement="residual")


def test_block_stacks_are_seeded_xavier_initialised_and_pre_norm_ends_with_a_layer_norm():
    from lessons_lib.transformer import EncoderLayer

    post, pre = block_stack("post-norm", 3, d_model=16, d_ff=32), block_stack("pre-norm", 3, d_model=16, d_ff=32)
    assert len(post) == 3 and len(pre) == 4 and isinstance(pre[-1], LayerNorm)
    assert all(isinstance(block, EncoderLayer) for block in [*post, *pre[:3]])
    assert pre[0].add_norm_1.arrangement == "pre-norm" and post[2].add_norm_2.arrangement == "post-norm"
    again = block_stack("post-norm", 3, d_model=16, d_ff=32)
    torch.testing.assert_close(post[1].feed_forward.W_2.weight, again[1].feed_forward.W_2.weight)
    weight = post[0].feed_forward.W_1.weight  # (d_ff, C), Xavier: uniform within sqrt(6 / (C + d_ff))
    assert weight.abs().max() <= math.sqrt(6 / (16 + 32)) and weight.abs().max() > 0.9 * math.sqrt(6 / 48)
    assert post[0].feed_forward.W_1.bias.abs().max() < 1.0 / 4  # biases untouched by Xavier


def test_parameter_gradient_norms_pre_norm_shrinks_with_depth_post_norm_does_not():
    shallow = {arrangement: parameter_gradient_norms(arrangement, 2, d_model=32, d_ff=64)
               for arrangement in ("post-norm", "pre-norm")}
    deep = {arrangement: parameter_gradient_norms(arrangement, 16, d_model=32, d_ff=64)
            for arrangement in ("post-norm", "pre-norm")}
    assert len(shallow["post-norm"]) == 2 and len(deep["pre-norm"]) == 16
    # Xiong et al.: the last layer's gradient is O(1) in depth for Post-LN, O(1 / sqrt(L)) for Pre-LN
    assert deep["pre-norm"][-1] < 0.5 * shallow["pre-norm"][-1], (shallow, deep)
    assert 0.67 < deep["post-norm"][-1] / shallow["post-norm"][-1] < 1.5, (shallow, deep)


def test_block_stack_rejects_the_arrangements_without_a_norm():
    with pytest.raises(ValueError, match="'post-norm' or 'pre-norm', got 'residual'"):
        block_stack("residual", 2)
    with pytest.raises(ValueError, match="depth"):
        parameter_gradient_norms("pre-norm", 0)
