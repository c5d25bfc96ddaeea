"""lessons_lib.viz.explorer: the one explorer class, and every lesson's explorer built from it.

Every explorer in lessons_lib.viz is a `FigureExplorer`, reached the same way: its controls by
name in `explorer.controls`, the numbers it shows in `explorer.result`, the picture (PNG) in
`explorer.image.value`. Moving any control redraws both.
"""

import dataclasses
import importlib
import inspect
import pkgutil

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import lessons_lib.viz
from lessons_lib.data.digits import to_patches
from lessons_lib.ssl import Inpainter, PatchEncoderConfig, mean_fill
from lessons_lib.transformer import Transformer, TransformerConfig
from lessons_lib.viz.attention import query_explorer, softmax_saturation_explorer
from lessons_lib.viz.bert import SentenceAttention, attention_map_explorer
from lessons_lib.viz.explorer import FigureExplorer
from lessons_lib.viz.gpt import sampling_explorer
from lessons_lib.viz.multihead import head_explorer
from lessons_lib.viz.norm import add_norm_explorer
from lessons_lib.viz.positional import positional_encoding_explorer
from lessons_lib.viz.ssl import inpainting_explorer
from lessons_lib.viz.transfer import layer_probe_explorer
from lessons_lib.viz.translation import translation_explorer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _line_view(scale, label):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, scale])
    ax.set_title(label)
    return fig, {"scale": scale, "label": label}


# The explorer widget itself


def test_figure_explorer_redraws_when_a_control_changes(picture):
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
    first_picture = picture(explorer)
    assert first_picture.startswith(PNG_SIGNATURE)

    slider.value = 4
    dropdown.value = "b"
    assert calls == [(1, "a"), (4, "a"), (4, "b")]
    assert explorer.result == {"scale": 4, "label": "b"}
    assert picture(explorer).startswith(PNG_SIGNATURE) and picture(explorer) != first_picture
    assert plt.get_fignums() == [], "each drawn figure is closed once it is rendered"


def test_figure_explorer_shows_the_errors_it_is_told_to_and_raises_the_others(picture):
    def view(scale, label):
        if scale == 0:
            raise ValueError("scale=0 draws nothing <here>")
        if scale == 5:
            raise RuntimeError("a bug in the view")
        return _line_view(scale, label)

    slider = widgets.IntSlider(value=1, min=0, max=5)
    explorer = FigureExplorer(view, {"scale": slider, "label": widgets.Text(value="a")},
                              shown_errors=(ValueError,))
    assert explorer.values() == {"scale": 1, "label": "a"} and explorer.message.value == ""
    slider.value = 0
    assert explorer.result is None
    assert explorer.message.value == "<b>scale=0 draws nothing &lt;here&gt;</b>", "shown, as text"
    assert explorer.image.layout.display == "none"
    slider.value = 2
    assert explorer.result == {"scale": 2, "label": "a"} and explorer.message.value == ""
    assert explorer.image.layout.display is None and picture(explorer).startswith(PNG_SIGNATURE)
    with pytest.raises(RuntimeError, match="a bug"):
        slider.value = 5
    with pytest.raises(ValueError, match="scale=0"):
        FigureExplorer(view, {"scale": widgets.IntSlider(value=0), "label": widgets.Text()})


def test_figure_explorer_needs_named_controls_with_values():
    with pytest.raises(ValueError, match="at least one control"):
        FigureExplorer(_line_view, {})
    with pytest.raises(ValueError, match="control 'label' must be a widget with a value, got Button"):
        FigureExplorer(_line_view, {"scale": widgets.IntSlider(), "label": widgets.Button()})


# Every lesson's explorer follows the protocol


@pytest.fixture(scope="module")
def two_layer_model(corpus):
    """An untrained translator with two decoder layers, so that the layer dropdown has a choice."""
    torch.manual_seed(0)
    config = TransformerConfig.tiny(len(corpus.src_vocab), len(corpus.tgt_vocab))
    return Transformer(dataclasses.replace(config, num_decoder_layers=2)).eval()


def _inpainting():
    torch.manual_seed(0)
    images = torch.rand(6, 8, 8, generator=torch.Generator().manual_seed(1))
    model = Inpainter(PatchEncoderConfig.tiny()).eval()
    return inpainting_explorer(model, images, mean_fill(to_patches(images), 1)[0])


