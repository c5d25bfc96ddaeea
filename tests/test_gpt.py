"""lessons_lib.gpt: the course's GPT equals Hugging Face's GPT2LMHeadModel given the same weights; its
two attention paths agree in outputs and gradients; it is causal; the KV cache changes nothing but
the speed, also when the text outgrows the context; it refuses bad input and it learns."""

import dataclasses
import os

import pytest
import torch

from lessons_lib.gpt import GPT, GPTConfig
from lessons_lib.gpt_train import GPTTrainConfig, evaluate_gpt, next_token_loss, train_gpt

pytestmark = pytest.mark.usefixtures("one_torch_thread")

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _hf_model(seed=0, vocab_size=50, n_positions=24, n_embd=32, n_layer=2, n_head=4, **kwargs):
    """A random GPT2LMHeadModel in eval mode, its LayerNorms moved off gamma 1, beta 0 (so that a
    LayerNorm left uncopied would show)."""
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head, bos_token_id=0, eos_token_id=0, **kwargs)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".ln_" in name or "ln_f" in name or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model


def _ids(shape, vocab_size=50, seed=1):
    return torch.randint(vocab_size, shape, generator=torch.Generator().manual_seed(seed))


# Parity with Hugging Face


@pytest.mark.parametrize("attention_impl", ["fused", "hand-written"])
@pytest.mark.parametrize("hf_kwargs", [
    {},
    {"n_layer": 3, "n_head": 2, "n_embd": 48, "n_inner": 80, "layer_norm_epsilon": 1e-3, "seed": 3},
    {"n_layer": 1, "n_head": 8, "n_embd": 64, "activation_function": "gelu_pytorch_tanh", "seed": 7},
])
def test_from_hf_gives_the_logits_of_gpt2lmheadmodel(hf_kwargs, attention_impl):
    reference = _hf_model(**hf_kwargs)
    model = GPT.from_hf(reference, attention_impl=attention_impl).eval()
    assert model.config.attention_impl == attention_impl
    assert model.config.d_ff == (hf_kwargs.get("n_inner") or 4 * reference.config.n_embd)
    idx = _ids((3, 24))
    with torch.no_grad():
        expected = reference(idx).logits
        torch.testing.assert_close(model(idx), expected, atol=1e-4, rtol=0)
        torch.testing.assert_close(model(idx[:, :5]), expected[:, :5], atol=1e-4, rtol=0)


def test_from_hf_refuses_what_it_cannot_copy_exactly():
    with pytest.raises(ValueError, match="GPT2LMHeadModel"):
        GPT.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="activation 'relu'"):
        GPT.from_hf(_hf_model(activation_function="relu"))
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        GPT.from_hf(_hf_model(scale_attn_by_inverse_layer_idx=True))


def test_greedy_generation_equals_hugging_faces():
    reference = _hf_model(seed=2)
    model = GPT.from_hf(reference)
    prompt = _ids((2, 5), seed=4)
    expected = reference.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=15,
                                  do_sample=False, pad_token_id=0)
    for use_cache in (True, False):
        assert torch.equal(model.generate(prompt, 15, temperature=0.0, use_cache=use_cache), expected)


# The two attention paths


def test_hand_written_and_fused_attention_agree_in_outputs_and_gradients():
    torch.manual_seed(0)
    fused = GPT(GPTConfig.tiny(vocab_size=40))
    hand_written = GPT(dataclasses.replace(fused.config, attention_impl="hand-written"))
    hand_written.load_state_dict(fused.state_dict())
    x, y = _ids((4, 32), 40, seed=5), _ids((4, 32), 40, seed=6)
    losses = []
    for model in (fused, hand_written):
        torch.testing.assert_close(model(x), hand_written(x), atol=1e-5, rtol=0)
        loss = next_token_loss(model, x, y)
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[0], losses[1], atol=1e-5, rtol=0)
    for (name, a), (_, b) in zip(fused.named_parameters(), hand_written.named_parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=0, msg=name)


# The model itself


def _hidden_states(model, idx):
    positions = torch.arange(idx.shape[1])
    x = model.token_embedding(idx) + model.position_embedding(positions)
    for block in model.blocks:
        x = block(x)
    return x


