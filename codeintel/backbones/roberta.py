"""RoBERTa family (CodeBERT, GraphCodeBERT): encoder, seq2seq with a fresh decoder, pair/retrieval vectors."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import EncoderDecoderModel, RobertaConfig, RobertaForCausalLM, RobertaModel

DECODER_LAYERS = 6  # CodeXGLUE's CodeBERT summarization baseline: a fresh 6-layer Transformer decoder.


def config_from(fields: dict[str, Any]) -> RobertaConfig:
    return RobertaConfig(**fields)


def build_encoder(config: RobertaConfig) -> RobertaModel:
    """A random-initialised encoder (with pooler) from a config."""
    return RobertaModel(config)


def build_seq2seq(encoder: RobertaModel, tokenizer_ids: dict[str, int]) -> EncoderDecoderModel:
    """CodeXGLUE's CodeBERT summarizer: the pretrained encoder plus a fresh decoder with cross-attention.

    The decoder has ``min(6, encoder layers)`` layers and its own (fresh) embeddings.
    """
    enc_cfg = encoder.config
    dec_cfg = RobertaConfig(**{**enc_cfg.to_dict(), "is_decoder": True, "add_cross_attention": True,
                               "num_hidden_layers": min(DECODER_LAYERS, enc_cfg.num_hidden_layers)})
    decoder = RobertaForCausalLM(dec_cfg)
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    model.config.decoder_start_token_id = tokenizer_ids["bos"]
    model.config.eos_token_id = tokenizer_ids["eos"]
    model.config.pad_token_id = tokenizer_ids["pad"]
    model.generation_config.decoder_start_token_id = tokenizer_ids["bos"]
    model.generation_config.eos_token_id = tokenizer_ids["eos"]
    model.generation_config.pad_token_id = tokenizer_ids["pad"]
    return model


def first_token_vector(model: RobertaModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The ``<s>`` vector of the last layer, (B, H): GraphCodeBERT's clone-detection representation."""
    out = model(input_ids=input_ids, attention_mask=attention_mask)
    return out.last_hidden_state[:, 0, :]


def mean_vector(model: RobertaModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the last layer over real tokens, (B, H): the retrieval representation."""
    hidden = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state   # (B, L, H)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def pair_head(hidden: int, dropout: float) -> nn.Module:
    """GraphCodeBERT's ``RobertaClassificationHead`` on [vec1; vec2]: dropout-dense-tanh-dropout-out."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, hidden), nn.Tanh(), nn.Dropout(dropout),
                         nn.Linear(hidden, 2))
