"""lessons_lib.viz.gpt: the lesson 09 sampling explorer shows the model's own next-token distribution,
reshaped by temperature and top-k, and seeded samples; bad prompts are shown, not raised."""

import numpy as np
import pytest
import torch

from lessons_lib.data.characters import CharVocab
from lessons_lib.decoding import next_token_probabilities
from lessons_lib.gpt import GPT, GPTConfig
from lessons_lib.viz.gpt import sampling_data, sampling_explorer, sampling_view

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VOCAB = CharVocab.from_text("abcdefgh ")


def _model():
    torch.manual_seed(0)
    return GPT(GPTConfig.tiny(VOCAB.size)).eval()


def test_sampling_data_is_the_models_next_token_distribution_and_seeded_samples():
    model = _model()
    data = sampling_data(model, VOCAB, "abc", temperature=0.7, top_k=4, num_samples=2, length=10, seed=3)
    with torch.no_grad():
        logits = model(VOCAB.encode("abc")[None])[:, -1]
    np.testing.assert_allclose(data["probabilities"], next_token_probabilities(logits, 0.7, 4)[0].numpy())
    assert (data["probabilities"] > 0).sum() == 4
    assert len(data["samples"]) == 2 and all(len(sample) == 10 for sample in data["samples"])
    again = sampling_data(model, VOCAB, "abc", temperature=0.7, top_k=4, num_samples=2, length=10, seed=3)
    assert again["samples"] == data["samples"]
    greedy = sampling_data(model, VOCAB, "abc", temperature=0.0, top_k=9, num_samples=2, length=10)
    assert greedy["samples"][0] == greedy["samples"][1], "greedy decoding has one answer"
    assert sampling_view(data).axes[0].get_title().startswith("next character after 'abc'")


def test_an_unknown_character_or_an_empty_prompt_is_shown_in_the_explorer():
    explorer = sampling_explorer(_model(), VOCAB, prompt="abc", length=10)
    explorer.controls["prompt"].value = "xyz"
    assert explorer.result is None and "outside the vocabulary" in explorer.message.value
    explorer.controls["prompt"].value = ""
    assert "at least one character" in explorer.message.value
    explorer.controls["prompt"].value = "bad"
    assert explorer.result["prompt"] == "bad" and explorer.message.value == ""
