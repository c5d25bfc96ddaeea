"""lessons_lib.ssl: BERT's masking rule, patch masking, the loss on hidden patches, the patch encoder."""

from pathlib import Path

import pytest
import torch

from lessons_lib.ssl import (
    IGNORE_INDEX,
    Inpainter,
    InpaintingConfig,
    PatchEncoder,
    PatchEncoderConfig,
    block_patch_mask,
    checkpoint_path,
    hidden_patch_loss,
    load_or_pretrain,
    load_pretrained,
    mask_patches,
    mask_tokens,
    masking_rule,
    mean_fill,
    next_token_targets,
    pretrain_inpainting,
    pretraining_settings,
    random_patch_mask,
    save_pretrained,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MASK, VOCAB = 3, 1000
SPECIALS = (0, 1, 2)  # PAD, CLS, SEP in this test's vocabulary


# ----- mask_tokens: BERT's 15 %, then 80 / 10 / 10 ----------------------------------------------


@pytest.fixture(scope="module")
def many_tokens():
    """200 sentences of 500 ids: CLS first, SEP last, some PAD at the end, words in [10, VOCAB)."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(10, VOCAB, (200, 500), generator=generator)
    ids[:, 0], ids[:, -1], ids[:, -40:-1] = 1, 2, 0
    return ids


def test_mask_tokens_follows_bert_s_proportions_over_many_draws(many_tokens):
    inputs, labels = mask_tokens(many_tokens, MASK, VOCAB, mask_prob=0.15, special_ids=SPECIALS,
                                 generator=torch.Generator().manual_seed(1))
    words = ~torch.isin(many_tokens, torch.tensor(SPECIALS))
    chosen = labels != IGNORE_INDEX
    # 80,000 candidate words: the standard error of a share near 0.15 is about 0.0013
    assert abs(chosen[words].float().mean().item() - 0.15) < 0.006
    became_mask = chosen & (inputs == MASK)
    stayed = chosen & (inputs == many_tokens)
    became_random = chosen & ~became_mask & ~stayed
    count = chosen.sum().item()  # about 12,000: a share's standard error is under 0.004
    assert abs(became_mask.sum().item() / count - 0.8) < 0.015
    assert abs(became_random.sum().item() / count - 0.1) < 0.012
    assert abs(stayed.sum().item() / count - 0.1) < 0.012  # a random token equal to the word is 1 in 1,000


def test_mask_tokens_never_chooses_specials_and_labels_only_the_chosen(many_tokens):
    inputs, labels = mask_tokens(many_tokens, MASK, VOCAB, mask_prob=0.5, special_ids=SPECIALS,
                                 generator=torch.Generator().manual_seed(2))
    special = torch.isin(many_tokens, torch.tensor(SPECIALS))
    assert (labels[special] == IGNORE_INDEX).all()
    assert torch.equal(inputs[special], many_tokens[special])
    chosen = labels != IGNORE_INDEX
    assert torch.equal(labels[chosen], many_tokens[chosen]), "the label is the original token"
    assert torch.equal(inputs[~chosen], many_tokens[~chosen]), "a token not chosen is not touched"
    assert inputs.dtype == many_tokens.dtype and inputs.shape == labels.shape == many_tokens.shape


def test_mask_tokens_leaves_its_input_alone_and_is_seeded(many_tokens):
    before = many_tokens.clone()
    first = mask_tokens(many_tokens, MASK, VOCAB, generator=torch.Generator().manual_seed(7))
    assert torch.equal(many_tokens, before), "the input must not be changed in place"
    again = mask_tokens(many_tokens, MASK, VOCAB, generator=torch.Generator().manual_seed(7))
    other = mask_tokens(many_tokens, MASK, VOCAB, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[1], other[1])


def test_mask_prob_0_chooses_nothing_and_1_every_word(many_tokens):
    inputs, labels = mask_tokens(many_tokens, MASK, VOCAB, mask_prob=0.0, special_ids=SPECIALS)
    assert torch.equal(inputs, many_tokens) and (labels == IGNORE_INDEX).all()
    _, labels = mask_tokens(many_tokens, MASK, VOCAB, mask_prob=1.0, special_ids=SPECIALS)
    assert torch.equal(labels != IGNORE_INDEX, ~torch.isin(many_tokens, torch.tensor(SPECIALS)))


def test_masking_rule_worked_by_hand():
    ids = torch.tensor([[1, 50, 51, 52, 53, 2]])
    choose = torch.tensor([[0.0, 0.10, 0.90, 0.05, 0.01, 0.0]])  # 50, 52 and 53 chosen; CLS and SEP are special
    action = torch.tensor([[0.0, 0.50, 0.50, 0.85, 0.95, 0.0]])  # 50 -> MASK, 52 -> random, 53 stays
    random_ids = torch.full((1, 6), 777)
    inputs, labels = masking_rule(ids, choose, action, random_ids, MASK, 0.15, special_ids=(1, 2))
    assert inputs.tolist() == [[1, MASK, 51, 777, 53, 2]]
    assert labels.tolist() == [[-100, 50, -100, 52, 53, -100]]


@pytest.mark.parametrize("kwargs, message", [
    ({"input_ids": torch.ones(2, 3)}, "integer tensor"),
    ({"mask_prob": 1.5}, "mask_prob"),
    ({"mask_token_id": VOCAB}, "mask_token_id"),
    ({"vocab_size": 0}, "vocab_size"),
])
def test_mask_tokens_names_the_bad_argument(kwargs, message):
    arguments = {"input_ids": torch.ones(2, 3, dtype=torch.long), "mask_token_id": MASK, "vocab_size": VOCAB}
    with pytest.raises(ValueError, match=message):
        mask_tokens(**{**arguments, **kwargs})


def test_next_token_targets_shift_by_one():
    inputs, targets = next_token_targets(torch.tensor([[5, 6, 7, 8]]))
    assert inputs.tolist() == [[5, 6, 7]] and targets.tolist() == [[6, 7, 8]]
    with pytest.raises(ValueError, match="T >= 2"):
        next_token_targets(torch.tensor([[5]]))


# ----- patch masks ---------------------------------------------------------------------------------


def test_random_patch_mask_hides_exactly_num_hidden_and_every_patch_sometimes():
    hidden = random_patch_mask(2000, 16, 5, generator=torch.Generator().manual_seed(0))
    assert hidden.dtype == torch.bool and hidden.shape == (2000, 16)
    assert (hidden.sum(dim=1) == 5).all()
    share = hidden.float().mean(dim=0)  # each patch: 5/16 of the time
    assert (abs(share - 5 / 16) < 0.05).all()
    with pytest.raises(ValueError, match="num_hidden"):
        random_patch_mask(1, 16, 17)


def test_block_patch_mask_hides_one_square_anywhere_it_fits():
    hidden = block_patch_mask(500, 4, 2, generator=torch.Generator().manual_seed(0))
    assert hidden.shape == (500, 16) and (hidden.sum(dim=1) == 4).all()
    corners = set()
    for row in hidden.reshape(500, 4, 4):
        rows, columns = row.nonzero(as_tuple=True)
        top, left = rows.min().item(), columns.min().item()
        assert row[top : top + 2, left : left + 2].all(), "the four hidden patches form a 2x2 square"
        corners.add((top, left))
    assert corners == {(r, c) for r in range(3) for c in range(3)}
    with pytest.raises(ValueError, match="block_size"):
        block_patch_mask(1, 4, 5)


def test_mask_patches_fills_only_the_hidden_and_returns_a_new_tensor():
    patches = torch.rand(2, 16, 4)
    before = patches.clone()
    hidden = block_patch_mask(2, 4, 2, generator=torch.Generator().manual_seed(3))
    masked = mask_patches(patches, hidden, fill_value=-1.0)
    assert torch.equal(patches, before)
    assert (masked[hidden] == -1.0).all() and torch.equal(masked[~hidden], patches[~hidden])
    with pytest.raises(ValueError, match="hidden must be a bool"):
        mask_patches(patches, hidden.float())


def test_hidden_patch_loss_counts_the_hidden_pixels_only():
    target = torch.rand(3, 16, 4)
    hidden = block_patch_mask(3, 4, 2, generator=torch.Generator().manual_seed(0))
    predicted = target.clone()
    predicted[hidden] += 0.5  # every hidden pixel off by 0.5
    assert hidden_patch_loss(predicted, target, hidden).item() == pytest.approx(0.25)
    predicted[~hidden] += 10.0  # the visible ones do not count, however wrong
    assert hidden_patch_loss(predicted, target, hidden).item() == pytest.approx(0.25)
    predicted.requires_grad_(True)
    hidden_patch_loss(predicted, target, hidden).backward()
    assert (predicted.grad[~hidden] == 0).all() and (predicted.grad[hidden] != 0).all()


def test_mean_fill_predicts_each_patch_s_training_mean():
    train = torch.rand(10, 16, 4)
    fill = mean_fill(train, batch_size=3)
    assert fill.shape == (3, 16, 4)
    torch.testing.assert_close(fill[2], train.mean(dim=0))


# ----- the patch encoder and pre-training ----------------------------------------------------------


def test_patch_encoder_shapes_blocks_and_layer_outputs():
    torch.manual_seed(0)
    config = PatchEncoderConfig.tiny()
    encoder = PatchEncoder(config)
    patches = torch.rand(3, 16, 4)
    outputs = encoder.layer_outputs(patches)
    assert len(outputs) == len(encoder.blocks()) == config.num_layers + 1
    assert all(o.shape == (3, 16, config.d_model) for o in outputs)
    torch.testing.assert_close(encoder(patches), outputs[-1])
    with pytest.raises(ValueError, match="patches must be"):
        encoder(torch.rand(3, 15, 4))
    with pytest.raises(ValueError, match="divisible"):
        PatchEncoderConfig(d_model=30, num_heads=4)


def test_the_pixels_of_hidden_patches_never_reach_the_model():
    torch.manual_seed(0)
    model = Inpainter(PatchEncoderConfig.tiny()).eval()
    patches = torch.rand(4, 16, 4)
    hidden = block_patch_mask(4, 4, 2, generator=torch.Generator().manual_seed(1))
    other = patches.clone()
    other[hidden] = torch.rand(int(hidden.sum()), 4)  # different pixels under the hidden square
    with torch.no_grad():
        torch.testing.assert_close(model(patches, hidden), model(other, hidden))
        shown = ~hidden  # now those pixels are visible, and they do change the output
        assert not torch.allclose(model(patches, shown), model(other, shown))


def test_pretrain_inpainting_lowers_the_loss_and_is_seeded():
    patches = torch.rand(64, 16, 4).round()  # black-and-white noise: learnable only as the mean
    config = InpaintingConfig(steps=40, batch_size=16, seed=3)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = Inpainter(PatchEncoderConfig.tiny()).eval()
        runs.append(pretrain_inpainting(model, patches, config, progress=False).losses)
        assert not model.training, "the caller's mode comes back"
    assert runs[0] == runs[1]
    assert sum(runs[0][-10:]) / 10 < runs[0][0]
    with pytest.raises(ValueError, match="grid_size"):
        pretrain_inpainting(model, torch.rand(4, 9, 4), config, progress=False)


def test_save_and_load_pretrained_only_with_the_same_settings(tmp_path):
    torch.manual_seed(0)
    config = PatchEncoderConfig.tiny()
    settings = pretraining_settings(config, InpaintingConfig(steps=5), quick=True)
    saved = Inpainter(config)
    path = save_pretrained(saved, tmp_path / "sub" / "weights.pt", settings)
    fresh = Inpainter(config)
    assert load_pretrained(fresh, path, settings)
    for name, value in saved.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], value)
    assert not load_pretrained(Inpainter(config), path, {**settings, "quick": False})
    assert not load_pretrained(Inpainter(config), tmp_path / "missing.pt", settings)


def test_checkpoint_path_reads_the_argument_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_CHECKPOINT_DIR", str(tmp_path))
    assert checkpoint_path("a.pt") == tmp_path / "a.pt"
    assert checkpoint_path("a.pt", "elsewhere") == Path("elsewhere") / "a.pt"
    monkeypatch.delenv("LESSONS_CHECKPOINT_DIR")
    assert str(checkpoint_path("a.pt")) == "checkpoints/a.pt"


def test_load_or_pretrain_trains_once_then_loads_the_same_weights(tmp_path):
    patches = torch.rand(32, 16, 4)
    config = InpaintingConfig(steps=5, batch_size=8, seed=1)
    model_config = PatchEncoderConfig.tiny()
    settings = pretraining_settings(model_config, config)
    trained, result = load_or_pretrain(model_config, config, patches, tmp_path / "w.pt", settings, progress=False)
    assert result is not None and len(result.losses) == 5 and not trained.training
    loaded, again = load_or_pretrain(model_config, config, patches, tmp_path / "w.pt", settings, progress=False)
    assert again is None
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value)
    retrained, _ = load_or_pretrain(model_config, config, patches, tmp_path / "other.pt", settings, progress=False)
    for name, value in trained.state_dict().items():
        torch.testing.assert_close(retrained.state_dict()[name], value)  # seeded: the same weights
