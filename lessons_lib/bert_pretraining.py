"""Lesson 08 (notebooks/08_bert.ipynb): pre-training BERT with its two self-made tasks.

    masked language model (MLM)   lesson 06's `mask_tokens`: 15 % of the tokens chosen, 80 / 10 / 10;
                                  the loss is read at the chosen positions only (`mlm_loss`)
    next-sentence prediction (NSP) [CLS] A [SEP] B [SEP]: is B the text that follows A in its document
                                  (label 0), or a span of another document (label 1)?

The pairs are built once (`make_nsp_pairs`); a fresh MLM mask is drawn for every batch, so the model
never sees the same masked copy twice. `pretrain_bert` trains both heads at once (the sum of the two
losses), `evaluate_pretraining` scores held-out pairs under one fixed, seeded mask.

Shape legend: B batch, T time (max_len), C channels (d_model), V vocab_size, N pairs, M masked tokens.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from lessons_lib.bert import BertForPreTraining
from lessons_lib.runtime import check_positive_int, model_mode
from lessons_lib.ssl import IGNORE_INDEX, mask_tokens
from lessons_lib.train import TrainConfig, TrainResult, warmup_then_linear_decay

IS_NEXT, NOT_NEXT = 0, 1  # NSP labels, in Hugging Face's order


class SpecialIds(NamedTuple):
    """The ids of BERT's special tokens in a vocabulary."""

    cls: int
    sep: int
    mask: int
    pad: int


def nsp_pair(a: Sequence[int], b: Sequence[int], cls_id: int, sep_id: int) -> tuple[list[int], list[int]]:
    """Two token spans -> ([CLS] a [SEP] b [SEP], segment ids 0 for [CLS] a [SEP], 1 for b [SEP])."""
    input_ids = [cls_id, *a, sep_id, *b, sep_id]
    token_type_ids = [0] * (len(a) + 2) + [1] * (len(b) + 1)
    return input_ids, token_type_ids


def padded_pair(a: Sequence[int], b: Sequence[int], max_len: int, cls_id: int, sep_id: int,
                pad_id: int) -> tuple[list[int], list[int], list[int]]:
    """One row of a BERT batch: -> (input_ids, token_type_ids, attention_mask), each max_len long.

    The longer of a and b (b on a tie) loses its last token until [CLS] a [SEP] b [SEP] fits; then
    [PAD] fills the row, with segment id 0 and attention_mask 0 (1 on the real tokens).
    """
    if max_len < 3:
        raise ValueError(f"max_len must be at least 3 to hold [CLS] [SEP] [SEP], got {max_len}")
    a, b = list(a), list(b)  # copies: the caller's lists stay whole
    while len(a) + len(b) > max_len - 3:  # trim the longer side, from its end
        (a if len(a) > len(b) else b).pop()
    ids, token_types = nsp_pair(a, b, cls_id, sep_id)
    padding = max_len - len(ids)
    return ids + [pad_id] * padding, token_types + [0] * padding, [1] * len(ids) + [0] * padding


class NspPairs(NamedTuple):
    """N sentence pairs ready for BERT: ids, segment ids and attention_mask (N, T), labels (N,)."""

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    attention_mask: torch.Tensor
    nsp_labels: torch.Tensor  # IS_NEXT (0) or NOT_NEXT (1)


def _span(sentences: Sequence[Sequence[int]], start: int, budget: int) -> tuple[list[int], int]:
    """Whole sentences from `start` until `budget` tokens are reached; -> (tokens, the next sentence)."""
    tokens: list[int] = []
    end = start
    while end < len(sentences) and len(tokens) < budget:
        tokens.extend(sentences[end])
        end += 1
    return tokens, end


