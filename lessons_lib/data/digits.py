"""Lessons 06 and 07 (notebooks/06_self_supervised_learning.ipynb, 07_transfer_learning.ipynb):
scikit-learn's bundled 8x8 handwritten digits, split, and cut into patches.

The 1,797 images ship inside scikit-learn (`sklearn.datasets.load_digits`), so nothing is
downloaded. Each image is 8 x 8 pixels with values 0..16; here they are scaled to [0, 1].

A Transformer reads a sequence of vectors, so an image becomes a sequence of patches, as in the
Vision Transformer: with `patch_size=2` the 8 x 8 image is a 4 x 4 grid of 2 x 2 patches, read row
by row, each patch a vector of 4 pixels:

    image (8, 8)  ->  grid (4, 4) of patches (2, 2)  ->  sequence (16, 4)   # (N, P) per image

A `DigitSplit` counts how often its labels are read (`label_reads`), so that a lesson can check
that pre-training never looked at them.

Shape legend: N images, H = W = 8 pixels, P pixels per patch, num_patches patches per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from lessons_lib.runtime import check_positive_int

IMAGE_SIZE = 8  # pixels per side
PIXEL_MAX = 16.0  # the largest raw pixel value
NUM_CLASSES = 10


class DigitSplit:
    """Images (N, 8, 8) in [0, 1] and their labels (N,); `label_reads` counts reads of `labels`."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        if images.dim() != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"images must be (N, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(images.shape)}")
        if labels.shape != images.shape[:1]:
            raise ValueError(f"labels must be (N,) with N = {images.shape[0]}, got {tuple(labels.shape)}")
        self.images = images
        self._labels = labels
        self.label_reads = 0

    @property
    def labels(self) -> torch.Tensor:
        """The class of each image (N,); every read is counted in `label_reads`."""
        self.label_reads += 1
        return self._labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, indices: torch.Tensor) -> DigitSplit:
        """The images (and labels) at `indices`, as a new split (its own read count, from 0)."""
        return DigitSplit(self.images[indices], self._labels[indices])

    def __repr__(self) -> str:
        return f"DigitSplit({len(self)} images)"


class Digits(NamedTuple):
    """The training and the held-out test images."""

    train: DigitSplit
    test: DigitSplit


def load_digits(num_test: int = 500, seed: int = 0) -> Digits:
    """scikit-learn's 1,797 digits, scaled to [0, 1], split at random (seeded) into train and test."""
    from sklearn.datasets import (
        load_digits as sklearn_digits,  # bundled with scikit-learn: no download
    )

    check_positive_int("num_test", num_test)
    bunch = sklearn_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32) / PIXEL_MAX  # (1797, 8, 8)
    labels = torch.tensor(bunch.target, dtype=torch.long)  # (1797,)
    if num_test >= len(images):
        raise ValueError(f"num_test={num_test} leaves no training images (there are {len(images)})")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    test, train = order[:num_test], order[num_test:]
    return Digits(DigitSplit(images[train], labels[train]), DigitSplit(images[test], labels[test]))


def _check_patch_size(patch_size: int) -> None:
    check_positive_int("patch_size", patch_size)
    if IMAGE_SIZE % patch_size != 0:
        raise ValueError(f"patch_size={patch_size} must divide the image size {IMAGE_SIZE}")


def to_patches(images: torch.Tensor, patch_size: int = 2) -> torch.Tensor:
    """(N, 8, 8) images -> (N, num_patches, patch_size**2) patches, read row by row."""
    _check_patch_size(patch_size)
    if images.dim() != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"images must be (N, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(images.shape)}")
    n, g, p = images.shape[0], IMAGE_SIZE // patch_size, patch_size
    grid = images.reshape(n, g, p, g, p)  # (N, H, W) -> (N, row, y, column, x)
    return grid.permute(0, 1, 3, 2, 4).reshape(n, g * g, p * p)  # -> (N, row * column, y * x)


def from_patches(patches: torch.Tensor, patch_size: int = 2) -> torch.Tensor:
    """(N, num_patches, patch_size**2) patches -> (N, 8, 8) images: the inverse of `to_patches`."""
    _check_patch_size(patch_size)
    g, p = IMAGE_SIZE // patch_size, patch_size
    if patches.dim() != 3 or patches.shape[1:] != (g * g, p * p):
        raise ValueError(f"patches of size {p} must be (N, {g * g}, {p * p}), got {tuple(patches.shape)}")
    n = patches.shape[0]
    grid = patches.reshape(n, g, g, p, p)  # (N, row, column, y, x)
    return grid.permute(0, 1, 3, 2, 4).reshape(n, IMAGE_SIZE, IMAGE_SIZE)  # (N, H, W)


def per_class_indices(labels: torch.Tensor, per_class: int, seed: int = 0,
                      classes: Sequence[int] | None = None) -> torch.Tensor:
    """Indices of `per_class` examples of each class (drawn at random, seeded): a few-label subset."""
    check_positive_int("per_class", per_class)
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in (sorted(set(labels.tolist())) if classes is None else classes):
        candidates = (labels == label).nonzero().flatten()
        if len(candidates) < per_class:
            raise ValueError(f"class {label} has {len(candidates)} examples, fewer than per_class={per_class}")
        chosen.append(candidates[torch.randperm(len(candidates), generator=generator)[:per_class]])
    return torch.cat(chosen)


def fraction_indices(labels: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """Indices of `fraction` of the examples of each class (at least one each), drawn seeded."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in sorted(set(labels.tolist())):
        candidates = (labels == label).nonzero().flatten()
        count = max(1, round(fraction * len(candidates)))
        chosen.append(candidates[torch.randperm(len(candidates), generator=generator)[:count]])
    return torch.cat(chosen)


def select_classes(split: DigitSplit, classes: Sequence[int]) -> DigitSplit:
    """The images of `classes` only, relabelled 0, 1, ... in the order given (digits 5-9 -> 0-4)."""
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct digits, got {list(classes)}")
    labels = split.labels
    keep = torch.isin(labels, torch.tensor(list(classes)))
    new_label = torch.full((NUM_CLASSES,), -1, dtype=torch.long)
    new_label[torch.tensor(list(classes))] = torch.arange(len(classes))
    return DigitSplit(split.images[keep], new_label[labels[keep]])
