"""lessons_lib.decoding: greedy decoding stops each row at its EOS, respects max_new_tokens, equals
the argmax of a teacher-forced pass, refuses bad arguments and gives the model's mode back."""

import pytest
import torch

from lessons_lib.decoding import greedy_decode
from tests.test_transformer import EOS, PAD, SOS, ScriptedTransformer, _model


def test_greedy_decode_stops_each_row_at_its_eos_and_pads_after_it():
    model = ScriptedTransformer([[5, EOS], [6, 7, 8, EOS], [9, 10, EOS]])
    out = greedy_decode(model, torch.tensor([[3, 4]] * 3), SOS, EOS, max_new_tokens=10)
    assert out.tolist() == [[5, EOS, PAD, PAD], [6, 7, 8, EOS], [9, 10, EOS, PAD]]
    assert model.decode_calls == 4  # stopped when the last row ended, not at max_new_tokens


def test_greedy_decode_respects_max_new_tokens():
    model = ScriptedTransformer([[5, 6, 7, 8, 9, 10, EOS], [5, EOS]])
    out = greedy_decode(model, torch.tensor([[3], [4]]), SOS, EOS, max_new_tokens=3)
    assert out.tolist() == [[5, 6, 7], [5, EOS, PAD]]
    assert model.decode_calls == 3


def test_greedy_decode_equals_the_argmax_of_a_teacher_forced_pass_on_its_own_output():
    model = _model(seed=5, dropout=0.5).train()  # greedy_decode must switch dropout off itself
    src = torch.randint(3, 11, (4, 5), generator=torch.Generator().manual_seed(1))
    out = greedy_decode(model, src, SOS, EOS, max_new_tokens=6)
    assert model.training  # and give the mode back
    model.eval()
    decoder_input = torch.cat([torch.full((4, 1), SOS), out[:, :-1]], dim=1)  # (B, L)
    with torch.no_grad():
        expected = model(src, decoder_input).argmax(-1)  # (B, L)
    for row in range(4):
        length = out.shape[1]
        if EOS in out[row]:
            length = out[row].tolist().index(EOS) + 1
        assert out[row, :length].tolist() == expected[row, :length].tolist()


@pytest.mark.parametrize("kwargs, message", [
    ({"max_new_tokens": 0}, "max_new_tokens must be an int"),
    ({"max_new_tokens": 32}, "max_new_tokens must be an int"),
    ({"sos_id": 13}, "sos_id=13"),
])
def test_greedy_decode_rejects_bad_arguments(kwargs, message):
    arguments = {"sos_id": SOS, "eos_id": EOS, "max_new_tokens": 5} | kwargs
    with pytest.raises(ValueError, match=message):
        greedy_decode(_model(), torch.tensor([[3, 4]]), **arguments)


def test_greedy_decode_gives_the_mode_back_even_after_an_error():
    model = _model().train()
    with pytest.raises(ValueError, match="src"):
        greedy_decode(model, torch.tensor([[3, 400]]), SOS, EOS, max_new_tokens=5)  # 400: not in the vocabulary
    assert model.training


# Lesson 09: sampling the next token (temperature, top-k)

from lessons_lib.decoding import next_token_probabilities, sample_next_token  # noqa: E402

LOGITS = torch.tensor([[2.0, 1.0, 0.5, -1.0, 0.0], [0.0, 3.0, 1.0, 1.5, -2.0]])  # (B=2, V=5)


def test_temperature_one_is_the_softmax_and_lower_temperatures_are_sharper():
    torch.testing.assert_close(next_token_probabilities(LOGITS), torch.softmax(LOGITS, dim=-1))
    entropies = []
    for temperature in (0.5, 1.0, 2.0):
        p = next_token_probabilities(LOGITS, temperature)
        torch.testing.assert_close(p.sum(-1), torch.ones(2))
        assert torch.equal(p.argmax(-1), LOGITS.argmax(-1)), "temperature keeps the ranking"
        entropies.append(-(p * p.log()).sum(-1))
    assert (entropies[0] < entropies[1]).all() and (entropies[1] < entropies[2]).all()
    greedy = next_token_probabilities(LOGITS, temperature=0.0)
    assert torch.equal(greedy, torch.nn.functional.one_hot(LOGITS.argmax(-1), 5).float())


def test_top_k_keeps_the_k_most_likely_tokens_renormalized():
    p = next_token_probabilities(LOGITS, top_k=2)
    assert ((p > 0).sum(-1) == 2).all()
    torch.testing.assert_close(p[0, :2], torch.softmax(LOGITS[0, :2], dim=-1))
    torch.testing.assert_close(next_token_probabilities(LOGITS, top_k=5), torch.softmax(LOGITS, dim=-1))
    torch.testing.assert_close(next_token_probabilities(LOGITS, top_k=50), torch.softmax(LOGITS, dim=-1))


def test_sampling_is_seeded_draws_only_from_the_top_k_and_follows_the_probabilities():
    logits = LOGITS.repeat(2000, 1)  # (4000, 5)
    first = sample_next_token(logits, 1.0, 3, generator=torch.Generator().manual_seed(0))
    again = sample_next_token(logits, 1.0, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, again)
    row_0 = first[0::2]
    assert set(row_0.tolist()) <= {0, 1, 2}, "only the 3 largest logits of row 0"
    expected = next_token_probabilities(LOGITS[:1], 1.0, 3)[0]
    frequencies = torch.bincount(row_0, minlength=5).float() / len(row_0)
    torch.testing.assert_close(frequencies, expected, atol=0.04, rtol=0)
    assert torch.equal(sample_next_token(LOGITS, temperature=0.0), torch.tensor([0, 1]))


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": -0.1}, "temperature must be a number >= 0"),
    ({"temperature": True}, "temperature must be a number >= 0"),
    ({"top_k": 0}, "top_k must be a positive int"),
    ({"top_k": 2.0}, "top_k must be a positive int"),
])
def test_sampling_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        next_token_probabilities(LOGITS, **kwargs)
    with pytest.raises(ValueError, match=message):
        sample_next_token(LOGITS, **kwargs)
    with pytest.raises(ValueError, match="logits must be 2-D"):
        next_token_probabilities(LOGITS[0])
