"""lessons_lib.viz.bert: attention maps of a BERT, sentence by sentence, and their explorer."""

import numpy as np
import pytest
import torch

from lessons_lib.bert import Bert, BertConfig
from lessons_lib.data.text import minilm_tokenizer
from lessons_lib.viz.bert import attention_map_data, attention_map_explorer, sentence_attention


@pytest.fixture(scope="module")
def maps():
    torch.manual_seed(0)
    tokenizer = minilm_tokenizer()
    model = Bert(BertConfig(vocab_size=tokenizer.vocab_size, d_model=32, num_heads=4, num_layers=2, d_ff=64))
    return sentence_attention(model, tokenizer, ["I go home", "The cat sat on the mat."])


def test_sentence_attention_keeps_every_layer_and_head_of_each_sentence(maps):
    assert [m.tokens for m in maps] == [["[CLS]", "i", "go", "home", "[SEP]"],
                                        ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]]
    assert maps[0].weights.shape == (2, 4, 5, 5) and maps[1].weights.shape == (2, 4, 9, 9)
    np.testing.assert_allclose(maps[1].weights.sum(-1), 1.0, atol=1e-5)


def test_attention_map_data_finds_where_each_token_looks_and_refuses_a_bad_head(maps):
    data = attention_map_data(maps, sentence=0, layer=1, head=2)
    matrix = maps[0].weights[1, 2]
    assert data["looks_at"][1] == maps[0].tokens[int(np.argmax(np.where(np.eye(5), -1, matrix)[1]))]
    assert data["on_cls_sep"] == pytest.approx(float((matrix[:, 0] + matrix[:, 4]).mean()))
    with pytest.raises(ValueError, match="head=4 must be in"):
        attention_map_data(maps, sentence=0, layer=0, head=4)


def test_the_explorer_starts_where_it_is_told(maps):
    explorer = attention_map_explorer(maps, sentence=1, layer=1, head=3)
    assert explorer.values() == {"sentence": 1, "layer": 1, "head": 3}
    np.testing.assert_array_equal(explorer.result["weights"], maps[1].weights[1, 3])
