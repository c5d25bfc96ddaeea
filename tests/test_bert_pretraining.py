"""lessons_lib.bert_pretraining: NSP pairs, the MLM loss on chosen tokens only, training and scoring."""

import pytest
import torch
import torch.nn.functional as F

from lessons_lib.bert import BertConfig, BertForPreTraining
from lessons_lib.bert_pretraining import (
    IS_NEXT,
    NOT_NEXT,
    SpecialIds,
    evaluate_pretraining,
    init_mlm_bias,
    make_nsp_pairs,
    mlm_loss,
    most_frequent_token,
    nsp_pair,
    padded_pair,
    pretrain_bert,
)
from lessons_lib.ssl import IGNORE_INDEX
from lessons_lib.train import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SPECIAL = SpecialIds(cls=1, sep=2, mask=3, pad=0)
STEPS = 300


def _documents(num_documents=6, sentences=5, seed=0):
    """Documents whose sentences are runs of ids from the document's own range, so NSP is learnable."""
    generator = torch.Generator().manual_seed(seed)
    return [[(10 + 8 * d + torch.randint(8, (int(torch.randint(3, 7, (1,), generator=generator)),),
                                          generator=generator)).tolist() for _ in range(sentences)]
            for d in range(num_documents)]


def test_nsp_pair_puts_cls_and_seps_in_place_with_segment_ids():
    assert nsp_pair([7, 8], [9], cls_id=1, sep_id=2) == ([1, 7, 8, 2, 9, 2], [0, 0, 0, 0, 1, 1])


def test_padded_pair_trims_the_longer_side_then_pads():
    a, b = [7, 8, 9, 10], [11]
    assert padded_pair(a, b, 8, cls_id=1, sep_id=2, pad_id=0) == (
        [1, 7, 8, 9, 10, 2, 11, 2], [0, 0, 0, 0, 0, 0, 1, 1], [1] * 8)
    assert padded_pair(a, b, 7, 1, 2, 0)[0] == [1, 7, 8, 9, 2, 11, 2] and a == [7, 8, 9, 10], "a copy is cut"
    assert padded_pair([5, 6], [7, 8], 6, 1, 2, 0)[0] == [1, 5, 6, 2, 7, 2], "b loses on a tie"
    assert padded_pair([5], [6], 8, 1, 2, 0) == ([1, 5, 2, 6, 2, 0, 0, 0], [0, 0, 0, 1, 1, 0, 0, 0],
                                                 [1, 1, 1, 1, 1, 0, 0, 0])
    with pytest.raises(ValueError, match="max_len"):
        padded_pair([5], [6], 2, 1, 2, 0)


def test_make_nsp_pairs_follows_the_document_for_is_next_and_leaves_it_for_not_next():
    documents = _documents()
    pairs = make_nsp_pairs(documents, num_pairs=40, max_len=24, special=SPECIAL, seed=0)
    assert pairs.input_ids.shape == (40, 24) and pairs.nsp_labels.tolist() == [IS_NEXT, NOT_NEXT] * 20
    for ids, segments, attention_mask, label in zip(*pairs, strict=True):
        real = ids[attention_mask.bool()].tolist()
        assert real[0] == SPECIAL.cls and real[-1] == SPECIAL.sep and real.count(SPECIAL.sep) == 2
        first_sep = real.index(SPECIAL.sep)
        a, b = real[1:first_sep], real[first_sep + 1 : -1]
        assert a and b and segments[: first_sep + 1].sum() == 0 and segments[first_sep + 1 : len(real)].eq(1).all()
        same_document = (a[0] - 10) // 8 == (b[0] - 10) // 8
        assert same_document == (label == IS_NEXT)
    with pytest.raises(ValueError, match="at least 2 documents"):
        make_nsp_pairs(documents[:1], num_pairs=4, max_len=24, special=SPECIAL)


def test_mlm_loss_reads_the_chosen_positions_only():
    logits = torch.randn(2, 5, 11)
    labels = torch.full((2, 5), IGNORE_INDEX)
    labels[0, 1], labels[1, 4] = 3, 7
    expected = F.cross_entropy(torch.stack([logits[0, 1], logits[1, 4]]), torch.tensor([3, 7]))
    torch.testing.assert_close(mlm_loss(logits, labels), expected)
    changed = logits.clone()
    changed[0, 0] += 100.0  # a position with nothing to predict
    torch.testing.assert_close(mlm_loss(changed, labels), expected)


def test_pretraining_learns_both_tasks_on_a_toy_corpus():
    documents = _documents(num_documents=8, sentences=8)
    pairs = make_nsp_pairs(documents, num_pairs=512, max_len=24, special=SPECIAL, seed=0)
    held_out = make_nsp_pairs(documents, num_pairs=256, max_len=24, special=SPECIAL, seed=1)
    torch.manual_seed(0)
    model = BertForPreTraining(BertConfig(vocab_size=80, d_model=32, num_heads=2, num_layers=2, d_ff=64,
                                          max_len=24, dropout=0.0))
    guess = most_frequent_token(pairs, SPECIAL)
    before = evaluate_pretraining(model, held_out, SPECIAL, guess)
    init_mlm_bias(model, pairs)
    counts = torch.bincount(pairs.input_ids[pairs.attention_mask.bool()], minlength=80)
    assert model.mlm_bias.exp().sum().item() == pytest.approx(1.0, abs=1e-4), "a log-distribution"
    assert model.mlm_bias.argmax() == counts.argmax() and model.mlm_bias[SPECIAL.pad] == model.mlm_bias.min()
    result, nsp_losses = pretrain_bert(model, pairs, TrainConfig(steps=STEPS, batch_size=32, lr=2e-3, warmup_steps=20),
                                       SPECIAL, progress=False)
    after = evaluate_pretraining(model, held_out, SPECIAL, guess)
    assert len(result.losses) == len(nsp_losses) == STEPS
    assert after["pairs"] == 256 and after["masked_tokens"] > 200
    assert 0.7 < after["mask_tokens"] / after["masked_tokens"] < 0.9, "about 80 % of the chosen become [MASK]"
    assert after["mlm_accuracy"] > 2 * after["mlm_baseline"] and after["mlm_accuracy"] > before["mlm_accuracy"] + 0.1
    assert after["mlm_mask_accuracy"] > 2 * after["mlm_mask_baseline"], after
    assert after["mlm_mask_accuracy"] < after["mlm_accuracy"], "unchanged tokens show their answer"
    assert after["nsp_accuracy"] > 0.8, after
