"""lessons_lib.viz.ssl: the lesson 06 figures and explorer, called as plain functions and as a widget."""

import numpy as np
import pytest
import torch

from lessons_lib.data.digits import from_patches, load_digits, to_patches
from lessons_lib.ssl import (
    Inpainter,
    PatchEncoderConfig,
    hidden_patch_loss,
    mask_patches,
    mean_fill,
)
from lessons_lib.viz.ssl import (
    block_at,
    fill_in,
    inpainting_data,
    inpainting_explorer,
    inpainting_grid_view,
    inpainting_view,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setup():
    digits = load_digits(num_test=20, seed=0)
    torch.manual_seed(0)
    model = Inpainter(PatchEncoderConfig.tiny()).eval()
    mean_patches = mean_fill(to_patches(digits.train.images), 1)[0]  # (N, P)
    return model, digits.test.images, mean_patches


def test_block_at_places_the_square():
    hidden = block_at(4, 1, 2, 2).reshape(4, 4)
    assert hidden.sum() == 4 and hidden[1:3, 2:4].all()
    with pytest.raises(ValueError, match="does not fit"):
        block_at(4, 3, 0, 2)


def test_fill_in_keeps_the_visible_pixels_and_predicts_the_hidden(setup):
    model, images, _ = setup
    hidden = block_at(4, 0, 0, 2)[None].expand(3, 16)
    filled = fill_in(model, images[:3], hidden)
    patches, filled_patches = to_patches(images[:3]), to_patches(filled)
    torch.testing.assert_close(filled_patches[~hidden], patches[~hidden])
    with torch.no_grad():
        torch.testing.assert_close(filled_patches[hidden], model(mask_patches(patches, hidden), hidden)[hidden])


def test_inpainting_data_measures_the_model_and_the_mean_on_the_hidden_pixels(setup):
    model, images, mean_patches = setup
    data = inpainting_data(model, images, mean_patches, index=4, top=1, left=1)
    assert data["hidden_pixels"].sum() == 16 and data["hidden_pixels"][2:6, 2:6].all()
    np.testing.assert_array_equal(data["true"], images[4].numpy())
    np.testing.assert_array_equal(data["model"][~data["hidden_pixels"]], data["true"][~data["hidden_pixels"]])
    hidden = block_at(4, 1, 1, 2)[None]
    expected = hidden_patch_loss(mean_patches[None], to_patches(images[4:5]), hidden).item()
    assert data["mean_fill_error"] == pytest.approx(expected)
    assert data["model_error"] >= 0
    np.testing.assert_array_equal(from_patches(to_patches(images[4:5]))[0].numpy(), data["true"])
    with pytest.raises(ValueError, match="index"):
        inpainting_data(model, images, mean_patches, index=20, top=0, left=0)


def test_views_draw_their_panels(setup):
    model, images, mean_patches = setup
    fig = inpainting_view(inpainting_data(model, images, mean_patches, 0, 0, 0))
    assert len(fig.axes) == 4 and "mean fill" in fig.axes[2].get_title()
    grid = inpainting_grid_view(images[:5], images[:5], images[:5], title="t")
    assert len(grid.axes) == 15 and grid.axes[0].get_ylabel() == "masked"


def test_inpainting_explorer_redraws_for_each_control(setup, picture):
    model, images, mean_patches = setup
    explorer = inpainting_explorer(model, images, mean_patches, index=2)
    assert explorer.result["index"] == 2
    first = picture(explorer)
    explorer.controls["row"].value = 2
    assert explorer.result["hidden_pixels"][4:8, 0:4].all() and picture(explorer) != first
    assert explorer.controls["index"].max == len(images) - 1