def make_nsp_pairs(documents: Sequence[Sequence[Sequence[int]]], num_pairs: int, max_len: int,
                   special: SpecialIds, seed: int = 0, span_tokens: int | None = None) -> NspPairs:
    """`num_pairs` NSP examples from documents of tokenized sentences, half IsNext, half NotNext.

    A is a run of whole sentences of at least `span_tokens` tokens (default (max_len - 3) // 2; 1
    gives single sentences) from a random place in a document; B is what follows it (IsNext) or a run of the same length from a random other
    document (NotNext). `padded_pair` cuts the longer of A and B until [CLS] A [SEP] B [SEP] fits max_len.
    """
    check_positive_int("num_pairs", num_pairs)
    usable = [doc for doc in documents if len(doc) >= 2]
    if len(usable) < 2:
        raise ValueError(f"documents must hold at least 2 documents of 2 or more sentences, got {len(usable)}")
    if max_len < 8:
        raise ValueError(f"max_len must be at least 8 to hold [CLS] A [SEP] B [SEP], got {max_len}")
    rng = random.Random(seed)
    budget = (max_len - 3) // 2 if span_tokens is None else span_tokens
    check_positive_int("span_tokens", budget)
    rows, segments, masks, labels = [], [], [], []
    for index in range(num_pairs):
        doc = rng.randrange(len(usable))
        start = rng.randrange(len(usable[doc]) - 1)  # A needs a sentence after it
        a, end = _span(usable[doc], start, budget)
        if end == len(usable[doc]):  # A ran to the end of its document: keep its first sentence only
            a, end = list(usable[doc][start]), start + 1
        if index % 2 == 0:
            b, label = _span(usable[doc], end, budget)[0], IS_NEXT
        else:
            other = rng.choice([i for i in range(len(usable)) if i != doc])
            b, label = _span(usable[other], rng.randrange(len(usable[other])), budget)[0], NOT_NEXT
        ids, token_types, attention_mask = padded_pair(a, b, max_len, special.cls, special.sep, special.pad)
        rows.append(ids)
        segments.append(token_types)
        masks.append(attention_mask)
        labels.append(label)
    return NspPairs(torch.tensor(rows), torch.tensor(segments), torch.tensor(masks), torch.tensor(labels))  # (N, T) x 3, (N,)


def init_mlm_bias(model: BertForPreTraining, pairs: NspPairs) -> None:
    """Start the MLM head at the token frequencies of `pairs`: mlm_bias = log p(token), add-one smoothed.

    A new model first spends hundreds of steps learning how common each token is (its predictions sit
    at the most frequent tokens); with this bias it knows that from step 0.
    """
    ids = pairs.input_ids[pairs.attention_mask.bool()]  # every real token, special ones included
    counts = torch.bincount(ids, minlength=model.config.vocab_size).float() + 1.0  # (V,)
    with torch.no_grad():
        model.mlm_bias.copy_(torch.log(counts / counts.sum()).to(model.mlm_bias.device))


def mlm_loss(mlm_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the chosen positions only: (..., V) logits, (...) labels, IGNORE_INDEX elsewhere."""
    return F.cross_entropy(mlm_logits.reshape(-1, mlm_logits.shape[-1]), labels.reshape(-1),
                           ignore_index=IGNORE_INDEX)


def pretraining_step(model: BertForPreTraining, batch: NspPairs, special: SpecialIds,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Mask a batch, run the model -> (MLM loss, NSP loss, what was predicted).

    The MLM head runs on the chosen positions only (about 15 % of the tokens): the same loss as on
    every position with the others ignored, for a sixth of the work of the (B, T, V) logits.
    """
    inputs, labels = mask_tokens(batch.input_ids, special.mask, model.config.vocab_size,
                                 special_ids=(special.cls, special.sep, special.pad), generator=generator)
    states = model.bert(inputs, batch.token_type_ids, batch.attention_mask)  # (B, T, C)
    chosen = labels != IGNORE_INDEX  # (B, T)
    mlm_logits = model.mlm_logits(states[chosen])  # (M, C) -> (M, V)
    nsp_logits = model.nsp_classifier(model.bert.pool(states))  # (B, C) -> (B, 2)
    predictions = {"mlm": (mlm_logits.argmax(-1), labels[chosen]), "nsp": (nsp_logits.argmax(-1), batch.nsp_labels),
                   "replaced": inputs[chosen] == special.mask}  # (M,): True where the input showed [MASK]
    return mlm_loss(mlm_logits, labels[chosen]), F.cross_entropy(nsp_logits, batch.nsp_labels), predictions


def _rows(pairs: NspPairs, rows: torch.Tensor, device: torch.device) -> NspPairs:
    return NspPairs(*(tensor[rows].to(device) for tensor in pairs))


def pretrain_bert(model: BertForPreTraining, pairs: NspPairs, config: TrainConfig, special: SpecialIds,
                  progress: bool = True, desc: str = "pre-training") -> tuple[TrainResult, list[float]]:
    """Train MLM + NSP on `pairs` for `config.steps` batches; seeded. -> (result, NSP losses).

    AdamW, linear warm-up then linear decay, gradient clipping; `result.losses` are the MLM losses.
    """
    device = next(model.parameters()).device
    torch.manual_seed(config.seed)  # dropout
    order = torch.Generator().manual_seed(config.seed)  # batches and masks
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)

    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_then_linear_decay(step, config.warmup_steps, config.steps))
    mlm_losses, nsp_losses = [], []
    started = time.perf_counter()
    bar = tqdm(range(config.steps), desc=desc, disable=not progress)
    with model_mode(model, training=True):
        for step in bar:
            rows = torch.randint(len(pairs.input_ids), (config.batch_size,), generator=order)
            mlm, nsp, _ = pretraining_step(model, _rows(pairs, rows, device), special, generator=order)
            optimizer.zero_grad(set_to_none=True)
            (mlm + nsp).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            mlm_losses.append(mlm.item())
            nsp_losses.append(nsp.item())
            if step % 25 == 0 or step == config.steps - 1:
                bar.set_postfix(mlm=f"{mlm_losses[-1]:.2f}", nsp=f"{nsp_losses[-1]:.2f}")
    return TrainResult(losses=mlm_losses, seconds=time.perf_counter() - started), nsp_losses


