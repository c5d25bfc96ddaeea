"""Lesson 09's GPT against Hugging Face's GPT2LMHeadModel with the same weights, in one process.

    .venv/bin/python benchmarks/gpt_vs_hf.py [--quick]

Three rows (`comparisons()`, which the suite runner imports):

- a training step (forward, cross-entropy, backward, AdamW) of the course's GPT against
  GPT2LMHeadModel, at L4 H4 E128 T128, vocab 96, batch 32, dropout 0, the same weights and the
  same batch; target: ours / reference <= 1.0;
- greedy generation of 120 new tokens from an 8-token prompt, with the KV cache against without
  it (the same model); target: >= 3x faster, the same tokens (checked before timing);
- the same cached generation against GPT2LMHeadModel.generate (the same tokens, checked).
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.nn.functional as F

from benchmarks.timing import Comparison, bench_device, compare
from lessons_lib.gpt import GPT

VOCAB, LAYERS, HEADS, D_MODEL, CONTEXT, BATCH = 96, 4, 4, 128, 128, 32
PROMPT_LEN, NEW_TOKENS = 8, 120


def reference_model():
    """A seeded GPT2LMHeadModel of the benchmark's size, dropout 0, in training mode."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()  # its bos/eos ids (50256) lie outside a 96-token vocabulary: unused here
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB, n_positions=CONTEXT, n_embd=D_MODEL, n_layer=LAYERS, n_head=HEADS,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config)


def training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor, hf: bool) -> float:
    """One step of next-token training: forward, cross-entropy, backward, AdamW."""
    logits = model(x).logits if hf else model(x)  # (B, T, V)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_step_comparison(quick: bool = False) -> Comparison:
    """The course's GPT against GPT2LMHeadModel: one training step each, same weights, same batch."""
    reference = reference_model().to(bench_device()).train()
    ours = GPT.from_hf(reference).train()
    generator = torch.Generator().manual_seed(1)
    batch = 8 if quick else BATCH
    x = torch.randint(VOCAB, (batch, CONTEXT), generator=generator).to(bench_device())  # (B, T)
    y = torch.randint(VOCAB, (batch, CONTEXT), generator=generator).to(bench_device())  # (B, T)
    ours_optimizer = torch.optim.AdamW(ours.parameters(), lr=1e-4)
    reference_optimizer = torch.optim.AdamW(reference.parameters(), lr=1e-4)
    tokens = batch * CONTEXT
    comparison = compare(
        f"GPT training step (L{LAYERS} H{HEADS} E{D_MODEL} T{CONTEXT}, vocab {VOCAB}, batch {batch})",
        ("lessons_lib.gpt.GPT", lambda: training_step(ours, ours_optimizer, x, y, hf=False)),
        ("transformers GPT2LMHeadModel", lambda: training_step(reference, reference_optimizer, x, y, hf=True)),
        repeats=3 if quick else 15, warmup=1 if quick else 3,
    )
    where = f"{torch.get_num_threads()} threads" if bench_device().type == "cpu" else str(bench_device())
    note = (f"{tokens / comparison.ours_s:,.0f} against {tokens / comparison.reference_s:,.0f} tokens/s "
            f"on {where}; target ours / reference <= 1.0")
    return Comparison(comparison.name, comparison.ours, comparison.reference, comparison.ours_s,
                      comparison.reference_s, note)


def kv_cache_comparison(quick: bool = False) -> Comparison:
    """Greedy generation with the KV cache against without it: same model, same prompt, same tokens."""
    model = GPT.from_hf(reference_model().to(bench_device())).eval()
    prompt = torch.randint(VOCAB, (1, PROMPT_LEN), generator=torch.Generator().manual_seed(2)).to(bench_device())  # (1, 8)
    new_tokens = 30 if quick else NEW_TOKENS
    cached = model.generate(prompt, new_tokens, temperature=0.0, use_cache=True)
    uncached = model.generate(prompt, new_tokens, temperature=0.0, use_cache=False)
    if not torch.equal(cached, uncached):
        raise AssertionError("greedy generation with and without the KV cache gave different tokens")
    comparison = compare(
        f"greedy generation, {new_tokens} tokens from an {PROMPT_LEN}-token prompt",
        ("GPT.generate, KV cache", lambda: model.generate(prompt, new_tokens, temperature=0.0)),
        ("GPT.generate, no cache", lambda: model.generate(prompt, new_tokens, temperature=0.0, use_cache=False)),
        repeats=3 if quick else 7, warmup=1,
    )
    note = f"speed-up {1 / comparison.ratio:.1f}x, identical tokens; target >= 3x at {NEW_TOKENS} tokens"
    return Comparison(comparison.name, comparison.ours, comparison.reference, comparison.ours_s,
                      comparison.reference_s, note)


def hf_generation_comparison(quick: bool = False) -> Comparison:
    """Greedy generation with the KV cache: the course's GPT against GPT2LMHeadModel.generate, same tokens."""
    reference = reference_model().to(bench_device()).eval()
    model = GPT.from_hf(reference).eval()
    prompt = torch.randint(VOCAB, (1, PROMPT_LEN), generator=torch.Generator().manual_seed(2)).to(bench_device())  # (1, 8)
    new_tokens = 30 if quick else NEW_TOKENS

    def hf_generate() -> torch.Tensor:
        return reference.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                                  do_sample=False, pad_token_id=0)

    if not torch.equal(model.generate(prompt, new_tokens, temperature=0.0), hf_generate()):
        raise AssertionError("greedy generation differs from GPT2LMHeadModel.generate")
    return compare(
        f"greedy generation with the KV cache, {new_tokens} tokens from an {PROMPT_LEN}-token prompt",
        ("GPT.generate", lambda: model.generate(prompt, new_tokens, temperature=0.0)),
        ("GPT2LMHeadModel.generate", hf_generate),
        repeats=3 if quick else 7, warmup=1, note="identical tokens",
    )


def comparisons(quick: bool = False) -> list[Comparison]:
    """The training step against Hugging Face, generation with against without the cache, and cached
    generation against Hugging Face's."""
    return [train_step_comparison(quick), kv_cache_comparison(quick), hf_generation_comparison(quick)]


def main(argv: list[str] | None = None) -> int:
    """Print the table of comparisons (Markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batch, fewer repeats (a smoke test)")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| comparison | ours | reference | ours ms | reference ms | ours / reference | note |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in comparisons(quick=args.quick):
        print(f"| {row.name} | {row.ours} | {row.reference} | {row.ours_s * 1e3:.1f} | "
              f"{row.reference_s * 1e3:.1f} | {row.ratio:.2f} | {row.note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
