"""lessons_lib.recurrent: the RNN bottleneck and the gradient path of lesson 01's section 0."""

import pytest

from lessons_lib.recurrent import first_word_recall, gradient_to_first_word

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_context_vector_forgets_the_first_word_the_first_state_does_not():
    short = first_word_recall(1, num_sentences=600)
    long = first_word_recall(24, num_sentences=600)
    assert short == {"context": 1.0, "first state": 1.0}, "one word: h_T is h_1"
    assert long["first state"] == 1.0, "h_1 still holds the first word"
    assert long["context"] < 0.2, "h_24 is back near chance (1 / 20)"


def test_first_word_recall_is_seeded():
    assert first_word_recall(4, num_sentences=300, seed=3) == first_word_recall(4, num_sentences=300, seed=3)


def test_the_gradient_to_the_first_word_vanishes_through_the_rnn_not_through_attention():
    rnn = [gradient_to_first_word("rnn", length) for length in (2, 32)]
    attention = [gradient_to_first_word("self-attention", length) for length in (2, 32)]
    assert rnn[1] < 1e-6 * rnn[0], rnn
    assert attention[1] > 0.02 * attention[0], attention
    assert gradient_to_first_word("rnn", 5, seed=1) == gradient_to_first_word("rnn", 5, seed=1)


@pytest.mark.parametrize("call, message", [
    (lambda: gradient_to_first_word("lstm", 4), "kind must be one of"),
    (lambda: gradient_to_first_word("rnn", 0), "length"),
    (lambda: first_word_recall(0), "length"),
    (lambda: first_word_recall(3, num_sentences=2), "at least 3"),
])
def test_bad_arguments_raise_value_errors_that_name_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()
