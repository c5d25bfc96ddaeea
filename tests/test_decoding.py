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
