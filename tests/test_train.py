"""lessons_lib.train: teacher-forced loss, the seeded training loop, evaluation and translation."""

import pytest
import torch
import torch.nn.functional as F

from lessons_lib.data.translation import make_corpus
from lessons_lib.train import (
    TrainConfig,
    evaluate_translation,
    seq2seq_loss,
    train_seq2seq,
    translate,
    warmup_then_linear_decay,
)
from lessons_lib.transformer import Transformer, TransformerConfig
from tests.test_transformer import EOS, PAD, SOS, ScriptedTransformer


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(num_train=800, num_test=100, seed=0)


def _tiny_model(corpus, seed=0):
    torch.manual_seed(seed)
    config = TransformerConfig.tiny(len(corpus.src_vocab), len(corpus.tgt_vocab),
                                    pad_id=corpus.tgt_vocab.pad_id)
    return Transformer(config)


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps"), ({"warmup_steps": 20, "steps": 10}, "warmup_steps"),
    ({"lr": 0.0}, "lr"), ({"label_smoothing": 1.0}, "label_smoothing"), ({"grad_clip": 0}, "grad_clip"),
])
def test_train_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_seq2seq_loss_is_cross_entropy_of_the_shifted_target_without_padding(corpus):
    model = _tiny_model(corpus).eval()
    src, tgt = corpus.encode(corpus.train[:6])
    logits = model(src, tgt[:, :-1])  # the decoder reads SOS y_1 ... and predicts y_1 ... EOS
    expected, real = tgt[:, 1:], tgt[:, 1:] != PAD
    manual = -logits.log_softmax(-1).gather(-1, expected[..., None])[..., 0][real].mean()
    torch.testing.assert_close(seq2seq_loss(model, src, tgt), manual)
    smoothed = F.cross_entropy(logits[real], expected[real], label_smoothing=0.1)
    torch.testing.assert_close(seq2seq_loss(model, src, tgt, label_smoothing=0.1), smoothed)
    with pytest.raises(ValueError, match="T >= 2"):
        seq2seq_loss(model, src, tgt[:, :1])


def test_training_is_seeded_and_the_loss_falls(corpus):
    src, tgt = corpus.encode(corpus.train)
    config = TrainConfig(steps=80, batch_size=32, lr=1e-2, warmup_steps=10, seed=1)
    first = train_seq2seq(_tiny_model(corpus), src, tgt, config, progress=False)
    second = train_seq2seq(_tiny_model(corpus), src, tgt, config, progress=False)
    assert first.losses == second.losses
    assert len(first.losses) == 80 and first.steps_per_second > 0
    assert sum(first.losses[-10:]) < 0.6 * sum(first.losses[:10])  # from chance, log(V) ~ 5
    with pytest.raises(ValueError, match="same N"):
        train_seq2seq(_tiny_model(corpus), src, tgt[:5], config, progress=False)


@pytest.mark.parametrize("training", [True, False])
def test_training_gives_back_the_callers_mode(corpus, training):
    src, tgt = corpus.encode(corpus.train[:64])
    model = _tiny_model(corpus).train(training)
    train_seq2seq(model, src, tgt, TrainConfig(steps=2, batch_size=8, warmup_steps=1), progress=False)
    assert model.training is training


def test_evaluate_translation_scores_exact_match_and_tokens():
    # references: [5, 6, EOS], [7, EOS], [8, 9, 10, EOS]
    tgt = torch.tensor([[SOS, 5, 6, EOS, PAD], [SOS, 7, EOS, PAD, PAD], [SOS, 8, 9, 10, EOS]])
    src = torch.tensor([[3, 4], [3, 4], [3, 4]])
    model = ScriptedTransformer([
        [5, 6, EOS],  # right
        [7, 8, EOS],  # right word, then a word too many instead of EOS
        [8, 9, 10, 11, 12],  # right words, never stops
    ])
    scores = evaluate_translation(model, src, tgt, SOS, EOS)
    assert scores.exact_match == pytest.approx(1 / 3)
    assert scores.token_accuracy == pytest.approx((3 + 1 + 3) / (3 + 2 + 4))
    assert scores.predictions[0].tolist()[:4] == [5, 6, EOS, PAD]


def test_translate_returns_words_and_cross_attention_of_matching_shape(corpus):
    model = _tiny_model(corpus).eval()
    result = translate(model, "I go home.", corpus.src_vocab, corpus.tgt_vocab, max_new_tokens=6)
    assert result.source_tokens == ["i", "go", "home"]
    layers, heads, T, S = result.cross_attention.shape
    assert (layers, heads, S) == (1, 2, 3) and T == len(result.target_tokens) <= 6
    torch.testing.assert_close(result.cross_attention.sum(-1), torch.ones(layers, heads, T))
    assert result.text == " ".join(t for t in result.target_tokens if t != "<eos>")
    with pytest.raises(ValueError, match="did you mean home"):
        translate(model, "I go hom", corpus.src_vocab, corpus.tgt_vocab)


def test_the_schedule_warms_up_linearly_then_decays_linearly_to_its_floor():
    factors = [warmup_then_linear_decay(step, warmup_steps=4, steps=12) for step in range(14)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == 1.0 and factors[8] == 0.5 and factors[12] == 0.0 and factors[13] == 0.0
    assert warmup_then_linear_decay(11, warmup_steps=4, steps=12, floor=0.2) == 0.2
