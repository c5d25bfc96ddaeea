"""Lesson 06 (notebooks/06_self_supervised_learning.ipynb): labels made from the data itself.

Self-supervised learning hides part of an input and trains a model to give it back. The hidden
part is the label, so no person has to write one:

    text (BERT, lesson 08)    mask_tokens: choose 15 % of the tokens; of those, 80 % become [MASK],
                              10 % a random token, 10 % stay; predict the originals (labels -100
                              everywhere else, so the loss skips them)
    text (GPT, lesson 09)     next_token_targets: predict every token from the ones before it
    images (this lesson)      hide patches (block_patch_mask, random_patch_mask, mask_patches),
                              predict their pixels (Inpainter), score on the hidden patches only
                              (hidden_patch_loss)

The image model is lesson 05's Transformer encoder over a sequence of patches: `PatchEncoder`
embeds each patch (a learned vector replaces the hidden ones, the image version of [MASK]), adds a
learned position per patch, and runs `transformer.Encoder`; `Inpainter` adds a linear head from each
patch's vector back to its pixels. Lesson 07 reuses the pre-trained `PatchEncoder` with new heads.

A patch mask is boolean with True = hidden (to be predicted); it is not an attention mask.
Shape legend: B batch, T tokens, N patches, P pixels per patch, C channels (d_model).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from lessons_lib.attention import check_attention_impl
from lessons_lib.multihead import check_head_sizes
from lessons_lib.positional import LearnedPositionalEmbedding
from lessons_lib.runtime import check_positive_int, model_mode
from lessons_lib.train import TrainResult
from lessons_lib.transformer import Encoder

#: The label of a position with nothing to predict; `torch.nn.functional.cross_entropy` skips it.
IGNORE_INDEX = -100
#: BERT's split of the chosen tokens: this share becomes [MASK], the same again a random token.
MASK_SHARE = 0.8
RANDOM_SHARE = 0.1


# ----- text: masked tokens (BERT) and next tokens (GPT) ----------------------------------------


def _check_ids(name: str, ids: torch.Tensor) -> None:
    if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{name} must be an integer tensor of token ids, got "
                         f"{type(ids).__name__ if not isinstance(ids, torch.Tensor) else ids.dtype}")


def _check_mask_arguments(mask_token_id: int, vocab_size: int, mask_prob: float) -> None:
    check_positive_int("vocab_size", vocab_size)
    if not 0 <= mask_token_id < vocab_size:
        raise ValueError(f"mask_token_id={mask_token_id} is not an id of a vocabulary of {vocab_size}")
    if not 0.0 <= mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in [0, 1], got {mask_prob}")


def masking_rule(input_ids: torch.Tensor, choose_draw: torch.Tensor, action_draw: torch.Tensor,
                 random_ids: torch.Tensor, mask_token_id: int, mask_prob: float = 0.15,
                 special_ids: Sequence[int] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking rule, given the random draws: -> (inputs, labels), both shaped like input_ids.

    `choose_draw` and `action_draw` are uniform numbers in [0, 1) and `random_ids` random token
    ids, one of each per token. `mask_tokens` draws them; this function applies the rule.
    """
    # 1. choose: a token is chosen when its draw is below mask_prob; special tokens never are
    special = torch.isin(input_ids, torch.as_tensor(list(special_ids), dtype=input_ids.dtype,
                                                    device=input_ids.device))
    chosen = (choose_draw < mask_prob) & ~special
    # 2. the label is the original token where chosen, IGNORE_INDEX (-100) everywhere else
    labels = input_ids.masked_fill(~chosen, IGNORE_INDEX)
    # 3. of the chosen: 80 % become [MASK], 10 % a random token, the last 10 % stay as they are
    to_mask = chosen & (action_draw < MASK_SHARE)
    to_random = chosen & (action_draw >= MASK_SHARE) & (action_draw < MASK_SHARE + RANDOM_SHARE)
    inputs = input_ids.masked_fill(to_mask, mask_token_id)  # a new tensor: input_ids is untouched
    inputs = torch.where(to_random, random_ids.to(input_ids.dtype), inputs)
    return inputs, labels


