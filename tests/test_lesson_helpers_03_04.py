"""lessons_lib.norm's deep-stack helpers (lesson 03): the four wirings, the random sublayers, the statistics."""

import math

import pytest
import torch
from torch import nn

from lessons_lib.norm import (
    STACK_ARRANGEMENTS,
    LayerNorm,
    SelfAttentionSublayer,
    StackLayer,
    random_sublayers,
    stack_statistics,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Scale(nn.Module):
    """x -> factor * x: a sublayer whose effect on activations and gradients is known exactly."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return self.factor * x


def _tokens(seed=0, shape=(4, 6, 32)):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("arrangement", STACK_ARRANGEMENTS)
def test_stack_layer_follows_its_formula(arrangement):
    torch.manual_seed(0)
    sublayer = nn.Linear(32, 32)
    x = _tokens()
    norm = LayerNorm(32)  # fresh: gamma 1, beta 0, like the StackLayer's own
    expected = {
        "plain": lambda: sublayer(x),
        "residual": lambda: x + sublayer(x),
        "post-norm": lambda: norm(x + sublayer(x)),
        "pre-norm": lambda: x + sublayer(norm(x)),
    }[arrangement]()
    torch.testing.assert_close(StackLayer(32, sublayer, arrangement)(x), expected)


def test_stack_layer_has_a_norm_only_when_it_normalises():
    sublayer = nn.Linear(8, 8)
    counts = {a: sum(p.numel() for p in StackLayer(8, sublayer, a).parameters()) for a in STACK_ARRANGEMENTS}
    shared = 8 * 8 + 8
    assert counts == {"plain": shared, "residual": shared, "post-norm": shared + 16, "pre-norm": shared + 16}


def test_stack_layer_rejects_an_unknown_arrangement():
    with pytest.raises(ValueError, match="arrangement.*'sideways'"):
        StackLayer(8, nn.Identity(), "sideways")


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
    output_std, gradient_norm = stack_statistics([nn.Identity()] * 3, x)
    assert output_std == pytest.approx([x.std().item()] * 3, rel=1e-6)
    assert gradient_norm == pytest.approx([1.0] * 3, rel=1e-5), "the loss gradient has norm 1"


def test_stack_statistics_follows_known_scalings():
    # layer l multiplies by 2: outputs grow as 2^l, the gradient at layer l's input is 2^(L - l + 1)
    x = _tokens()
    output_std, gradient_norm = stack_statistics([Scale(2.0)] * 4, x)
    assert output_std == pytest.approx([x.std().item() * 2**k for k in (1, 2, 3, 4)], rel=1e-5)
    assert gradient_norm == pytest.approx([16.0, 8.0, 4.0, 2.0], rel=1e-5)


def test_stack_statistics_leaves_parameter_gradients_alone():
    layers = [StackLayer(32, s, "pre-norm") for s in random_sublayers("linear", 3, 32, seed=0)]
    stack_statistics(layers, _tokens())
    assert all(p.grad is None for layer in layers for p in layer.parameters())


def test_stack_statistics_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one layer"):
        stack_statistics([], _tokens())
    with pytest.raises(ValueError, match=r"3-D \(B, T, C\).*\(6, 32\)"):
        stack_statistics([nn.Identity()], torch.zeros(6, 32))


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
    for arrangement in STACK_ARRANGEMENTS:
        layers = [StackLayer(d_model, s, arrangement) for s in sublayers]
        output_std, gradient_norm = stack_statistics(layers, x)
        measured = output_std[-1]
        assert abs(math.log(measured / predicted[arrangement])) <= math.log(tolerance[arrangement]), (
            arrangement, measured, predicted[arrangement])
        ratios[arrangement] = gradient_norm[0] / gradient_norm[-1]
    assert ratios["plain"] < 1e-1 and ratios["residual"] > 10.0, ratios  # vanishing, exploding
    assert 0.5 < ratios["post-norm"] < 2.0 and 1.0 < ratios["pre-norm"] < 10.0, ratios
