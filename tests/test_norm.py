"""lessons_lib.norm: LayerNorm by its three steps, parity with nn.LayerNorm, Add & Norm."""

import pytest
import torch
from torch import nn

from lessons_lib.norm import AddNorm, LayerNorm, ResidualBlock


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


def test_add_norm_is_layer_norm_of_the_sum():
    torch.manual_seed(2)
    add_norm = AddNorm(8)
    x, sub = torch.randn(2, 3, 8), torch.randn(2, 3, 8)
    torch.testing.assert_close(add_norm(x, sub), add_norm.norm(x + sub))


def test_residual_block_post_norm_and_pre_norm():
    torch.manual_seed(3)
    sublayer = nn.Linear(8, 8)
    x = torch.randn(2, 3, 8)
    post = ResidualBlock(8, sublayer, norm_first=False)
    pre = ResidualBlock(8, sublayer, norm_first=True)
    torch.testing.assert_close(post(x), post.norm(x + sublayer(x)))
    torch.testing.assert_close(pre(x), x + sublayer(pre.norm(x)))


def test_wrong_width_raises_value_error_naming_shapes():
    with pytest.raises(ValueError, match=r"d=8 .*\(2, 3, 5\)"):
        LayerNorm(8)(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"\(2, 3, 8\) and \(2, 4, 8\)"):
        AddNorm(8)(torch.randn(2, 3, 8), torch.randn(2, 4, 8))