def mask_tokens(input_ids: torch.Tensor, mask_token_id: int, vocab_size: int, mask_prob: float = 0.15,
                special_ids: Sequence[int] = (), generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-language-model inputs and labels for (B, T) ids: -> (inputs, labels).

    Each token that is not special is chosen with probability `mask_prob`; of the chosen, 80 %
    become `mask_token_id`, 10 % a random token of the vocabulary, 10 % stay. `labels` holds the
    original id at the chosen positions and -100 elsewhere. `input_ids` is not changed.
    """
    _check_ids("input_ids", input_ids)
    _check_mask_arguments(mask_token_id, vocab_size, mask_prob)
    where = generator.device if generator is not None else input_ids.device
    shape = input_ids.shape
    choose_draw = torch.rand(shape, generator=generator, device=where)  # which tokens to choose
    action_draw = torch.rand(shape, generator=generator, device=where)  # what to do with each
    random_ids = torch.randint(vocab_size, shape, generator=generator, device=where)
    device = input_ids.device
    return masking_rule(input_ids, choose_draw.to(device), action_draw.to(device), random_ids.to(device),
                        mask_token_id, mask_prob, special_ids)


def next_token_targets(input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """GPT's labels from the data: (B, T) ids -> inputs (B, T - 1) and the next tokens (B, T - 1)."""
    _check_ids("input_ids", input_ids)
    if input_ids.dim() != 2 or input_ids.shape[1] < 2:
        raise ValueError(f"input_ids must be (B, T) with T >= 2, got {tuple(input_ids.shape)}")
    return input_ids[:, :-1], input_ids[:, 1:]  # position t reads tokens 0..t and predicts t + 1


# ----- images: hide patches, fill them in ------------------------------------------------------


def random_patch_mask(batch_size: int, num_patches: int, num_hidden: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, N) bool, True = hidden: `num_hidden` patches of each image, chosen at random."""
    check_positive_int("batch_size", batch_size)
    check_positive_int("num_patches", num_patches)
    if not 0 <= num_hidden <= num_patches:
        raise ValueError(f"num_hidden must be in [0, num_patches={num_patches}], got {num_hidden}")
    scores = torch.rand(batch_size, num_patches, generator=generator)  # (B, N)
    ranks = scores.argsort(dim=1).argsort(dim=1)  # (B, N): each patch's place in a random order
    return ranks < num_hidden


def block_patch_mask(batch_size: int, grid_size: int, block_size: int,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, grid_size**2) bool, True = hidden: a block_size x block_size square of each image's patch grid."""
    check_positive_int("batch_size", batch_size)
    check_positive_int("grid_size", grid_size)
    check_positive_int("block_size", block_size)
    if block_size > grid_size:
        raise ValueError(f"block_size={block_size} is larger than the grid ({grid_size} x {grid_size})")
    corners = grid_size - block_size + 1  # where the square's top-left patch may be
    top = torch.randint(corners, (batch_size, 1), generator=generator)  # (B, 1)
    left = torch.randint(corners, (batch_size, 1), generator=generator)  # (B, 1)
    index = torch.arange(grid_size)  # (grid,)
    rows = (index >= top) & (index < top + block_size)  # (B, grid): the square's rows
    columns = (index >= left) & (index < left + block_size)  # (B, grid): its columns
    return (rows[:, :, None] & columns[:, None, :]).flatten(1)  # (B, grid, grid) -> (B, N)


def _check_patches_and_mask(patches: torch.Tensor, hidden: torch.Tensor) -> None:
    if patches.dim() != 3:
        raise ValueError(f"patches must be (B, N, P), got shape {tuple(patches.shape)}")
    if hidden.dtype != torch.bool or hidden.shape != patches.shape[:2]:
        raise ValueError(f"hidden must be a bool (B, N) = {tuple(patches.shape[:2])} mask, got "
                         f"{hidden.dtype} {tuple(hidden.shape)}")


def mask_patches(patches: torch.Tensor, hidden: torch.Tensor, fill_value: float = 0.0) -> torch.Tensor:
    """(B, N, P) patches with the hidden ones set to `fill_value` (a new tensor; the input stays)."""
    _check_patches_and_mask(patches, hidden)
    return patches.masked_fill(hidden[..., None], fill_value)  # (B, N, 1) broadcasts over P


def hidden_patch_loss(predicted: torch.Tensor, target: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the pixels of the hidden patches only; the visible ones do not count."""
    _check_patches_and_mask(target, hidden)
    if predicted.shape != target.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and target {tuple(target.shape)} differ")
    squared_error = (predicted - target) ** 2  # (B, N, P)
    return squared_error[hidden].mean()  # (number hidden, P) -> a number


def mean_fill(train_patches: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The baseline without a model: every patch predicted as its mean over the training images."""
    mean = train_patches.mean(dim=0)  # (num_images, N, P) -> (N, P)
    return mean.expand(batch_size, *mean.shape)  # (B, N, P)


# ----- the model: lesson 05's encoder over patches ---------------------------------------------


@dataclass(frozen=True)
class PatchEncoderConfig:
    """Sizes of a `PatchEncoder`; the defaults fit 8x8 digits cut into 2x2 patches."""

    num_patches: int = 16
    patch_dim: int = 4
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 3
    d_ff: int = 128
    dropout: float = 0.0
    attention_impl: str = "fused"  # or "hand-written" (lesson 01's function); equal within 1e-5

    def __post_init__(self) -> None:
        for name in ("num_patches", "patch_dim", "d_model", "num_heads", "num_layers", "d_ff"):
            check_positive_int(name, getattr(self, name))
        check_head_sizes(self.d_model, self.num_heads, self.dropout)
        check_attention_impl(self.attention_impl)

    @classmethod
    def tiny(cls, num_patches: int = 16, patch_dim: int = 4) -> PatchEncoderConfig:
        """d_model 16, two heads, two layers: for tests and exercises."""
        return cls(num_patches, patch_dim, d_model=16, num_heads=2, num_layers=2, d_ff=32)


class PatchEmbedding(nn.Module):
    """Each patch's pixels -> a d_model vector (a learned [MASK] vector for hidden patches), plus its position."""

    def __init__(self, config: PatchEncoderConfig):
        super().__init__()
        self.patch_projection = nn.Linear(config.patch_dim, config.d_model)
        # the image version of BERT's [MASK] token: the model sees *that* a patch is hidden, not its pixels
        self.mask_embedding = nn.Parameter(torch.zeros(config.d_model))
        self.positions = LearnedPositionalEmbedding(config.d_model, config.num_patches)

    def forward(self, patches: torch.Tensor, hidden: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, P), hidden (B, N) bool or None -> (B, N, C)."""
        x = self.patch_projection(patches)  # (B, N, P) -> (B, N, C)
        if hidden is not None:
            x = torch.where(hidden[..., None], self.mask_embedding, x)  # hidden pixels never enter
        return self.positions(x)  # + a learned vector per patch position


class PatchEncoder(nn.Module):
    """Lesson 05's Transformer encoder over a sequence of image patches: (B, N, P) -> (B, N, C)."""

    def __init__(self, config: PatchEncoderConfig):
        super().__init__()
        if not isinstance(config, PatchEncoderConfig):
            raise ValueError(f"config must be a PatchEncoderConfig, got {type(config).__name__}")
        self.config = config
        self.embedding = PatchEmbedding(config)
        self.encoder = Encoder(config.num_layers, config.d_model, config.num_heads, config.d_ff,
                               config.dropout, attention_impl=config.attention_impl)

    def blocks(self) -> list[nn.Module]:
        """The stages in order: the embedding, then each encoder layer (what lesson 07 freezes)."""
        return [self.embedding, *self.encoder.layers]

    def _check(self, patches: torch.Tensor) -> None:
        expected = (self.config.num_patches, self.config.patch_dim)
        if patches.dim() != 3 or tuple(patches.shape[1:]) != expected:
            raise ValueError(f"patches must be (B, {expected[0]}, {expected[1]}), got {tuple(patches.shape)}")

    def layer_outputs(self, patches: torch.Tensor, hidden: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The output of every block: [embedding, layer 1, ..., layer L], each (B, N, C)."""
        self._check(patches)
        x = self.embedding(patches, hidden)  # (B, N, P) -> (B, N, C)
        outputs = [x]
        for layer in self.encoder.layers:
            x = layer(x)  # (B, N, C): every patch attends to every patch
            outputs.append(x)
        return outputs

    def forward(self, patches: torch.Tensor, hidden: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, P), hidden (B, N) bool or None -> (B, N, C): the last layer's output."""
        return self.layer_outputs(patches, hidden)[-1]


class Inpainter(nn.Module):
    """A PatchEncoder and a linear head that turns each patch's vector back into its pixels."""

    def __init__(self, config: PatchEncoderConfig):
        super().__init__()
        self.encoder = PatchEncoder(config)
        self.head = nn.Linear(config.d_model, config.patch_dim)

    def forward(self, patches: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """(B, N, P), hidden (B, N) -> predicted pixels of every patch (B, N, P)."""
        return self.head(self.encoder(patches, hidden))  # (B, N, C) -> (B, N, P)


@dataclass(frozen=True)
class InpaintingConfig:
    """Settings of `pretrain_inpainting`: which square to hide, and AdamW with a linear decay."""

    steps: int = 1500
    batch_size: int = 128
    grid_size: int = 4  # patches per side of the image
    block_size: int = 2  # the hidden square, in patches per side
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grid_size", "block_size"):
            check_positive_int(name, getattr(self, name))
        if self.block_size > self.grid_size:
            raise ValueError(f"block_size={self.block_size} is larger than grid_size={self.grid_size}")
        if not self.lr > 0 or self.weight_decay < 0:
            raise ValueError(f"lr must be > 0 and weight_decay >= 0, got {self.lr} and {self.weight_decay}")

    @classmethod
    def quick(cls, seed: int = 0) -> InpaintingConfig:
        """300 smaller steps at a higher learning rate: a few seconds on a CPU (lessons' quick runs)."""
        return cls(steps=300, batch_size=64, lr=3e-3, seed=seed)


def pretrain_inpainting(model: Inpainter, patches: torch.Tensor, config: InpaintingConfig,
                        progress: bool = True, desc: str = "inpainting") -> TrainResult:
    """Train `model` to fill in hidden squares of (N, num_patches, P) patches: pixels only, no labels.

    Seeded: the batches and the hidden squares come from a generator of `config.seed`.
    """
    if patches.dim() != 3 or patches.shape[1] != config.grid_size**2:
        raise ValueError(f"patches must be (N, grid_size**2 = {config.grid_size**2}, P), got "
                         f"{tuple(patches.shape)}")
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.1, 1.0 - step / config.steps))  # linear decay to a tenth
    losses: list[float] = []
    started = time.perf_counter()
    bar = tqdm(range(config.steps), desc=desc, disable=not progress)
    with model_mode(model, training=True):
        for step in bar:
            rows = torch.randint(len(patches), (config.batch_size,), generator=generator)
            batch = patches[rows].to(device)  # (B, N, P)
            hidden = block_patch_mask(config.batch_size, config.grid_size, config.block_size,
                                      generator=generator).to(device)  # (B, N)
            predicted = model(mask_patches(batch, hidden), hidden)  # (B, N, P)
            loss = hidden_patch_loss(predicted, batch, hidden)  # the hidden pixels are the labels
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            if step % 50 == 0 or step == config.steps - 1:
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return TrainResult(losses=losses, seconds=time.perf_counter() - started)


def checkpoint_path(name: str, directory: str | os.PathLike | None = None) -> Path:
    """`<directory>/<name>`; the directory is, in order: the argument, $LESSONS_CHECKPOINT_DIR, ./checkpoints."""
    return Path(directory or os.environ.get("LESSONS_CHECKPOINT_DIR") or "checkpoints") / name


def save_pretrained(model: nn.Module, path: str | os.PathLike, settings: dict) -> Path:
    """Save `model`'s weights with the `settings` (plain values) that produced them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"settings": settings, "state_dict": model.state_dict()}, path)
    return path


def load_pretrained(model: nn.Module, path: str | os.PathLike, settings: dict) -> bool:
    """Load weights saved by `save_pretrained` when the file exists and was made with the same
    `settings`; return whether it did (False: train them yourself)."""
    path = Path(path)
    if not path.is_file():
        return False
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved.get("settings") != settings:
        return False
    model.load_state_dict(saved["state_dict"])
    return True


def pretraining_settings(model_config: PatchEncoderConfig, config: InpaintingConfig, **extra) -> dict:
    """The plain-value settings that decide a pre-trained PatchEncoder (for save/load_pretrained)."""
    return {"model": asdict(model_config), "pretraining": asdict(config), **extra}


def load_or_pretrain(model_config: PatchEncoderConfig, config: InpaintingConfig, patches: torch.Tensor,
                     path: str | os.PathLike, settings: dict, device: torch.device | str = "cpu",
                     progress: bool = True) -> tuple[Inpainter, TrainResult | None]:
    """Lesson 06's pre-trained Inpainter: loaded from `path` when it was saved there with the same
    `settings`, else built (seeded with `config.seed`), pre-trained on `patches` and saved.

    Returns the model (in eval mode, on `device`) and the training result (None when loaded).
    Training is seeded, so on one machine both ways give the same weights.
    """
    torch.manual_seed(config.seed)
    model = Inpainter(model_config)
    if load_pretrained(model, path, settings):
        return model.to(device).eval(), None
    model.to(device)
    result = pretrain_inpainting(model, patches, config, progress=progress)
    save_pretrained(model, path, settings)
    return model.eval(), result
