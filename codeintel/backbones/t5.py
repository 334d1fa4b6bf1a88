"""T5 family (CodeT5, CodeT5+ 220M, the CodeT5+ 110M embedding model), built natively from T5 classes."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import T5Config, T5EncoderModel, T5ForConditionalGeneration

from codeintel.backbones.family import VARIANTS, Family
from codeintel.errors import ConfigError


def config_from(fields: dict[str, Any]) -> T5Config:
    return T5Config(**fields)


def build_seq2seq(config: T5Config) -> T5ForConditionalGeneration:
    return T5ForConditionalGeneration(config)


EMBED_DIM = 256  # CodeT5+ 110M embedding's vector size (its config's embed_dim)


class CodeT5pEmbeddingModel(T5EncoderModel):
    """CodeT5+ 110M embedding: the CodeT5+ 220M encoder, ``Linear(d_model -> embed_dim)`` on the first
    token, then L2 normalisation. Its parameter names (``shared``, ``encoder.*``, ``proj``) are those of
    the published checkpoint, so ``from_pretrained`` loads it natively, without ``trust_remote_code``.
    """

    def __init__(self, config: T5Config) -> None:
        super().__init__(config)
        self.proj = nn.Linear(config.d_model, getattr(config, "embed_dim", EMBED_DIM))
        self.post_init()

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, embed_dim) unit vectors."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return F.normalize(self.proj(hidden[:, 0, :]), dim=-1)


def embedding_config_from(fields: dict[str, Any], embed_dim: int) -> T5Config:
    """A T5Config for :class:`CodeT5pEmbeddingModel`; accepts the checkpoint's ``codet5p_embedding`` fields."""
    allowed = set(T5Config().to_dict())
    cfg = T5Config(**{k: v for k, v in fields.items() if k in allowed and k not in ("model_type", "architectures")})
    cfg.embed_dim = fields.get("embed_dim", embed_dim)
    cfg.is_encoder_decoder = False
    return cfg


def eos_decoder_vector(model: T5ForConditionalGeneration, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                       eos_id: int) -> torch.Tensor:
    """CodeT5's clone/defect representation, (B, H): the last decoder layer's state at the last ``</s>``.

    The decoder input is the right-shifted source (CodeT5 passes ``labels=input_ids``).
    """
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=None,
                decoder_input_ids=model._shift_right(input_ids), output_hidden_states=True)
    hidden = out.decoder_hidden_states[-1]                                   # (B, L, H)
    is_eos = input_ids.eq(eos_id)
    positions = torch.arange(input_ids.size(1), device=input_ids.device).expand_as(input_ids)
    last_eos = torch.where(is_eos, positions, torch.full_like(positions, -1)).max(dim=1).values  # (B,)
    last_eos = torch.where(last_eos < 0, attention_mask.sum(1) - 1, last_eos)
    return hidden[torch.arange(hidden.size(0), device=hidden.device), last_eos]


