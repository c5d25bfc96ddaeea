"""lessons_lib.viz.plots: the figures every lesson draws."""

import numpy as np
import pytest
import torch

from lessons_lib.attention import causal_mask
from lessons_lib.positional import sinusoidal_encoding
from lessons_lib.viz.plots import (
    as_numpy,
    plot_attention,
    plot_heads,
    plot_mask,
    plot_position_similarity,
    plot_positional_encoding,
    row_entropy,
)


def test_as_numpy_takes_tensors_with_grad_and_arrays():
    weights = torch.ones(2, 3, requires_grad=True) * 0.5
    matrix = as_numpy(weights)
    assert isinstance(matrix, np.ndarray) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, np.full((2, 3), 0.5))
    assert as_numpy([[1, 2]]).dtype == float


def test_row_entropy_is_zero_for_one_hot_and_log_n_for_uniform():
    rows = np.array([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    np.testing.assert_allclose(row_entropy(rows), [0.0, np.log(4)], atol=1e-12)


def test_plot_attention_shows_the_matrix_with_its_labels():
    weights = torch.softmax(torch.randn(2, 3, generator=torch.Generator().manual_seed(0)), dim=-1)
    ax = plot_attention(weights, ["a", "b"], ["x", "y", "z"], title="t")
    np.testing.assert_allclose(ax.images[0].get_array(), weights.numpy(), rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert len(ax.texts) == 6, "every weight is written in its cell"
    assert ax.get_title() == "t"


def test_plot_attention_rejects_bad_shapes_and_labels():
    with pytest.raises(ValueError, match=r"2-D \(Tq, Tk\).*\(2, 2, 2\)"):
        plot_attention(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="key_labels has 2 labels for 3"):
        plot_attention(torch.zeros(2, 3), key_labels=["x", "y"])


def test_plot_heads_draws_every_head_on_one_colour_scale():
    weights = torch.softmax(torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    fig = plot_heads(weights, ncols=2)
    heads = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in heads] == ["head 0", "head 1", "head 2"]
    assert {ax.images[0].get_clim() for ax in heads} == {(0.0, float(weights.max()))}
    assert not fig.axes[3].axison, "the grid's spare cell is left blank"
    with pytest.raises(ValueError, match="3-D"):
        plot_heads(weights[0])


def test_plot_mask_shows_zero_where_allowed_and_minus_infinity_elsewhere():
    labels = ["<sos>", "나는", "집에", "간다"]
    ax = plot_mask(causal_mask(4), labels, labels)
    shown = ax.images[0].get_array()
    np.testing.assert_array_equal(np.asarray(shown), causal_mask(4).numpy())
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("0") == 10 and texts.count("-inf") == 6
    assert len(ax.get_xticklabels()) == 4


def test_plot_mask_rejects_masks_that_are_not_boolean_matrices():
    with pytest.raises(ValueError, match="2-D boolean"):
        plot_mask(torch.ones(3, 3))
    with pytest.raises(ValueError, match="query_labels has 2 labels for 3"):
        plot_mask(causal_mask(3), ["a", "b"])


def test_plot_positional_encoding_shows_the_matrix():
    encoding = sinusoidal_encoding(20, 16)
    ax = plot_positional_encoding(encoding)
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), encoding.numpy())
    with pytest.raises(ValueError, match=r"2-D \(max_len, d_model\).*\(2, 20, 16\)"):
        plot_positional_encoding(encoding[None].expand(2, -1, -1))


def test_plot_position_similarity_shows_every_dot_product():
    encoding = sinusoidal_encoding(20, 16)
    ax = plot_position_similarity(encoding)
    np.testing.assert_allclose(
        ax.get_images()[0].get_array(), (encoding @ encoding.T).numpy(), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="2-D"):
        plot_position_similarity(np.zeros(5))
