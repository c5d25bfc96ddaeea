"""Lesson 08's BERT against Hugging Face's, the weights copied, timed by `compare` in one process.

    .venv/bin/python -m benchmarks --modules benchmarks.bert_vs_hf

A MiniLM-sized BERT (6 layers, d_model 384, 12 heads, the 30,522-token vocabulary) with random
weights: transformers.BertForPreTraining (BertModel and the MLM and NSP heads, its default
attention, torch's fused kernel) against lessons_lib.bert.BertForPreTraining.from_hf of the same
model. Needs lessons_lib.bert (lesson 08); until it is there, the suite skips this module.
"""

from __future__ import annotations

import torch
import transformers

from benchmarks.timing import Comparison, bench_device, compare
from lessons_lib.bert import BertForPreTraining

MINILM_SIZE = {"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
               "intermediate_size": 1536, "max_position_embeddings": 512}


def comparisons(quick: bool = False) -> list[Comparison]:
    """BERT pre-training forward (inference) at (B 8, T 128), ours against transformers'."""
    torch.manual_seed(0)
    device = bench_device()
    config = transformers.BertConfig(**MINILM_SIZE, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    reference = transformers.BertForPreTraining(config).to(device).eval()
    ours = BertForPreTraining.from_hf(reference).to(device).eval()
    B, T = 8, 128
    input_ids = torch.randint(1000, config.vocab_size, (B, T), device=device)  # (B, T)
    token_type_ids = torch.zeros(B, T, dtype=torch.long, device=device)
    token_type_ids[:, T // 2:] = 1  # sentence B is the second half
    attention_mask = torch.ones(B, T, dtype=torch.long, device=device)  # no padding

    def ours_forward():
        with torch.no_grad():
            return ours(input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)

    def reference_forward():
        with torch.no_grad():
            return reference(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)

    mlm_logits, nsp_logits = ours_forward()
    expected = reference_forward()
    # the same function on both sides, or the timing compares nothing
    torch.testing.assert_close(mlm_logits, expected.prediction_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(nsp_logits, expected.seq_relationship_logits, atol=1e-4, rtol=1e-4)
    repeats = {"repeats": 3, "warmup": 1} if quick else {"repeats": 10, "warmup": 2}
    return [compare(f"BERT forward, MLM and NSP heads (B {B}, T {T}, MiniLM size)",
                    ("lessons_lib.bert.BertForPreTraining", ours_forward),
                    ("transformers.BertForPreTraining (BertModel + heads)", reference_forward),
                    note="the course's BERT is built from lessons 01-05's modules (fused attention)", **repeats)]
