"""RoBERTa family (CodeBERT, GraphCodeBERT): encoder, seq2seq with a fresh decoder, pair/retrieval vectors."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import EncoderDecoderModel, RobertaConfig, RobertaForCausalLM, RobertaForMaskedLM, RobertaModel

from codeintel.backbones.family import VARIANTS, Family

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


def pair_head(hidden: int, dropout: float, inputs: int = 2) -> nn.Module:
    """GraphCodeBERT's ``RobertaClassificationHead`` on [vec1; vec2] (``inputs`` = 2; one vector: RoBERTa's own
    classification head): dropout-dense-tanh-dropout-out, two classes."""
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(inputs * hidden, hidden), nn.Tanh(), nn.Dropout(dropout),
                         nn.Linear(hidden, 2))


class RobertaFamily(Family):
    """CodeBERT, GraphCodeBERT and the tiny preset: absolute positions (2 reserved), the ``<s>`` vector for
    pairs, the mean of the last layer for retrieval, GraphCodeBERT's data-flow input, MLM pre-training."""

    name = "roberta"
    variants = VARIANTS[name]
    reserved_positions, encoder, graph_input = 2, True, True
    mean_pooled = True

    def max_tokens(self, config: Any) -> int | None:
        if config.model_type == "encoder-decoder":  # the seq2seq model: its encoder's (the decoder's is the same)
            config = config.encoder
        return super().max_tokens(config)

    def pair_head(self, hidden: int, dropout: float, inputs: int = 2) -> nn.Module:
        return pair_head(hidden, dropout, inputs)

    def pair_vector(self, backbone, input_ids, attention_mask, eos_id: int) -> torch.Tensor:
        return first_token_vector(backbone, input_ids, attention_mask)

    def sequence_vector(self, backbone, input_ids, attention_mask) -> torch.Tensor:
        return torch.nn.functional.normalize(mean_vector(backbone, input_ids, attention_mask), dim=-1)

    def token_encoder(self, backbone):
        return backbone

    def left_padded_positions(self, attention_mask, pad_id: int) -> torch.Tensor:
        """RoBERTa numbers real tokens from ``padding_idx + 1`` (what it derives from unpadded ids itself)."""
        return attention_mask.cumsum(1) * attention_mask + pad_id

    def last_logits(self, model, inputs: dict, keep: int) -> torch.Tensor:
        return model.lm_head(model.roberta(**inputs).last_hidden_state[:, -keep:])

    def masked_lm_model(self, backbone, weight_files: list | None = None) -> RobertaForMaskedLM:
        """``RobertaForMaskedLM`` on ``backbone``, with an earlier pre-training's MLM head where the files hold one."""
        mlm = RobertaForMaskedLM(backbone.config)
        if weight_files:
            from safetensors.torch import load_file

            state = {k: v for f in weight_files for k, v in load_file(str(f)).items() if k.startswith("lm_head.")}
            mlm.load_state_dict(state, strict=False)
        mlm.roberta = backbone
        mlm.tie_weights()
        return mlm

    def mlm_encoder(self, mlm):
        return mlm.roberta

    def masked_lm_loss(self, mlm, ids, mask, labels, original, pad_id: int):
        out = mlm(input_ids=ids, attention_mask=mask, labels=labels, output_hidden_states=True)
        return out.loss, out.hidden_states[-1]

    def hidden_states(self, backbone, random_layers: bool = False, seed: int = 0):
        model = backbone
        if random_layers:
            torch.manual_seed(seed)
            model = RobertaModel(backbone.config, add_pooling_layer=False)
            model.embeddings.load_state_dict(backbone.embeddings.state_dict())
            model.to(backbone.device)                                    # where the probed model is
        model.eval()
        return lambda ids, mask: model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states


FAMILY = RobertaFamily()
