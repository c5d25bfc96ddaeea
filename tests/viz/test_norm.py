"""lessons_lib.viz.norm: the lesson 03 explorer, called as plain functions and as a widget."""

import ipywidgets as widgets
import numpy as np
import pytest

from lessons_lib.norm import ARRANGEMENTS
from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.norm import (
    add_norm_explorer,
    add_norm_stack_data,
    add_norm_stack_view,
    norm_axes_masks,
    plot_norm_axes,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_add_norm_stack_data_measures_every_arrangement_per_layer():
    stats = add_norm_stack_data(depth=12, gain=0.8, sublayer="linear", d_model=32)
    assert list(stats) == list(ARRANGEMENTS)
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


def test_add_norm_explorer_is_a_widget_that_recomputes_on_change(picture):
    explorer = add_norm_explorer(depth=8, gain=0.8)
    assert isinstance(explorer, FigureExplorer) and picture(explorer).startswith(PNG_SIGNATURE)
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


def test_norm_axes_masks_mark_the_entries_behind_one_mean():
    masks = norm_axes_masks((3, 4, 6), token=(2, 0), channel=3)
    layer, batch = masks["LayerNorm"], masks["BatchNorm"]
    assert layer.shape == batch.shape == (3, 4, 6)
    assert layer.sum() == 6 and layer[2, 0].all(), "LayerNorm: the C channels of one token"
    assert batch.sum() == 3 * 4 and batch[:, :, 3].all(), "BatchNorm: one channel of all B x T tokens"
    with pytest.raises(ValueError, match="inside the shape"):
        norm_axes_masks((3, 4, 6), token=(3, 0))


def test_plot_norm_axes_draws_two_blocks_with_the_counts_in_their_titles():
    fig = plot_norm_axes((2, 3, 5), token=(1, 0), channel=0)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 2 and "6 means" in titles[0] and "5 means" in titles[1]
    assert all(ax.name == "3d" for ax in fig.axes)
