"""lessons_lib.transformer: parity with torch.nn, no leakage from the future, padding."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib.attention import causal_mask
from lessons_lib.transformer import (
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    FeedForward,
    Transformer,
    TransformerConfig,
    init_embedding,
)

D_MODEL, NUM_HEADS, D_FF = 16, 4, 32
PAD, SOS, EOS = 0, 1, 2


def _torch_encoder_layer(seed=0, **kwargs):
    torch.manual_seed(seed)
    options = {"dropout": 0.0, "batch_first": True} | kwargs
    return nn.TransformerEncoderLayer(D_MODEL, NUM_HEADS, D_FF, **options).eval()


def _torch_decoder_layer(seed=0, **kwargs):
    torch.manual_seed(seed)
    options = {"dropout": 0.0, "batch_first": True} | kwargs
    return nn.TransformerDecoderLayer(D_MODEL, NUM_HEADS, D_FF, **options).eval()


def _key_padding(lengths, T):
    """torch's key_padding_mask: True = padding (may NOT attend), (B, T)."""
    return torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]


def _model(seed=0, **overrides):
    torch.manual_seed(seed)
    config = TransformerConfig.tiny(src_vocab_size=11, tgt_vocab_size=13, pad_id=PAD)
    if overrides:
        config = TransformerConfig(**(vars(config) | overrides))
    return Transformer(config).eval()


# ----- configuration and bad input ------------------------------------------------------------


def test_config_rejects_heads_that_do_not_divide_d_model():
    with pytest.raises(ValueError, match="d_model=30 is not divisible by num_heads=4"):
        TransformerConfig(10, 10, d_model=30, num_heads=4)


