"""The course's modules (lessons 01-05) against torch's, each pair timed by `compare` in one process.

    .venv/bin/python -m benchmarks --only modules

Attention at two sizes, (B 32, T 128, C 128, H 4) and (B 8, T 512, C 256, H 8): the hand-written
scaled_dot_product_attention (what lesson 01 teaches) and `attend(..., "fused")` (the fast path the
models use) against torch.nn.functional.scaled_dot_product_attention, forward and forward+backward;
then MultiHeadAttention, LayerNorm, EncoderLayer and DecoderLayer against their torch.nn twins,
with the weights copied (`from_torch`), so both sides compute the same function.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.timing import Comparison, bench_device, compare
from lessons_lib.attention import attend, scaled_dot_product_attention
from lessons_lib.multihead import MultiHeadAttention
from lessons_lib.norm import LayerNorm
from lessons_lib.transformer import DecoderLayer, EncoderLayer

# (B, T, C, H): the two sizes the issue names
ATTENTION_SIZES = ((32, 128, 128, 4), (8, 512, 256, 8))
HAND_WRITTEN_NOTE = "teaching code: builds the (B, H, T, T) weights as a tensor; not a fast path"
LAYER_NOTE = ("fused attention, but the course's hand-written LayerNorm (see its row) and "
              "FeedForward; torch's layer uses its fused LayerNorm")
FUSED_NOTE = "fast path: torch's fused kernel behind the course's argument checks"


def _repeats(quick: bool) -> dict[str, int]:
    return {"repeats": 5, "warmup": 1} if quick else {"repeats": 20, "warmup": 3}


def _forward_backward(fn: Callable[[], torch.Tensor], leaves: list[torch.Tensor]) -> Callable[[], None]:
    """A call that runs fn, backpropagates the sum of its output, and drops the gradients again."""

    def step() -> None:
        fn().sum().backward()
        for leaf in leaves:
            leaf.grad = None

    return step


def _no_grad(fn: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        with torch.no_grad():
            return fn()

    return call


def _check_same(ours: Callable[[], torch.Tensor], reference: Callable[[], torch.Tensor]) -> None:
    """Both sides compute the same function (copied weights): else the timing compares nothing."""
    with torch.no_grad():
        torch.testing.assert_close(ours(), reference(), atol=1e-4, rtol=1e-4)


def with_attention_impl(module: nn.Module, attention_impl: str) -> nn.Module:
    """Switch every MultiHeadAttention inside module to attention_impl (from_torch builds hand-written ones)."""
    for child in module.modules():
        if isinstance(child, MultiHeadAttention):
            child.attention_impl = attention_impl
    return module


def attention_at(size: tuple[int, int, int, int], quick: bool, device: torch.device) -> list[Comparison]:
    """Both implementations against F.scaled_dot_product_attention at one (B, T, C, H), forward and forward+backward."""
    B, T, C, H = size
    q, k, v = (torch.randn(B, H, T, C // H, device=device, requires_grad=True) for _ in range(3))  # (B, H, T, D)
    ours = {
        "hand-written": (lambda: scaled_dot_product_attention(q, k, v)[0], HAND_WRITTEN_NOTE),
        "fused": (lambda: attend(q, k, v, attention_impl="fused"), FUSED_NOTE),
    }
    reference = ("F.scaled_dot_product_attention", lambda: F.scaled_dot_product_attention(q, k, v))
    rows = []
    for impl, (fn, note) in ours.items():
        _check_same(fn, reference[1])
        where = f"(B {B}, T {T}, C {C}, H {H})"
        rows.append(compare(f"attention {impl}, forward {where}", (impl, _no_grad(fn)),
                            (reference[0], _no_grad(reference[1])), note=note, **_repeats(quick)))
        rows.append(compare(f"attention {impl}, forward+backward {where}", (impl, _forward_backward(fn, [q, k, v])),
                            (reference[0], _forward_backward(reference[1], [q, k, v])), note=note, **_repeats(quick)))
    return rows


def layer_comparisons(size: tuple[int, int, int, int], quick: bool, device: torch.device) -> list[Comparison]:
    """MultiHeadAttention, LayerNorm and the encoder and decoder layers against torch.nn's, copied weights."""
    B, T, C, H = size
    x = torch.randn(B, T, C, device=device, requires_grad=True)
    memory = torch.randn(B, T, C, device=device)
    causal = torch.ones(T, T, dtype=torch.bool, device=device).tril()  # True = may attend
    rows = []

    reference_mha = nn.MultiheadAttention(C, H, batch_first=True).to(device)
    for impl in ("hand-written", "fused"):
        ours_mha = with_attention_impl(MultiHeadAttention.from_torch(reference_mha), impl)
        _check_same(lambda m=ours_mha: m(x, x, x), lambda: reference_mha(x, x, x, need_weights=False)[0])
        note = HAND_WRITTEN_NOTE if impl == "hand-written" else "fast path: the fused attention plus four nn.Linear"
        rows.append(compare(
            f"MultiHeadAttention ({impl}), forward+backward",
            (f"MultiHeadAttention {impl}", _forward_backward(lambda m=ours_mha: m(x, x, x), [x])),
            ("nn.MultiheadAttention", _forward_backward(lambda: reference_mha(x, x, x, need_weights=False)[0], [x])),
            note=note, **_repeats(quick)))

    reference_norm = nn.LayerNorm(C).to(device)
    ours_norm = LayerNorm(C).to(device)
    _check_same(lambda: ours_norm(x), lambda: reference_norm(x))
    rows.append(compare("LayerNorm, forward+backward", ("LayerNorm", _forward_backward(lambda: ours_norm(x), [x])),
                        ("nn.LayerNorm", _forward_backward(lambda: reference_norm(x), [x])),
                        note="teaching code: mean, variance and scale as separate tensor operations; "
                             "torch's is one fused kernel", **_repeats(quick)))

    reference_encoder = nn.TransformerEncoderLayer(C, H, 4 * C, dropout=0.0, batch_first=True).to(device)
    ours_encoder = with_attention_impl(EncoderLayer.from_torch(reference_encoder), "fused")
    rows.append(compare("EncoderLayer (fused), forward+backward",
                        ("EncoderLayer", _forward_backward(lambda: ours_encoder(x), [x])),
                        ("nn.TransformerEncoderLayer", _forward_backward(lambda: reference_encoder(x), [x])),
                        note=LAYER_NOTE, **_repeats(quick)))
    _check_same(lambda: ours_encoder(x), lambda: reference_encoder(x))
    ours_encoder.eval()
    reference_encoder.eval()
    rows.append(compare("EncoderLayer (fused), inference forward",
                        ("EncoderLayer", _no_grad(lambda: ours_encoder(x))),
                        ("nn.TransformerEncoderLayer", _no_grad(lambda: reference_encoder(x))),
                        note="torch runs its one-kernel encoder fast path here (eval, no_grad); "
                             "the course's layer is plain modules", **_repeats(quick)))

    reference_decoder = nn.TransformerDecoderLayer(C, H, 4 * C, dropout=0.0, batch_first=True).to(device)
    ours_decoder = with_attention_impl(DecoderLayer.from_torch(reference_decoder), "fused")
    # torch's boolean masks mean the opposite: True = may NOT attend
    _check_same(lambda: ours_decoder(x, memory, tgt_mask=causal), lambda: reference_decoder(x, memory, tgt_mask=~causal))
    rows.append(compare(
        "DecoderLayer (fused, causal), forward+backward",
        ("DecoderLayer", _forward_backward(lambda: ours_decoder(x, memory, tgt_mask=causal), [x])),
        ("nn.TransformerDecoderLayer", _forward_backward(lambda: reference_decoder(x, memory, tgt_mask=~causal), [x])),
        note=LAYER_NOTE, **_repeats(quick)))
    return rows


def comparisons(quick: bool = False) -> list[Comparison]:
    """Every comparison of this module, on the benchmark device (see timing.bench_device)."""
    torch.manual_seed(0)
    device = bench_device()
    rows = [row for size in ATTENTION_SIZES for row in attention_at(size, quick, device)]
    return rows + layer_comparisons(ATTENTION_SIZES[0], quick, device)
