"""The course's vocabulary in English and Korean: one source, rendered at the end of each lesson.

The course grew from Korean study notes of the LG Aimers lecture; each term keeps one English
and one Korean name across every lesson, exercise and explorer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """One glossary entry."""

    english: str
    korean: str
    meaning: str


TERMS: dict[str, Term] = {
    term.english: term
    for term in [
        Term("self-attention", "셀프 어텐션", "each token builds its output as a weighted sum over all tokens of the same sequence"),
        Term("query", "쿼리", "the vector that asks: which tokens matter to me?"),
        Term("key", "키", "the vector each token offers to be compared with the queries"),
        Term("value", "밸류", "the vector each token contributes to the weighted sum"),
        Term("attention weight", "어텐션 가중치", "softmax of the scaled query-key scores; each row sums to 1"),
        Term("scaled dot-product", "스케일드 닷-프로덕트 (스케일링된 내적)", "q . k / sqrt(d_k): the similarity score, kept at unit variance"),
        Term("softmax", "소프트맥스", "turns scores into positive weights that sum to 1"),
        Term("multi-head attention", "멀티 헤드 어텐션", "several attention heads in parallel, each with its own W_q, W_k, W_v"),
        Term("head", "헤드", "one attention computation on a d_model / num_heads slice of the channels"),
        Term("output projection", "출력 투영", "W_o, which mixes the concatenated heads"),
        Term("residual connection", "잔차 연결", "adds a sublayer's input to its output, so signal and gradient can skip it"),
        Term("layer normalization", "층 정규화", "normalizes each token over its channels, then rescales and shifts"),
        Term("batch normalization", "배치 정규화", "normalizes each channel over the batch"),
        Term("Post-LN", "Post-LN (잔차 연결 후 층 정규화)", "LayerNorm(x + F(x)): the norm after the residual addition, as in the 2017 Transformer; the code's arrangement \"post-norm\""),
        Term("Pre-LN", "Pre-LN (서브층 이전 층 정규화)", "x + F(LayerNorm(x)): the norm before the sublayer, as in GPT-2 and later; the code's arrangement \"pre-norm\""),
        Term("permutation equivariance", "순열 등변성", "shuffling the input tokens shuffles the outputs the same way"),
        Term("positional encoding", "위치 인코딩", "a vector added to each token that tells the model where it is"),
        Term("sinusoidal encoding", "사인파 인코딩", "fixed positional vectors of sines and cosines of many wavelengths"),
        Term("learned position embedding", "학습된 위치 임베딩", "one trained vector per position"),
        Term("encoder", "인코더", "the stack that reads the source sentence"),
        Term("decoder", "디코더", "the stack that writes the output one token at a time"),
        Term("masked self-attention", "마스크드 셀프 어텐션", "self-attention that may not look at future tokens"),
        Term("causal mask", "인과적 마스크 (룩어헤드 마스크)", "the lower-triangular mask: position t sees positions 0..t"),
        Term("encoder-decoder attention", "인코더-디코더 어텐션", "cross-attention: decoder queries, encoder keys and values"),
        Term("position-wise feed-forward network", "위치별 피드포워드 신경망 (포지션-와이즈 FFN)", "the two-layer MLP ReLU(x W_1 + b_1) W_2 + b_2 (x a row vector) of each Transformer layer, applied to each token on its own"),
        Term("teacher forcing", "교사 강요", "training the decoder on the true previous tokens, not its own guesses"),
        Term("autoregressive decoding", "자기회귀 디코딩", "generating one token at a time, each fed back as input"),
        Term("dot product", "내적", "the sum of the products of two vectors' entries: large when they point the same way"),
        Term("similarity", "유사도", "how alike two vectors are; attention scores it with a scaled dot product"),
        Term("weighted sum", "가중합 (가중 평균)", "vectors multiplied by their weights and added up; with weights that sum to 1, as attention's do, a weighted average: attention's output"),
        Term("linear transformation", "선형 변환", "multiplication by a matrix, x W, as W_q, W_k and W_v do"),
        Term("affine transformation", "아핀 변환", "a linear transformation plus a shift, x W + b: nn.Linear with a bias, LayerNorm's gamma and beta"),
        Term("skip connection", "스킵 연결", "another name for the residual path that carries x around a sublayer"),
        Term("hidden state vector", "은닉 상태 벡터", "an RNN's summary of the words read so far, updated once per word"),
        Term("context vector", "컨텍스트 벡터", "the one vector an RNN encoder hands its decoder: the whole sentence in H (`hidden`) numbers"),
        Term("vanishing gradient", "기울기 소실", "a gradient that shrinks as it flows back through many layers or steps, so the early ones barely learn"),
        Term("exploding gradient", "기울기 폭발", "a gradient that grows as it flows back through many layers or steps, until the updates blow up"),
        Term("long-term dependency", "장기 의존성", "a word that depends on one far back: an RNN's gradient must cross every step in between"),
        Term("memory", "메모리 (인코더 출력)", "the encoder's output, one vector per source word, read by every decoder layer"),
        Term("exposure bias", "노출 편향", "trained on true previous words, a decoder never sees its own mistakes until it is used"),
        Term("self-supervised learning", "자기 지도 학습", "learning from labels made out of the data itself"),
        Term("pretext task", "프리텍스트 태스크", "a made-up task whose labels come from the data (fill in the hidden part), solved for what the model learns on the way"),
        Term("inpainting", "인페인팅", "predicting a hidden part of an image from the rest"),
        Term("patch", "패치", "a small square of an image, read as one token by a Transformer"),
        Term("masking", "마스킹", "hiding part of the input (some tokens, or some patches of an image) so that the model must predict it"),
        Term("mask token", "마스크 토큰", "the learned stand-in ([MASK]) for a hidden token or patch; the model sees that something is hidden, not what"),
        Term("pre-training", "사전 학습", "training on a large, often unlabelled, data set before the task that matters"),
        Term("downstream task", "다운스트림 태스크", "the task with labels that a pre-trained model is reused for"),
        Term("linear probe", "선형 프로브 (선형 프로빙)", "a linear classifier trained on frozen features to measure them"),
        Term("transfer learning", "전이 학습", "reusing a model trained on one task for another"),
        Term("fine-tuning", "미세 조정 (파인튜닝)", "training a pretrained model further on the new task"),
        Term("freezing", "동결", "keeping a layer's weights fixed during training (requires_grad = False: no gradient is computed)"),
        Term("feature extraction", "특징 추출", "using a frozen pre-trained network's outputs as the input features of a new, small model"),
        Term("classification head", "분류 헤드", "the new layer on top of a reused network that turns its features into the new task's scores"),
        Term("masked language modelling", "마스크드 언어 모델링 (MLM)", "predicting hidden tokens from both sides of the context"),
        Term("next-sentence prediction", "다음 문장 예측", "classifying whether sentence B follows sentence A"),
        Term("segment embedding", "세그먼트 임베딩", "a vector telling BERT which sentence a token belongs to"),
        Term("special token", "특수 토큰", "a token that is no piece of text, added by the tokenizer: [CLS], [SEP], [MASK], [PAD]"),
        Term("[CLS] token", "[CLS] 토큰 (분류 토큰)", "the special token that opens every BERT input; its output vector, pooled, is what NSP and sentence classifiers read"),
        Term("[SEP] token", "[SEP] 토큰 (구분자 토큰)", "the special token that ends each of BERT's two segments: [CLS] A [SEP] B [SEP]"),
        Term("bidirectional", "양방향", "reading the context on both sides of a token at once, as BERT's encoder does; why it cannot be trained to predict the next word"),
        Term("WordPiece", "워드피스", "BERT's subword tokenizer: frequent words stay whole, rare ones split into pieces marked ## (\"token\", \"##izer\")"),
        Term("weight tying", "가중치 공유 (weight tying, 입력·출력 임베딩 공유)", "the output layer reuses the token embedding matrix (BERT's MLM head, GPT's last layer): a token's score is the dot product of the last hidden state with its embedding"),
        Term("GELU", "GELU (가우시안 오차 선형 유닛)", "x times the standard normal CDF of x: the smooth ReLU in BERT's and GPT's feed-forward networks (GPT-2 uses its tanh approximation)"),
        Term("next-token prediction", "다음 토큰 예측", "GPT's training task: predict each token from the ones before"),
        Term("temperature", "온도", "divides the logits before sampling: low is sharp, high is random"),
        Term("top-k sampling", "Top-k 샘플링", "sampling only among the k most likely tokens"),
        Term("KV cache", "KV 캐시", "keeping past keys and values so each new token costs one step"),
        Term("decoder-only Transformer", "디코더 전용 트랜스포머", "a stack of masked self-attention and feed-forward layers with no encoder and no cross-attention: GPT"),
        Term("greedy decoding", "그리디 디코딩 (탐욕적 디코딩)", "always taking the most likely next token: temperature 0"),
        Term("context length", "컨텍스트 길이", "the most tokens a model reads at once (max_len); learned positions stop there"),
        Term("cross-entropy", "교차 엔트로피", "minus the log of the probability the model gave the true next token, in nats; ln V for a uniform guess over V tokens"),
        Term("language model", "언어 모델", "a model that gives a probability to each possible next token of a text, given the tokens before it"),
        Term("sampling", "샘플링", "drawing the next token at random from the model's predicted distribution instead of taking the most likely one"),
        Term("generative pre-training", "생성적 사전 학습", "pre-training a decoder to predict the next token of unlabelled text (GPT-1, 2018), before any task"),
        Term("prompt", "프롬프트", "the text given to a language model to continue; GPT-2 and GPT-3 write the task into it"),
        Term("zero-shot learning", "제로샷 학습", "doing a task from its description in the prompt alone, with no example and no gradient update (GPT-2)"),
        Term("few-shot learning", "퓨샷 학습", "doing a task from a few examples written in the prompt, with no gradient update (GPT-3; one example: one-shot, 원샷)"),
        Term("in-context learning", "문맥 내 학습 (인컨텍스트 러닝)", "a model picking up a task from the examples in its prompt while its weights stay fixed"),
    ]
}

LESSON_TERMS: dict[str, list[str]] = {
    "01_self_attention": ["hidden state vector", "context vector", "long-term dependency", "self-attention", "query", "key",
                          "value", "linear transformation", "dot product", "similarity", "scaled dot-product", "softmax",
                          "attention weight", "weighted sum", "vanishing gradient", "exploding gradient"],
    "02_multi_head_attention": ["multi-head attention", "head", "output projection", "attention weight", "affine transformation"],
    "03_add_and_norm": ["residual connection", "skip connection", "layer normalization", "affine transformation",
                        "batch normalization", "Post-LN", "Pre-LN", "vanishing gradient", "exploding gradient"],
    "04_positional_encoding": ["permutation equivariance", "positional encoding", "sinusoidal encoding", "learned position embedding"],
    "05_masked_decoder": ["encoder", "decoder", "memory", "masked self-attention", "causal mask", "encoder-decoder attention",
                          "position-wise feed-forward network", "teacher forcing", "exposure bias", "autoregressive decoding"],
    "06_self_supervised_learning": ["self-supervised learning", "pretext task", "inpainting", "patch", "masking", "mask token",
                                    "pre-training", "downstream task", "linear probe", "masked language modelling",
                                    "next-token prediction"],
    "07_transfer_learning": ["transfer learning", "pre-training", "freezing", "classification head", "fine-tuning",
                             "feature extraction", "linear probe", "downstream task"],
    "08_bert": ["encoder", "bidirectional", "masked language modelling", "next-sentence prediction", "segment embedding",
                "special token", "[CLS] token", "[SEP] token", "WordPiece", "weight tying", "GELU", "Post-LN", "pre-training",
                "fine-tuning"],
    "09_gpt": ["decoder-only Transformer", "next-token prediction", "masked self-attention", "causal mask", "Pre-LN",
               "learned position embedding", "weight tying", "GELU", "cross-entropy", "context length", "greedy decoding",
               "temperature", "top-k sampling", "KV cache", "bidirectional", "masked language modelling",
               "language model", "autoregressive decoding", "sampling", "generative pre-training", "pre-training",
               "fine-tuning", "prompt", "zero-shot learning", "few-shot learning", "in-context learning"],
}


def glossary_markdown(lesson: str) -> str:
    """The lesson's glossary as a Markdown table (English | 한국어 | meaning)."""
    if lesson not in LESSON_TERMS:
        raise ValueError(f"lesson must be one of {sorted(LESSON_TERMS)}, got {lesson!r}")
    rows = ["| English | 한국어 | meaning |", "| --- | --- | --- |"]
    for name in LESSON_TERMS[lesson]:
        term = TERMS[name]
        rows.append(f"| {term.english} | {term.korean} | {term.meaning} |")
    return "### Glossary · 용어\n\n" + "\n".join(rows)


def show_glossary(lesson: str) -> None:
    """Render the lesson's glossary in the notebook (plain text outside Jupyter)."""
    from IPython.display import Markdown, display

    display(Markdown(glossary_markdown(lesson)))
