"""lessons_lib.viz.multihead: the lesson 02 explorer, called as plain functions and as a widget."""

import ipywidgets as widgets
import numpy as np
import pytest
import torch

from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.multihead import head_data, head_explorer, head_view


@pytest.fixture
def head_weights():
    """(H=4, Tq=3, Tk=5): head 0 uniform, head 1 one-hot, heads 2 and 3 random softmax rows."""
    generator = torch.Generator().manual_seed(1)
    uniform = torch.full((1, 3, 5), 0.2)
    one_hot = torch.zeros(1, 3, 5)
    one_hot[0, :, 2] = 1.0
    random_rows = torch.softmax(torch.randn(2, 3, 5, generator=generator), dim=-1)
    return torch.cat([uniform, one_hot, random_rows])


def test_head_data_measures_how_spread_each_head_is(head_weights):
    data = head_data(head_weights, 1)
    np.testing.assert_array_equal(data["weights"], head_weights[1].numpy())
    assert data["head"] == 1
    assert data["entropy"].shape == (4,)
    np.testing.assert_allclose(data["entropy"][0], np.log(5), rtol=1e-6)  # uniform rows
    np.testing.assert_allclose(data["entropy"][1], 0.0, atol=1e-12)  # one-hot rows
    assert 0.0 < data["entropy"][2] < np.log(5)


def test_head_data_rejects_bad_input(head_weights):
    with pytest.raises(ValueError, match="head=4"):
        head_data(head_weights, 4)
    with pytest.raises(ValueError, match=r"\(1, 4, 3, 5\)"):
        head_data(head_weights[None], 0)


def test_head_view_highlights_the_chosen_head(head_weights):
    fig = head_view(head_weights, 2, ["a", "b", "c"], list("vwxyz"))
    heatmap, bars = fig.axes[:2]
    assert heatmap.get_title() == "head 2"
    np.testing.assert_allclose(heatmap.images[0].get_array(), head_weights[2].numpy())
    colors = [patch.get_facecolor() for patch in bars.patches]
    assert colors[2] != colors[0] and colors[0] == colors[1] == colors[3]


def test_head_explorer_follows_the_dropdown(head_weights):
    explorer = head_explorer(head_weights, ["a", "b", "c"], list("vwxyz"))
    assert isinstance(explorer, FigureExplorer)
    dropdown = explorer.controls["head"]
    assert isinstance(dropdown, widgets.Dropdown)
    assert len(dropdown.options) == 4
    assert explorer.result["head"] == 0
    dropdown.value = 3
    assert explorer.result["head"] == 3
    np.testing.assert_array_equal(explorer.result["weights"], head_weights[3].numpy())
    with pytest.raises(ValueError, match="3-D"):
        head_explorer(head_weights[0])
