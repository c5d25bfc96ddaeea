"""lessons_lib.viz.positional: the lesson 04 explorer, called as plain functions and as a widget."""

import math

import ipywidgets as widgets
import numpy as np
import pytest
import torch

from lessons_lib.positional import sinusoidal_encoding
from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.positional import (
    positional_encoding_data,
    positional_encoding_explorer,
    positional_encoding_view,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("position, dimension", [(0, 0), (7, 1), (30, 10), (63, 63)])
def test_positional_encoding_data_matches_the_formula(position, dimension):
    data = positional_encoding_data(position, dimension, max_len=64, d_model=64)
    pair = dimension // 2
    angle = position / 10000 ** (2 * pair / 64)
    expected = math.sin(angle) if dimension % 2 == 0 else math.cos(angle)
    assert data["value"] == pytest.approx(expected, abs=1e-5)
    assert data["kind"] == ("sin" if dimension % 2 == 0 else "cos")
    assert data["wavelength"] == pytest.approx(2 * math.pi * 10000 ** (2 * pair / 64))
    table = sinusoidal_encoding(64, 64).numpy()
    np.testing.assert_array_equal(data["wave"], table[:, dimension])
    np.testing.assert_array_equal(data["vector"], table[position])
    assert int(np.argmax(data["similarity"])) == position, "a position is most similar to itself"
    assert data["similarity"][position] == pytest.approx(32.0, abs=1e-4)


def test_positional_encoding_data_rejects_out_of_range_indices():
    with pytest.raises(ValueError, match="position=64"):
        positional_encoding_data(64, 0, max_len=64, d_model=64)
    with pytest.raises(ValueError, match="dimension=-1"):
        positional_encoding_data(0, -1, max_len=64, d_model=64)


def test_positional_encoding_view_marks_the_chosen_entry():
    data = positional_encoding_data(12, 5, max_len=32, d_model=16)
    fig = positional_encoding_view(data)
    heatmap, wave, similarity = fig.axes[:3]
    assert "channel 5 = cos" in wave.get_title()
    marker = wave.get_lines()[-1]
    assert marker.get_xdata()[0] == 12 and marker.get_ydata()[0] == pytest.approx(data["value"])
    np.testing.assert_allclose(similarity.get_lines()[0].get_ydata(), data["similarity"])


def test_positional_encoding_explorer_is_a_widget_that_follows_its_sliders(picture):
    explorer = positional_encoding_explorer(max_len=32, d_model=16)
    assert isinstance(explorer, FigureExplorer) and picture(explorer).startswith(PNG_SIGNATURE)
    controls = explorer.controls
    assert isinstance(controls["position"], widgets.IntSlider) and controls["position"].max == 31
    assert isinstance(controls["dimension"], widgets.IntSlider) and controls["dimension"].max == 15
    assert explorer.result["position"] == 8 and explorer.result["dimension"] == 0

    controls["position"].value = 20
    controls["dimension"].value = 3
    table = sinusoidal_encoding(32, 16)
    assert explorer.result["position"] == 20 and explorer.result["dimension"] == 3
    assert explorer.result["value"] == pytest.approx(table[20, 3].item())
    torch.testing.assert_close(torch.from_numpy(explorer.result["vector"]), table[20])


def test_positional_encoding_explorer_checks_its_sizes_up_front():
    with pytest.raises(ValueError, match="max_len=0"):
        positional_encoding_explorer(max_len=0)
