"""lessons_lib.data.digits: scikit-learn's bundled digits, split, counted label reads, patches."""

import pytest
import torch

from lessons_lib.data.digits import (
    DigitSplit,
    fraction_indices,
    from_patches,
    load_digits,
    per_class_indices,
    select_classes,
    to_patches,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits(num_test=500, seed=0)


def test_load_digits_splits_the_1797_images_seeded(digits):
    assert len(digits.train) == 1297 and len(digits.test) == 500
    assert digits.train.images.shape == (1297, 8, 8) and digits.train.images.dtype == torch.float32
    assert digits.train.images.min() == 0.0 and digits.train.images.max() == 1.0
    assert set(digits.test.labels.tolist()) == set(range(10))
    again = load_digits(num_test=500, seed=0)
    torch.testing.assert_close(again.test.images, digits.test.images)
    other = load_digits(num_test=500, seed=1)
    assert not torch.equal(other.test.images, digits.test.images)
    with pytest.raises(ValueError, match="num_test"):
        load_digits(num_test=1797)


def test_train_and_test_hold_different_images(digits):
    train = {tuple(image.flatten().tolist()) for image in digits.train.images}
    test = {tuple(image.flatten().tolist()) for image in digits.test.images}
    # scikit-learn's digits hold no duplicate images, so a random split shares none
    assert not train & test


def test_label_reads_are_counted_and_images_are_not():
    split = DigitSplit(torch.zeros(3, 8, 8), torch.tensor([1, 2, 3]))
    _ = split.images
    assert split.label_reads == 0
    assert split.labels.tolist() == [1, 2, 3]
    assert split.label_reads == 1
    assert split.subset(torch.tensor([2])).label_reads == 0
    with pytest.raises(ValueError, match="labels must be"):
        DigitSplit(torch.zeros(3, 8, 8), torch.tensor([1, 2]))


def test_patches_are_read_row_by_row_and_from_patches_inverts():
    image = torch.arange(64.0).reshape(1, 8, 8)
    patches = to_patches(image, patch_size=2)
    assert patches.shape == (1, 16, 4)
    assert patches[0, 0].tolist() == [0, 1, 8, 9]  # the top-left 2x2 square
    assert patches[0, 1].tolist() == [2, 3, 10, 11]  # the square to its right
    assert patches[0, 4].tolist() == [16, 17, 24, 25]  # the first square of the second row
    torch.testing.assert_close(from_patches(patches), image)
    assert to_patches(image, patch_size=4).shape == (1, 4, 16)
    with pytest.raises(ValueError, match="divide"):
        to_patches(image, patch_size=3)


def test_few_label_subsets_are_per_class_and_seeded(digits):
    labels = digits.train.labels
    rows = per_class_indices(labels, 5, seed=0)
    assert torch.bincount(labels[rows], minlength=10).tolist() == [5] * 10
    assert torch.equal(rows, per_class_indices(labels, 5, seed=0))
    assert not torch.equal(rows, per_class_indices(labels, 5, seed=1))
    some = fraction_indices(labels, 0.01, seed=0)
    assert (torch.bincount(labels[some], minlength=10) >= 1).all()
    assert len(fraction_indices(labels, 1.0)) == len(labels)
    with pytest.raises(ValueError, match="fewer than per_class"):
        per_class_indices(labels, 1000)


def test_select_classes_keeps_and_relabels(digits):
    high = select_classes(digits.test, [5, 6, 7, 8, 9])
    original = digits.test.labels
    assert len(high) == int((original >= 5).sum())
    assert torch.equal(high.labels, original[original >= 5] - 5)
    torch.testing.assert_close(high.images, digits.test.images[original >= 5])
