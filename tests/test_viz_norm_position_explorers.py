"""The lesson 03 and 04 pictures and explorers of lessons_lib.viz, called as plain functions."""

import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lessons_lib.norm import STACK_ARRANGEMENTS
from lessons_lib.positional import sinusoidal_encoding
from lessons_lib.viz import (
    FigureExplorer,
    add_norm_explorer,
    add_norm_stack_data,
    add_norm_stack_view,
    plot_position_similarity,
    plot_positional_encoding,
    positional_encoding_data,
    positional_encoding_explorer,
    positional_encoding_view,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _picture(explorer):
    return bytes(explorer.image.value)  # the widget hands its bytes back as a memoryview


# The explorer widget itself


def test_figure_explorer_redraws_when_a_control_changes():
    calls = []

    def view(scale, label):
        calls.append((scale, label))
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, scale])
        return fig, {"scale": scale, "label": label}

    slider = widgets.IntSlider(value=1, min=0, max=5, description="scale")
    dropdown = widgets.Dropdown(options=["a", "b"], value="a", description="label")
    explorer = FigureExplorer(view, {"scale": slider, "label": dropdown})
    assert isinstance(explorer, widgets.VBox) and isinstance(explorer.image, widgets.Image)
    assert calls == [(1, "a")], "drawn once, with the starting values, when built"
    first_picture = _picture(explorer)
    assert first_picture.startswith(PNG_SIGNATURE)

    slider.value = 4
    dropdown.value = "b"
    assert calls == [(1, "a"), (4, "a"), (4, "b")]
    assert explorer.result == {"scale": 4, "label": "b"}
    assert _picture(explorer).startswith(PNG_SIGNATURE) and _picture(explorer) != first_picture
    assert plt.get_fignums() == [], "each drawn figure is closed once it is rendered"


# Lesson 03: the deep stack, wired four ways


def test_add_norm_stack_data_measures_every_arrangement_per_layer():
    stats = add_norm_stack_data(depth=12, gain=0.8, sublayer="linear", d_model=32)
    assert list(stats) == list(STACK_ARRANGEMENTS)
    for series in stats.values():
        assert series["activation_std"].shape == (12,) and series["gradient_norm"].shape == (12,)
        assert np.isfinite(series["activation_std"]).all()
    np.testing.assert_allclose(stats["post-norm"]["activation_std"], 1.0, atol=1e-3)
    plain, residual = stats["plain"]["activation_std"], stats["residual"]["activation_std"]
    assert (np.diff(plain) < 0).all(), "a plain stack of gain 0.8 shrinks at every layer"
    assert (np.diff(residual) > 0).all(), "a residual-only stack grows at every layer"


def test_add_norm_stack_data_is_deterministic_and_depends_on_the_gain():
    first = add_norm_stack_data(depth=8, gain=1.5, d_model=32, seed=3)
    again = add_norm_stack_data(depth=8, gain=1.5, d_model=32, seed=3)
    np.testing.assert_array_equal(first["pre-norm"]["gradient_norm"], again["pre-norm"]["gradient_norm"])
    assert first["plain"]["activation_std"][-1] > 1.5**8 / 3, "gain 1.5 explodes the plain stack"
    small = add_norm_stack_data(depth=8, gain=0.5, d_model=32, seed=3)
    assert small["plain"]["activation_std"][-1] < 0.5**8 * 3


def test_add_norm_stack_data_with_attention_sublayers():
    stats = add_norm_stack_data(depth=6, gain=0.8, sublayer="attention", d_model=32)
    assert stats["plain"]["activation_std"][-1] < 0.1 < stats["pre-norm"]["activation_std"][-1]
    np.testing.assert_allclose(stats["post-norm"]["activation_std"], 1.0, atol=1e-3)


def test_add_norm_stack_data_rejects_an_unknown_sublayer():
    with pytest.raises(ValueError, match="kind"):
        add_norm_stack_data(depth=4, sublayer="convolution")


def test_add_norm_stack_view_draws_two_log_panels_and_flags_overflow():
    stats = add_norm_stack_data(depth=6, d_model=32)
    stats["residual"]["gradient_norm"][0] = np.inf  # as float32 overflow would leave it
    fig = add_norm_stack_view(stats, title="test")
    activations, gradients = fig.axes[:2]
    assert activations.get_yscale() == gradients.get_yscale() == "log"
    labels = [text.get_text() for text in gradients.get_legend().get_texts()]
    assert "residual (overflow: not drawn)" in labels and "pre-norm" in labels
    residual_line = next(line for line in gradients.get_lines() if line.get_label().startswith("residual"))
    assert len(residual_line.get_xdata()) == 5, "the non-finite point is left out"


def test_add_norm_explorer_is_a_widget_that_recomputes_on_change():
    explorer = add_norm_explorer(depth=8, gain=0.8)
    assert isinstance(explorer, FigureExplorer) and _picture(explorer).startswith(PNG_SIGNATURE)
    controls = explorer.controls
    assert isinstance(controls["depth"], widgets.IntSlider)
    assert isinstance(controls["gain"], widgets.FloatSlider)
    assert isinstance(controls["sublayer"], widgets.Dropdown)
    assert explorer.result["plain"]["activation_std"].shape == (8,)

    controls["depth"].value = 12
    assert explorer.result["plain"]["activation_std"].shape == (12,)
    np.testing.assert_allclose(
        explorer.result["pre-norm"]["activation_std"],
        add_norm_stack_data(depth=12, gain=0.8)["pre-norm"]["activation_std"],
    )
    controls["gain"].value = 1.5
    assert explorer.result["plain"]["activation_std"][-1] > 1.0, "gain 1.5 explodes the plain stack"
    controls["sublayer"].value = "attention"
    np.testing.assert_allclose(
        explorer.result["plain"]["activation_std"],
        add_norm_stack_data(depth=12, gain=1.5, sublayer="attention")["plain"]["activation_std"],
    )


# Lesson 04: the sinusoidal encoding


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


def test_positional_encoding_explorer_is_a_widget_that_follows_its_sliders():
    explorer = positional_encoding_explorer(max_len=32, d_model=16)
    assert isinstance(explorer, FigureExplorer) and _picture(explorer).startswith(PNG_SIGNATURE)
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
