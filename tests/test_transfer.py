"""lessons_lib.transfer: freezing, the linear probe, a new head and fine-tuning, MiniLM offline."""

import pytest
import torch

from lessons_lib.ssl import PatchEncoder, PatchEncoderConfig
from lessons_lib.transfer import (
    FineTuneConfig,
    PatchClassifier,
    ScratchTextClassifier,
    accuracy,
    count_parameters,
    extract_features,
    fine_tune,
    freeze_by_name,
    freeze_first_layers,
    linear_probe,
    load_pretrained_text_encoder,
    pool_tokens,
    sentence_embeddings,
    trainable_parameters,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _classifier(seed=0, pool="flat"):
    torch.manual_seed(seed)
    return PatchClassifier(PatchEncoder(PatchEncoderConfig.tiny()), num_classes=3, pool=pool)


def _toy_task(n=48, seed=0):
    """Patches whose class is which third of the image is bright."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    patches = 0.1 * torch.rand(n, 16, 4, generator=generator)
    for index, label in enumerate(labels.tolist()):
        patches[index, 5 * label : 5 * label + 5] += 1.0
    return patches, labels


# ----- freezing ------------------------------------------------------------------------------------


def test_freeze_first_layers_freezes_the_front_and_frees_the_rest():
    model = _classifier()
    blocks = model.encoder.blocks()
    freeze_first_layers(blocks, 2)
    for index, block in enumerate(blocks):
        assert all(p.requires_grad == (index >= 2) for p in block.parameters())
    assert all(p.requires_grad for p in model.head.parameters()), "the new head is not a block: it trains"
    freeze_first_layers(blocks, 0)
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 3\]"):
        freeze_first_layers(blocks, 4)


def test_frozen_parameters_get_no_gradient_and_do_not_change_in_a_training_step():
    model = _classifier()
    freeze_first_layers(model.encoder.blocks(), 2)  # embedding and layer 1 frozen
    frozen = {name: p.detach().clone() for name, p in model.named_parameters() if not p.requires_grad}
    free = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    assert frozen and free
    patches, labels = _toy_task()
    loss = torch.nn.functional.cross_entropy(model(patches), labels)
    loss.backward()
    for name, parameter in model.named_parameters():
        if name in frozen:
            assert parameter.grad is None, f"a gradient was computed for frozen {name}"
        else:
            assert parameter.grad is not None
    fine_tune(model, patches, labels, FineTuneConfig(steps=3, batch_size=16), progress=False)
    parameters = dict(model.named_parameters())
    for name, before in frozen.items():
        assert torch.equal(parameters[name], before), f"frozen {name} changed"
    assert any(not torch.equal(parameters[name], before) for name, before in free.items())


def test_freeze_by_name_takes_prefixes_and_names_what_it_froze():
    model = _classifier()
    frozen = freeze_by_name(model, ["encoder.embedding", "encoder.encoder.layers.0"])
    assert frozen and all(name.startswith(("encoder.embedding.", "encoder.encoder.layers.0.")) for name in frozen)
    assert {name for name, p in model.named_parameters() if not p.requires_grad} == set(frozen)
    assert count_parameters(model, trainable_only=True) == count_parameters(model) - sum(
        dict(model.named_parameters())[name].numel() for name in frozen)
    assert len(trainable_parameters(model)) == len(list(model.parameters())) - len(frozen)
    with pytest.raises(ValueError, match="no parameter of the model is named"):
        freeze_by_name(model, ["encoder.layer.0"])
    with pytest.raises(ValueError, match="list of names"):
        freeze_by_name(model, "encoder")


def test_fine_tune_refuses_a_model_with_nothing_to_train():
    model = _classifier()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to fine-tune"):
        fine_tune(model, *_toy_task(), FineTuneConfig(steps=1), progress=False)


# ----- features and probes -------------------------------------------------------------------------


def test_pool_tokens_mean_or_flat():
    states = torch.rand(2, 5, 3)
    torch.testing.assert_close(pool_tokens(states, "mean"), states.mean(dim=1))
    assert pool_tokens(states, "flat").shape == (2, 15)
    with pytest.raises(ValueError, match="pool"):
        pool_tokens(states, "max")


def test_extract_features_gives_every_block_pooled_and_restores_the_mode():
    encoder = _classifier().encoder.train()
    patches = torch.rand(7, 16, 4)
    features = extract_features(encoder, patches, pool="mean", batch_size=3)
    assert encoder.training
    assert len(features) == 3 and all(f.shape == (7, 16) for f in features)
    with torch.no_grad():
        expected = [o.mean(dim=1) for o in encoder.eval().layer_outputs(patches)]
    for got, want in zip(features, expected, strict=True):
        torch.testing.assert_close(got, want)


def test_linear_probe_separates_separable_features_and_is_deterministic():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 3
    features = torch.randn(60, 8, generator=generator) + 4 * torch.nn.functional.one_hot(labels, 8)
    first = linear_probe(features[:30], labels[:30], features[30:], labels[30:])
    again = linear_probe(features[:30], labels[:30], features[30:], labels[30:])
    assert first.test_accuracy == 1.0 and first.train_accuracy == 1.0
    torch.testing.assert_close(first.classifier.weight, again.classifier.weight)
    torch.testing.assert_close(first.mean, features[:30].mean(dim=0))  # standardised with the training rows
    with pytest.raises(ValueError, match="same F"):
        linear_probe(features[:30], labels[:30], features[30:, :4], labels[30:])


def test_a_classifier_learns_the_toy_task_seeded():
    patches, labels = _toy_task()
    runs = []
    for _ in range(2):
        model = _classifier(pool="mean").eval()
        runs.append(fine_tune(model, patches, labels, FineTuneConfig(steps=60, batch_size=16, lr=3e-3), progress=False))
        assert not model.training
    assert runs[0].losses == runs[1].losses
    assert accuracy(model, *_toy_task(seed=1)) == 1.0


# ----- text ----------------------------------------------------------------------------------------


def test_scratch_text_classifier_ignores_padding():
    torch.manual_seed(0)
    model = ScratchTextClassifier(vocab_size=50, num_classes=2, d_model=16, num_heads=2, max_len=8).eval()
    short = torch.tensor([[5, 6, 7]])
    padded = torch.tensor([[5, 6, 7, 0, 0, 0]])
    with torch.no_grad():
        torch.testing.assert_close(model(short), model(padded))
        assert model(torch.tensor([[5, 6, 8]])).shape == (1, 2)


@pytest.fixture(scope="module")
def minilm():
    return load_pretrained_text_encoder()


def test_minilm_loads_offline_and_embeds_sentences(minilm):
    model, tokenizer = minilm
    assert not model.training and model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert tokenizer.mask_token_id == 103 and tokenizer.tokenize("excellent") == ["excellent"]
    sentences = ["the movie was great", "the film was excellent", "the movie was terrible"]
    vectors = sentence_embeddings(model, tokenizer, sentences, batch_size=2)
    assert vectors.shape == (3, 384)
    # alone or in a padded batch: padding does not count in the mean
    torch.testing.assert_close(sentence_embeddings(model, tokenizer, sentences[1:2]), vectors[1:2],
                               atol=1e-5, rtol=1e-4)
    similarity = torch.nn.functional.cosine_similarity(vectors[1:2], vectors)  # (3,)
    assert similarity[0] > similarity[2], "pre-trained: 'excellent' sits nearer 'great' than 'terrible'"
