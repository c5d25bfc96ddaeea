"""The course's modules against the reference implementations, timed in one process.

    .venv/bin/python benchmarks/modules_vs_reference.py

Prints, for each pair, the median forward time of both and the ratio ours / reference.
Teaching code is written for clarity; the ratio says what that clarity costs.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib.attention import causal_mask, scaled_dot_product_attention
from lessons_lib.multihead import MultiHeadAttention
from lessons_lib.norm import LayerNorm


def median_time(fn, repeats: int = 30, warmup: int = 5) -> float:
    """Median seconds of fn() over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    """Time every (ours, reference) pair and print a table of ratios."""
    torch.manual_seed(0)
    B, T, C, H = 8, 128, 256, 8
    x = torch.randn(B, T, C)
    q, k, v = (torch.randn(B, H, T, C // H) for _ in range(3))
    mask = causal_mask(T)
    reference_mha = nn.MultiheadAttention(C, H, batch_first=True).eval()
    ours_mha = MultiHeadAttention.from_torch(reference_mha).eval()
    reference_norm, ours_norm = nn.LayerNorm(C), LayerNorm(C)
    pairs = {
        "scaled_dot_product_attention": (
            lambda: scaled_dot_product_attention(q, k, v),
            lambda: F.scaled_dot_product_attention(q, k, v),
        ),
        "scaled_dot_product_attention, causal": (
            lambda: scaled_dot_product_attention(q, k, v, mask=mask),
            lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        ),
        "MultiHeadAttention": (
            lambda: ours_mha(x, x, x),
            lambda: reference_mha(x, x, x, need_weights=False),
        ),
        "LayerNorm": (lambda: ours_norm(x), lambda: reference_norm(x)),
    }
    print(f"B={B} T={T} C={C} H={H}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| module | ours ms | reference ms | ours / reference |")
    print("| --- | --- | --- | --- |")
    with torch.no_grad():
        for name, (ours, reference) in pairs.items():
            t_ours, t_ref = median_time(ours), median_time(reference)
            print(f"| {name} | {t_ours * 1e3:.2f} | {t_ref * 1e3:.2f} | {t_ours / t_ref:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
