"""lessons_lib.viz.transfer: the lesson 07 layer-probe figure and explorer."""

import numpy as np
import pytest
import torch

from lessons_lib.data.digits import per_class_indices
from lessons_lib.transfer import linear_probe
from lessons_lib.viz.transfer import layer_probe_data, layer_probe_explorer, layer_probe_view

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def toy_features(seed=0):
    """Two 'encoders' of three layers: one whose layers lose the class, one that keeps it."""
    generator = torch.Generator().manual_seed(seed)
    train_labels, test_labels = torch.arange(90) % 3, torch.arange(60) % 3

    def layers(labels, fading):
        signal = torch.nn.functional.one_hot(labels, 6).float() * 3
        return [torch.randn(len(labels), 6, generator=generator) + signal * (0.3**i if fading else 1)
                for i in range(3)]

    return {
        "fading": (layers(train_labels, True), layers(test_labels, True)),
        "keeping": (layers(train_labels, False), layers(test_labels, False)),
    }, train_labels, test_labels


def test_layer_probe_data_is_the_probe_of_each_layer():
    features, train_labels, test_labels = toy_features()
    accuracies = layer_probe_data(features, train_labels, test_labels, per_class=10, seed=0)
    assert set(accuracies) == {"fading", "keeping"} and accuracies["fading"].shape == (3,)
    rows = per_class_indices(train_labels, 10, seed=0)
    train, test = features["fading"]
    expected = linear_probe(train[1][rows], train_labels[rows], test[1], test_labels).test_accuracy
    assert accuracies["fading"][1] == expected
    assert accuracies["fading"][2] < accuracies["keeping"][2]
    with pytest.raises(ValueError, match="layers of training features"):
        layer_probe_data({"bad": (train, test[:2])}, train_labels, test_labels, 5)


def test_layer_probe_view_labels_the_layers():
    fig = layer_probe_view({"a": np.array([0.5, 0.9, 0.7])}, title="t", chance=0.2)
    labels = [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    assert labels == ["embedding", "layer 1", "layer 2"]


def test_layer_probe_explorer_redraws_with_more_labels(picture):
    features, train_labels, test_labels = toy_features()
    explorer = layer_probe_explorer(features, train_labels, test_labels, per_class=2, max_per_class=30)
    first, first_picture = explorer.result, picture(explorer)
    explorer.controls["per_class"].value = 20
    assert not np.array_equal(first["fading"], explorer.result["fading"]) and picture(explorer) != first_picture