@pytest.mark.parametrize("field, value", [("dropout", 1.0), ("pad_id", 10), ("max_len", 0),
                                          ("d_ff", 2.5)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        TransformerConfig(10, 12, **{field: value})


def test_stacks_and_feed_forward_reject_empty_sizes():
    with pytest.raises(ValueError, match="num_layers must be a positive int, got 0"):
        Encoder(0, D_MODEL, NUM_HEADS, D_FF)
    with pytest.raises(ValueError, match="num_layers"):
        Decoder(0, D_MODEL, NUM_HEADS, D_FF)
    with pytest.raises(ValueError, match="d_ff must be a positive int, got 0"):
        FeedForward(D_MODEL, 0)


def test_model_rejects_ids_outside_the_vocabulary_and_float_ids():
    model = _model()
    with pytest.raises(ValueError, match=r"src holds ids in \[0, 11\]"):
        model(torch.tensor([[0, 11]]), torch.tensor([[SOS]]))
    with pytest.raises(ValueError, match="tgt must be a 2-D"):
        model(torch.tensor([[3, 4]]), torch.tensor([[1.0]]))
    with pytest.raises(ValueError, match="same batch size"):
        model(torch.tensor([[3, 4]]), torch.tensor([[SOS], [SOS]]))


# ----- parity with torch.nn, weights copied ----------------------------------------------------


def test_feed_forward_is_relu_between_two_linear_maps():
    torch.manual_seed(0)
    ffn = FeedForward(D_MODEL, D_FF)
    x = torch.randn(2, 5, D_MODEL)
    expected = torch.relu(x @ ffn.W_1.weight.T + ffn.W_1.bias) @ ffn.W_2.weight.T + ffn.W_2.bias
    torch.testing.assert_close(ffn(x), expected)


def test_embeddings_start_at_std_one_over_sqrt_d_model_so_scaled_tokens_match_the_positions():
    model = _model(seed=0, d_model=64, num_heads=4, src_vocab_size=2000)
    table = model.src_embedding.weight.detach()
    assert torch.equal(table[PAD], torch.zeros(64)), "the padding row stays zero"
    assert abs(table[1:].std().item() - 64**-0.5) < 0.01
    tokens = model._embed(model.src_embedding, torch.arange(1, 2000)[None, :32]) - model.positional.pe[:32]
    assert 0.8 < tokens.pow(2).mean().sqrt().item() < 1.2, "times sqrt(d_model), the tokens have RMS 1"
    embedding = nn.Embedding(5, 8)  # no padding row
    init_embedding(embedding, 8)
    assert embedding.weight.abs().min() > 0


@pytest.mark.parametrize("mode", ["eval", "train"])  # eval may take torch's fused fast path
def test_encoder_layer_matches_torch_with_key_padding(mode):
    reference = _torch_encoder_layer().train(mode == "train")
    ours = EncoderLayer.from_torch(reference).train(mode == "train")
    x = torch.randn(3, 7, D_MODEL)
    padding = _key_padding([7, 4, 2], 7)
    expected = reference(x, src_key_padding_mask=padding)
    actual = ours(x, mask=~padding[:, None, None, :])  # (B, T) -> (B, 1, 1, T), True = attend
    real = ~padding  # the fast path may leave padded rows undefined; compare the real tokens
    torch.testing.assert_close(actual[real], expected[real], atol=1e-5, rtol=1e-5)


def test_encoder_layer_matches_torch_with_a_causal_mask():
    reference = _torch_encoder_layer(seed=1)
    ours = EncoderLayer.from_torch(reference).eval()
    x = torch.randn(2, 6, D_MODEL)
    expected = reference(x, src_mask=~causal_mask(6))  # torch: True = NOT allowed
    torch.testing.assert_close(ours(x, mask=causal_mask(6)), expected, atol=1e-5, rtol=1e-5)


def test_decoder_layer_matches_torch_with_causal_mask_and_key_padding():
    reference = _torch_decoder_layer(seed=2)
    ours = DecoderLayer.from_torch(reference).eval()
    x, memory = torch.randn(3, 5, D_MODEL), torch.randn(3, 7, D_MODEL)
    tgt_padding, memory_padding = _key_padding([5, 3, 4], 5), _key_padding([7, 4, 2], 7)
    expected = reference(x, memory, tgt_mask=~causal_mask(5), tgt_key_padding_mask=tgt_padding,
                         memory_key_padding_mask=memory_padding)
    tgt_mask = causal_mask(5) & ~tgt_padding[:, None, None, :]  # (T, T) & (B, 1, 1, T)
    actual = ours(x, memory, tgt_mask=tgt_mask, memory_mask=~memory_padding[:, None, None, :])
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_decoder_layer_parity_holds_without_bias_and_with_other_eps():
    reference = _torch_decoder_layer(seed=3, bias=False, layer_norm_eps=1e-3)
    ours = DecoderLayer.from_torch(reference).eval()
    assert ours.add_norm_3.norm.eps == 1e-3 and ours.feed_forward.W_1.bias is None
    x, memory = torch.randn(2, 4, D_MODEL), torch.randn(2, 6, D_MODEL)
    expected = reference(x, memory, tgt_mask=~causal_mask(4))
    torch.testing.assert_close(ours(x, memory, tgt_mask=causal_mask(4)), expected,
                               atol=1e-5, rtol=1e-5)


def test_stacks_match_torch_stacks_of_the_same_layers():
    torch.manual_seed(4)
    encoder_ref = nn.TransformerEncoder(_torch_encoder_layer(seed=4), num_layers=2,
                                        enable_nested_tensor=False).eval()
    decoder_ref = nn.TransformerDecoder(_torch_decoder_layer(seed=5), num_layers=2).eval()
    encoder = Encoder(2, D_MODEL, NUM_HEADS, D_FF)
    encoder.layers = nn.ModuleList(EncoderLayer.from_torch(layer) for layer in encoder_ref.layers)
    decoder = Decoder(2, D_MODEL, NUM_HEADS, D_FF)
    decoder.layers = nn.ModuleList(DecoderLayer.from_torch(layer) for layer in decoder_ref.layers)
    src, tgt = torch.randn(2, 6, D_MODEL), torch.randn(2, 4, D_MODEL)
    memory = encoder(src)
    torch.testing.assert_close(memory, encoder_ref(src), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(decoder(tgt, memory, tgt_mask=causal_mask(4)),
                               decoder_ref(tgt, memory, tgt_mask=~causal_mask(4)),
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("options, message", [
    ({"batch_first": False}, "batch_first=True"),
    ({"norm_first": True}, "post-norm"),
    ({"activation": "gelu"}, "ReLU"),
])
def test_from_torch_refuses_layers_it_cannot_copy(options, message):
    with pytest.raises(ValueError, match=message):
        DecoderLayer.from_torch(_torch_decoder_layer(**options))
    with pytest.raises(ValueError, match="TransformerEncoderLayer"):
        EncoderLayer.from_torch(_torch_decoder_layer())


# ----- masking -----------------------------------------------------------------------------------


def test_masked_self_attention_gives_future_positions_exactly_zero_weight():
    torch.manual_seed(0)
    layer = DecoderLayer(D_MODEL, NUM_HEADS, D_FF).eval()
    x, memory = torch.randn(2, 6, D_MODEL), torch.randn(2, 3, D_MODEL)
    _, self_weights, cross_weights = layer(x, memory, tgt_mask=causal_mask(6), need_weights=True)
    assert self_weights.shape == (2, NUM_HEADS, 6, 6) and cross_weights.shape == (2, NUM_HEADS, 6, 3)
    future = ~causal_mask(6)
    assert torch.all(self_weights[..., future] == 0.0)
    assert torch.all(self_weights[..., ~future] > 0.0)
    torch.testing.assert_close(self_weights.sum(-1), torch.ones(2, NUM_HEADS, 6))


def test_a_fully_masked_row_gives_no_nan():
    torch.manual_seed(0)
    layer = DecoderLayer(D_MODEL, NUM_HEADS, D_FF).eval()
    x, memory = torch.randn(2, 4, D_MODEL), torch.randn(2, 3, D_MODEL)
    memory_mask = torch.tensor([[True, True, False], [False, False, False]])[:, None, None, :]
    out, _, cross_weights = layer(x, memory, causal_mask(4), memory_mask, need_weights=True)
    assert torch.isfinite(out).all()
    assert torch.all(cross_weights[1] == 0.0)  # the second sentence may read no source word


def test_no_leakage_later_target_tokens_never_change_earlier_outputs():
    model = _model(seed=1)
    generator = torch.Generator().manual_seed(0)
    src = torch.randint(3, 11, (4, 6), generator=generator)
    tgt = torch.randint(3, 13, (4, 8), generator=generator)
    logits = model(src, tgt)
    for t in range(tgt.shape[1] - 1):
        changed = tgt.clone()
        changed[:, t + 1:] = torch.randint(3, 13, changed[:, t + 1:].shape, generator=generator)
        new_logits = model(src, changed)
        torch.testing.assert_close(new_logits[:, : t + 1], logits[:, : t + 1], atol=1e-6, rtol=0)
        assert not torch.allclose(new_logits[:, t + 1:], logits[:, t + 1:])  # later ones change


def test_the_leakage_check_fails_without_the_causal_mask():
    """The check above can fail: drop the mask and a future token changes an earlier output."""
    torch.manual_seed(0)
    layer = DecoderLayer(D_MODEL, NUM_HEADS, D_FF).eval()
    x, memory = torch.randn(1, 5, D_MODEL), torch.randn(1, 3, D_MODEL)
    changed = x.clone()
    changed[:, 3:] = torch.randn(1, 2, D_MODEL)
    unmasked_change = (layer(changed, memory) - layer(x, memory))[:, :3].abs().max()
    masked_change = (layer(changed, memory, causal_mask(5)) - layer(x, memory, causal_mask(5)))
    assert unmasked_change > 1e-3
    assert masked_change[:, :3].abs().max() == 0.0


def test_padding_changes_no_output_at_real_positions():
    model = _model(seed=2)
    src = torch.tensor([[5, 6, 7], [8, 9, PAD]])
    tgt = torch.tensor([[SOS, 4, 5, 6], [SOS, 7, PAD, PAD]])
    logits = model(src, tgt)
    padded_src = torch.cat([src, torch.full((2, 4), PAD)], dim=1)  # (2, 3) -> (2, 7)
    padded_tgt = torch.cat([tgt, torch.full((2, 3), PAD)], dim=1)  # (2, 4) -> (2, 7)
    padded_logits = model(padded_src, padded_tgt)
    torch.testing.assert_close(padded_logits[:, :4], logits, atol=1e-5, rtol=1e-5)
    # and each sentence alone gives what it gives inside the padded batch
    alone = model(torch.tensor([[8, 9]]), torch.tensor([[SOS, 7]]))
    torch.testing.assert_close(padded_logits[1:, :2], alone, atol=1e-5, rtol=1e-5)


def test_need_weights_returns_every_map_and_masks_padding():
    model = _model(seed=3, num_encoder_layers=2, num_decoder_layers=2)
    src = torch.tensor([[5, 6, 7, PAD]])
    tgt = torch.tensor([[SOS, 4, 5]])
    logits, maps = model(src, tgt, need_weights=True)
    torch.testing.assert_close(logits, model(src, tgt))
    assert [w.shape for w in maps.encoder_self] == [(1, 2, 4, 4)] * 2
    assert [w.shape for w in maps.decoder_self] == [(1, 2, 3, 3)] * 2
    assert [w.shape for w in maps.decoder_cross] == [(1, 2, 3, 4)] * 2
    for weights in maps.decoder_cross + maps.encoder_self:
        assert torch.all(weights[..., 3] == 0.0)  # nobody reads the PAD source position


# ----- a model that decodes a fixed script (for the decoding and training tests) ---------------


class ScriptedTransformer(Transformer):
    """A Transformer whose decoder writes a fixed script per row, to test the decoding loop."""

    def __init__(self, scripts, vocab_size=13):
        super().__init__(TransformerConfig.tiny(src_vocab_size=11, tgt_vocab_size=vocab_size))
        self.scripts = scripts
        self.decode_calls = 0

    def decode(self, tgt, memory, memory_mask, need_weights=False):
        self.decode_calls += 1
        step = tgt.shape[1] - 1  # tokens generated so far
        logits = torch.zeros(tgt.shape[0], tgt.shape[1], self.config.tgt_vocab_size)
        for row, script in enumerate(self.scripts):
            logits[row, -1, script[min(step, len(script) - 1)]] = 1.0
        return logits


@pytest.mark.parametrize("activation, expected", [
    ("relu", torch.relu),
    ("gelu", F.gelu),  # BERT
    ("gelu-tanh", lambda h: F.gelu(h, approximate="tanh")),  # GPT-2
])
def test_feed_forward_applies_the_named_activation_between_its_two_linear_maps(activation, expected):
    torch.manual_seed(0)
    ff = FeedForward(8, 16, activation=activation)
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(ff(x), ff.W_2(expected(ff.W_1(x))))


def test_feed_forward_refuses_an_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of"):
        FeedForward(8, 16, activation="swish")