def _attention_maps():
    generator = torch.Generator().manual_seed(0)
    maps = [SentenceAttention(["[CLS]", *words, "[SEP]"],
                              torch.softmax(torch.randn(2, 3, len(words) + 2, len(words) + 2, generator=generator),
                                            dim=-1).numpy())
            for words in (["i", "go", "home"], ["attention", "is", "all", "you", "need"])]
    return attention_map_explorer(maps)


def _layer_probe():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(40) % 2
    layers = [torch.randn(40, 4, generator=generator) + labels[:, None] for _ in range(3)]
    return layer_probe_explorer({"encoder": (layers, layers)}, labels, labels, per_class=3, max_per_class=20)


def _sampling():
    from lessons_lib.data.characters import CharVocab
    from lessons_lib.gpt import GPT, GPTConfig

    vocab = CharVocab.from_text("the cat sat on a mat")
    torch.manual_seed(0)
    return sampling_explorer(GPT(GPTConfig.tiny(vocab.size)).eval(), vocab, prompt="the ", length=20)


def _attention():
    generator = torch.Generator().manual_seed(0)
    weights = torch.softmax(torch.randn(3, 3, generator=generator), dim=-1)
    return weights, torch.randn(3, 4, generator=generator)


# name -> a function that builds the explorer (small sizes), and values for the controls that
# cannot be moved blindly (a Text box)
EXPLORERS = {
    "query_explorer": (lambda corpus, model: query_explorer(*_attention(), ["I", "go", "home"]), {}),
    "softmax_saturation_explorer": (lambda corpus, model: softmax_saturation_explorer((4, 64, 1024)), {}),
    "head_explorer": (
        lambda corpus, model: head_explorer(torch.softmax(torch.randn(4, 3, 5), dim=-1)), {}
    ),
    "add_norm_explorer": (lambda corpus, model: add_norm_explorer(depth=8), {}),
    "positional_encoding_explorer": (
        lambda corpus, model: positional_encoding_explorer(max_len=32, d_model=16), {}
    ),
    "inpainting_explorer": (lambda corpus, model: _inpainting(), {}),
    "layer_probe_explorer": (lambda corpus, model: _layer_probe(), {}),
    "attention_map_explorer": (lambda corpus, model: _attention_maps(), {}),
    "sampling_explorer": (lambda corpus, model: _sampling(), {"prompt": "a cat"}),
    "translation_explorer": (
        lambda corpus, model: translation_explorer(model, corpus.src_vocab, corpus.tgt_vocab),
        {"sentence": "the teacher reads a book at school"},
    ),
}


def _explorer_functions() -> set[str]:
    """The name of every `*_explorer` function defined in a module of lessons_lib.viz."""
    names = set()
    for info in pkgutil.iter_modules(lessons_lib.viz.__path__):
        module = importlib.import_module(f"lessons_lib.viz.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.endswith("_explorer") and function.__module__ == module.__name__:
                names.add(name)
    return names


def test_every_explorer_of_every_lesson_is_checked_here():
    assert _explorer_functions() == set(EXPLORERS), "add a new explorer to EXPLORERS above"


def _move(control: widgets.ValueWidget, value=None) -> None:
    """Move a control as a learner would: the next option of a dropdown, a step of a slider."""
    if value is not None:
        control.value = value
    elif isinstance(control, widgets.Dropdown | widgets.SelectionSlider):
        control.index = (control.index + 1) % len(control.options)
    elif isinstance(control, widgets.IntSlider | widgets.FloatSlider):
        up = control.value + control.step
        control.value = up if up <= control.max else control.value - control.step
    else:
        raise AssertionError(f"give {type(control).__name__} a value to move to in EXPLORERS")


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_every_explorer_is_a_figure_explorer_whose_controls_all_redraw_it(
    name, corpus, two_layer_model, picture
):
    build, values = EXPLORERS[name]
    explorer = build(corpus, two_layer_model)
    assert isinstance(explorer, FigureExplorer)
    assert explorer.controls, f"{name} has no controls"
    assert all(isinstance(control, widgets.ValueWidget) for control in explorer.controls.values())
    assert explorer.values() == {key: control.value for key, control in explorer.controls.items()}
    assert explorer.result is not None and picture(explorer).startswith(PNG_SIGNATURE)
    for key, control in explorer.controls.items():
        before_value, before_result, before_picture = control.value, explorer.result, picture(explorer)
        _move(control, values.get(key))
        assert control.value != before_value, f"{name}: control {key!r} did not move"
        assert explorer.result is not None and explorer.message.value == ""
        assert not _same(explorer.result, before_result), f"{name}: moving {key!r} changed no number"
        assert picture(explorer) != before_picture, f"{name}: moving {key!r} changed no picture"