def test_a_token_never_changes_the_logits_before_it():
    torch.manual_seed(0)
    model = GPT(GPTConfig.tiny(vocab_size=30)).eval()
    idx = _ids((2, 20), 30)
    changed = idx.clone()
    changed[:, 12] = (changed[:, 12] + 1) % 30
    with torch.no_grad():
        before, after = model(idx), model(changed)
    torch.testing.assert_close(before[:, :12], after[:, :12])
    assert (before[:, 12:] - after[:, 12:]).abs().max() > 1e-3


def test_the_output_layer_is_the_token_embedding_and_gpt2_initialisation():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=64, num_layers=8)
    model = GPT(config)
    matrices = [name for name, p in model.named_parameters() if p.shape == (64, config.d_model)]
    assert matrices == ["token_embedding.weight"], "no separate output matrix: it is tied"
    idx = _ids((1, 5), 64)
    with torch.no_grad():  # the logits are the final hidden states times the token embedding
        logits, hidden = model(idx), model.final_norm(_hidden_states(model, idx))
    torch.testing.assert_close(logits, hidden @ model.token_embedding.weight.T)
    assert model.token_embedding.weight.std().item() == pytest.approx(0.02, rel=0.1)
    residual_std = model.blocks[0].attention.W_o.weight.std().item()
    assert residual_std == pytest.approx(0.02 / 4, rel=0.1)  # 0.02 / sqrt(2 * 8 layers)
    assert model.blocks[0].feed_forward.W_2.weight.std().item() == pytest.approx(0.02 / 4, rel=0.1)
    assert model.blocks[0].attention.W_q.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert model.blocks[0].norm_1.weight.eq(1).all() and model.blocks[0].attention.W_q.bias.eq(0).all()


def test_the_kv_cache_in_pieces_gives_the_logits_of_one_pass():
    torch.manual_seed(0)
    model = GPT(GPTConfig.tiny(vocab_size=30)).eval()
    idx = _ids((2, 20), 30)
    cache = model.new_cache(batch_size=2)
    assert len(cache) == 2 and cache[0].keys.shape == (2, 2, 32, 16) and cache[0].length == 0  # (B, H, max_len, D)
    with torch.no_grad():
        full = model(idx)
        first = model(idx[:, :7], cache)
        stored_keys = cache[1].keys[:, :, :7].clone()
        middle = model(idx[:, 7:8], cache)  # one new token
        last = model(idx[:, 8:], cache)  # several new tokens
    assert [layer.length for layer in cache] == [20, 20]
    assert torch.equal(cache[1].keys[:, :, :7], stored_keys), "what is stored is never rewritten"
    torch.testing.assert_close(torch.cat([first, middle, last], dim=1), full, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="8 cached \\+ 25 new tokens exceed the context length"):
        small = model.new_cache(batch_size=2)
        model(idx[:, :8], small)
        model(torch.zeros(2, 25, dtype=torch.long), small)


def test_cached_and_uncached_generation_agree_past_the_context_length():
    torch.manual_seed(0)
    model = GPT(GPTConfig.tiny(vocab_size=30))  # max_len 32
    prompt = _ids((2, 28), 30)
    cached = model.generate(prompt, 20, temperature=0.0)
    assert cached.shape == (2, 48) and torch.equal(cached[:, :28], prompt)
    assert torch.equal(cached, model.generate(prompt, 20, temperature=0.0, use_cache=False))
    with torch.no_grad():  # the last token was read from the last 32 tokens only (the crop)
        expected_last = model.eval()(cached[:, -33:-1])[:, -1].argmax(-1)
    assert torch.equal(cached[:, -1], expected_last)
    long_prompt = _ids((1, 40), 30, seed=3)  # longer than the context from the start
    assert torch.equal(model.generate(long_prompt, 5, temperature=0.0),
                       model.generate(long_prompt, 5, temperature=0.0, use_cache=False))