def mean_encoder_vector(model: T5ForConditionalGeneration | T5EncoderModel, input_ids: torch.Tensor,
                        attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the encoder's last layer over real tokens, (B, H): the T5 retrieval representation.

    A model carrying AdapterHub adapters runs its top-level forward (with a one-token decoder), where
    AdapterHub sets up per-call state such as prefix-tuning's prefixes; its encoder alone would lack it.
    """
    if isinstance(model, T5ForConditionalGeneration) and getattr(model, "adapters_config", None) is not None:
        start = torch.full((input_ids.size(0), 1), model.config.decoder_start_token_id, device=input_ids.device)
        hidden = model(input_ids=input_ids, attention_mask=attention_mask,
                       decoder_input_ids=start).encoder_last_hidden_state
    else:
        enc = model.get_encoder() if isinstance(model, T5ForConditionalGeneration) else model.encoder
        hidden = enc(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def pair_head(hidden: int, dropout: float = 0.0, inputs: int = 2) -> nn.Module:
    """CodeT5's ``CloneModel`` head on [vec1; vec2]: dense-tanh-out, no dropout; on one vector (``inputs`` = 1)
    its ``DefectModel`` head: one linear layer to two classes."""
    if inputs == 1:
        return nn.Linear(hidden, 2)
    return nn.Sequential(nn.Linear(2 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2))


class T5Family(Family):
    """CodeT5 and CodeT5+ 220M: relative positions, CodeT5's last-``</s>`` decoder vector for pairs, the mean of
    the encoder for retrieval, denoising pre-training (the decoder restores the input)."""

    name = "t5"
    variants = VARIANTS[name]
    hidden_key, encoder, seq2seq = "d_model", True, True
    generator_prefixes = ("decoder.block.", "decoder.final_layer_norm.")
    generator_auto_class, peft_task_type, mean_pooled = "AutoModelForSeq2SeqLM", "SEQ_2_SEQ_LM", True

    def pair_head(self, hidden: int, dropout: float, inputs: int = 2) -> nn.Module:
        return pair_head(hidden, inputs=inputs)

    def pair_vector(self, backbone, input_ids, attention_mask, eos_id: int) -> torch.Tensor:
        return eos_decoder_vector(backbone, input_ids, attention_mask, eos_id)

    def sequence_vector(self, backbone, input_ids, attention_mask) -> torch.Tensor:
        return F.normalize(mean_encoder_vector(backbone, input_ids, attention_mask), dim=-1)

    def token_encoder(self, backbone):
        """A ``T5EncoderModel`` holding the model's encoder weights (the model itself if it is one)."""
        if isinstance(backbone, T5EncoderModel):
            return backbone
        encoder = T5EncoderModel(backbone.config)
        missing, _ = encoder.load_state_dict(backbone.state_dict(), strict=False)
        if missing:
            from codeintel.errors import CheckpointError

            raise CheckpointError(f"the model's encoder lacks {missing[:3]}.")
        return encoder

    def masked_lm_model(self, backbone, weight_files: list | None = None):
        """The encoder-decoder itself: its decoder restores the whole input from the masked one."""
        return backbone

    def mlm_encoder(self, mlm):
        return mlm.encoder

    def masked_lm_loss(self, mlm, ids, mask, labels, original, pad_id: int):
        out = mlm(input_ids=ids, attention_mask=mask, labels=original.masked_fill(original.eq(pad_id), -100))
        return out.loss, out.encoder_last_hidden_state

    def hidden_states(self, backbone, random_layers: bool = False, seed: int = 0):
        stack = backbone.encoder                                   # the encoder stack of any T5 model class
        if random_layers:
            torch.manual_seed(seed)
            twin = T5EncoderModel(backbone.config)
            twin.shared.load_state_dict(backbone.shared.state_dict())
            stack = twin.to(backbone.device).encoder                    # where the probed model is
        stack.eval()
        return lambda ids, mask: stack(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states


class T5EmbeddingFamily(T5Family):
    """CodeT5+ 110M embedding: the encoder and its own first-token projection; retrieval only."""

    name = "t5-embedding"
    variants = VARIANTS[name]
    seq2seq, generator_prefixes = False, ()
    generator_auto_class, peft_task_type, mean_pooled = "", None, False   # its own first-token projection
    hint = "; use a seq2seq backbone such as codet5-small"
    adapter_host = "t5"

    def pair_head(self, hidden: int, dropout: float, inputs: int = 2) -> nn.Module:
        return Family.pair_head(self, hidden, dropout, inputs)

    def pair_vector(self, backbone, input_ids, attention_mask, eos_id: int) -> torch.Tensor:
        return Family.pair_vector(self, backbone, input_ids, attention_mask, eos_id)

    def sequence_vector(self, backbone, input_ids, attention_mask) -> torch.Tensor:
        return backbone.embed(input_ids, attention_mask)

    def token_encoder(self, backbone):
        return None

    def masked_lm_model(self, backbone, weight_files: list | None = None):
        raise ConfigError("pre-training takes RoBERTa-family backbones (codebert-base, graphcodebert-base, "
                          "tiny-codebert, ...) or T5 encoder-decoders (codet5-small, tiny-codet5, ...); this is a "
                          "t5-embedding model (an embedding model without a decoder).")


FAMILY = T5Family()
EMBEDDING_FAMILY = T5EmbeddingFamily()