@torch.no_grad()
def evaluate_pretraining(model: BertForPreTraining, pairs: NspPairs, special: SpecialIds, guess_id: int,
                         seed: int = 0, batch_size: int = 256) -> dict[str, float]:
    """MLM and NSP accuracy on `pairs`, under one seeded mask.

    MLM is scored twice: `mlm_mask_accuracy` on the chosen positions whose input was [MASK] (about 80 %
    of them: the answer is not in the input), and `mlm_accuracy` on every chosen position (the 10 %
    left unchanged show their answer). `mlm_mask_baseline` and `mlm_baseline`: the accuracy, on the
    same positions, of always answering `guess_id` (the most frequent token of the training text).
    """
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    counts = dict.fromkeys(("mlm", "mlm_baseline", "mlm_mask", "mlm_mask_baseline", "masked_tokens",
                            "mask_tokens", "nsp"), 0)
    with model_mode(model, training=False):
        for start in range(0, len(pairs.input_ids), batch_size):
            rows = torch.arange(start, min(start + batch_size, len(pairs.input_ids)))
            *_, predictions = pretraining_step(model, _rows(pairs, rows, device), special, generator=generator)
            predicted, expected = predictions["mlm"]  # (M,), (M,)
            replaced = predictions["replaced"]  # (M,)
            right, guessed = predicted == expected, expected == guess_id
            counts["mlm"] += right.sum().item()
            counts["mlm_baseline"] += guessed.sum().item()
            counts["mlm_mask"] += right[replaced].sum().item()
            counts["mlm_mask_baseline"] += guessed[replaced].sum().item()
            counts["masked_tokens"] += len(expected)
            counts["mask_tokens"] += replaced.sum().item()
            counts["nsp"] += (predictions["nsp"][0] == predictions["nsp"][1]).sum().item()
    return {"mlm_mask_accuracy": counts["mlm_mask"] / counts["mask_tokens"],
            "mlm_mask_baseline": counts["mlm_mask_baseline"] / counts["mask_tokens"],
            "mlm_accuracy": counts["mlm"] / counts["masked_tokens"],
            "mlm_baseline": counts["mlm_baseline"] / counts["masked_tokens"],
            "nsp_accuracy": counts["nsp"] / len(pairs.input_ids),
            "mask_tokens": counts["mask_tokens"], "masked_tokens": counts["masked_tokens"],
            "pairs": len(pairs.input_ids)}


def most_frequent_token(pairs: NspPairs, special: SpecialIds) -> int:
    """The id that occurs most often in `pairs`, special tokens left out: the MLM baseline's one guess."""
    ids = pairs.input_ids[pairs.attention_mask.bool()]
    ids = ids[~torch.isin(ids, torch.tensor([special.cls, special.sep, special.pad, special.mask]))]
    return int(torch.bincount(ids).argmax())