def test_past_the_context_the_cache_is_rebuilt_at_every_step():
    torch.manual_seed(0)
    model = GPT(GPTConfig.tiny(vocab_size=30))  # max_len 32
    lengths = []  # the number of tokens each forward pass reads
    model.register_forward_pre_hook(lambda module, args: lengths.append(args[0].shape[1]))
    model.generate(_ids((1, 30), 30), 8, temperature=0.0)
    # the prompt, two single tokens until the cache holds 32, then a whole window at every step
    assert lengths == [30, 1, 1, 32, 32, 32, 32, 32]


def test_seeded_sampling_is_the_same_with_and_without_the_cache():
    torch.manual_seed(0)
    model = GPT(GPTConfig.tiny(vocab_size=30))
    prompt = _ids((3, 4), 30)
    runs = [model.generate(prompt, 40, temperature=1.5, top_k=10, use_cache=use_cache,
                           generator=torch.Generator().manual_seed(9)) for use_cache in (True, False, True)]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])
    other = model.generate(prompt, 40, temperature=1.5, top_k=10, generator=torch.Generator().manual_seed(10))
    assert not torch.equal(runs[0], other)


def test_generate_gives_the_mode_back_and_refuses_bad_arguments():
    torch.manual_seed(0)
    model = GPT(GPTConfig.tiny(vocab_size=30)).train()
    prompt = _ids((1, 4), 30)
    out = model.generate(prompt, 3)
    assert model.training and torch.is_grad_enabled()
    assert not out.is_inference(), "the result can be trained on, like any tensor"
    next_token_loss(model, out[:, :-1], out[:, 1:]).backward()
    for kwargs, message in [({"max_new_tokens": 0}, "max_new_tokens must be a positive int"),
                            ({"temperature": -1.0}, "temperature must be a number >= 0"),
                            ({"top_k": 0}, "top_k must be a positive int")]:
        with pytest.raises(ValueError, match=message):
            model.generate(prompt, **{"max_new_tokens": 3} | kwargs)


@pytest.mark.parametrize("idx, message", [
    (torch.zeros(2, 33, dtype=torch.long), "exceed the context length max_len=32"),
    (torch.full((1, 3), 30), "outside the vocabulary"),
    (torch.zeros(3, dtype=torch.long), "must be a \\(B, T\\) tensor"),
    (torch.zeros(1, 3), "torch.long"),
])
def test_forward_refuses_bad_token_ids(idx, message):
    model = GPT(GPTConfig.tiny(vocab_size=30))
    with pytest.raises(ValueError, match=message):
        model(idx)


@pytest.mark.parametrize("kwargs, message", [
    ({"d_model": 30, "num_heads": 4}, "not divisible by num_heads"),
    ({"attention_impl": "flash"}, "attention_impl must be one of"),
    ({"num_layers": 0}, "num_layers must be a positive int"),
    ({"eps": 0.0}, "eps must be positive"),
])
def test_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(vocab_size=10, **kwargs)
    with pytest.raises(ValueError, match="config must be a GPTConfig"):
        GPT({"vocab_size": 10})


def test_learning_rate_warms_up_then_follows_a_cosine():
    config = GPTTrainConfig(steps=110, lr=1e-3, warmup_steps=10, final_lr_fraction=0.1)
    assert config.lr_at(0) == pytest.approx(1e-4) and config.lr_at(9) == pytest.approx(1e-3)
    assert config.lr_at(60) == pytest.approx(0.55e-3)  # half-way down the cosine
    assert config.lr_at(110) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="warmup_steps"):
        GPTTrainConfig(steps=10, warmup_steps=11)


def test_a_tiny_gpt_learns_a_repeating_text():
    torch.manual_seed(0)
    ids = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 3, 2] * 60)  # period 10, predictable from context
    model = GPT(GPTConfig.tiny(vocab_size=8))
    before = evaluate_gpt(model, ids)
    result = train_gpt(model, ids, GPTTrainConfig(steps=60, batch_size=16, lr=3e-3, warmup_steps=5))
    after = evaluate_gpt(model, ids)
    assert before == pytest.approx(torch.log(torch.tensor(8.0)).item(), abs=0.1)  # uniform over 8
    assert after < 0.3 < before, (before, after)
    assert len(result.losses) == 60 and result.seconds > 0
