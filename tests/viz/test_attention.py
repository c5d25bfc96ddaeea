"""lessons_lib.viz.attention: the lesson 01 explorers, called as plain functions and as widgets."""

import ipywidgets as widgets
import numpy as np
import pytest
import torch

from lessons_lib.attention import scaled_dot_product_attention
from lessons_lib.viz.attention import (
    attention_row_data,
    attention_row_view,
    query_explorer,
    softmax_saturation_data,
    softmax_saturation_explorer,
    softmax_saturation_view,
)
from lessons_lib.viz.explorer import FigureExplorer

TOKENS = ["I", "go", "home"]


@pytest.fixture
def attention():
    """Seeded self-attention over three tokens: (weights (3, 3), values (3, 4))."""
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 4, generator=generator) for _ in range(3))
    _, weights = scaled_dot_product_attention(q, k, v)
    return weights, v


def test_attention_row_data_is_the_weighted_sum_of_the_values(attention):
    weights, values = attention
    for i in range(3):
        data = attention_row_data(weights, values, i)
        np.testing.assert_allclose(data["weights"], weights[i].numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(data["weights"].sum(), 1.0, atol=1e-6)
        np.testing.assert_allclose(data["contributions"][1], weights[i, 1].item() * values[1].numpy(),
                                   atol=1e-6)
        np.testing.assert_allclose(data["output"], (weights[i] @ values).numpy(), atol=1e-6)


def test_attention_row_data_rejects_bad_input(attention):
    weights, values = attention
    with pytest.raises(ValueError, match="query_index=3"):
        attention_row_data(weights, values, 3)
    with pytest.raises(ValueError, match=r"values \(4, 4\)"):
        attention_row_data(weights, torch.zeros(4, 4), 0)


def test_attention_row_view_draws_the_row_and_the_sum(attention):
    weights, values = attention
    fig = attention_row_view(weights, values, TOKENS, query_index=1)
    bars, table = fig.axes[:2]
    heights = [patch.get_height() for patch in bars.patches]
    np.testing.assert_allclose(heights, weights[1].numpy(), atol=1e-6)
    assert "'go'" in bars.get_title()
    assert [label.get_text() for label in table.get_yticklabels()][-1] == "output (sum)"
    with pytest.raises(ValueError, match="len\\(tokens\\) = 2"):
        attention_row_view(weights, values, TOKENS[:2], query_index=0)


def test_query_explorer_follows_the_dropdown(attention):
    weights, values = attention
    explorer = query_explorer(weights, values, TOKENS)
    assert isinstance(explorer, FigureExplorer)
    dropdown = explorer.controls["query_index"]
    assert isinstance(dropdown, widgets.Dropdown)
    assert [label for label, _ in dropdown.options] == ["0: I", "1: go", "2: home"]
    np.testing.assert_allclose(explorer.result["weights"], weights[0].numpy())
    dropdown.value = 2
    np.testing.assert_allclose(explorer.result["weights"], weights[2].numpy())
    np.testing.assert_allclose(explorer.result["output"], (weights[2] @ values).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="same Tk"):
        query_explorer(weights, values[:2], TOKENS)


def test_softmax_saturation_data_scales_by_sqrt_d_k():
    data = softmax_saturation_data(256, num_keys=8, seed=3)
    np.testing.assert_allclose(data["unscaled_scores"], 16.0 * data["scaled_scores"], rtol=1e-5)
    for name in ("unscaled", "scaled"):
        np.testing.assert_allclose(data[f"{name}_weights"].sum(), 1.0, atol=1e-5)
        assert 0.0 <= data[f"{name}_entropy"] <= np.log(8) + 1e-6
    again = softmax_saturation_data(256, num_keys=8, seed=3)
    np.testing.assert_array_equal(data["unscaled_scores"], again["unscaled_scores"])


def test_unscaled_softmax_saturates_at_large_d_k():
    # at d_k=1024 the typical unscaled row is one-hot; the scaled one stays spread out.
    # (A few seeds have two keys nearly tied, so the test looks at the median over 20 seeds.)
    rows = [softmax_saturation_data(1024, num_keys=8, seed=seed) for seed in range(20)]

    def median(name):
        return float(np.median([row[name] for row in rows]))

    assert median("unscaled_max_weight") > 0.99
    assert median("unscaled_entropy") < 0.05
    assert median("scaled_max_weight") < 0.5
    assert median("scaled_entropy") > 1.0
    for row in rows:
        # dividing the logits by sqrt(d_k) can only flatten a softmax, never sharpen it
        assert row["unscaled_max_weight"] >= row["scaled_max_weight"]
        assert row["unscaled_entropy"] <= row["scaled_entropy"]


def test_softmax_saturation_data_rejects_bad_sizes():
    with pytest.raises(ValueError, match="d_k must be a positive int, got 0"):
        softmax_saturation_data(0)
    with pytest.raises(ValueError, match="num_keys must be at least 2 .*got 1"):
        softmax_saturation_data(4, num_keys=1)


def test_softmax_saturation_view_has_two_panels():
    fig = softmax_saturation_view(softmax_saturation_data(64, num_keys=6, seed=0))
    assert len(fig.axes) == 2
    assert all(len(ax.patches) == 6 for ax in fig.axes)
    assert "d_k=64" in fig.axes[0].get_title()


def test_softmax_saturation_explorer_follows_the_slider():
    explorer = softmax_saturation_explorer((4, 64, 1024), num_keys=8, seed=2)
    assert isinstance(explorer, FigureExplorer)
    slider = explorer.controls["d_k"]
    assert isinstance(slider, widgets.SelectionSlider)
    assert explorer.result["d_k"] == 4
    slider.value = 1024
    assert explorer.result["d_k"] == 1024
    expected = softmax_saturation_data(1024, num_keys=8, seed=2)
    np.testing.assert_array_equal(explorer.result["unscaled_weights"], expected["unscaled_weights"])
    with pytest.raises(ValueError, match="positive ints"):
        softmax_saturation_explorer((0, 4))
